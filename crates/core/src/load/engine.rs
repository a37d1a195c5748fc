//! The attack: sends requests at their intended times and measures each one.
//!
//! Open model (the default): request i is due at `start + schedule.offset(i)` and is sent then, whatever
//! happened to earlier requests, as long as fewer than `max_in_flight` are outstanding; a send that finds
//! the cap reached is counted as `dropped`, never queued. New connections are opened as needed (the HTTP/1
//! pool never makes a request wait for a busy connection; over HTTP/2 one connection carries many), so a
//! stalled target cannot hold the schedule back. Latency is measured from the intended time (free of
//! coordinated omission) and, separately, from the actual send (service time).
//!
//! Closed loop (`Load::Closed`): N workers each send, wait for the answer, and send again, as wrk does; for
//! comparison only, since a closed loop slows down with the target and so hides its stalls.
//!
//! Connections go only to the guard's vetted addresses ([`super::transport`] dials them without resolving any
//! name), redirects are never followed, and proxies are ignored.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::time::Instant;
use thiserror::Error;
use tokio::sync::Semaphore;

use super::schedule::Schedule;
use super::stats::{ErrorKind, Outcome, Sample, SecondStats, Stats};
use super::transport::{Answer, Endpoint, EndpointError, Pool};
use crate::guard::VettedTarget;

/// What to send (the default: a GET without headers or body).
#[derive(Debug, Clone, Default)]
pub struct RequestSpec {
    pub method: http::Method,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

/// How load is offered.
#[derive(Debug, Clone, Copy)]
pub enum Load {
    /// Requests at the schedule's times, at most `max_in_flight` outstanding.
    Open { schedule: Schedule, max_in_flight: usize },
    /// `connections` workers, each sending its next request when the last one is answered, for `duration`.
    Closed { connections: usize, duration: Duration },
}

/// Everything an attack needs.
#[derive(Debug, Clone)]
pub struct Attack {
    pub target: VettedTarget,
    pub request: RequestSpec,
    pub load: Load,
    /// Per request, from its send to its last byte.
    pub timeout: Duration,
    /// Stop sending before this instant and return what was measured, marked truncated. Requests still
    /// outstanding at the deadline are counted as `aborted`.
    pub deadline: Option<Instant>,
    /// Wait until this wall-clock time before the first request (a synchronised start).
    pub start_at: Option<SystemTime>,
    /// Certificates trusted besides the platform's roots, for HTTPS targets behind a private CA.
    pub tls_roots: Vec<rustls::pki_types::CertificateDer<'static>>,
}

/// Why an attack could not start.
#[derive(Debug, Error)]
pub enum AttackError {
    #[error("max in flight must be at least 1")]
    NoConcurrency,
    #[error("the target cannot be reached as asked")]
    Endpoint(#[from] EndpointError),
    #[error("a per-second result could not be encoded")]
    Encode(#[source] serde_json::Error),
}

/// For a synchronised start: how far from `startAt` the first request was intended and actually sent.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartSkew {
    pub start_at_ms: i64,
    /// First intended send time minus `startAt`, in milliseconds (negative: early).
    pub first_intended_ms: f64,
    /// First actual send time minus `startAt`, in milliseconds.
    pub first_sent_ms: f64,
}

/// What an attack measured.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Every second's bucket, oldest first, each already encoded as JSON (so a long run holds kilobytes per
    /// second, not live histograms); [`Report::decode_seconds`] reads them back.
    pub seconds: Vec<Box<RawValue>>,
    /// The whole run.
    pub total: Stats,
    /// Unix time, in milliseconds, of the first intended send.
    pub started_at_ms: i64,
    /// From the first intended send to the last send (the attack), and from then to the last answer.
    #[serde(with = "seconds_f64")]
    pub duration: Duration,
    #[serde(with = "seconds_f64")]
    pub wait: Duration,
    /// Requests the schedule planned (open model); zero for a closed loop.
    pub planned: u64,
    /// True when the deadline cut the run short.
    pub truncated: bool,
    pub start_skew: Option<StartSkew>,
}

impl Report {
    /// The per-second buckets, decoded.
    pub fn decode_seconds(&self) -> Result<Vec<SecondStats>, serde_json::Error> {
        self.seconds.iter().map(|raw| serde_json::from_str(raw.get())).collect()
    }

