//! Abort rules: a test stops itself when one of its rules holds, over its live per-second counters, for
//! long enough. A rule is a threshold expression of `volley attack --fail-if`'s language over what one
//! second's counts answer (`success<95%`, `errors>50`, `dropped>0`) and how many consecutive seconds it
//! must hold (`"for": "10s"`): `{"when": "success<95%", "for": "10s"}` stops the test once ten seconds in a
//! row each had fewer than 95 % of their requests succeed.
//!
//! Where they are held: a region's archiver, on the seconds its workers' chunks have counted (the live
//! seconds, `LiveSecond`), each time it archives a chunk. So a rule sees a second about one chunk period
//! after it happened, and sees the workers whose chunks are in (every worker fires an even share of the
//! load, so a second's ratio from some of them estimates it from all). Each region holds the rules over its
//! own workers: a rule that holds in any region stops the whole test (the stop is in the home region).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use volley_engine::load::threshold::Threshold;

/// The most rules a test may carry.
pub const MAX_ABORT_RULES: usize = 10;
/// The longest a rule may have to hold: a chunk's seconds and this window are read in one batch.
pub const MAX_ABORT_FOR: Duration = Duration::from_secs(60);

/// An abort rule as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AbortRule {
    /// A threshold expression over one second's counts: `success`, `errors` or `dropped`.
    pub when: String,
    /// For how many consecutive seconds it must hold, as a duration in whole seconds: 1s to 60s.
    #[serde(rename = "for")]
    pub during: String,
}

/// A rule read and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidAbortRule {
    pub rule: AbortRule,
    condition: Threshold,
    /// Consecutive seconds it must hold.
    pub seconds: u32,
}

/// What one second counted, across the workers whose chunks are in: what abort rules read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveSecond {
    /// Unix second.
    pub second: i64,
    pub requests: u64,
    pub errors: u64,
    pub dropped: u64,
}

/// A rule that held: which, and over which seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Tripped {
    pub rule: AbortRule,
    /// The first and last of the seconds it held in.
    pub from: i64,
    pub to: i64,
}

impl Tripped {
    /// Why the test stopped, in words.
    pub fn reason(&self) -> String {
        format!(
            "abort rule {:?} held for {} (seconds {} to {})",
            self.rule.when, self.rule.during, self.from, self.to
        )
    }
}

/// Checks `rules` (at most [`MAX_ABORT_RULES`]); an error names the rule's field (`abort[2].when`) and the
/// problem.
pub fn checked(rules: &[AbortRule]) -> Result<Vec<ValidAbortRule>, (String, String)> {
    if rules.len() > MAX_ABORT_RULES {
        return Err((
            "abort".into(),
            format!("{} rules; at most {MAX_ABORT_RULES}", rules.len()),
        ));
    }
    rules
        .iter()
        .enumerate()
        .map(|(i, rule)| {
            let field = |name: &str| format!("abort[{i}].{name}");
            let condition = Threshold::parse(&rule.when).map_err(|e| (field("when"), e.to_string()))?;
            if condition.check_counts(0, 0, 0).is_none() {
                return Err((
                    field("when"),
                    format!(
                        "{:?}: abort rules read the live counters of each second: success, errors or dropped",
                        rule.when
                    ),
                ));
            }
            let during = humantime::parse_duration(&rule.during)
                .ok()
                .filter(|d| d.subsec_nanos() == 0 && !d.is_zero() && *d <= MAX_ABORT_FOR)
                .ok_or_else(|| {
                    (
                        field("for"),
                        format!(
                            "{:?} is not a whole number of seconds from 1s to {}",
                            rule.during,
                            humantime::format_duration(MAX_ABORT_FOR)
                        ),
                    )
                })?;
            Ok(ValidAbortRule {
                rule: rule.clone(),
                condition,
                seconds: u32::try_from(during.as_secs()).unwrap_or(u32::MAX),
            })
        })
        .collect()
}

impl ValidAbortRule {
    /// Whether the rule's condition holds in `second` (a second with nothing sent nor dropped holds
    /// nothing; one whose every send was dropped has no success).
    fn holds(&self, second: &LiveSecond) -> bool {
        second.requests + second.dropped > 0
            && self
                .condition
                .check_counts(second.requests, second.errors, second.dropped)
                .is_some_and(|verdict| verdict.passed)
    }
}

