//! Contract suites for the metrics-saver's ports, run against the memory twins here and against DynamoDB and
//! CloudWatch in MiniStack by `tests/metrics_contract.rs`.

use volley_core::model::metrics::{MetricDatum, Unit};
use volley_core::model::saved_metrics::{SavedSecond, Series};
use volley_core::model::scope::TestScope;
use volley_core::ports::{MetricsSink, MetricsSource, ResultCounts, ResultLedger, SavedMetricsStore, TestActivity};

fn counts(requests: u64) -> ResultCounts {
    ResultCounts {
        requests,
        errors: 0,
        dropped: 0,
        ..ResultCounts::default()
    }
}

/// `TestActivity` over the table the `ResultLedger` writes: which tests are active, their series, and a
/// watermark that only moves forward and never over a gap. `now` is the wall clock (the index is by day).
pub async fn test_activity_contract(ledger: &dyn ResultLedger, activity: &dyn TestActivity, unique: &str, now: i64) {
    let org = format!("acme-{unique}");
    let (a, b) = (
        TestScope::new(&org, format!("active-{unique}")),
        TestScope::new(&org, format!("old-{unique}")),
    );
    // Another organisation's test of the same id, active too, in another region.
    let theirs = TestScope::new(format!("globex-{unique}"), &a.test_id);
    let record = |test: TestScope, call: String, region: Option<&'static str>, at: i64| async move {
        ledger
            .record_archived(&test.call(call), counts(10), &[], region, at)
            .await
            .unwrap_or_else(|e| panic!("record: {e:?}"))
    };
    record(a.clone(), format!("a1-{unique}"), None, now - 300).await;
    record(a.clone(), format!("a2-{unique}"), Some("eu-west-1"), now - 100).await;
    record(b.clone(), format!("b1-{unique}"), None, now - 4 * 3600).await;
    record(theirs.clone(), format!("a1-{unique}"), Some("us-east-1"), now - 50).await;

    let active = activity
        .active_since(now - 3 * 3600, now)
        .await
        .unwrap_or_else(|e| panic!("active: {e:?}"));
    let mine: Vec<_> = active.iter().filter(|t| t.test.organisation_id == org).collect();
    assert_eq!(mine.len(), 1, "only the test with a result in the window: {mine:?}");
    assert_eq!(mine[0].test, a);
    assert_eq!(
        mine[0].series,
        [Series::new(&a, None), Series::new(&a, Some("eu-west-1"))],
        "one series per region its results named, and one without"
    );
    assert_eq!((mine[0].last_result_at, mine[0].saved_through), (now - 100, None));
    let one = activity.test(&a).await.ok().flatten();
    assert_eq!(one.as_ref(), Some(mine[0]), "one test reads as the index has it");
    let none = TestScope::new(&org, format!("none-{unique}"));
    assert_eq!(activity.test(&none).await.ok(), Some(None));
    let other = active
        .iter()
        .find(|t| t.test == theirs)
        .unwrap_or_else(|| panic!("the other organisation's test is active: {active:?}"));
    assert_eq!(
        (other.series.as_slice(), other.last_result_at),
        ([Series::new(&theirs, Some("us-east-1"))].as_slice(), now - 50),
        "another organisation's test of the same id is its own, with its own series"
    );

    let advance = |from, to| activity.advance_watermark(&a, from, to);
    assert_eq!(
        advance(Some(now - 900), now - 500).await.ok(),
        Some(false),
        "no watermark yet: a window with a start leaves a gap before it"
    );
    assert_eq!(
        advance(None, now - 1000).await.ok(),
        Some(true),
        "a save from as far back as CloudWatch keeps sets it"
    );
    assert_eq!(advance(None, now - 2000).await.ok(), Some(false), "never backwards");
    assert_eq!(
        advance(Some(now - 900), now - 500).await.ok(),
        Some(false),
        "never over a gap"
    );
    assert_eq!(
        advance(Some(now - 1200), now - 500).await.ok(),
        Some(true),
        "a window that overlaps it moves it"
    );
    assert_eq!(
        activity.test(&a).await.ok().flatten().and_then(|t| t.saved_through),
        Some(now - 500)
    );
    let (x, y) = tokio::join!(advance(None, now - 400), advance(None, now - 450));
    assert!(x.is_ok() && y.is_ok(), "{x:?} {y:?}");
    assert_eq!(
        activity.test(&a).await.ok().flatten().and_then(|t| t.saved_through),
        Some(now - 400),
        "two saves at once leave the furthest"
    );
    assert_eq!(
        activity.advance_watermark(&none, None, now).await.ok(),
        Some(false),
        "an unknown test gets no watermark (and no item)"
    );
    assert_eq!(activity.test(&none).await.ok(), Some(None));
    assert_eq!(
        activity
            .test(&theirs)
            .await
            .ok()
            .flatten()
            .and_then(|t| t.saved_through),
        None,
        "another organisation's test of the same id keeps its own watermark"
    );
}

