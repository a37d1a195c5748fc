//! The closed loop (wrk's model, for comparison only: it slows down with the target and so hides its
//! stalls): N workers each send, wait for the answer, and send again.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::attack::Progress;
use super::clocks::Clocks;
use super::recorder::{Event, Recorder};
use super::run::{Ran, Run, sample};
use super::stats::{Sample, Stats};
use super::transport::Endpoint;

/// The closed loop. Each worker owns one connection (a new one when the server closes it) and keeps its own
/// bucket for the current second, handing it to the recorder when its clock moves
/// on: one lock per worker per second, not one per request.
pub(super) async fn closed(run: &Run<'_>, connections: usize, duration: Duration) -> Ran {
    let (attack, start) = (run.attack, run.start);
    let end = match attack.deadline {
        Some(deadline) => (start + duration).min(deadline),
        None => start + duration,
    };
    let truncated = attack.deadline.is_some_and(|deadline| deadline < start + duration);
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..connections {
        let worker = Worker {
            endpoint: Arc::clone(&run.endpoint),
            end,
            timeout: attack.timeout,
            progress: Arc::clone(&run.progress),
            buckets: Buckets {
                clocks: run.clocks,
                events: run.events.clone(),
                current: None,
            },
        };
        workers.spawn(worker.run());
    }
    while workers.join_next().await.is_some() {}
    run.events.send(Event::SendingPast { second: i64::MAX });
    let finished = Instant::now();
    Ran {
        planned: 0,
        first_sent: Some(start),
        last_send: end.min(finished),
        finished,
        truncated,
        first_offset: Duration::ZERO,
        stopped: run.progress.stopping() && finished < end,
    }
}

/// One closed-loop worker.
struct Worker {
    endpoint: Arc<Endpoint>,
    end: Instant,
    timeout: Duration,
    progress: Arc<Progress>,
    buckets: Buckets,
}

impl Worker {
    async fn run(mut self) {
        let mut connection = None;
        loop {
            let intended = Instant::now();
            if intended >= self.end || self.progress.stopping() {
                break;
            }
            // Begun before the send, so the recorder counts the bucket before it could seal its second.
            self.buckets.begin(intended);
            self.progress.sent.fetch_add(1, Ordering::Relaxed);
            // A timeout drops the exchange and with it the connection, which a new one replaces.
            let outcome = tokio::time::timeout(self.timeout, self.endpoint.exchange(&mut connection)).await;
            self.buckets
                .record(&sample(&self.endpoint, outcome, intended, intended));
            self.progress.answered.fetch_add(1, Ordering::Relaxed);
        }
        self.buckets.finish();
    }
}

/// A closed-loop worker's own bucket for its current second.
struct Buckets {
    clocks: Clocks,
    events: Recorder,
    current: Option<(i64, Stats)>,
}

impl Buckets {
    /// Makes the bucket of `intended`'s second current, handing on the one before. Called before a request
    /// is sent, so the recorder counts the bucket as outstanding before it could seal that second.
    fn begin(&mut self, intended: Instant) {
        let second = self.clocks.unix_second(intended);
        if self.current.as_ref().is_some_and(|(current, _)| *current == second) {
            return;
        }
        self.hand_on();
        // Workers stamp seconds independently, so a second is declared past only two behind this worker's
        // clock: no other worker can still be about to begin a bucket in it.
        self.events.send(Event::SendingPast { second: second - 2 });
        self.events.send(Event::Began { second });
        self.current = Some((second, Stats::default()));
    }

    fn record(&mut self, sample: &Sample) {
        if let Some((_, stats)) = &mut self.current {
            stats.record(sample);
        }
    }

    fn hand_on(&mut self) {
        if let Some((second, stats)) = self.current.take() {
            self.events.send(Event::Merge {
                second,
                stats: Box::new(stats),
            });
        }
    }

    fn finish(mut self) {
        self.hand_on();
    }
}
