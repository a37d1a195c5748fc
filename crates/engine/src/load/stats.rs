//! What an attack measured, per second and in total, in a form that merges exactly.
//!
//! Latencies are kept in HdrHistograms (microseconds, 3 significant digits) and serialised in the
//! compressed V2 format (base64), so results from many workers merge into exact percentiles: percentiles
//! are never averaged. A second's bucket is keyed by the Unix second of the requests' *intended* send time,
//! so buckets from workers that started together line up.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer as _, V2DeflateSerializer};
use serde::{Deserialize, Serialize};

/// Significant digits every histogram keeps.
pub const SIGNIFICANT_DIGITS: u8 = 3;

/// Why a request failed without an HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// No complete answer within the request timeout.
    Timeout,
    /// The TCP connection could not be made (refused, reset, unreachable).
    Connect,
    /// The name did not resolve.
    Dns,
    /// The TLS handshake failed.
    Tls,
    /// The status arrived but reading the body failed.
    BodyRead,
    /// Anything else (a protocol error, say).
    Other,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Timeout => "timeout",
            Self::Connect => "connect",
            Self::Dns => "dns",
            Self::Tls => "tls",
            Self::BodyRead => "body_read",
            Self::Other => "other",
        })
    }
}

/// A latency histogram in microseconds that serialises as base64 of HdrHistogram's compressed V2 format.
#[derive(Clone, PartialEq)]
pub struct Latencies(Histogram<u64>);

impl fmt::Debug for Latencies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Latencies(n={}, max={}us)", self.0.len(), self.0.max())
    }
}

impl Default for Latencies {
    fn default() -> Self {
        Self::new()
    }
}

impl Latencies {
    pub fn new() -> Self {
        // An auto-resizing histogram: it grows to the largest value recorded, so memory follows the data.
        #[expect(clippy::expect_used, reason = "Histogram::new fails only above 5 significant digits")]
        let mut histogram = Histogram::new(SIGNIFICANT_DIGITS).expect("3 significant digits is valid");
        histogram.auto(true);
        Self(histogram)
    }

    pub fn record(&mut self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX).max(1);
        // Recording into an auto-resizing histogram cannot fail for a positive value.
        let _ = self.0.record(micros);
    }

    pub fn add(&mut self, other: &Self) {
        let _ = self.0.add(&other.0);
    }

    pub fn count(&self) -> u64 {
        self.0.len()
    }

    /// The value at `quantile` (0.0 to 1.0), or zero when empty.
    pub fn quantile(&self, quantile: f64) -> Duration {
        if self.0.is_empty() {
            Duration::ZERO
        } else {
            Duration::from_micros(self.0.value_at_quantile(quantile))
        }
    }

    pub fn min(&self) -> Duration {
        if self.0.is_empty() {
            Duration::ZERO
        } else {
            Duration::from_micros(self.0.min())
        }
    }

    pub fn max(&self) -> Duration {
        Duration::from_micros(self.0.max())
    }

    pub fn mean(&self) -> Duration {
        Duration::from_secs_f64(self.0.mean() / 1e6)
    }

    /// The histogram itself, for reports that draw it.
    pub fn histogram(&self) -> &Histogram<u64> {
        &self.0
    }

    fn encode(&self) -> Result<String, String> {
        let mut bytes = Vec::new();
        V2DeflateSerializer::new()
            .serialize(&self.0, &mut bytes)
            .map_err(|e| format!("{e:?}"))?;
        Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    fn decode(text: &str) -> Result<Self, String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| format!("histogram is not base64: {e}"))?;
        let mut histogram: Histogram<u64> = Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| format!("histogram is not HdrHistogram V2: {e:?}"))?;
        histogram.auto(true);
        Ok(Self(histogram))
    }
}

impl Serialize for Latencies {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.encode().map_err(serde::ser::Error::custom)?)
    }
}

impl<'de> Deserialize<'de> for Latencies {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::decode(&text).map_err(serde::de::Error::custom)
    }
}

/// Everything measured for the requests intended in one second (or, merged, in a whole run).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Requests sent (answered or failed). Dropped sends are not requests.
    pub requests: u64,
    /// Answers by HTTP status code.
    pub statuses: BTreeMap<u16, u64>,
    /// Failures without a status, by kind.
    pub errors: BTreeMap<ErrorKind, u64>,
    /// Sends skipped because `maxInFlight` requests were outstanding.
    pub dropped: u64,
    /// Requests sent more than [`LATE_AFTER`] after their intended time.
    pub late: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// From the intended send time to the last byte (or to the failure): free of coordinated omission.
    pub latency: Latencies,
    /// From the actual send to the last byte (or to the failure).
    pub service_time: Latencies,
    /// How long after its intended time each request was actually sent.
    pub send_lag: Latencies,
}

/// A request sent later than this after its intended time counts as late.
pub const LATE_AFTER: Duration = Duration::from_millis(1);

/// How one request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Status(u16),
    Error(ErrorKind),
}

/// One finished request, as the engine reports it to the aggregator.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub outcome: Outcome,
    /// Actual send time minus intended send time.
    pub send_lag: Duration,
    /// Actual send to last byte.
    pub service_time: Duration,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

impl Stats {
    pub fn record(&mut self, sample: &Sample) {
        self.requests += 1;
        match sample.outcome {
            Outcome::Status(code) => *self.statuses.entry(code).or_default() += 1,
            Outcome::Error(kind) => *self.errors.entry(kind).or_default() += 1,
        }
        if sample.send_lag > LATE_AFTER {
            self.late += 1;
        }
        self.bytes_in += sample.bytes_in;
        self.bytes_out += sample.bytes_out;
        self.latency.record(sample.send_lag + sample.service_time);
        self.service_time.record(sample.service_time);
        self.send_lag.record(sample.send_lag);
    }

