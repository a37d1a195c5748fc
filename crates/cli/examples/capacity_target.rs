//! A target for `make bench`'s knee and ceiling runs: answers every request after DELAY_MS and, given SLOTS,
//! serves at most that many at once (the rest wait their turn, in arrival order), so it holds SLOTS /
//! DELAY_MS requests a second and no more: a known knee, for `volley attack --find-max` to find. Without
//! SLOTS its capacity is unbounded (a target answering in DELAY_MS, for the worker's ceiling). Runs until
//! killed.
//!
//! capacity_target LISTEN DELAY_MS [SLOTS]

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::sync::Semaphore;

fn usage(problem: &str) -> ! {
    eprintln!("{problem}\nusage: capacity_target LISTEN DELAY_MS [SLOTS]");
    std::process::exit(2)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let listen = args.get(1).unwrap_or_else(|| usage("LISTEN is missing"));
    let delay = args
        .get(2)
        .and_then(|ms| ms.parse().ok())
        .map(Duration::from_millis)
        .unwrap_or_else(|| usage("DELAY_MS must be a number of milliseconds"));
    let slots = match args.get(3) {
        None => None,
        Some(n) => match n.parse::<usize>() {
            Ok(n) if n > 0 => Some(Arc::new(Semaphore::new(n))),
            _ => usage("SLOTS must be a number above 0"),
        },
    };
    let listener = tokio::net::TcpListener::bind(listen).await?;
    loop {
        // A failed accept (out of file descriptors, a reset before it was taken) ends one connection, not the
        // target.
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(1)).await;
            continue;
        };
        let slots = slots.clone();
        tokio::spawn(async move {
            let service = service_fn(move |_| {
                let slots = slots.clone();
                async move {
                    // Semaphore hands out permits first come, first served: a queue, as a saturated server's.
                    let slot = match slots {
                        Some(slots) => slots.acquire_owned().await.ok(),
                        None => None,
                    };
                    tokio::time::sleep(delay).await;
                    drop(slot);
                    Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(b"hello"))))
                }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
