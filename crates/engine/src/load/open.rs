//! The open model (vegeta's pacer and attacker): each request i of the share (all of them, for a worker
//! alone) is sent at the schedule's intended time for i, whatever happened to earlier ones, as long as fewer than `max_in_flight` are outstanding; otherwise it is dropped, never
//! queued.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use super::attack::STOP_LATENCY;
use super::recorder::Event;
use super::run::{Ran, Run, drain, measure};
use super::schedule::Schedule;
use super::share::Share;
use super::transport::Pool;

/// The least the pacer sleeps between two wakes. Each wake costs a switch to the pacer's thread and one to
/// the runtime's; at 20,000 requests a second, waking at most every 200 µs (the requests due meanwhile sent
/// together, each at most this much after its time, inside the 1 ms that counts a send late) took a quarter
/// off the open model's CPU (docs/benchmarks.md). 500 µs took 7 % more off but made sends late 3 times as
/// often.
const PACING_SLICE: Duration = Duration::from_micros(200);

/// The open model. Pacing runs on a thread of its own with the operating system's sleep, which wakes within
/// tens of microseconds, where the async timer wakes on whole milliseconds; it hands each request to the
/// runtime as it falls due, so sending never waits for an answer.
pub(super) async fn open(
    run: &Run<'_>,
    schedule: Schedule,
    share: Share,
    segment: Option<Range<Duration>>,
    max_in_flight: usize,
) -> Ran {
    let (start, clocks) = (run.start, run.clocks);
    let pool = Arc::new(Pool::new(Arc::clone(&run.endpoint)));
    let permits = Arc::new(Semaphore::new(max_in_flight));
    // The requests due in the segment (all of them without one), and the offset the attack's start stands for.
    let (indices, origin) = match &segment {
        None => (0..schedule.total(), Duration::ZERO),
        Some(segment) => (
            schedule.first_at(segment.start)..schedule.first_at(segment.end),
            segment.start,
        ),
    };
    let planned = share.count_in(indices.clone());
    let first_offset = share
        .positions_in(indices.clone())
        .next()
        .map_or(Duration::ZERO, |i| schedule.offset(i).saturating_sub(origin));
    let runtime = tokio::runtime::Handle::current();
    let pacer = {
        let permits = Arc::clone(&permits);
        let events = run.events.clone();
        let progress = Arc::clone(&run.progress);
        let deadline = run.attack.deadline;
        let timeout = run.attack.timeout;
        tokio::task::spawn_blocking(move || {
            let mut first_sent = None;
            let (mut truncated, mut stopped) = (false, false);
            let mut last_second = i64::MIN;
            let mut woke = Instant::now();
            'requests: for i in share.positions_in(indices) {
                let intended = start + schedule.offset(i).saturating_sub(origin);
                if deadline.is_some_and(|deadline| intended >= deadline) {
                    truncated = true;
                    break;
                }
                // Sleeps in slices, looking at the stop between them; once awake, it sends everything due
                // before it sleeps again, and it sleeps at least PACING_SLICE after its last wake.
                let until = intended.max(woke + PACING_SLICE);
                loop {
                    if progress.stopping() {
                        stopped = true;
                        break 'requests;
                    }
                    let now = Instant::now();
                    if intended <= now {
                        break;
                    }
                    std::thread::sleep((until.max(now) - now).min(STOP_LATENCY));
                    woke = Instant::now();
                }
                let second = clocks.unix_second(intended);
                if second != last_second {
                    events.send(Event::SendingPast { second });
                    last_second = second;
                }
                let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
                    progress.dropped.fetch_add(1, Ordering::Relaxed);
                    events.send(Event::Dropped { second });
                    continue;
                };
                first_sent.get_or_insert_with(Instant::now);
                progress.sent.fetch_add(1, Ordering::Relaxed);
                events.send(Event::Sent { second });
                let pool = Arc::clone(&pool);
                let events = events.clone();
                let progress = Arc::clone(&progress);
                runtime.spawn(async move {
                    let sample = measure(&pool, timeout, intended).await;
                    progress.answered.fetch_add(1, Ordering::Relaxed);
                    events.send(Event::Done { second, sample });
                    drop(permit);
                });
            }
            (first_sent, truncated, stopped)
        })
    };
    let (first_sent, mut truncated, stopped) = pacer.await.unwrap_or((None, true, false));
    let last_send = Instant::now();
    run.events.send(Event::SendingPast { second: i64::MAX });
    if !drain(&permits, max_in_flight, run.attack.deadline).await {
        truncated = true;
    }
    Ran {
        planned,
        first_sent,
        last_send,
        finished: Instant::now(),
        truncated,
        first_offset,
        stopped,
    }
}
