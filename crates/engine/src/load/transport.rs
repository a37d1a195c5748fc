//! The engine's HTTP client, over TCP to the guard's vetted addresses, with TLS by rustls and HTTP/1.1 or
//! HTTP/2 chosen by ALPN: HTTP/1.1 by [`super::http1`], HTTP/2 by hyper's connection API driven directly.
//!
//! Why not reqwest: `make bench` measured the engine on reqwest at 0.50x wrk's closed-loop throughput and 2.0x
//! its CPU per request, with a profile spread over reqwest's and hyper-util's per-request work (URL to URI
//! conversion with IDNA, connector and client clones, the pool's checkout and hashing). An attack sends one
//! request to one origin millions of times, so everything per-request that can be done once is done once
//! here: the request, its URI and Host header and the TLS configuration are built when the attack starts, and no name
//! is ever resolved (the vetted addresses are dialled directly, so DNS rebinding has nothing to swap).
//! Measurement and figures: docs/benchmarks.md.
//!
//! An [`Endpoint`] opens [`Connection`]s; the closed loop gives each worker one, and the open model shares a
//! [`Pool`] that never makes a request wait for a busy HTTP/1.1 connection (it opens another; the attack's
//! in-flight cap bounds how many).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::header::{HOST, HeaderValue};
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, ServerName};
use thiserror::Error;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_util::either::Either;

pub use super::http1::Answer;
use super::http1::{Failure, Http1, Prepared};
use super::request::RequestSpec;
use super::stats::ErrorKind;
use crate::guard::VettedTarget;

/// Why an endpoint could not be set up.
#[derive(Debug, Error)]
pub enum EndpointError {
    #[error("the URL scheme {0:?} is not http or https")]
    Scheme(String),
    #[error("the URL {url} does not make a request URI")]
    Uri {
        url: String,
        #[source]
        source: http::Error,
    },
    #[error("{0:?} is not a name a TLS certificate can be checked against")]
    ServerName(String),
    #[error("the TLS configuration could not be built")]
    Tls(#[source] rustls::Error),
}

/// One target, ready to be dialled: its vetted addresses, TLS settings and the request to send.
#[derive(Debug)]
pub struct Endpoint {
    origin: Arc<Origin>,
    /// The request serialised for HTTP/1.1 (origin form, with Host).
    http1: Prepared,
    /// Absolute form, from which HTTP/2 takes :scheme and :authority.
    absolute: http::Uri,
    spec: RequestSpec,
}

/// Where connections go: the vetted addresses, and TLS for https.
#[derive(Debug)]
struct Origin {
    addresses: Vec<SocketAddr>,
    tls: Option<(Arc<rustls::ClientConfig>, ServerName<'static>)>,
    scheme: String,
    /// Host, and port when the URL gives one: the Host header and HTTP/2's :authority.
    authority: String,
}

impl Endpoint {
    /// The target's URL with `spec`. `extra_roots` are trusted besides the platform's certificate roots (a
    /// private CA, a test's self-signed certificate).
    pub fn new(
        target: &VettedTarget,
        spec: RequestSpec,
        extra_roots: &[CertificateDer<'static>],
    ) -> Result<Self, EndpointError> {
        let url = &target.url;
        let tls = match url.scheme() {
            "http" => None,
            "https" => Some(tls(&target.host, extra_roots)?),
            other => return Err(EndpointError::Scheme(other.to_owned())),
        };
        let authority = match url.port() {
            Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_owned(),
        };
        let path_and_query = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        };
        let origin = Origin {
            addresses: target.addresses.clone(),
            tls,
            scheme: url.scheme().to_owned(),
            authority,
        };
        Self::build(Arc::new(origin), spec, &path_and_query)
    }

    /// Another request to the same origin (`path_and_query` such as "/users/zoe?full=1"), over the same kind
    /// of connection: an [`Endpoint`]'s connections carry any of its siblings' requests.
    pub fn sibling(&self, spec: RequestSpec, path_and_query: &str) -> Result<Self, EndpointError> {
        Self::build(Arc::clone(&self.origin), spec, path_and_query)
    }

    fn build(origin: Arc<Origin>, spec: RequestSpec, path_and_query: &str) -> Result<Self, EndpointError> {
        let uri_error = |source| EndpointError::Uri {
            url: format!("{}://{}{path_and_query}", origin.scheme, origin.authority),
            source,
        };
        let absolute = http::Uri::builder()
            .scheme(origin.scheme.as_str())
            .authority(origin.authority.as_str())
            .path_and_query(path_and_query)
            .build()
            .map_err(uri_error)?;
        let host = HeaderValue::from_str(&origin.authority).map_err(|e| uri_error(e.into()))?;
        let mut http1_headers = spec.headers.clone();
        // A Host header the caller set wins (virtual hosts); the connection still goes to the vetted addresses
        // only.
        http1_headers.entry(HOST).or_insert(host);
        let path_and_query = absolute.path_and_query().map_or("/", http::uri::PathAndQuery::as_str);
        Ok(Self {
            http1: Prepared::new(&spec, path_and_query, &http1_headers),
            origin,
            absolute,
            spec,
        })
    }

