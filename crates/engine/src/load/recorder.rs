//! Where every part of an attack records what happened, and the aggregator behind it that seals each
//! second once its last request is in.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::value::RawValue;

use super::attack::{AttackError, Progress};
use super::stats::{Sample, SecondStats, Stats};

/// A message to the aggregator.
#[derive(Debug)]
pub(super) enum Event {
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
#[derive(Debug, Clone)]
pub(super) struct Recorder {
    inner: Arc<std::sync::Mutex<(Aggregator, Option<AttackError>)>>,
}

impl Recorder {
    /// A recorder that seals each finished second into `progress` (`Progress::sealed_since` reads them
    /// while the attack runs).
    pub(super) fn new(progress: Arc<Progress>) -> Self {
        let aggregator = Aggregator {
            live: BTreeMap::new(),
            progress,
            total: Stats::default(),
            sending_past: 0,
        };
        Self {
            inner: Arc::new(std::sync::Mutex::new((aggregator, None))),
        }
    }

    pub(super) fn send(&self, event: Event) {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let (aggregator, error) = &mut *guard;
        if let Err(e) = aggregator.apply(event) {
            error.get_or_insert(e);
        }
    }

    pub(super) fn finish(&self) -> Result<(Vec<Box<RawValue>>, Stats), AttackError> {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let (aggregator, error) = &mut *guard;
        match error.take() {
            Some(e) => Err(e),
            None => aggregator.finish(),
        }
    }
}

/// Collects samples into per-second buckets and seals each second (encodes it, into the attack's
/// `Progress`) once its last request (or closed-loop worker's bucket) is in. Seconds seal oldest first: a
/// second with requests outstanding holds back every later one.
#[derive(Debug)]
struct Aggregator {
    live: BTreeMap<i64, (Stats, u64)>,
    progress: Arc<Progress>,
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
        self.progress.seal(second, raw);
        Ok(())
    }

    /// Seals what is left and answers every second, in the order sealed (which is the seconds' order, so
    /// the seconds handed out while the attack ran keep their positions), and the total.
    fn finish(&mut self) -> Result<(Vec<Box<RawValue>>, Stats), AttackError> {
        for (second, (stats, _)) in std::mem::take(&mut self.live) {
            self.seal(second, stats)?;
        }
        // In the order sealed: oldest first, except that a closed-loop connection that began a bucket for a
        // second already sealed (it was held up past `SendingPast`) seals that second again, later; readers
        // merge a second's buckets (`stats::merge_seconds`, the live seconds, CloudWatch's sums).
        let sealed = self.progress.take_sealed();
        Ok((
            sealed.into_iter().map(|(_, raw)| raw).collect(),
            std::mem::take(&mut self.total),
        ))
    }
}
