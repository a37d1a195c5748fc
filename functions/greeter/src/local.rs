//! Plain HTTP for local runs (`greeter --listen 127.0.0.1:3000`): hyper in front of the same [`route`].

use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::{Deps, MAX_BODY_BYTES, payload_too_large, route};

/// Reads a request body, stopping one byte past the limit so an oversized body is refused without being
/// buffered whole.
async fn read_body(request: Request<Incoming>) -> Result<Request<Bytes>, Response<Bytes>> {
    let (parts, body) = request.into_parts();
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => Ok(Request::from_parts(parts, collected.to_bytes())),
        Err(_) => Err(payload_too_large()),
    }
}

async fn answer(
    deps: Arc<Deps>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let response = match read_body(request).await {
        Ok(request) => route(&deps, request).await,
        Err(refusal) => refusal,
    };
    Ok(response.map(Full::new))
}

/// Serves HTTP/1.1 on `listener` until the task is dropped.
pub async fn serve(deps: Arc<Deps>, listener: TcpListener) -> std::io::Result<()> {
    loop {
        let (stream, peer) = listener.accept().await?;
        let deps = Arc::clone(&deps);
        tokio::spawn(async move {
            let service = service_fn(move |request| answer(Arc::clone(&deps), request));
            if let Err(e) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
}