    /// Requests sent per second of attack.
    pub fn rate(&self) -> f64 {
        per_second(self.total.requests, self.duration)
    }

    /// Successful requests per second, counting the wait for the last answers.
    pub fn throughput(&self) -> f64 {
        let ok = (self.total.success_ratio() * self.total.requests as f64).round() as u64;
        per_second(ok, self.duration + self.wait)
    }
}

fn per_second(n: u64, over: Duration) -> f64 {
    if over.is_zero() {
        0.0
    } else {
        n as f64 / over.as_secs_f64()
    }
}

/// Durations in reports as fractional seconds, readable in JSON and exact enough.
mod seconds_f64 {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let seconds = f64::deserialize(d)?;
        Duration::try_from_secs_f64(seconds).map_err(serde::de::Error::custom)
    }
}

/// Live counters, for progress bars.
#[derive(Debug, Default)]
pub struct Progress {
    pub sent: AtomicU64,
    pub answered: AtomicU64,
    pub dropped: AtomicU64,
}

/// Sends one request intended at `intended` on a connection from `pool` and measures it.
async fn measure(pool: &Pool, timeout: Duration, intended: Instant) -> Sample {
    let sent = Instant::now();
    let outcome = tokio::time::timeout(timeout, pool.exchange()).await;
    sample(pool.endpoint(), outcome, intended, sent)
}

/// What one exchange measured; `outcome` is `Err` when the timeout ran out first.
fn sample(
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

/// A message to the aggregator.
#[derive(Debug)]
enum Event {
    Sent {
        second: i64,
    },
    Done {
        second: i64,
        sample: Sample,
    },
    Dropped {
        second: i64,
    },
    /// A closed-loop worker began its own bucket for this second: one more part outstanding, as a sent
    /// request is.
    Began {
        second: i64,
    },
    /// The worker's bucket for this second, finished (it moved on to a later second, or stopped).
    Merge {
        second: i64,
        stats: Box<Stats>,
    },
    /// The sender has moved past every second before this one: none of them gets new requests.
    SendingPast {
        second: i64,
    },
}

/// Where every thread of an attack records what happened: the aggregator behind a mutex. Recording is
/// synchronous (a few hundred nanoseconds under the lock), so a generator that falls behind shows as late
/// sends, never as a backlog of unrecorded events growing in memory.
#[derive(Debug, Clone, Default)]
struct Recorder {
    inner: Arc<std::sync::Mutex<(Aggregator, Option<AttackError>)>>,
}

impl Recorder {
    fn send(&self, event: Event) {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let (aggregator, error) = &mut *guard;
        if let Err(e) = aggregator.apply(event) {
            error.get_or_insert(e);
        }
    }

    fn finish(&self) -> Result<(Vec<Box<RawValue>>, Stats), AttackError> {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let (aggregator, error) = std::mem::take(&mut *guard);
        match error {
            Some(e) => Err(e),
            None => aggregator.finish(),
        }
    }
}

/// Collects samples into per-second buckets and seals each second (encodes it) once its last request (or
/// closed-loop worker's bucket) is in.
#[derive(Debug, Default)]
struct Aggregator {
    live: BTreeMap<i64, (Stats, u64)>,
    sealed: Vec<(i64, Box<RawValue>)>,
    total: Stats,
    sending_past: i64,
}

impl Aggregator {
    fn apply(&mut self, event: Event) -> Result<(), AttackError> {
        match event {
            Event::Sent { second } => self.live.entry(second).or_default().1 += 1,
            Event::Done { second, sample } => {
                let (stats, outstanding) = self.live.entry(second).or_default();
                stats.record(&sample);
                *outstanding = outstanding.saturating_sub(1);
            }
            Event::Began { second } => self.live.entry(second).or_default().1 += 1,
            Event::Merge { second, stats } => {
                let (bucket, outstanding) = self.live.entry(second).or_default();
                bucket.merge(&stats);
                *outstanding = outstanding.saturating_sub(1);
            }
            Event::Dropped { second } => {
                self.live.entry(second).or_default().0.record_dropped();
            }
            Event::SendingPast { second } => self.sending_past = self.sending_past.max(second),
        }
        self.seal_finished()
    }

    fn seal_finished(&mut self) -> Result<(), AttackError> {
        while let Some(entry) = self.live.first_entry() {
            if *entry.key() >= self.sending_past || entry.get().1 > 0 {
                break;
            }
            let (second, (stats, _)) = entry.remove_entry();
            self.seal(second, stats)?;
        }
        Ok(())
    }

    /// Encodes a finished second and adds it to the total (once per second, not once per request).
    fn seal(&mut self, second: i64, stats: Stats) -> Result<(), AttackError> {
        self.total.merge(&stats);
        let json = serde_json::to_string(&SecondStats { second, stats }).map_err(AttackError::Encode)?;
        let raw = RawValue::from_string(json).map_err(AttackError::Encode)?;
        self.sealed.push((second, raw));
        Ok(())
    }

    fn finish(mut self) -> Result<(Vec<Box<RawValue>>, Stats), AttackError> {
        for (second, (stats, _)) in std::mem::take(&mut self.live) {
            self.seal(second, stats)?;
        }
        self.sealed.sort_by_key(|(second, _)| *second);
        Ok((self.sealed.into_iter().map(|(_, raw)| raw).collect(), self.total))
    }
}

/// Wall-clock time of an instant, given one pairing of the two clocks.
#[derive(Debug, Clone, Copy)]
struct Clocks {
    instant: Instant,
    wall: SystemTime,
}

impl Clocks {
    fn now() -> Self {
        Self {
            instant: Instant::now(),
            wall: SystemTime::now(),
        }
    }

    fn unix_nanos(&self, at: Instant) -> i128 {
        let base = self.wall.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i128);
        if at >= self.instant {
            base + (at - self.instant).as_nanos() as i128
        } else {
            base - (self.instant - at).as_nanos() as i128
        }
    }

    fn unix_second(&self, at: Instant) -> i64 {
        self.unix_nanos(at).div_euclid(1_000_000_000) as i64
    }

    fn unix_millis(&self, at: Instant) -> i64 {
        self.unix_nanos(at).div_euclid(1_000_000) as i64
    }
}

