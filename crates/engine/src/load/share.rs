//! One worker's part of a schedule that many workers fire together: the requests whose index, modulo a
//! period, is one of the share's offsets. Every worker paces its requests at the schedule's own intended
//! times, so the workers' requests together are exactly the single-generator schedule, interleaved, not
//! the schedule repeated on every worker (Artillery's `--count`) nor cut into rate slices that each round
//! on their own.
//!
//! [`deal`] makes the shares of a fleet: requests go to regions by their weights (smooth weighted
//! round-robin, so a region's requests are spread evenly through each period, never bunched), and a
//! region's requests go to its workers in turn. Written here because it is a few lines of arithmetic that
//! the fleet's exactness rests on, and no crate deals an index space this way.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The most slots a share's period may have: it bounds the offsets a User Call carries.
pub const MAX_PERIOD: u64 = 100_000;

/// Why a share or a dealing was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ShareError {
    #[error("period must be from 1 to {MAX_PERIOD}, got {0}")]
    BadPeriod(u64),
    #[error("offsets must be increasing, each below the period {period}: {offset} is not")]
    BadOffset { period: u64, offset: u64 },
    #[error("a share needs at least one offset")]
    Empty,
    #[error("every region needs a weight and a worker count of at least 1")]
    EmptyRegion,
    #[error("the period these weights and workers need ({0}) is above {MAX_PERIOD}: use smaller weights")]
    PeriodTooLong(u64),
}

/// The requests one worker fires: index `i` when `i % period` is one of `offsets`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Share {
    pub period: u64,
    pub offsets: Vec<u64>,
}

impl Share {
    /// The whole schedule: one worker fires everything.
    pub fn whole() -> Self {
        Self {
            period: 1,
            offsets: vec![0],
        }
    }

    /// Checks a share as it arrives (from a User Call): period in range, offsets increasing and below it.
    pub fn checked(self) -> Result<Self, ShareError> {
        if self.period == 0 || self.period > MAX_PERIOD {
            return Err(ShareError::BadPeriod(self.period));
        }
        if self.offsets.is_empty() {
            return Err(ShareError::Empty);
        }
        let mut previous = None;
        for &offset in &self.offsets {
            if offset >= self.period || previous.is_some_and(|p| offset <= p) {
                return Err(ShareError::BadOffset {
                    period: self.period,
                    offset,
                });
            }
            previous = Some(offset);
        }
        Ok(self)
    }