    pub fn record_dropped(&mut self) {
        self.dropped += 1;
    }

    /// Adds `other` into `self`: counts add, histograms merge exactly.
    pub fn merge(&mut self, other: &Self) {
        self.requests += other.requests;
        for (code, n) in &other.statuses {
            *self.statuses.entry(*code).or_default() += n;
        }
        for (kind, n) in &other.errors {
            *self.errors.entry(*kind).or_default() += n;
        }
        self.dropped += other.dropped;
        self.late += other.late;
        self.bytes_in += other.bytes_in;
        self.bytes_out += other.bytes_out;
        self.latency.add(&other.latency);
        self.service_time.add(&other.service_time);
        self.send_lag.add(&other.send_lag);
    }

    /// Requests answered with a 2xx or 3xx status.
    pub fn successes(&self) -> u64 {
        self.statuses
            .iter()
            .filter(|(c, _)| (200..400).contains(*c))
            .map(|(_, n)| n)
            .sum()
    }

    /// Requests answered with a 2xx or 3xx status, over all requests (1.0 when there were none).
    pub fn success_ratio(&self) -> f64 {
        if self.requests == 0 {
            return 1.0;
        }
        self.successes() as f64 / self.requests as f64
    }

    /// Requests that failed: an error, or a 4xx or 5xx status.
    pub fn failures(&self) -> u64 {
        let bad: u64 = self.statuses.iter().filter(|(c, _)| **c >= 400).map(|(_, n)| n).sum();
        bad + self.errors.values().sum::<u64>()
    }
}

/// One second's bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecondStats {
    /// Unix time, in seconds, of the requests' intended send time.
    pub second: i64,
    // Nested, not flattened: serde's flatten turns the status-code keys into strings it cannot read back.
    pub stats: Stats,
}

/// Merges per-second buckets from any number of runs: same second, one bucket.
pub fn merge_seconds<'a>(runs: impl IntoIterator<Item = &'a [SecondStats]>) -> Vec<SecondStats> {
    let mut merged: BTreeMap<i64, Stats> = BTreeMap::new();
    for run in runs {
        for bucket in run {
            merged.entry(bucket.second).or_default().merge(&bucket.stats);
        }
    }
    merged
        .into_iter()
        .map(|(second, stats)| SecondStats { second, stats })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(status: u16, lag_ms: u64, service_ms: u64) -> Sample {
        Sample {
            outcome: Outcome::Status(status),
            send_lag: Duration::from_millis(lag_ms),
            service_time: Duration::from_millis(service_ms),
            bytes_in: 100,
            bytes_out: 10,
        }
    }

    #[test]
    fn recording_counts_statuses_errors_late_and_bytes() {
        let mut stats = Stats::default();
        stats.record(&sample(200, 0, 20));
        stats.record(&sample(503, 5, 20));
        stats.record(&Sample {
            outcome: Outcome::Error(ErrorKind::Timeout),
            ..sample(0, 0, 1000)
        });
        stats.record_dropped();
        assert_eq!(stats.requests, 3);
        assert_eq!(stats.statuses, BTreeMap::from([(200, 1), (503, 1)]));
        assert_eq!(stats.errors, BTreeMap::from([(ErrorKind::Timeout, 1)]));
        assert_eq!(
            (stats.dropped, stats.late, stats.bytes_in, stats.bytes_out),
            (1, 1, 300, 30)
        );
        assert_eq!(stats.failures(), 2);
        assert!((stats.success_ratio() - 1.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn latency_counts_from_the_intended_time_and_service_time_from_the_send() {
        let mut stats = Stats::default();
        stats.record(&sample(200, 980, 20));
        assert_eq!(stats.latency.max().as_millis(), 1000);
        assert_eq!(stats.service_time.max().as_millis(), 20);
    }

    #[test]
    fn histograms_survive_a_json_round_trip_and_merge_exactly() {
        let mut a = Stats::default();
        let mut b = Stats::default();
        for ms in 1..=500 {
            a.record(&sample(200, 0, ms));
        }
        for ms in 501..=1000 {
            b.record(&sample(200, 0, ms));
        }
        let json = serde_json::to_string(&a).unwrap_or_else(|e| panic!("{e}"));
        let mut merged: Stats = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
        merged.merge(&b);
        assert_eq!(merged.requests, 1000);
        let p50 = merged.service_time.quantile(0.5).as_millis();
        let p99 = merged.service_time.quantile(0.99).as_millis();
        assert!((499..=501).contains(&p50), "{p50}");
        assert!((989..=991).contains(&p99), "{p99}");
    }

    #[test]
    fn buckets_of_the_same_second_merge_across_runs() {
        let bucket = |second, n| {
            let mut stats = Stats::default();
            for _ in 0..n {
                stats.record(&sample(200, 0, 5));
            }
            SecondStats { second, stats }
        };
        let one = [bucket(100, 3), bucket(101, 4)];
        let two = [bucket(101, 5), bucket(102, 6)];
        let merged = merge_seconds([&one[..], &two[..]]);
        let counts: Vec<_> = merged.iter().map(|b| (b.second, b.stats.requests)).collect();
        assert_eq!(counts, vec![(100, 3), (101, 9), (102, 6)]);
    }

    #[test]
    fn a_corrupt_histogram_is_a_clear_error() {
        let error = serde_json::from_str::<Latencies>(r#""not base64!""#)
            .err()
            .map(|e| e.to_string());
        assert!(error.is_some_and(|e| e.contains("not base64")));
    }
}