/// The first rule that holds in `seconds` (oldest first) for its run of consecutive seconds, if any. A
/// second missing from `seconds`, or without requests, breaks a run.
pub fn tripped(rules: &[ValidAbortRule], seconds: &[LiveSecond]) -> Option<Tripped> {
    rules.iter().find_map(|rule| {
        let mut run: Option<(i64, u32)> = None;
        let mut previous: Option<i64> = None;
        for second in seconds {
            let follows = previous.is_some_and(|p| p + 1 == second.second);
            previous = Some(second.second);
            run = match (rule.holds(second), run) {
                (true, Some((from, n))) if follows => Some((from, n + 1)),
                (true, _) => Some((second.second, 1)),
                (false, _) => None,
            };
            if let Some((from, n)) = run
                && n >= rule.seconds
            {
                return Some(Tripped {
                    rule: rule.rule.clone(),
                    from,
                    to: second.second,
                });
            }
        }
        None
    })
}

/// The longest window any of `rules` needs, in seconds (0 without rules).
pub fn window(rules: &[ValidAbortRule]) -> u32 {
    rules.iter().map(|r| r.seconds).max().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(when: &str, during: &str) -> AbortRule {
        AbortRule {
            when: when.into(),
            during: during.into(),
        }
    }

    fn second(second: i64, requests: u64, errors: u64) -> LiveSecond {
        LiveSecond {
            second,
            requests,
            errors,
            dropped: 0,
        }
    }

    #[test]
    fn rules_are_checked_naming_the_field() {
        let bad = |rules: &[AbortRule]| checked(rules).err().map(|(field, _)| field);
        assert_eq!(bad(&[rule("success<95%", "10s")]), None);
        assert_eq!(
            bad(&[rule("success<95%", "10s"), rule("p99>1s", "5s")]),
            Some("abort[1].when".into()),
            "latency needs histograms, not counts"
        );
        assert_eq!(bad(&[rule("success<<", "5s")]), Some("abort[0].when".into()));
        for during in ["0s", "61s", "1.5s", "soon"] {
            assert_eq!(
                bad(&[rule("errors>0", during)]),
                Some("abort[0].for".into()),
                "{during}"
            );
        }
        let eleven = vec![rule("errors>0", "1s"); 11];
        assert_eq!(bad(&eleven), Some("abort".into()));
    }

    #[test]
    fn a_rule_trips_on_its_run_of_consecutive_seconds_only() {
        let rules = checked(&[rule("success<50%", "3s")]).unwrap_or_else(|e| panic!("{e:?}"));
        let failing = |s| second(s, 10, 8);
        // Two failing seconds, a good one, then two: never three in a row.
        let broken = [failing(1), failing(2), second(3, 10, 0), failing(4), failing(5)];
        assert_eq!(tripped(&rules, &broken), None);
        // A missing second breaks a run too, and so does a second without requests.
        assert_eq!(tripped(&rules, &[failing(1), failing(2), failing(4)]), None);
        assert_eq!(tripped(&rules, &[failing(1), second(2, 0, 0), failing(3)]), None);
        let held = [second(9, 10, 0), failing(10), failing(11), failing(12), failing(13)];
        let trip = tripped(&rules, &held).unwrap_or_else(|| panic!("three in a row"));
        assert_eq!((trip.from, trip.to), (10, 12));
        assert!(trip.reason().contains("success<50%"), "{}", trip.reason());
        assert_eq!(window(&rules), 3);
    }

    #[test]
    fn seconds_whose_every_send_was_dropped_hold_a_dropped_rule() {
        let rules = checked(&[rule("dropped>0", "2s")]).unwrap_or_else(|e| panic!("{e:?}"));
        let saturated = |s| LiveSecond {
            second: s,
            requests: 0,
            errors: 0,
            dropped: 40,
        };
        let trip = tripped(&rules, &[saturated(7), saturated(8)]).map(|t| (t.from, t.to));
        assert_eq!(trip, Some((7, 8)));
    }
}