fn saved(series: &Series, second: i64) -> SavedSecond {
    let mut saved = SavedSecond::empty(series.clone(), second);
    let base = (second % 97) as f64;
    saved.p50 = Some(base + 0.125);
    saved.p90 = Some(base + 10.5);
    saved.p95 = Some(base + 20.0);
    saved.p99 = Some(base + 123.456);
    saved.max = Some(base + 1000.0);
    saved.avg = Some(base + 1.0 / 3.0);
    saved.requests = 1000 + second as u64 % 13;
    saved.errors = second as u64 % 3;
    saved.dropped = 0;
    saved
}

/// `SavedMetricsStore`: items round-trip exactly, one per series and second, so writing again replaces.
pub async fn saved_metrics_contract(store: &dyn SavedMetricsStore, unique: &str) {
    let test = TestScope::new(format!("acme-{unique}"), format!("saved-{unique}"));
    let one = Series::new(&test, None);
    let two = Series::new(&test, Some("ap-south-1"));
    let theirs = Series::new(&TestScope::new(format!("globex-{unique}"), &test.test_id), None);
    let first: Vec<SavedSecond> = (1000..1000 + store.batch_limit() as i64)
        .map(|s| saved(&one, s))
        .collect();
    let write = |items: Vec<SavedSecond>| async move {
        let left = store
            .write_batch(&items)
            .await
            .unwrap_or_else(|e| panic!("write: {e:?}"));
        assert!(left.is_empty(), "an idle store processes everything: {left:?}");
    };
    write(first.clone()).await;
    let mut second_series: Vec<SavedSecond> = (1000..1003).map(|s| saved(&two, s)).collect();
    second_series[1].p50 = None;
    second_series[1].avg = None;
    write(second_series.clone()).await;
    let mut their_seconds = saved(&theirs, 1000);
    their_seconds.requests = 1;
    write(vec![their_seconds.clone()]).await;

    let read = |series: Series, from, to| async move {
        store
            .read(&series, from, to)
            .await
            .unwrap_or_else(|e| panic!("read: {e:?}"))
    };
    assert_eq!(
        read(one.clone(), 0, 5000).await,
        first,
        "a whole batch reads back exactly, in order"
    );
    assert_eq!(
        read(two.clone(), 0, 5000).await,
        second_series,
        "series are apart; absent statistics stay absent"
    );
    assert_eq!(
        read(theirs.clone(), 0, 5000).await,
        [their_seconds],
        "another organisation's series of the same test id is apart"
    );
    assert_eq!(
        read(one.clone(), 1010, 1015).await,
        first[10..15],
        "a window is [from, to)"
    );

    let mut again = first[..5].to_vec();
    again[0].requests = 7;
    write(again).await;
    let now = read(one.clone(), 0, 5000).await;
    assert_eq!(now.len(), first.len(), "writing a second again replaces it");
    assert_eq!(now[0].requests, 7);

    let too_many: Vec<SavedSecond> = (0..=store.batch_limit() as i64).map(|s| saved(&one, s)).collect();
    assert!(
        store.write_batch(&too_many).await.is_err(),
        "a batch over the limit is refused"
    );
}

