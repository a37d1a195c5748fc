//! The live view of `volley run`: each call's chunks as the archivers store them (and, once its segment is
//! over, the seconds its result alone carries), merged by region and second, a line a second.

use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use volley_core::adapters::dynamodb::tests::DynamoResultLedger;
use volley_core::adapters::s3::S3ResultArchive;
use volley_core::model::plan::{Fleet, ValidPlan};
use volley_core::model::result::{CallResult, ResultChunk, archive_key, chunk_key};
use volley_core::model::scope::TestScope;
use volley_core::ports::{ResultArchive, ResultLedger};
use volley_engine::load::stats::Stats;

use crate::CliError;
use crate::stack::Stack;

/// The live view: each call's chunks as they arrive (and, once its segment is over, the seconds its result
/// alone carries), merged by region and second. A region's second is shown once every call running in it
/// has delivered it, so what is shown is whole: the view runs one chunk period behind.
pub(crate) struct Live<'a> {
    plan: &'a ValidPlan,
    fleet: &'a Fleet,
    start_ms: i64,
    archives: BTreeMap<String, S3ResultArchive>,
    /// Per call: the next chunk to look for, the last second delivered, and whether all of it is in.
    next: Vec<u32>,
    covered: Vec<Option<i64>>,
    done: Vec<bool>,
    seconds: BTreeMap<String, BTreeMap<i64, Stats>>,
}

