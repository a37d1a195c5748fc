//! A target server for tests, on loopback: answers `status` after `delay`, stalls requests that arrive in
//! `stall` until the window ends, serves at most so many at once when it has `slots` (a fixed capacity),
//! and records when each request arrived.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;

/// How the target behaves. Change it while it runs through [`TestTarget::behaviour`].
#[derive(Debug, Clone)]
pub struct Behaviour {
    pub delay: Duration,
    pub status: u16,
    /// Requests arriving in [from, until) wait until `until`.
    pub stall: Option<(Instant, Instant)>,
    /// A Location header (for redirect statuses).
    pub location: Option<&'static str>,
    /// When set, a request holds one of these slots for its `delay`, and waits for one in arrival order: the
    /// target serves `slots / delay` requests a second and no more ([`Behaviour::fixed_capacity`]).
    pub slots: Option<Arc<tokio::sync::Semaphore>>,
}

impl Behaviour {
    /// A target of fixed capacity: `slots` requests served at once, each for `delay`. Above `slots / delay`
    /// requests a second the wait grows without bound, as a saturated server's queue does.
    pub fn fixed_capacity(slots: usize, delay: Duration) -> Self {
        Self {
            delay,
            slots: Some(Arc::new(tokio::sync::Semaphore::new(slots))),
            ..Self::default()
        }
    }
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            delay: Duration::ZERO,
            status: 200,
            stall: None,
            location: None,
            slots: None,
        }
    }
}

/// A running target.
#[derive(Debug, Clone)]
pub struct TestTarget {
    pub address: SocketAddr,
    pub behaviour: Arc<Mutex<Behaviour>>,
    arrivals: Arc<Mutex<Vec<(Instant, http::Version)>>>,
    /// Each request's `authorization` header, if it had one, in arrival order.
    authorizations: Arc<Mutex<Vec<Option<String>>>>,
    connections: Arc<AtomicUsize>,
}

impl TestTarget {
    /// When each request arrived.
    pub fn arrivals(&self) -> Vec<Instant> {
        lock(&self.arrivals).iter().map(|(at, _)| *at).collect()
    }

    /// The HTTP version of each request, in arrival order.
    pub fn versions(&self) -> Vec<http::Version> {
        lock(&self.arrivals).iter().map(|(_, version)| *version).collect()
    }

    /// Each request's `authorization` header (None when it had none), in arrival order.
    pub fn authorizations(&self) -> Vec<Option<String>> {
        lock(&self.authorizations).clone()
    }

    /// Connections accepted (over TLS: handshakes completed).
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// How a connection is served: plain HTTP/1.1, or TLS offering these ALPN protocols (HTTP/1.1 and HTTP/2
/// served alike on what the client chose).
#[derive(Clone)]
enum Serving {
    Plain,
    Tls(tokio_rustls::TlsAcceptor),
}

async fn serve(listener: tokio::net::TcpListener, target: TestTarget, serving: Serving) {
    while let Ok((stream, _)) = listener.accept().await {
        let target = target.clone();
        let serving = serving.clone();
        tokio::spawn(async move {
            let behaviour = Arc::clone(&target.behaviour);
            let arrivals = Arc::clone(&target.arrivals);
            let authorizations = Arc::clone(&target.authorizations);
            let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                let behaviour = Arc::clone(&behaviour);
                let arrivals = Arc::clone(&arrivals);
                let authorizations = Arc::clone(&authorizations);
                async move {
                    let now = Instant::now();
                    lock(&arrivals).push((now, request.version()));
                    lock(&authorizations).push(
                        request
                            .headers()
                            .get(hyper::header::AUTHORIZATION)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned),
                    );
                    let b = lock(&behaviour).clone();
                    if let Some((from, until)) = b.stall
                        && now >= from
                        && now < until
                    {
                        tokio::time::sleep_until(until.into()).await;
                    }
                    let slot = match &b.slots {
                        Some(slots) => Arc::clone(slots).acquire_owned().await.ok(),
                        None => None,
                    };
                    tokio::time::sleep(b.delay).await;
                    drop(slot);
                    let mut response = hyper::Response::new(Full::new(Bytes::from_static(b"hello, volley")));
                    *response.status_mut() = hyper::StatusCode::from_u16(b.status).unwrap_or(hyper::StatusCode::OK);
                    if let Some(location) = b.location {
                        response
                            .headers_mut()
                            .insert("location", hyper::header::HeaderValue::from_static(location));
                    }
                    Ok::<_, std::convert::Infallible>(response)
                }
            });
            match serving {
                Serving::Plain => {
                    target.connections.fetch_add(1, Ordering::Relaxed);
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                }
                Serving::Tls(acceptor) => {
                    let Ok(tls) = acceptor.accept(stream).await else { return };
                    target.connections.fetch_add(1, Ordering::Relaxed);
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                }
            }
        });
    }
}

