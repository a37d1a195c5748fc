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
    /// The schedule's offset of the first request this attack fires (its share's first), from which its
    /// start skew is measured.
    pub(super) first_offset: std::time::Duration,
    /// True when the attack was stopped ([`super::attack::Progress::stop`]) before its schedule ended.
    pub(super) stopped: bool,
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
/// Returns false when the deadline came first. `total` may exceed what one `acquire_many` takes (a `u32`):
/// the permits are taken in chunks and kept, never a truncated count.
pub(super) async fn drain(permits: &Arc<Semaphore>, total: usize, deadline: Option<Instant>) -> bool {
    let all = async {
        let mut left = total;
        while left > 0 {
            let chunk = u32::try_from(left).unwrap_or(u32::MAX);
            permits.acquire_many(chunk).await?.forget();
            left = left.saturating_sub(usize::try_from(chunk).unwrap_or(left));
        }
        Ok::<(), tokio::sync::AcquireError>(())
    };
    match deadline {
        Some(deadline) => matches!(tokio::time::timeout_at(deadline.into(), all).await, Ok(Ok(_))),
        None => all.await.is_ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Above `u32::MAX` permits, one request still in flight must hold the drain until the deadline: a
    /// count truncated to 32 bits (2^32 + 2 read as 2) would return at once and lose the request.
    #[tokio::test]
    async fn a_drain_above_u32_waits_for_every_permit() {
        let total = usize::try_from(u64::from(u32::MAX) + 3).unwrap_or(usize::MAX);
        let permits = Arc::new(Semaphore::new(total));
        let in_flight = Arc::clone(&permits)
            .try_acquire_owned()
            .unwrap_or_else(|e| panic!("{e}"));
        let deadline = Instant::now() + Duration::from_millis(200);
        assert!(
            !drain(&permits, total, Some(deadline)).await,
            "the drain ended while a request was in flight"
        );
        assert!(Instant::now() >= deadline);
        drop(in_flight);
        let fresh = Arc::new(Semaphore::new(total));
        let held = Arc::clone(&fresh).try_acquire_owned().unwrap_or_else(|e| panic!("{e}"));
        let release = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            drop(held);
        });
        assert!(
            drain(&fresh, total, Some(Instant::now() + Duration::from_secs(5))).await,
            "every permit came back"
        );
        release.await.unwrap_or_else(|e| panic!("{e}"));
    }
}
