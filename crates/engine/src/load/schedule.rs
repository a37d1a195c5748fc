//! When each request is meant to be sent: a constant arrival rate, a linear ramp from one rate to another
//! (vegeta's constant pacer, k6's constant- and ramping-arrival-rate), or stages of either, one after another
//! (k6's stages).
//!
//! Within a stage, the i-th request (from 0) is due when the expected number of arrivals reaches i. With the
//! rate r(t) = from + (to - from) * t / D, arrivals up to t are N(t) = from * t + (to - from) * t^2 / (2D);
//! the schedule solves N(t) = i. A stage sends the whole number of arrivals within its duration, rounded up,
//! from its own start. Offsets are computed from i alone, so nothing accumulates rounding error however
//! long the run.

use std::time::Duration;

use thiserror::Error;

/// Why a schedule was refused.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ScheduleError {
    #[error("rate must be a finite number of requests per second, at least 0, got {0}")]
    BadRate(f64),
    #[error("the rate must be above 0 at some point of the run (got {from} to {to})")]
    NothingToSend { from: f64, to: f64 },
    #[error("duration must be longer than 0")]
    ZeroDuration,
    #[error("a schedule needs at least one stage")]
    NoStages,
    #[error("stage {stage}: {source}")]
    Stage {
        stage: usize,
        #[source]
        source: Box<ScheduleError>,
    },
}

/// One stretch of a schedule: a rate that moves linearly from `from` to `to` over `duration` (constant when
/// they are equal; nothing sent when both are 0, a pause).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Stage {
    from: f64,
    to: f64,
    duration: Duration,
}

impl Stage {
    fn new(from: f64, to: f64, duration: Duration) -> Result<Self, ScheduleError> {
        for rate in [from, to] {
            if !rate.is_finite() || rate < 0.0 {
                return Err(ScheduleError::BadRate(rate));
            }
        }
        if duration.is_zero() {
            return Err(ScheduleError::ZeroDuration);
        }
        Ok(Self { from, to, duration })
    }

    fn total(&self) -> u64 {
        let seconds = self.duration.as_secs_f64();
        // Arrivals at t = 0, 1/r, 2/r, ... strictly before the end: N(D) of them, rounded up.
        // A whole number (1000 rps for 2 s) is exactly that many, at 0 .. 1.999 s; the epsilon keeps floating
        // point noise (2000.000000001) from adding one.
        let expected = (self.from + self.to) / 2.0 * seconds;
        (expected - 1e-9).ceil().max(0.0) as u64
    }

    fn offset(&self, i: u64) -> Duration {
        if i == 0 {
            return Duration::ZERO;
        }
        let seconds = self.duration.as_secs_f64();
        let i = i as f64;
        let a = (self.to - self.from) / (2.0 * seconds);
        let t = if a == 0.0 {
            i / self.from
        } else {
            // The root of a t^2 + from t - i = 0 in its cancellation-free form.
            let discriminant = (self.from * self.from + 4.0 * a * i).max(0.0);
            2.0 * i / (self.from + discriminant.sqrt())
        };
        if t.is_finite() && t >= 0.0 {
            Duration::from_secs_f64(t.min(seconds))
        } else {
            self.duration
        }
    }
}

/// An open-model arrival schedule: one or more stages, back to back.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    stages: Vec<Stage>,
    /// For each stage: its start (offset from the schedule's start) and the index of its first request.
    starts: Vec<(Duration, u64)>,
    total: u64,
    duration: Duration,
}

impl Schedule {
    /// A constant `rate` (requests per second) for `duration`.
    pub fn constant(rate: f64, duration: Duration) -> Result<Self, ScheduleError> {
        Self::ramp(rate, rate, duration)
    }

    /// A rate that moves linearly from `from` to `to` over `duration`.
    pub fn ramp(from: f64, to: f64, duration: Duration) -> Result<Self, ScheduleError> {
        let stage = Stage::new(from, to, duration)?;
        if from == 0.0 && to == 0.0 {
            return Err(ScheduleError::NothingToSend { from, to });
        }
        Ok(Self::of(vec![stage]))
    }

