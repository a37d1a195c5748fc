//! What an attack measured (vegeta's results and metrics): every second's bucket, already encoded, the
//! whole run's totals, and the timings of its start and end.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::stats::{SecondStats, Stats};

/// For a synchronised start: how far from its own scheduled time (`startAt` plus the schedule's offset of
/// the first request this attack fires: 0 for a whole schedule, the first of its share for a fleet's
/// worker) the first request was intended and actually sent.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartSkew {
    pub start_at_ms: i64,
    /// First intended send time minus its scheduled time, in milliseconds (negative: early; positive: the
    /// attack began late, its whole timeline shifted).
    pub first_intended_ms: f64,
    /// First actual send time minus its scheduled time, in milliseconds.
    pub first_sent_ms: f64,
}

/// What an attack measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
    /// True when it was stopped before its schedule ended (an old report, without the field, was not).
    #[serde(default)]
    pub stopped: bool,
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
