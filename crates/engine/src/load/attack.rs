//! What an attack is asked to do: its target, request and load, and the live counters it keeps (vegeta's
//! attacker options). [`super::engine::run`] carries it out.

use std::ops::Range;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use serde_json::value::RawValue;
use thiserror::Error;

use super::request::RequestSpec;
use super::schedule::Schedule;
use super::share::Share;
use super::transport::EndpointError;
use crate::guard::VettedTarget;

/// The most requests an attack keeps in flight (open model) or connections it opens (closed loop): each
/// holds a connection, so a file descriptor, and 1,048,576 is Linux's default ceiling on the files one
/// process may open (`fs.nr_open`). [`super::engine::run`] refuses more before it sends anything.
pub const MAX_CONCURRENCY: usize = 1 << 20;

/// How load is offered.
#[derive(Debug, Clone)]
pub enum Load {
    /// The requests of `share` (all of them: [`Share::whole`]) at the schedule's times, at most
    /// `max_in_flight` outstanding; with a `segment`, only those due in it (offsets from the schedule's
    /// start), the attack's start standing for the segment's: a test longer than one run is run segment by
    /// segment, and consecutive segments tile it.
    Open {
        schedule: Schedule,
        share: Share,
        segment: Option<Range<Duration>>,
        max_in_flight: usize,
    },
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
    #[error("max in flight (or connections) {asked} is above {max}, the most open files a process may hold")]
    TooMuchConcurrency { asked: usize, max: usize },
    #[error("the target cannot be reached as asked")]
    Endpoint(#[from] EndpointError),
    #[error("a per-second result could not be encoded")]
    Encode(#[source] serde_json::Error),
}

/// Live counters, for progress bars; the seconds sealed so far, for whoever sends results while the attack
/// runs; and the stop: whoever runs the attack may stop it early.
#[derive(Debug, Default)]
pub struct Progress {
    pub sent: AtomicU64,
    pub answered: AtomicU64,
    pub dropped: AtomicU64,
    stop: AtomicBool,
    /// Every second sealed so far (its last request in, so final), oldest first, encoded as the report's
    /// are: the recorder appends, and the report takes them all at the end.
    sealed: Mutex<Vec<(i64, Box<RawValue>)>>,
}

impl Progress {
    /// The seconds sealed so far from the `from`th on (oldest first), copied: a sealed second never
    /// changes, and the report will hold them at the same positions, so `from` is how many a caller has
    /// already taken. Empty once the attack has ended (its report holds them all).
    pub fn sealed_since(&self, from: usize) -> Vec<Box<RawValue>> {
        let sealed = self.sealed.lock().unwrap_or_else(|e| e.into_inner());
        sealed.iter().skip(from).map(|(_, raw)| raw.clone()).collect()
    }

    /// Appends a sealed second (the recorder's).
    pub(super) fn seal(&self, second: i64, raw: Box<RawValue>) {
        self.sealed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((second, raw));
    }

    /// Takes every sealed second, at the attack's end.
    pub(super) fn take_sealed(&self) -> Vec<(i64, Box<RawValue>)> {
        std::mem::take(&mut *self.sealed.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Stops the attack: no request is sent once the pacer (or a closed-loop connection) sees it, within
    /// [`STOP_LATENCY`]; the answers of those in flight are still waited for, and the report says it was
    /// stopped.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Whether [`Progress::stop`] was called.
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// The longest the open model's pacer sleeps between looks at the stop: a stop takes effect within it.
pub const STOP_LATENCY: Duration = Duration::from_millis(100);