/// Waits for a synchronised start: the instant matching `start_at` on this machine's clock.
async fn wait_for(start_at: SystemTime) -> Instant {
    let now = Clocks::now();
    match start_at.duration_since(now.wall) {
        Ok(ahead) => {
            let at = now.instant + ahead;
            tokio::time::sleep_until(at.into()).await;
            at
        }
        // Already past: start now, and the skew will show how late.
        Err(_) => Instant::now(),
    }
}

/// Runs an attack to its end (or its deadline) and reports what it measured.
pub async fn run(attack: &Attack, progress: Arc<Progress>) -> Result<Report, AttackError> {
    let concurrency = match attack.load {
        Load::Open { max_in_flight, .. } => max_in_flight,
        Load::Closed { connections, .. } => connections,
    };
    if concurrency == 0 {
        return Err(AttackError::NoConcurrency);
    }
    let endpoint = Arc::new(Endpoint::new(
        &attack.target,
        attack.request.clone(),
        &attack.tls_roots,
    )?);
    let events = Recorder::default();

    let start = match attack.start_at {
        Some(at) => wait_for(at).await,
        None => Instant::now(),
    };
    let clocks = Clocks::now();
    let outcome = match attack.load {
        Load::Open {
            schedule,
            max_in_flight,
        } => {
            open(
                attack,
                Arc::new(Pool::new(endpoint)),
                schedule,
                max_in_flight,
                start,
                clocks,
                &events,
                &progress,
            )
            .await
        }
        Load::Closed { connections, duration } => {
            closed(
                attack,
                &endpoint,
                connections,
                duration,
                start,
                clocks,
                &events,
                &progress,
            )
            .await
        }
    };
    let (seconds, total) = events.finish()?;
    let start_skew = attack.start_at.map(|at| {
        let at_ms = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        let ms = |instant: Instant| clocks.unix_nanos(instant) as f64 / 1e6 - at_ms as f64;
        StartSkew {
            start_at_ms: at_ms,
            first_intended_ms: ms(start),
            first_sent_ms: ms(outcome.first_sent.unwrap_or(start)),
        }
    });
    Ok(Report {
        seconds,
        total,
        started_at_ms: clocks.unix_millis(start),
        duration: outcome.last_send.saturating_duration_since(start),
        wait: outcome.finished.saturating_duration_since(outcome.last_send),
        planned: outcome.planned,
        truncated: outcome.truncated,
        start_skew,
    })
}

