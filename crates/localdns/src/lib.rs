//! The local stack's DNS: a server on loopback (UDP and TCP on one port) with a zone changed while it runs:
//! TXT records, addresses (A and AAAA), NXDOMAIN for unknown names, and names that answer SERVFAIL or never
//! answer. It counts the queries and the most it was ever answering at once, and can delay every answer.
//!
//! `make demo` serves its organisation's TXT challenge with it, where public DNS would serve a real one; the
//! domain-validator's tests make it fail on cue. Written on hickory's message types rather than as a
//! hickory-server authority: a conforming authority neither misbehaves on cue (silence, SERVFAIL, a delay)
//! nor counts, and hickory-server would be one more crate to build for ~200 lines.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_resolver::proto::op::{Message, MessageType, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, AAAA, TXT};
use hickory_resolver::proto::rr::{RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What a name answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// TXT records, each one or more strings. Other query types get an empty answer (NODATA).
    Txt(Vec<Vec<String>>),
    /// Addresses: the IPv4 ones answer A queries, the IPv6 ones AAAA; other query types get NODATA.
    Addresses(Vec<IpAddr>),
    ServFail,
    /// Never answers: the resolver must time out.
    Silence,
}

#[derive(Debug, Default)]
struct State {
    /// Lower-case names with a trailing dot.
    zone: Mutex<HashMap<String, Answer>>,
    delay: Mutex<Duration>,
    queries: AtomicU64,
    in_flight: AtomicU64,
    most_in_flight: AtomicU64,
}

/// A running server. Clones share it.
#[derive(Debug, Clone)]
pub struct LocalDns {
    pub address: SocketAddr,
    state: Arc<State>,
}

fn key(name: &str) -> String {
    let name = name.trim().to_ascii_lowercase();
    if name.ends_with('.') { name } else { format!("{name}.") }
}

/// What a server answers to one DNS message (`true` when it came over TCP); None for silence. The guard's
/// tests script their own zones (CNAME chains, truncation over UDP) on this server with one of these.
pub type Responder = Arc<dyn Fn(Vec<u8>, bool) -> Pin<Box<dyn Future<Output = Option<Vec<u8>>> + Send>> + Send + Sync>;

/// Serves `responder` on a free loopback port, UDP and TCP, on the current Tokio runtime.
pub async fn serve_on_free_port(responder: Responder) -> SocketAddr {
    for _ in 0..20 {
        let udp = tokio::net::UdpSocket::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let address = udp.local_addr().unwrap_or_else(|e| panic!("{e}"));
        if let Ok(tcp) = tokio::net::TcpListener::bind(address).await {
            serve(udp, tcp, responder);
            return address;
        }
    }
    panic!("no loopback port was free for both UDP and TCP");
}

