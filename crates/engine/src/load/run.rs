//! One run in progress, and how one exchange is measured: what the open model and the closed loop share.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use super::attack::{Attack, Progress};
use super::clocks::Clocks;
use super::recorder::Recorder;
use super::stats::{ErrorKind, Outcome, Sample};
use super::transport::{Answer, Endpoint, Pool};

/// Everything a running attack's parts share: what was asked, where to send, when it started, and where
/// to record. One value, handed to the open model or the closed loop.
#[derive(Debug)]
pub(super) struct Run<'a> {
    pub(super) attack: &'a Attack,
    pub(super) endpoint: Arc<Endpoint>,
    /// The instant of the first intended send.
    pub(super) start: Instant,
    pub(super) clocks: Clocks,
    pub(super) events: Recorder,
    pub(super) progress: Arc<Progress>,
}

/// How a run's sending ended.
#[derive(Debug)]
pub(super) struct Ran {
    pub(super) planned: u64,
    pub(super) first_sent: Option<Instant>,
    pub(super) last_send: Instant,
    pub(super) finished: Instant,
    pub(super) truncated: bool,
}

/// Sends one request intended at `intended` on a connection from `pool` and measures it.
pub(super) async fn measure(pool: &Pool, timeout: Duration, intended: Instant) -> Sample {
    let sent = Instant::now();
    let outcome = tokio::time::timeout(timeout, pool.exchange()).await;
    sample(pool.endpoint(), outcome, intended, sent)
}

/// What one exchange measured; `outcome` is `Err` when the timeout ran out first.
pub(super) fn sample(
    endpoint: &Endpoint,
    outcome: Result<Result<Answer, ErrorKind>, tokio::time::error::Elapsed>,
    intended: Instant,
    sent: Instant,
) -> Sample {
    let (outcome, bytes_in) = match outcome {
        Ok(Ok(Answer { status, bytes })) => (Outcome::Status(status), bytes),
        Ok(Err(kind)) => (Outcome::Error(kind), 0),
        Err(_) => (Outcome::Error(ErrorKind::Timeout), 0),
    };
    Sample {
        outcome,
        send_lag: sent.saturating_duration_since(intended),
        service_time: sent.elapsed(),
        bytes_in,
        bytes_out: endpoint.body_len(),
    }
}

/// Waits for in-flight requests (tracked by `permits` all being returned), at most until `deadline`.
/// Returns false when the deadline came first.
pub(super) async fn drain(permits: &Arc<Semaphore>, total: usize, deadline: Option<Instant>) -> bool {
    let all = permits.acquire_many(total as u32);
    match deadline {
        Some(deadline) => matches!(tokio::time::timeout_at(deadline.into(), all).await, Ok(Ok(_))),
        None => all.await.is_ok(),
    }
}