    /// Stages one after another, each `(from, to, duration)`: a constant rate where `from == to`, a pause
    /// where both are 0. Something must be sent somewhere.
    pub fn stages(stages: impl IntoIterator<Item = (f64, f64, Duration)>) -> Result<Self, ScheduleError> {
        let stages = stages
            .into_iter()
            .enumerate()
            .map(|(i, (from, to, duration))| {
                Stage::new(from, to, duration).map_err(|e| ScheduleError::Stage {
                    stage: i + 1,
                    source: Box::new(e),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if stages.is_empty() {
            return Err(ScheduleError::NoStages);
        }
        if stages.iter().all(|s| s.from == 0.0 && s.to == 0.0) {
            return Err(ScheduleError::NothingToSend { from: 0.0, to: 0.0 });
        }
        Ok(Self::of(stages))
    }

    fn of(stages: Vec<Stage>) -> Self {
        let (mut at, mut first) = (Duration::ZERO, 0);
        let mut starts = Vec::with_capacity(stages.len());
        for stage in &stages {
            starts.push((at, first));
            at += stage.duration;
            first += stage.total();
        }
        Self {
            stages,
            starts,
            total: first,
            duration: at,
        }
    }

    /// The whole schedule's length.
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// The highest rate anywhere in the schedule, in requests a second.
    pub fn peak_rate(&self) -> f64 {
        self.stages.iter().map(|s| s.from.max(s.to)).fold(0.0, f64::max)
    }

    /// How many requests the schedule sends: each stage's whole number of arrivals within it.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The first request due at or after `at` (an offset from the start): [`Schedule::total`] when none is.
    /// Offsets never go backwards, so a binary search finds it; the requests due in `[from, to)` are
    /// `first_at(from)..first_at(to)`, and consecutive windows tile the schedule with no gap and no overlap.
    pub fn first_at(&self, at: Duration) -> u64 {
        let (mut low, mut high) = (0, self.total);
        while low < high {
            let middle = low + (high - low) / 2;
            if self.offset(middle) < at {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        low
    }

    /// When request `i` (from 0) is due, as an offset from the start. At or beyond [`Schedule::total`], the
    /// end of the schedule.
    pub fn offset(&self, i: u64) -> Duration {
        if i >= self.total {
            return self.duration;
        }
        // The last stage that starts at or before request i and sends something.
        let k = self.starts.partition_point(|&(_, first)| first <= i).saturating_sub(1);
        let (at, first) = self.starts[k];
        at + self.stages[k].offset(i - first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn a_constant_rate_spaces_requests_evenly() {
        let s = Schedule::constant(1000.0, secs(2.0)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.total(), 2000);
        assert_eq!(s.offset(0), Duration::ZERO);
        assert_eq!(s.offset(1), Duration::from_millis(1));
        assert_eq!(s.offset(1500), Duration::from_millis(1500));
        assert!(s.offset(1999) < secs(2.0));
    }

    #[test]
    fn fractional_rates_round_up_to_whole_requests() {
        let s = Schedule::constant(0.5, secs(3.0)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.total(), 2); // at 0 s and 2 s
        assert_eq!(s.offset(1), secs(2.0));
    }

    #[test]
    fn a_ramp_sends_the_area_under_the_rate() {
        let s = Schedule::ramp(0.0, 100.0, secs(10.0)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.total(), 500);
        // Half the requests are due at 1/sqrt(2) of the way: N(t) = 5 t^2.
        let half = s.offset(250).as_secs_f64();
        assert!((half - 50f64.sqrt()).abs() < 1e-9, "{half}");
        // Gaps shrink as the rate climbs.
        let early = s.offset(11) - s.offset(10);
        let late = s.offset(491) - s.offset(490);
        assert!(early > late * 3, "{early:?} vs {late:?}");
    }

    #[test]
    fn a_ramp_down_is_the_mirror_of_a_ramp_up() {
        let down = Schedule::ramp(100.0, 0.0, secs(10.0)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(down.total(), 500);
        let gap_start = down.offset(1) - down.offset(0);
        assert!((gap_start.as_secs_f64() - 0.01).abs() < 1e-4, "{gap_start:?}");
        let offsets: Vec<_> = (0..down.total()).map(|i| down.offset(i)).collect();
        assert!(
            offsets.windows(2).all(|w| w[0] <= w[1]),
            "offsets must not go backwards"
        );
        assert!(offsets.iter().all(|o| *o <= secs(10.0)));
    }

    #[test]
    fn offsets_never_drift_over_long_runs() {
        let s = Schedule::constant(20_000.0, secs(600.0)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.total(), 12_000_000);
        assert_eq!(s.offset(11_999_999), secs(599.99995));
    }

    #[test]
    fn bad_rates_and_durations_are_refused() {
        assert_eq!(Schedule::constant(-1.0, secs(1.0)), Err(ScheduleError::BadRate(-1.0)));
        assert!(matches!(
            Schedule::constant(f64::NAN, secs(1.0)),
            Err(ScheduleError::BadRate(_))
        ));
        assert!(matches!(
            Schedule::constant(f64::INFINITY, secs(1.0)),
            Err(ScheduleError::BadRate(_))
        ));
        assert_eq!(
            Schedule::constant(0.0, secs(1.0)),
            Err(ScheduleError::NothingToSend { from: 0.0, to: 0.0 })
        );
        assert_eq!(
            Schedule::constant(10.0, Duration::ZERO),
            Err(ScheduleError::ZeroDuration)
        );
    }
}