fn serve(udp: tokio::net::UdpSocket, tcp: tokio::net::TcpListener, responder: Responder) {
    let udp = Arc::new(udp);
    let udp_responder = Arc::clone(&responder);
    tokio::spawn(async move {
        let mut buffer = vec![0u8; 4096];
        while let Ok((n, peer)) = udp.recv_from(&mut buffer).await {
            let (udp, respond, request) = (Arc::clone(&udp), Arc::clone(&udp_responder), buffer[..n].to_vec());
            tokio::spawn(async move {
                if let Some(answer) = respond(request, false).await {
                    let _ = udp.send_to(&answer, peer).await;
                }
            });
        }
    });
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = tcp.accept().await {
            let respond = Arc::clone(&responder);
            tokio::spawn(async move {
                while let Ok(length) = stream.read_u16().await {
                    let mut request = vec![0u8; usize::from(length)];
                    if stream.read_exact(&mut request).await.is_err() {
                        return;
                    }
                    let Some(answer) = respond(request, true).await else {
                        continue;
                    };
                    let Ok(length) = u16::try_from(answer.len()) else {
                        return;
                    };
                    if stream.write_u16(length).await.is_err() || stream.write_all(&answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
}

impl LocalDns {
    /// Starts a server on a free loopback port, on the current Tokio runtime.
    pub async fn start() -> Self {
        let state = Arc::<State>::default();
        let address = serve_on_free_port(Self::responder(&state)).await;
        Self { address, state }
    }

    /// Starts a server on `address` (a fixed port the deployed stack was told about).
    pub async fn start_on(address: SocketAddr) -> std::io::Result<Self> {
        let udp = tokio::net::UdpSocket::bind(address).await?;
        let tcp = tokio::net::TcpListener::bind(address).await?;
        let state = Arc::<State>::default();
        serve(udp, tcp, Self::responder(&state));
        Ok(Self { address, state })
    }

    fn responder(state: &Arc<State>) -> Responder {
        let state = Arc::clone(state);
        Arc::new(move |request, _tcp| {
            let state = Arc::clone(&state);
            Box::pin(async move { answer(&state, &request).await })
        })
    }

    /// Sets what `name` answers (any case; with or without the trailing dot).
    pub fn set(&self, name: &str, answer: Answer) {
        if let Ok(mut zone) = self.state.zone.lock() {
            zone.insert(key(name), answer);
        }
    }

    /// Sets `name`'s TXT records, each given as its strings.
    pub fn txt(&self, name: &str, records: &[&[&str]]) {
        let records = records
            .iter()
            .map(|strings| strings.iter().map(|s| (*s).to_owned()).collect())
            .collect();
        self.set(name, Answer::Txt(records));
    }

    /// Removes `name`: it answers NXDOMAIN.
    pub fn remove(&self, name: &str) {
        if let Ok(mut zone) = self.state.zone.lock() {
            zone.remove(&key(name));
        }
    }

    /// Delays every answer from now on.
    pub fn set_delay(&self, delay: Duration) {
        if let Ok(mut d) = self.state.delay.lock() {
            *d = delay;
        }
    }

    /// Queries received so far.
    pub fn queries(&self) -> u64 {
        self.state.queries.load(Ordering::SeqCst)
    }

    /// The most queries the server was answering at once (with a delay, the client's concurrency).
    pub fn most_in_flight(&self) -> u64 {
        self.state.most_in_flight.load(Ordering::SeqCst)
    }
}

/// The answer to one request, after the delay; None for silence or a request that is not DNS.
async fn answer(state: &State, request: &[u8]) -> Option<Vec<u8>> {
    state.queries.fetch_add(1, Ordering::SeqCst);
    let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    state.most_in_flight.fetch_max(now, Ordering::SeqCst);
    let delay = state.delay.lock().map(|d| *d).unwrap_or_default();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let answer = respond(state, request);
    state.in_flight.fetch_sub(1, Ordering::SeqCst);
    answer
}

fn respond(state: &State, request: &[u8]) -> Option<Vec<u8>> {
    let query = Message::from_vec(request).ok()?;
    let question = query.queries.first()?.clone();
    let mut response = Message::new(query.metadata.id, MessageType::Response, query.metadata.op_code);
    response.metadata.recursion_desired = query.metadata.recursion_desired;
    response.metadata.recursion_available = true;
    response.metadata.authoritative = true;
    response.add_query(question.clone());
    let found = state.zone.lock().ok()?.get(&key(&question.name().to_ascii())).cloned();
    match found {
        None => response.metadata.response_code = ResponseCode::NXDomain,
        Some(Answer::ServFail) => response.metadata.response_code = ResponseCode::ServFail,
        Some(Answer::Silence) => return None,
        Some(Answer::Txt(records)) if question.query_type() == RecordType::TXT => {
            let owner = question.name().clone();
            response.insert_answers(
                records
                    .into_iter()
                    .map(|strings| Record::from_rdata(owner.clone(), 60, RData::TXT(TXT::new(strings))))
                    .collect(),
            );
        }
        Some(Answer::Txt(_)) => {}
        Some(Answer::Addresses(addresses)) => {
            let owner = question.name().clone();
            let kind = question.query_type();
            response.insert_answers(
                addresses
                    .into_iter()
                    .filter_map(|ip| match ip {
                        IpAddr::V4(v4) if kind == RecordType::A => Some(RData::A(A(v4))),
                        IpAddr::V6(v6) if kind == RecordType::AAAA => Some(RData::AAAA(AAAA(v6))),
                        _ => None,
                    })
                    .map(|rdata| Record::from_rdata(owner.clone(), 60, rdata))
                    .collect(),
            );
        }
    }
    response.to_vec().ok()
}