#[derive(Debug)]
struct Ran {
    planned: u64,
    first_sent: Option<Instant>,
    last_send: Instant,
    finished: Instant,
    truncated: bool,
}

/// Waits for in-flight requests (tracked by `permits` all being returned), at most until `deadline`.
/// Returns false when the deadline came first.
async fn drain(permits: &Arc<Semaphore>, total: usize, deadline: Option<Instant>) -> bool {
    let all = permits.acquire_many(total as u32);
    match deadline {
        Some(deadline) => matches!(tokio::time::timeout_at(deadline.into(), all).await, Ok(Ok(_))),
        None => all.await.is_ok(),
    }
}

/// The open model. Pacing runs on a thread of its own with the operating system's sleep, which wakes within
/// tens of microseconds, where the async timer wakes on whole milliseconds; it hands each request to the
/// runtime as it falls due, so sending never waits for an answer.
#[expect(
    clippy::too_many_arguments,
    reason = "one call site; the pieces are the attack's parts"
)]
async fn open(
    attack: &Attack,
    pool: Arc<Pool>,
    schedule: Schedule,
    max_in_flight: usize,
    start: Instant,
    clocks: Clocks,
    events: &Recorder,
    progress: &Arc<Progress>,
) -> Ran {
    let permits = Arc::new(Semaphore::new(max_in_flight));
    let total = schedule.total();
    let runtime = tokio::runtime::Handle::current();
    let pacer = {
        let permits = Arc::clone(&permits);
        let events = events.clone();
        let progress = Arc::clone(progress);
        let deadline = attack.deadline;
        let timeout = attack.timeout;
        tokio::task::spawn_blocking(move || {
            let mut first_sent = None;
            let mut truncated = false;
            let mut last_second = i64::MIN;
            for i in 0..total {
                let intended = start + schedule.offset(i);
                if deadline.is_some_and(|deadline| intended >= deadline) {
                    truncated = true;
                    break;
                }
                let now = Instant::now();
                if intended > now {
                    std::thread::sleep(intended - now);
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
            (first_sent, truncated)
        })
    };
    let (first_sent, mut truncated) = pacer.await.unwrap_or((None, true));
    let last_send = Instant::now();
    events.send(Event::SendingPast { second: i64::MAX });
    if !drain(&permits, max_in_flight, attack.deadline).await {
        truncated = true;
    }
    Ran {
        planned: total,
        first_sent,
        last_send,
        finished: Instant::now(),
        truncated,
    }
}

/// The closed loop. Each worker owns one connection (a new one when the server closes it) and keeps its own
/// bucket for the current second, handing it to the recorder when its clock moves
/// on: one lock per worker per second, not one per request.
#[expect(
    clippy::too_many_arguments,
    reason = "one call site; the pieces are the attack's parts"
)]
async fn closed(
    attack: &Attack,
    endpoint: &Arc<Endpoint>,
    connections: usize,
    duration: Duration,
    start: Instant,
    clocks: Clocks,
    events: &Recorder,
    progress: &Arc<Progress>,
) -> Ran {
    let end = match attack.deadline {
        Some(deadline) => (start + duration).min(deadline),
        None => start + duration,
    };
    let truncated = attack.deadline.is_some_and(|deadline| deadline < start + duration);
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..connections {
        let worker = Worker {
            endpoint: Arc::clone(endpoint),
            end,
            timeout: attack.timeout,
            progress: Arc::clone(progress),
            buckets: Buckets {
                clocks,
                events: events.clone(),
                current: None,
            },
        };
        workers.spawn(worker.run());
    }
    while workers.join_next().await.is_some() {}
    events.send(Event::SendingPast { second: i64::MAX });
    let finished = Instant::now();
    Ran {
        planned: 0,
        first_sent: Some(start),
        last_send: end.min(finished),
        finished,
        truncated,
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
            if intended >= self.end {
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