    /// Opens a connection: TCP to the first vetted address that answers, then TLS, then HTTP/2 if the server
    /// chose it by ALPN (its I/O runs as a task of its own), otherwise HTTP/1.1.
    pub async fn connect(&self) -> Result<Connection, ErrorKind> {
        let mut stream = None;
        for address in &self.origin.addresses {
            if let Ok(s) = TcpStream::connect(address).await {
                stream = Some(s);
                break;
            }
        }
        let stream = stream.ok_or(ErrorKind::Connect)?;
        // Without it, a small request waits for the previous segment's ACK (Nagle): 40 ms on Linux.
        stream.set_nodelay(true).map_err(|_| ErrorKind::Connect)?;
        let Some((config, name)) = &self.origin.tls else {
            return Ok(Connection::Http1(Http1::new(Either::Left(stream))));
        };
        let tls = TlsConnector::from(Arc::clone(config))
            .connect(name.clone(), stream)
            .await
            .map_err(|_| ErrorKind::Tls)?;
        if tls.get_ref().1.alpn_protocol() != Some(b"h2") {
            return Ok(Connection::Http1(Http1::new(Either::Right(Box::new(tls)))));
        }
        let (sender, connection) = http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .map_err(|_| ErrorKind::Connect)?;
        tokio::spawn(async move {
            // Its end (the server closed, or every sender was dropped) shows on the senders.
            let _ = connection.await;
        });
        Ok(Connection::Http2(sender))
    }

    /// One exchange on the connection in `slot`, opening one first if it is empty or closed. When a reused
    /// connection closes before the request is written, the request goes once more on a new connection.
    /// Afterwards `slot` holds the connection if it is still open.
    pub async fn exchange(&self, slot: &mut Option<Connection>) -> Result<Answer, ErrorKind> {
        let reused = slot.take().filter(Connection::is_open);
        let mut fresh = false;
        let mut connection = match reused {
            Some(connection) => connection,
            None => {
                fresh = true;
                self.connect().await?
            }
        };
        let mut done = connection.exchange(self).await;
        if done == Exchange::NotSent && !fresh {
            connection = self.connect().await?;
            done = connection.exchange(self).await;
        }
        if connection.is_open() {
            *slot = Some(connection);
        }
        match done {
            Exchange::Answered(answer) => Ok(answer),
            Exchange::Failed(kind) => Err(kind),
            // A connection just opened that closed before taking the request: not a race with an idle
            // timeout, so not sent again.
            Exchange::NotSent => Err(ErrorKind::Other),
        }
    }

    /// Bytes of request body each exchange sends.
    pub fn body_len(&self) -> u64 {
        self.spec.body.len() as u64
    }

    fn http2_request(&self) -> http::Request<Full<Bytes>> {
        let mut request = http::Request::new(Full::new(self.spec.body.clone()));
        *request.method_mut() = self.spec.method.clone();
        *request.uri_mut() = self.absolute.clone();
        *request.version_mut() = http::Version::HTTP_2;
        let headers = request.headers_mut();
        *headers = self.spec.headers.clone();
        // hyper frames the body itself; a caller's length could only disagree with it.
        headers.remove(http::header::CONTENT_LENGTH);
        request
    }
}

fn tls(
    host: &str,
    extra_roots: &[CertificateDer<'static>],
) -> Result<(Arc<rustls::ClientConfig>, ServerName<'static>), EndpointError> {
    let builder = rustls::ClientConfig::builder();
    let verifier = rustls_platform_verifier::Verifier::new_with_extra_roots(
        extra_roots.iter().cloned(),
        Arc::clone(builder.crypto_provider()),
    )
    .map_err(EndpointError::Tls)?;
    let mut config = builder
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let name = ServerName::try_from(host.trim_start_matches('[').trim_end_matches(']').to_owned())
        .map_err(|_| EndpointError::ServerName(host.to_owned()))?;
    Ok((Arc::new(config), name))
}

/// A connection's byte stream: TCP, or TLS over TCP.
pub type Stream = Either<TcpStream, Box<tokio_rustls::client::TlsStream<TcpStream>>>;

/// An open connection to the endpoint.
#[derive(Debug)]
pub enum Connection {
    Http1(Http1<Stream>),
    /// Cloned for every stream; one connection carries many requests at once.
    Http2(http2::SendRequest<Full<Bytes>>),
}

/// How one exchange on one connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exchange {
    /// The status and the body's length, read to its end.
    Answered(Answer),
    Failed(ErrorKind),
    /// The request was not sent: the reused connection turned out closed (or spoke unasked) before it was
    /// written, so it may go again on a new connection.
    NotSent,
}

impl Connection {
    /// Still open, so worth keeping for the next request.
    pub fn is_open(&self) -> bool {
        match self {
            Self::Http1(connection) => connection.is_open(),
            Self::Http2(sender) => !sender.is_closed(),
        }
    }

