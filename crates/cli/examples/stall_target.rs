//! A target for `make bench`'s stall run: answers at once, except that requests arriving during a stall
//! window wait until it ends. On exit it writes, as JSON, how many requests arrived before, during and after
//! the stall, so each load generator's behaviour during the stall can be compared with the truth.
//!
//! stall_target LISTEN STALL_AFTER_MS STALL_FOR_MS EXIT_AFTER_MS REPORT_PATH

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

#[derive(Debug, Default)]
struct Counts {
    before: AtomicU64,
    during: AtomicU64,
    after: AtomicU64,
}

fn arg(args: &[String], i: usize) -> String {
    args.get(i).cloned().unwrap_or_else(|| {
        eprintln!("usage: stall_target LISTEN STALL_AFTER_MS STALL_FOR_MS EXIT_AFTER_MS REPORT_PATH");
        std::process::exit(2)
    })
}

fn millis(text: &str) -> Duration {
    Duration::from_millis(text.parse().unwrap_or_else(|_| {
        eprintln!("{text:?} is not a number of milliseconds");
        std::process::exit(2)
    }))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let listener = tokio::net::TcpListener::bind(arg(&args, 1)).await?;
    let start = Instant::now();
    let stall_from = start + millis(&arg(&args, 2));
    let stall_until = stall_from + millis(&arg(&args, 3));
    let exit_at = start + millis(&arg(&args, 4));
    let report = arg(&args, 5);
    let counts = Arc::new(Counts::default());
    let serving = {
        let counts = Arc::clone(&counts);
        async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let counts = Arc::clone(&counts);
                tokio::spawn(async move {
                    let service = service_fn(move |_| {
                        let counts = Arc::clone(&counts);
                        async move {
                            let now = Instant::now();
                            if now < stall_from {
                                counts.before.fetch_add(1, Ordering::Relaxed);
                            } else if now < stall_until {
                                counts.during.fetch_add(1, Ordering::Relaxed);
                                tokio::time::sleep_until(stall_until.into()).await;
                            } else {
                                counts.after.fetch_add(1, Ordering::Relaxed);
                            }
                            Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(Bytes::from_static(
                                b"hello",
                            ))))
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    };
    tokio::select! {
        () = serving => {}
        () = tokio::time::sleep_until(exit_at.into()) => {}
    }
    let json = format!(
        "{{\"before\": {}, \"during\": {}, \"after\": {}}}\n",
        counts.before.load(Ordering::Relaxed),
        counts.during.load(Ordering::Relaxed),
        counts.after.load(Ordering::Relaxed)
    );
    std::fs::write(report, json)
}
