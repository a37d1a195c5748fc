//! The fleet's exactness: a schedule dealt to regions and workers is, all workers together, exactly the
//! single-generator schedule, each request once at its own intended time, whatever the rates, ramps, stages,
//! weights and worker counts; and each region fires its weight's part to within one request at any point.

use std::time::Duration;

use proptest::prelude::*;
use volley_engine::load::schedule::Schedule;
use volley_engine::load::share::{Share, deal};

/// A stage: (from, to, duration in ms); a third of them constant, a few pauses.
fn stage() -> impl Strategy<Value = (f64, f64, Duration)> {
    (0.0..400.0_f64, 0.0..400.0_f64, 100_u64..4_000, 0_u8..6).prop_map(|(from, to, ms, kind)| {
        let (from, to) = match kind {
            0 | 1 => (from, from),
            2 => (0.0, 0.0),
            _ => (from, to),
        };
        (from, to, Duration::from_millis(ms))
    })
}

fn schedule() -> impl Strategy<Value = Schedule> {
    prop::collection::vec(stage(), 1..5).prop_filter_map("sends something", |stages| Schedule::stages(stages).ok())
}

/// Regions: each (weight, workers).
fn regions() -> impl Strategy<Value = Vec<(u64, u64)>> {
    prop::collection::vec((1_u64..100, 1_u64..8), 1..5)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn all_workers_together_fire_exactly_the_single_schedule(schedule in schedule(), regions in regions()) {
        let shares = deal(&regions).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let total = schedule.total();
        let mut fired: Vec<(u64, Duration)> = shares
            .iter()
            .flatten()
            .flat_map(|share| share.positions(total).map(|i| (i, schedule.offset(i))))
            .collect();
        fired.sort_unstable();
        let single: Vec<(u64, Duration)> = (0..total).map(|i| (i, schedule.offset(i))).collect();
        prop_assert_eq!(fired, single);
        let counted: u64 = shares.iter().flatten().map(|s| s.count(total)).sum();
        prop_assert_eq!(counted, total);
    }

    #[test]
    fn every_region_and_worker_keeps_its_part_at_every_point(regions in regions(), n in 1_u64..5_000) {
        let shares = deal(&regions).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let weights: u64 = regions.iter().map(|r| r.0).sum();
        for ((weight, workers), region) in regions.iter().zip(&shares) {
            // Of the first n requests, the region fires its weight's part, within one.
            let fired: u64 = region.iter().map(|s| s.count(n)).sum();
            let due = n as f64 * *weight as f64 / weights as f64;
            prop_assert!((fired as f64 - due).abs() < 1.0 + 1e-9, "region {weight}/{weights}: {fired} of {n}, due {due}");
            // Its workers take turns: none is more than one ahead of another.
            let counts: Vec<u64> = region.iter().map(|s| s.count(n)).collect();
            prop_assert_eq!(counts.len() as u64, *workers);
            let (low, high) = (counts.iter().min().copied().unwrap_or(0), counts.iter().max().copied().unwrap_or(0));
            prop_assert!(high - low <= 1, "workers {counts:?}");
        }
    }

    #[test]
    fn a_stage_schedule_sends_each_stages_requests_within_it_in_order(stages in prop::collection::vec(stage(), 1..5)) {
        let Ok(schedule) = Schedule::stages(stages.clone()) else { return Ok(()) };
        let offsets: Vec<Duration> = (0..schedule.total()).map(|i| schedule.offset(i)).collect();
        prop_assert!(offsets.windows(2).all(|w| w[0] <= w[1]), "offsets never go backwards");
        prop_assert!(offsets.iter().all(|o| *o < schedule.duration() || schedule.total() == 0));
        // Each stage sends its own area, rounded up, inside its own stretch.
        let mut start = Duration::ZERO;
        let mut expected_total = 0;
        for (from, to, duration) in stages {
            let area = (from + to) / 2.0 * duration.as_secs_f64();
            let n = (area - 1e-9).ceil().max(0.0) as u64;
            let inside = offsets.iter().filter(|o| **o >= start && **o < start + duration).count() as u64;
            prop_assert!(inside >= n, "a stage of {from}..{to} over {duration:?} sends {n}, {inside} fall inside it");
            expected_total += n;
            start += duration;
        }
        prop_assert_eq!(schedule.total(), expected_total);
        prop_assert_eq!(schedule.duration(), start);
    }
}

#[test]
fn a_single_ramp_is_a_one_stage_schedule() {
    let ramp = Schedule::ramp(10.0, 50.0, Duration::from_secs(4)).unwrap_or_else(|e| panic!("{e}"));
    let staged = Schedule::stages([(10.0, 50.0, Duration::from_secs(4))]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ramp, staged);
    assert_eq!(Share::whole().count(ramp.total()), 120);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// A test longer than one run goes segment by segment: the requests due in consecutive windows of any
    /// length, each dealt to its workers, are exactly the schedule's, none twice at a boundary and none lost.
    #[test]
    fn consecutive_segments_tile_the_schedule(schedule in schedule(), regions in regions(), step_ms in 50_u64..3_000) {
        let shares = deal(&regions).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let step = Duration::from_millis(step_ms);
        let mut fired = Vec::new();
        let mut from = Duration::ZERO;
        while from < schedule.duration() {
            let to = (from + step).min(schedule.duration());
            let window = schedule.first_at(from)..schedule.first_at(to);
            for i in window.clone() {
                let due = schedule.offset(i);
                prop_assert!(due >= from && due < to, "request {i} due at {due:?}, outside {from:?}..{to:?}");
            }
            for share in shares.iter().flatten() {
                fired.extend(share.positions_in(window.clone()));
            }
            from = to;
        }
        fired.sort_unstable();
        prop_assert_eq!(fired, (0..schedule.total()).collect::<Vec<_>>());
    }
}