impl<'a> Live<'a> {
    pub(crate) fn new(stack: &Stack, plan: &'a ValidPlan, fleet: &'a Fleet) -> Result<Self, CliError> {
        let mut archives = BTreeMap::new();
        for region in &plan.plan.regions {
            archives.insert(region.region.clone(), stack.archive(&region.region)?);
        }
        let n = fleet.calls.len();
        Ok(Self {
            plan,
            fleet,
            start_ms: fleet
                .start_at
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64),
            archives,
            next: vec![0; n],
            covered: vec![None; n],
            done: vec![false; n],
            seconds: BTreeMap::new(),
        })
    }

    /// Call `i`'s window, Unix ms.
    fn window(&self, i: usize, segments: &[std::ops::Range<Duration>]) -> (i64, i64) {
        let segment = &segments[self.fleet.calls[i].segment];
        (
            self.start_ms + segment.start.as_millis() as i64,
            self.start_ms + segment.end.as_millis() as i64,
        )
    }

    /// Reads what arrived since the last poll, every call at once.
    pub(crate) async fn poll(&mut self, now_ms: i64) {
        let segments = self.plan.segments();
        let test = &self.plan.plan;
        let mut reads = tokio::task::JoinSet::new();
        for i in 0..self.fleet.calls.len() {
            let (from, to) = self.window(i, &segments);
            if self.done[i] || now_ms < from {
                continue;
            }
            let call = &self.fleet.calls[i];
            let archive = self.archives[&call.region].clone();
            let (org, id, first) = (test.organisation_id.clone(), test.test_id.clone(), self.next[i]);
            let call_id = call.call.call_id.clone();
            let ended = now_ms >= to;
            reads.spawn(async move {
                let mut chunks = Vec::new();
                for n in first.. {
                    match archive.get(&chunk_key(&org, &id, &call_id, n)).await {
                        Ok(Some(bytes)) => match serde_json::from_slice::<ResultChunk>(&bytes) {
                            Ok(chunk) => chunks.push(chunk.decode_seconds().unwrap_or_default()),
                            Err(_) => break,
                        },
                        _ => break,
                    }
                }
                // Its segment over: the seconds after its last chunk come with its result, once every chunk
                // it lists is in (a chunk and the result travel apart, and may arrive in either order).
                let rest = if ended {
                    match archive.get(&archive_key(&org, &id, &call_id)).await {
                        Ok(Some(bytes)) => serde_json::from_slice::<CallResult>(&bytes).ok().and_then(|r| {
                            let listed = r.chunked.as_ref().map_or(0, |c| c.chunks);
                            let seen = first + chunks.len() as u32;
                            (seen >= listed).then(|| r.unchunked_seconds().ok()).flatten()
                        }),
                        _ => None,
                    }
                } else {
                    None
                };
                (i, chunks, rest)
            });
        }
        while let Some(read) = reads.join_next().await {
            let Ok((i, chunks, rest)) = read else { continue };
            let region = self.seconds.entry(self.fleet.calls[i].region.clone()).or_default();
            self.next[i] += chunks.len() as u32;
            for second in chunks.iter().flatten().chain(rest.iter().flatten()) {
                region.entry(second.second).or_default().merge(&second.stats);
                self.covered[i] = self.covered[i].max(Some(second.second));
            }
            if rest.is_some() {
                self.done[i] = true;
            }
        }
    }

    /// The newest second of `region` that every call running in it has delivered.
    fn complete_through(&self, region: &str, now_ms: i64) -> Option<i64> {
        let segments = self.plan.segments();
        let mut through = now_ms.div_euclid(1000) - 1;
        for i in (0..self.fleet.calls.len()).filter(|&i| self.fleet.calls[i].region == region) {
            let (from, _) = self.window(i, &segments);
            if self.done[i] || now_ms < from {
                continue;
            }
            through = through.min(self.covered[i].unwrap_or(from.div_euclid(1000) - 1));
        }
        (through >= self.start_ms.div_euclid(1000)).then_some(through)
    }

    /// Requests the plan asks of `region` in Unix second `second`.
    fn asked(&self, region: &str, second: i64) -> f64 {
        let p = &self.plan.plan;
        let share: u64 = p.regions.iter().map(|r| r.share).sum();
        let mine = p.regions.iter().find(|r| r.region == region).map_or(0, |r| r.share);
        let offset = |ms: i64| Duration::from_millis((ms - self.start_ms).max(0) as u64);
        let schedule = &self.plan.schedule;
        let due = schedule.first_at(offset((second + 1) * 1000)) - schedule.first_at(offset(second * 1000));
        due as f64 * mine as f64 / share.max(1) as f64
    }

    /// One line: elapsed and remaining, then for each region its newest whole second (requests against
    /// those asked, errors, p99) and its counters so far.
    pub(crate) async fn line(&self, ledgers: &[(String, DynamoResultLedger)], now_ms: i64) -> String {
        let test = TestScope::new(&self.plan.plan.organisation_id, &self.plan.plan.test_id);
        let whole = self.plan.schedule.duration();
        let elapsed = Duration::from_secs(((now_ms - self.start_ms).max(0) / 1000) as u64);
        let mut parts = Vec::new();
        for (region, ledger) in ledgers {
            let counted = ledger.counters(&test).await.ok().flatten();
            let (requests, errors) = counted.map_or((0, 0), |c| (c.requests, c.errors));
            let second = self.complete_through(region, now_ms).map(|s| {
                let stats = self
                    .seconds
                    .get(region)
                    .and_then(|m| m.get(&s))
                    .cloned()
                    .unwrap_or_default();
                // Dropped sends are not requests: said apart, when there are any.
                let dropped = if stats.dropped > 0 {
                    format!(", {} dropped", stats.dropped)
                } else {
                    String::new()
                };
                format!(
                    "[{}s] {}/{:.0} rps, {} err, p99 {}{dropped}",
                    s - self.start_ms.div_euclid(1000),
                    stats.requests,
                    self.asked(region, s),
                    stats.failures(),
                    crate::report::duration(stats.latency.quantile(0.99))
                )
            });
            parts.push(format!(
                "{region}: {} ({requests} requests, {errors} errors so far)",
                second.unwrap_or_else(|| "no whole second yet".into())
            ));
        }
        format!(
            "{:>6} of {} ({} left)  {}",
            humantime::format_duration(elapsed).to_string(),
            humantime::format_duration(whole),
            humantime::format_duration(whole.saturating_sub(elapsed)),
            parts.join("; ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plans::tests::two_regions;

    #[test]
    fn a_regions_second_is_whole_once_every_worker_running_there_delivered_it() {
        let plan = two_regions(40, "30s", serde_json::json!({}));
        let start_ms = 1_000_000_000_500;
        let fleet = plan
            .fleet(UNIX_EPOCH + Duration::from_millis(start_ms as u64))
            .unwrap_or_else(|e| panic!("{e}"));
        let n = fleet.calls.len();
        let mut live = Live {
            plan: &plan,
            fleet: &fleet,
            start_ms,
            archives: BTreeMap::new(),
            next: vec![0; n],
            covered: vec![None; n],
            done: vec![false; n],
            seconds: BTreeMap::new(),
        };
        let start_s = start_ms / 1000;
        let now = start_ms + 8_000;
        assert_eq!(live.complete_through("eu-west-1", now), None, "nothing delivered");
        let ours: Vec<usize> = (0..n).filter(|&i| fleet.calls[i].region == "eu-west-1").collect();
        for (k, &i) in ours.iter().enumerate() {
            live.covered[i] = Some(start_s + 3 + k as i64);
        }
        assert_eq!(
            live.complete_through("eu-west-1", now),
            Some(start_s + 3),
            "the slowest worker's last second"
        );
        live.done[ours[0]] = true;
        assert_eq!(live.complete_through("eu-west-1", now), Some(start_s + 4));
        // The second starts half-way through: 20 of the test's 40 a second are due in the first, 3/4 ours.
        assert_eq!(live.asked("eu-west-1", start_s), 15.0);
        assert_eq!(live.asked("eu-west-1", start_s + 1), 30.0);
        assert_eq!(live.asked("us-east-1", start_s + 1), 10.0);
    }
}
