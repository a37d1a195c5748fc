//! What the demo did and read back, which both reports (`text.rs`, `html.rs`) are made of, and the phases'
//! wall times (`phases.rs`). Below the driver in `lib.rs`, which fills it in.

use std::collections::BTreeMap;

use serde::Serialize;
use volley_core::model::run::RunAnswer;
use volley_core::model::saved_metrics::SavedSecond;
use volley_core::ports::TestCounters;
use volley_engine::load::stats::SecondStats;

/// `volley run`'s page of the load test, beside the demo's in the out dir.
pub const RUN_PAGE: &str = "run.html";

/// The demo organisation's domain, as the domain-validator left it.
#[derive(Debug, Clone, Serialize)]
pub struct DomainOutcome {
    pub domain: String,
    pub status: String,
    pub txt_record: String,
}

/// One phase's wall time.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseTime {
    pub name: String,
    pub seconds: f64,
}

/// Everything the demo did and read back: what the reports are made of.
#[derive(Debug, Serialize)]
pub struct Outcome {
    pub test_id: String,
    pub organisation: String,
    pub domain: DomainOutcome,
    pub regions: Vec<String>,
    /// The orchestrator's one start time (Unix ms), as every region saw it.
    pub start_at_ms: i64,
    pub target: String,
    pub rate_per_region: u32,
    /// Both workers' results merged exactly (histograms added, never percentiles averaged), in the shape
    /// `volley attack` reports.
    #[serde(skip)]
    pub attack: volley::AttackOutput,
    #[serde(skip)]
    pub seconds: Vec<SecondStats>,
    /// The archiver's live counters for the test.
    pub counters: CountersOutcome,
    /// What the metrics-saver kept, per second and region.
    pub saved: Vec<SavedSecond>,
    pub seconds_saved: u64,
    pub run_load: RunAnswer,
    pub phases: Vec<PhaseTime>,
    /// What was stored where: (what, where).
    pub stored: Vec<(String, String)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CountersOutcome {
    pub requests: u64,
    pub errors: u64,
    pub dropped: u64,
    pub results_archived: u64,
}

impl From<TestCounters> for CountersOutcome {
    fn from(c: TestCounters) -> Self {
        Self {
            requests: c.requests,
            errors: c.errors,
            dropped: c.dropped,
            results_archived: c.results_archived,
        }
    }
}

impl Outcome {
    /// Requests the metrics-saver kept for each second, all regions summed.
    pub fn saved_requests(&self) -> BTreeMap<i64, u64> {
        let mut per_second = BTreeMap::new();
        for s in &self.saved {
            *per_second.entry(s.second).or_insert(0) += s.requests;
        }
        per_second
    }
}