    /// The indices below `total` this share fires, in order.
    pub fn positions(&self, total: u64) -> impl Iterator<Item = u64> + '_ {
        self.positions_in(0..total)
    }

    /// The indices in `range` this share fires, in order.
    pub fn positions_in(&self, range: std::ops::Range<u64>) -> impl Iterator<Item = u64> + '_ {
        let period = self.period.max(1);
        let first_cycle = range.start / period;
        (first_cycle..range.end.div_ceil(period))
            .flat_map(move |cycle| self.offsets.iter().map(move |offset| cycle * period + offset))
            .skip_while(move |&i| i < range.start)
            .take_while(move |&i| i < range.end)
    }

    /// How many of `total` requests this share fires.
    pub fn count(&self, total: u64) -> u64 {
        let period = self.period.max(1);
        let (cycles, rest) = (total / period, total % period);
        cycles * self.offsets.len() as u64 + self.offsets.iter().filter(|&&o| o < rest).count() as u64
    }

    /// How many of the indices in `range` this share fires, without walking them.
    pub fn count_in(&self, range: std::ops::Range<u64>) -> u64 {
        self.count(range.end).saturating_sub(self.count(range.start))
    }

    /// The fraction of the schedule this share fires.
    pub fn fraction(&self) -> f64 {
        self.offsets.len() as f64 / self.period.max(1) as f64
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Deals a schedule to regions and their workers: `regions` is each region's `(weight, workers)`; the answer
/// is, per region, one share per worker. Region `r` fires `weight_r / Σ weights` of the requests, spread
/// evenly through every period (smooth weighted round-robin, ties to the earlier region), and its workers
/// take its requests in turn, so no worker fires more than one request more than another of its region in
/// any stretch of the schedule. Together the shares fire every index exactly once.
pub fn deal(regions: &[(u64, u64)]) -> Result<Vec<Vec<Share>>, ShareError> {
    if regions.is_empty() || regions.iter().any(|&(weight, workers)| weight == 0 || workers == 0) {
        return Err(ShareError::EmptyRegion);
    }
    let divisor = regions.iter().fold(0, |g, &(weight, _)| gcd(g, weight));
    let weights: Vec<u64> = regions.iter().map(|&(weight, _)| weight / divisor).collect();
    let cycle: u64 = weights.iter().sum();
    let longest = regions
        .iter()
        .map(|&(_, workers)| cycle.saturating_mul(workers))
        .max()
        .unwrap_or(cycle);
    if longest > MAX_PERIOD {
        return Err(ShareError::PeriodTooLong(longest));
    }
    // One cycle of region slots: each slot, every region's credit grows by its weight and the region with
    // the most credit (the earliest, on a tie) takes the slot and pays the cycle back.
    let mut credit = vec![0_i64; weights.len()];
    let mut slots: Vec<Vec<u64>> = vec![Vec::new(); weights.len()];
    for slot in 0..cycle {
        for (c, &w) in credit.iter_mut().zip(&weights) {
            *c += w as i64;
        }
        let mut best = 0;
        for r in 1..credit.len() {
            if credit[r] > credit[best] {
                best = r;
            }
        }
        credit[best] -= cycle as i64;
        slots[best].push(slot);
    }
    // A region's workers take its slots in turn, across as many cycles as it has workers: then every worker
    // has the same pattern length, and the pattern repeats.
    Ok(regions
        .iter()
        .zip(&slots)
        .map(|(&(_, workers), region_slots)| {
            let period = cycle * workers;
            let mut offsets = vec![Vec::new(); workers as usize];
            let mut k = 0_u64;
            for c in 0..workers {
                for &slot in region_slots {
                    offsets[(k % workers) as usize].push(c * cycle + slot);
                    k += 1;
                }
            }
            offsets.into_iter().map(|offsets| Share { period, offsets }).collect()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whole_share_fires_everything() {
        let whole = Share::whole();
        assert_eq!(whole.positions(5).collect::<Vec<_>>(), vec![0, 1, 2, 3, 4]);
        assert_eq!(whole.count(5), 5);
    }

    #[test]
    fn two_regions_three_to_two_with_unequal_workers() {
        let shares = deal(&[(3, 2), (2, 3)]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(shares.len(), 2);
        assert_eq!((shares[0].len(), shares[1].len()), (2, 3));
        // 3 of every 5 requests go to the first region, interleaved: slots 0, 2, 4 (ties to the first region).
        let first: Vec<u64> = {
            let mut all: Vec<u64> = shares[0].iter().flat_map(|s| s.positions(10)).collect();
            all.sort_unstable();
            all
        };
        assert_eq!(first, vec![0, 2, 4, 5, 7, 9]);
        // Its two workers alternate over its requests.
        assert_eq!(shares[0][0].positions(10).collect::<Vec<_>>(), vec![0, 4, 7]);
        assert_eq!(shares[0][1].positions(10).collect::<Vec<_>>(), vec![2, 5, 9]);
        for worker in shares.iter().flatten() {
            assert_eq!(worker.clone().checked().as_ref(), Ok(worker));
        }
    }

    #[test]
    fn counts_agree_with_positions() {
        let shares = deal(&[(5, 3), (2, 1), (1, 4)]).unwrap_or_else(|e| panic!("{e}"));
        for share in shares.iter().flatten() {
            for total in [0, 1, 7, 31, 32, 33, 1000] {
                assert_eq!(
                    share.count(total),
                    share.positions(total).count() as u64,
                    "{share:?} {total}"
                );
                for from in [0, 1, 5, 31, 32] {
                    let range = from.min(total)..total;
                    assert_eq!(
                        share.count_in(range.clone()),
                        share.positions_in(range.clone()).count() as u64,
                        "{share:?} {range:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn bad_shares_and_dealings_are_refused() {
        let share = |period, offsets: Vec<u64>| Share { period, offsets }.checked();
        assert_eq!(share(0, vec![0]), Err(ShareError::BadPeriod(0)));
        assert_eq!(
            share(MAX_PERIOD + 1, vec![0]),
            Err(ShareError::BadPeriod(MAX_PERIOD + 1))
        );
        assert_eq!(share(4, vec![]), Err(ShareError::Empty));
        assert_eq!(
            share(4, vec![1, 4]),
            Err(ShareError::BadOffset { period: 4, offset: 4 })
        );
        assert_eq!(
            share(4, vec![2, 2]),
            Err(ShareError::BadOffset { period: 4, offset: 2 })
        );
        assert_eq!(deal(&[]), Err(ShareError::EmptyRegion));
        assert_eq!(deal(&[(1, 0)]), Err(ShareError::EmptyRegion));
        assert_eq!(deal(&[(0, 1)]), Err(ShareError::EmptyRegion));
        assert_eq!(deal(&[(99_999, 2), (1, 1)]), Err(ShareError::PeriodTooLong(200_000)));
        // Weights are reduced first: 60:40 is 3:2.
        assert_eq!(deal(&[(60, 1), (40, 1)]).map(|s| s[0][0].period), Ok(5));
    }
}
