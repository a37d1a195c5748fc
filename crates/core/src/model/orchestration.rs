//! The state of a synchronised multi-region start, as the orchestrator keeps it: the regions a test needs,
//! which of them have an aggregator ready, the common start time once every one is, which regions have
//! completed, and the stop: once set, every worker of the test stops sending and no later call of it fires.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::model::scope::TestScope;

/// One test's orchestration state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TestState {
    /// `organisationId` and `testId`.
    #[serde(flatten)]
    pub test: TestScope,
    /// The regions whose aggregators must be ready before the start.
    pub required_regions: BTreeSet<String>,
    pub ready_regions: BTreeSet<String>,
    pub completed_regions: BTreeSet<String>,
    /// Seconds between the last region being ready and the common start.
    pub buffer_seconds: u32,
    /// True once every required region was ready; it flips once.
    pub started: bool,
    /// The common start, Unix milliseconds, once started.
    pub start_at: Option<i64>,
    /// True once every required region completed.
    pub completed: bool,
    /// Unix milliseconds.
    pub completed_at: Option<i64>,
    /// True once the test was stopped (`test-stop`); it flips once.
    pub stopped: bool,
    /// Unix milliseconds of the stop.
    pub stopped_at: Option<i64>,
    /// Why it stopped, when something other than `test-stop` stopped it (an abort rule that held).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<String>,
    /// Unix milliseconds of the reset that made this state.
    pub reset_at: i64,
    /// The test plan it was started with (`test-start`), from which each later segment's calls are made
    /// again when its schedule fires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<serde_json::Value>,
}

/// The name of the one-time schedule that starts segment `segment` of `test`: `prefix`, then a digest of
/// the test's key (ids are up to 128 characters; a schedule's name, 64), then the segment.
pub fn segment_schedule_name(prefix: &str, test: &TestScope, segment: usize) -> String {
    use sha2::{Digest, Sha256};
    let digest = hex::encode(Sha256::digest(test.key().as_bytes()));
    format!("{prefix}-{}-s{segment}", &digest[..20])
}

impl TestState {
    /// A fresh state, as `test-reset` leaves it.
    pub fn new(test: &TestScope, required_regions: BTreeSet<String>, buffer_seconds: u32, reset_at: i64) -> Self {
        Self {
            test: test.clone(),
            required_regions,
            ready_regions: BTreeSet::new(),
            completed_regions: BTreeSet::new(),
            buffer_seconds,
            started: false,
            start_at: None,
            completed: false,
            completed_at: None,
            stopped: false,
            stopped_at: None,
            stop_reason: None,
            reset_at,
            plan: None,
        }
    }

    /// Every required region is ready.
    pub fn all_ready(&self) -> bool {
        self.required_regions.is_subset(&self.ready_regions)
    }

    /// Every required region completed.
    pub fn all_completed(&self) -> bool {
        self.required_regions.is_subset(&self.completed_regions)
    }
}

/// Which set a region is added to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegionMark {
    /// Its aggregator is ready (`agg-record`).
    Ready,
    /// It finished its part (`test-end`).
    Completed,
}

/// Whether `name` is spelled as an AWS region is (`eu-west-1`, `us-gov-east-1`): lower-case words joined by
/// hyphens, a two-letter first and a number last.
pub fn is_region_name(name: &str) -> bool {
    let parts: Vec<&str> = name.split('-').collect();
    let letters = |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase());
    parts.len() >= 3
        && name.len() <= 32
        && parts.first().is_some_and(|p| p.len() == 2 && letters(p))
        && parts[1..parts.len() - 1].iter().all(letters)
        && parts
            .last()
            .is_some_and(|p| !p.is_empty() && p.len() <= 2 && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_names() {
        for good in [
            "eu-west-1",
            "us-east-1",
            "us-gov-west-1",
            "ap-southeast-2",
            "il-central-1",
        ] {
            assert!(is_region_name(good), "{good}");
        }
        for bad in [
            "",
            "eu",
            "eu-west",
            "EU-west-1",
            "eu-west-x",
            "europe-west-1",
            "eu--1",
            "eu-west-1 ",
            "eu-west-123",
        ] {
            assert!(!is_region_name(bad), "{bad}");
        }
    }

    #[test]
    fn readiness_and_completion_are_about_the_required_regions() {
        let required = ["a-b-1", "c-d-2"].map(String::from).into();
        let mut state = TestState::new(&TestScope::new("acme", "t"), required, 100, 0);
        assert!(!state.all_ready());
        state.ready_regions.insert("a-b-1".into());
        state.ready_regions.insert("c-d-2".into());
        assert!(state.all_ready() && !state.all_completed());
    }
}