/// `MetricsSource` over what `MetricsSink` published: the statistics of each second of each series.
/// Timestamps are recent (`now`, wall clock), since CloudWatch keeps 1-second data for three hours.
pub async fn metrics_source_contract(sink: &dyn MetricsSink, source: &dyn MetricsSource, unique: &str, now: i64) {
    let test = TestScope::new(format!("acme-{unique}"), format!("source-{unique}"));
    let plain = Series::new(&test, None);
    let regional = Series::new(&test, Some("eu-west-1"));
    let theirs = Series::new(&TestScope::new(format!("globex-{unique}"), &test.test_id), None);
    let t = now - 120;
    let datum = |series: &Series, name, second, unit, values: Vec<f64>, counts: Vec<f64>| MetricDatum {
        name,
        dimensions: series.dimensions(),
        timestamp: second,
        unit,
        values,
        counts,
    };
    let count = |series: &Series, name, second, n: f64| datum(series, name, second, Unit::Count, vec![n], vec![1.0]);
    let data = vec![
        // 100 requests at t: 40 at 10 ms, 52 at 100 ms, 8 at 1 s (no percentile sits on a boundary).
        datum(
            &plain,
            "ResponseTime",
            t,
            Unit::Milliseconds,
            vec![10.0, 100.0, 1000.0],
            vec![40.0, 52.0, 8.0],
        ),
        count(&plain, "Requests", t, 100.0),
        count(&plain, "Errors", t, 3.0),
        count(&plain, "Dropped", t, 1.0),
        // At t + 1 only sends that could not go: no latency, only counts.
        count(&plain, "Requests", t + 1, 0.0),
        count(&plain, "Dropped", t + 1, 5.0),
        // The same test in a region is its own series.
        datum(&regional, "ResponseTime", t, Unit::Milliseconds, vec![50.0], vec![4.0]),
        count(&regional, "Requests", t, 4.0),
        // Another organisation's test of the same id is its own series.
        datum(&theirs, "ResponseTime", t, Unit::Milliseconds, vec![7.0], vec![9.0]),
        count(&theirs, "Requests", t, 9.0),
    ];
    sink.publish(&data).await.unwrap_or_else(|e| panic!("publish: {e:?}"));

    let seconds = source
        .seconds(&[plain.clone(), regional.clone(), theirs.clone()], t - 10, t + 10)
        .await
        .unwrap_or_else(|e| panic!("seconds: {e:?}"));
    let find = |series: &Series, second| {
        seconds
            .iter()
            .find(|s| &s.series == series && s.second == second)
            .unwrap_or_else(|| panic!("no {series} at {second} in {seconds:?}"))
    };
    let close = |got: Option<f64>, want: f64, what: &str| {
        let got = got.unwrap_or_else(|| panic!("{what} missing"));
        assert!((got - want).abs() <= want * 0.02, "{what}: {got}, expected {want}");
    };
    let first = find(&plain, t);
    close(first.p50, 100.0, "p50");
    close(first.p90, 100.0, "p90");
    close(first.p95, 1000.0, "p95");
    close(first.p99, 1000.0, "p99");
    close(first.max, 1000.0, "max");
    close(first.avg, 136.0, "avg");
    assert_eq!((first.requests, first.errors, first.dropped), (100, 3, 1));
    let next = find(&plain, t + 1);
    assert_eq!(
        (next.requests, next.dropped, next.p99),
        (0, 5, None),
        "counts only: {next:?}"
    );
    let other = find(&regional, t);
    close(other.p50, 50.0, "regional p50");
    assert_eq!(other.requests, 4);
    let their_second = find(&theirs, t);
    close(their_second.p50, 7.0, "the other organisation's p50");
    assert_eq!(their_second.requests, 9, "and its own requests");
    assert_eq!(seconds.len(), 4, "nothing else: {seconds:?}");

    let later = source
        .seconds(std::slice::from_ref(&plain), t + 2, t + 10)
        .await
        .unwrap_or_else(|e| panic!("seconds: {e:?}"));
    assert!(later.is_empty(), "a window is [from, to): {later:?}");
}

#[cfg(test)]
mod tests {
    use volley_core::adapters::memory::{MemoryMetricsSink, MemoryResultLedger, MemorySavedMetrics};

    #[tokio::test]
    async fn memory_test_activity_meets_the_contract() {
        let ledger = MemoryResultLedger::new();
        super::test_activity_contract(&ledger, &ledger, "x", 1_800_000_000).await;
    }

    #[tokio::test]
    async fn memory_saved_metrics_meet_the_contract() {
        super::saved_metrics_contract(&MemorySavedMetrics::new(), "x").await;
    }

    #[tokio::test]
    async fn memory_metrics_source_meets_the_contract() {
        let sink = MemoryMetricsSink::default();
        super::metrics_source_contract(&sink, &sink, "x", 1_800_000_000).await;
    }
}