    /// Sends the endpoint's request and reads the answer's body to its end, counting its bytes.
    async fn exchange(&mut self, endpoint: &Endpoint) -> Exchange {
        let sender = match self {
            Self::Http1(connection) => {
                return match connection.exchange(&endpoint.http1).await {
                    Ok(answer) => Exchange::Answered(answer),
                    Err(Failure::Closed) => Exchange::NotSent,
                    Err(Failure::Body) => Exchange::Failed(ErrorKind::BodyRead),
                    Err(Failure::Protocol | Failure::Io) => Exchange::Failed(ErrorKind::Other),
                };
            }
            Self::Http2(sender) => sender,
        };
        if sender.ready().await.is_err() {
            return Exchange::NotSent;
        }
        let response = match sender.send_request(endpoint.http2_request()).await {
            Ok(response) => response,
            Err(e) if e.is_canceled() => return Exchange::NotSent,
            Err(_) => return Exchange::Failed(ErrorKind::Other),
        };
        let status = response.status().as_u16();
        let mut body = response.into_body();
        let mut bytes = 0u64;
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(frame) => bytes += frame.data_ref().map_or(0, |data| data.len() as u64),
                Err(_) => return Exchange::Failed(ErrorKind::BodyRead),
            }
        }
        Exchange::Answered(Answer { status, bytes })
    }
}

/// Connections shared by the open model's requests. An idle HTTP/1.1 connection is reused, most recently
/// used first (its buffers are warm, and the rest may be closed by the server's idle timeout); when none is
/// idle a new one is opened, so no request ever waits behind another. HTTP/2 shares one connection, so
/// beyond the server's limit of concurrent streams (often 100 to 250) requests do wait inside it, and that
/// wait shows in their service time.
#[derive(Debug)]
pub struct Pool {
    endpoint: Arc<Endpoint>,
    idle: Mutex<Vec<Http1<Stream>>>,
    shared: Mutex<Option<http2::SendRequest<Full<Bytes>>>>,
    /// Known to speak HTTP/1.1 (plain HTTP, or a TLS server that chose it): connections open in parallel.
    /// Until then, or while the server speaks HTTP/2, one request at a time opens a connection and the
    /// others wait to share it, so a burst at the start does not open a connection per request.
    http1: AtomicBool,
    opening: tokio::sync::Mutex<()>,
}

impl Pool {
    pub fn new(endpoint: Arc<Endpoint>) -> Self {
        Self {
            http1: AtomicBool::new(endpoint.origin.tls.is_none()),
            endpoint,
            idle: Mutex::default(),
            shared: Mutex::default(),
            opening: tokio::sync::Mutex::new(()),
        }
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// An idle or shared connection, if one is open.
    pub fn reuse(&self) -> Option<Connection> {
        if let Some(sender) = lock(&self.shared).as_ref().filter(|s| !s.is_closed()) {
            return Some(Connection::Http2(sender.clone()));
        }
        lock(&self.idle).pop().map(Connection::Http1)
    }

    /// Returns a connection after its exchange: an HTTP/1.1 one to the idle stack, an HTTP/2 one as the
    /// shared connection if there is none open.
    pub fn release(&self, connection: Connection) {
        match connection {
            Connection::Http1(connection) if connection.is_open() => lock(&self.idle).push(connection),
            connection @ Connection::Http2(_) => self.release_shared(&connection),
            Connection::Http1(_) => {}
        }
    }

    /// An open HTTP/2 connection becomes the shared one if there is none open.
    fn release_shared(&self, connection: &Connection) {
        if let Connection::Http2(sender) = connection
            && !sender.is_closed()
        {
            let mut shared = lock(&self.shared);
            if shared.as_ref().is_none_or(http2::SendRequest::is_closed) {
                *shared = Some(sender.clone());
            }
        }
    }

    /// One exchange, on a reused connection if one is open, else on a new one.
    pub async fn exchange(&self) -> Result<Answer, ErrorKind> {
        let mut slot = self.reuse();
        if slot.is_none() && !self.http1.load(Ordering::Relaxed) {
            let _opening = self.opening.lock().await;
            slot = self.reuse();
            if slot.is_none() {
                match self.endpoint.connect().await {
                    Ok(connection) => {
                        if matches!(connection, Connection::Http1(_)) {
                            self.http1.store(true, Ordering::Relaxed);
                        }
                        self.release_shared(&connection);
                        slot = Some(connection);
                    }
                    Err(kind) => return Err(kind),
                }
            }
        }
        let done = self.endpoint.exchange(&mut slot).await;
        if let Some(connection) = slot {
            self.release(connection);
        }
        done
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