async fn listen(behaviour: Behaviour, serving: Serving) -> TestTarget {
    listen_on(SocketAddr::from(([127, 0, 0, 1], 0)), behaviour, serving).await
}

async fn listen_on(address: SocketAddr, behaviour: Behaviour, serving: Serving) -> TestTarget {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .unwrap_or_else(|e| panic!("bind {address}: {e} (another test, or another run, holds it)"));
    let address = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let target = TestTarget {
        address,
        behaviour: Arc::new(Mutex::new(behaviour)),
        arrivals: Arc::default(),
        authorizations: Arc::default(),
        connections: Arc::default(),
    };
    tokio::spawn(serve(listener, target.clone(), serving));
    target
}

/// Starts a target on `address`, a fixed one: the local stack's allow-listed test target
/// (`TestTargetAddress` among its outputs), for the deployed workers to load.
pub async fn start_at(address: SocketAddr, behaviour: Behaviour) -> TestTarget {
    listen_on(address, behaviour, Serving::Plain).await
}

/// Starts a target on the current Tokio runtime.
pub async fn start(behaviour: Behaviour) -> TestTarget {
    listen(behaviour, Serving::Plain).await
}

/// A test target's self-signed certificate, which a client must be told to trust.
#[derive(Debug, Clone)]
pub struct Certificate {
    pub der: rustls::pki_types::CertificateDer<'static>,
    pub pem: String,
}

/// Starts an HTTPS target on the current Tokio runtime, with a new self-signed certificate for `name` (a
/// DNS name or an IP address), offering the ALPN protocols given (`b"h2"`, `b"http/1.1"`).
pub async fn start_tls(behaviour: Behaviour, name: &str, alpn: &[&[u8]]) -> (TestTarget, Certificate) {
    let certified = rcgen::generate_simple_self_signed(vec![name.to_owned()]).unwrap_or_else(|e| panic!("{e}"));
    let certificate = Certificate {
        der: certified.cert.der().clone(),
        pem: certified.cert.pem(),
    };
    let key = rustls::pki_types::PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![certificate.der.clone()], key.into())
        .unwrap_or_else(|e| panic!("{e}"));
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    (listen(behaviour, Serving::Tls(acceptor)).await, certificate)
}

/// An open-model GET at `rate` for `seconds`, pinned to `address` (no DNS), for tests of the functions.
pub fn get_attack(
    address: SocketAddr,
    url: &str,
    rate: f64,
    seconds: u64,
    max_in_flight: usize,
) -> volley_engine::load::attack::Attack {
    let schedule = volley_engine::load::schedule::Schedule::constant(rate, Duration::from_secs(seconds))
        .unwrap_or_else(|e| panic!("{e}"));
    let load = volley_engine::load::attack::Load::Open {
        schedule,
        share: volley_engine::load::share::Share::whole(),
        segment: None,
        max_in_flight,
    };
    attack(address, url, load, Duration::from_secs(10))
}

/// A GET of `url` under `load`, pinned to `address`: the engine connects there without asking any DNS.
pub fn attack(
    address: SocketAddr,
    url: &str,
    load: volley_engine::load::attack::Load,
    timeout: Duration,
) -> volley_engine::load::attack::Attack {
    use volley_engine::load::attack::Attack;
    use volley_engine::load::request::RequestSpec;
    let url: url::Url = url.parse().unwrap_or_else(|e| panic!("{url}: {e}"));
    Attack {
        target: volley_engine::guard::VettedTarget {
            host: url.host_str().unwrap_or_default().to_owned(),
            port: url.port_or_known_default().unwrap_or(80),
            url,
            addresses: vec![address],
            reason: "test".into(),
        },
        request: RequestSpec {
            method: http::Method::GET,
            headers: http::HeaderMap::new(),
            body: Bytes::new(),
        },
        load,
        timeout,
        deadline: None,
        start_at: None,
        tls_roots: Vec::new(),
    }
}

/// Starts a target on a thread and runtime of its own, for tests without a runtime (they run binaries).
pub fn start_on_thread(behaviour: Behaviour) -> TestTarget {
    on_thread(start(behaviour))
}

/// [`start_tls`] on a thread and runtime of its own.
pub fn start_tls_on_thread(behaviour: Behaviour, name: &str, alpn: &[&'static [u8]]) -> (TestTarget, Certificate) {
    let (name, alpn) = (name.to_owned(), alpn.to_vec());
    on_thread(async move { start_tls(behaviour, &name, &alpn).await })
}

fn on_thread<T: Send + 'static>(starting: impl std::future::Future<Output = T> + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build();
        let Ok(runtime) = runtime else { return };
        runtime.block_on(async move {
            let _ = tx.send(starting.await);
            std::future::pending::<()>().await;
        });
    });
    rx.recv().unwrap_or_else(|e| panic!("test target did not start: {e}"))
}
