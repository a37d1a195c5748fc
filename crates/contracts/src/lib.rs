//! Contract suites: one per port, run against the memory adapter in unit tests and against the emulator in
//! integration tests, so the fake cannot drift from the real thing.
//!
//! Each suite uses usernames unique to the call, so it can run against a shared table.

use chrono::NaiveDate;

use volley_core::model::birthday::Username;
use volley_core::ports::BirthdayStore;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

fn user(name: &str) -> Username {
    Username::parse(name).unwrap_or_else(|e| panic!("test username {name:?}: {e}"))
}

/// Every behaviour a `BirthdayStore` must have. `unique` is letters that make this run's usernames unique.
pub async fn birthday_store_contract(store: &dyn BirthdayStore, unique: &str) {
    let alice = user(&format!("alice{unique}"));
    let zoe = user(&format!("Zoë{unique}"));
    let nobody = user(&format!("nobody{unique}"));

    assert_eq!(store.get(&nobody).await.ok(), Some(None), "an unknown user has no date");

    store
        .put(&alice, date(1990, 1, 5))
        .await
        .unwrap_or_else(|e| panic!("put: {e:?}"));
    assert_eq!(
        store.get(&alice).await.ok(),
        Some(Some(date(1990, 1, 5))),
        "a put date is read back"
    );

    store
        .put(&alice, date(2000, 2, 29))
        .await
        .unwrap_or_else(|e| panic!("put: {e:?}"));
    assert_eq!(
        store.get(&alice).await.ok(),
        Some(Some(date(2000, 2, 29))),
        "a second put replaces the date"
    );

    store
        .put(&zoe, date(1985, 12, 31))
        .await
        .unwrap_or_else(|e| panic!("put: {e:?}"));
    assert_eq!(
        store.get(&zoe).await.ok(),
        Some(Some(date(1985, 12, 31))),
        "unicode usernames round-trip"
    );
    assert_eq!(
        store.get(&alice).await.ok(),
        Some(Some(date(2000, 2, 29))),
        "users do not overwrite each other"
    );

    let upper = user(&format!("ALICE{unique}"));
    assert_eq!(store.get(&upper).await.ok(), Some(None), "usernames are case-sensitive");
}

/// Every behaviour a `CallClaims` must have: a call is claimed once, within its organisation and test, and a
/// lost call is counted once in its test's counters, which `ledger` (the archiver's view of the same tests
/// table) reads.
pub async fn call_claims_contract(
    claims: &dyn volley_core::ports::CallClaims,
    ledger: &dyn volley_core::ports::ResultLedger,
    unique: &str,
) {
    use volley_core::model::scope::TestScope;
    use volley_core::ports::Claim;
    let test = TestScope::new(format!("acme-{unique}"), format!("test-{unique}"));
    let (one, two, three) = (
        test.call(format!("call-1-{unique}")),
        test.call(format!("call-2-{unique}")),
        test.call(format!("call-3-{unique}")),
    );
    let claim = |call: volley_core::model::scope::CallScope, now: i64| async move {
        claims
            .claim(&call, now, now + 900)
            .await
            .unwrap_or_else(|e| panic!("{e:?}"))
    };
    assert_eq!(claim(one.clone(), 1_000).await, Claim::Fresh, "the first claim wins");
    assert_eq!(
        claim(one.clone(), 1_001).await,
        Claim::Running { lease_until: 1_900 },
        "a duplicate within the lease finds the call running"
    );
    assert_eq!(
        claim(two.clone(), 1_002).await,
        Claim::Fresh,
        "another call is its own claim"
    );
    // The same test and call ids in another organisation, and the same call id in another test, are other
    // calls.
    let other_org = TestScope::new(format!("globex-{unique}"), &test.test_id).call(&one.call_id);
    let other_test = TestScope::new(&test.organisation_id, format!("other-{unique}")).call(&one.call_id);
    assert_eq!(
        claim(other_org.clone(), 1_002).await,
        Claim::Fresh,
        "another organisation's call of the same ids is its own claim"
    );
    assert_eq!(
        claim(other_test.clone(), 1_002).await,
        Claim::Fresh,
        "another test's call of the same id is its own claim"
    );

    claims
        .mark_stored(&one, "overflow/acme/test/call-1.json")
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let stored = Claim::Stored {
        key: "overflow/acme/test/call-1.json".into(),
    };
    assert_eq!(
        claims.stored(&one).await.ok(),
        Some(Some("overflow/acme/test/call-1.json".into())),
        "where a stored result is, read without claiming"
    );
    assert_eq!(
        claims.stored(&other_org).await.ok(),
        Some(None),
        "another organisation's call of the same ids stored nothing"
    );
    assert_eq!(
        claims.stored(&two).await.ok(),
        Some(None),
        "a running call has stored nothing"
    );
    assert_eq!(
        claims.stored(&test.call(format!("never-{unique}"))).await.ok(),
        Some(None),
        "an unknown call has stored nothing"
    );
    assert_eq!(
        claim(one.clone(), 1_003).await,
        stored,
        "a stored result is delivered again, never refired"
    );
    assert_eq!(claim(one.clone(), 9_999).await, stored, "stored is final, lease or not");

    let lost = |test: &TestScope| {
        let test = test.clone();
        async move {
            ledger
                .counters(&test)
                .await
                .unwrap_or_else(|e| panic!("{e:?}"))
                .map_or(0, |c| c.calls_lost)
        }
    };
    assert_eq!(lost(&test).await, 0, "nothing lost yet");
    assert_eq!(claim(three.clone(), 2_000).await, Claim::Fresh);
    assert_eq!(
        claim(three.clone(), 2_901).await,
        Claim::Lost,
        "a lease that passed with no result stored: the call is lost"
    );
    assert_eq!(lost(&test).await, 1, "a lost call is counted in its test's counters");
    assert_eq!(claim(three, 2_902).await, Claim::Lost, "and stays lost");
    assert_eq!(lost(&test).await, 1, "and counted once");
    assert_eq!(
        claim(two, 1_903).await,
        Claim::Lost,
        "whoever claims after the lease marks it"
    );
    assert_eq!(lost(&test).await, 2);
    assert_eq!(
        lost(&other_org.test).await,
        0,
        "another organisation's test of the same id lost nothing"
    );
}

/// Every behaviour a `ResultLedger` must have: a call's result is counted once, in its own organisation's
/// test.
pub async fn result_ledger_contract(ledger: &dyn volley_core::ports::ResultLedger, unique: &str) {
    use volley_core::model::scope::TestScope;
    use volley_core::ports::{ArchiveMark, ResultCounts};
    let test = TestScope::new(format!("acme-{unique}"), format!("test-{unique}"));
    let (one, two) = (
        test.call(format!("call-1-{unique}")),
        test.call(format!("call-2-{unique}")),
    );
    assert_eq!(
        ledger.counters(&test).await.ok(),
        Some(None),
        "an unknown test has no counters"
    );

    let counts = ResultCounts {
        requests: 100,
        errors: 3,
        dropped: 1,
        start_skew_us: Some(-1_500),
        ..ResultCounts::default()
    };
    assert_eq!(
        ledger.record_archived(&one, counts, &[], None, 2_000).await.ok(),
        Some(ArchiveMark::Fresh)
    );
    assert_eq!(
        ledger.record_archived(&one, counts, &[], None, 2_001).await.ok(),
        Some(ArchiveMark::Seen {
            metrics_published: false
        }),
        "a redelivered result is seen, not counted"
    );
    ledger
        .mark_metrics_published(&one)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(
        ledger.record_archived(&one, counts, &[], None, 2_002).await.ok(),
        Some(ArchiveMark::Seen {
            metrics_published: true
        })
    );
    assert_eq!(
        ledger
            .record_archived(
                &two,
                ResultCounts {
                    requests: 50,
                    errors: 0,
                    dropped: 0,
                    start_skew_us: Some(250),
                    ..ResultCounts::default()
                },
                &[],
                Some("eu-west-1"),
                2_003
            )
            .await
            .ok(),
        Some(ArchiveMark::Fresh)
    );
    // A chunk of a running call's results: counted once under its own mark, apart from the call's whole
    // result (`one`'s was counted above) and from its other chunks.
    let chunk = |n: u32, requests: u64| {
        let one = one.clone();
        async move {
            let counts = ResultCounts {
                requests,
                part: volley_core::ports::ResultPart::Chunk,
                ..ResultCounts::default()
            };
            ledger
                .record_archived(&one.chunk(n), counts, &[], None, 2_003)
                .await
                .unwrap_or_else(|e| panic!("{e:?}"))
        }
    };
    assert_eq!(
        chunk(0, 20).await,
        ArchiveMark::Fresh,
        "a chunk is counted apart from its call"
    );
    assert_eq!(chunk(1, 5).await, ArchiveMark::Fresh, "and from its other chunks");
    assert_eq!(
        chunk(0, 20).await,
        ArchiveMark::Seen {
            metrics_published: false
        },
        "a redelivered chunk is seen, not counted"
    );
    // Another organisation's test and call of the same ids: its own mark, its own counters.
    let other = TestScope::new(format!("globex-{unique}"), &test.test_id);
    assert_eq!(
        ledger
            .record_archived(
                &other.call(&one.call_id),
                ResultCounts {
                    requests: 7,
                    errors: 7,
                    dropped: 7,
                    ..ResultCounts::default()
                },
                &[],
                None,
                2_004
            )
            .await
            .ok(),
        Some(ArchiveMark::Fresh),
        "another organisation's call of the same ids is counted, apart"
    );

    let counters = ledger
        .counters(&test)
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("counters for {test}"));
    assert_eq!(counters.test, test);
    assert_eq!(
        (
            counters.requests,
            counters.errors,
            counters.dropped,
            counters.results_archived,
            counters.chunks_archived,
            counters.calls_lost
        ),
        (175, 3, 1, 2, 2, 0)
    );
    assert_eq!(
        counters.start_skews_us,
        vec![-1_500, 250],
        "each call's start skew kept once, a redelivery's not again"
    );
    assert_eq!(
        counters.start_skew().map(|s| (s.calls, s.p50_ms, s.max_ms)),
        Some((2, 0.25, 1.5))
    );
    assert_eq!(counters.last_result_at, 2_003);
    let others = ledger
        .counters(&other)
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("counters for {other}"));
    assert_eq!(
        (others.requests, others.errors, others.dropped, others.results_archived),
        (7, 7, 7, 1)
    );

    // Live seconds: each chunk's added once, with its mark; read back by second, absent where none was.
    use volley_core::model::abort::LiveSecond;
    let live = |second: i64, requests: u64, errors: u64| LiveSecond {
        second,
        requests,
        errors,
        dropped: 0,
    };
    let chunk_counts = ResultCounts {
        part: volley_core::ports::ResultPart::Chunk,
        ..ResultCounts::default()
    };
    for (n, seconds, mark) in [
        (7, vec![live(100, 10, 2), live(101, 5, 0)], ArchiveMark::Fresh),
        (8, vec![live(101, 5, 5)], ArchiveMark::Fresh),
        (
            7,
            vec![live(100, 10, 2), live(101, 5, 0)],
            ArchiveMark::Seen {
                metrics_published: false,
            },
        ),
    ] {
        assert_eq!(
            ledger
                .record_archived(&one.chunk(n), chunk_counts, &seconds, None, 2_005)
                .await
                .ok(),
            Some(mark)
        );
    }
    assert_eq!(
        ledger.live_seconds(&test, 98, 103).await.ok(),
        Some(vec![live(100, 10, 2), live(101, 10, 5)]),
        "summed across chunks, a redelivery not again"
    );
    assert_eq!(
        ledger.live_seconds(&other, 98, 103).await.ok(),
        Some(vec![]),
        "another organisation's test has its own"
    );
    // Marks, read together in the order asked: counted and published, counted, never counted.
    assert_eq!(
        ledger
            .marks(&[one.clone(), two.clone(), one.chunk(0), one.chunk(42)])
            .await
            .ok(),
        Some(vec![Some(true), Some(false), Some(false), None])
    );
    // The most one record adds, and one read answers: a transaction of 100 items, a batch read of 98 keys.
    let most = volley_core::ports::MAX_LIVE_SECONDS as i64;
    let full: Vec<LiveSecond> = (1_000..1_000 + most).map(|second| live(second, 1, 0)).collect();
    assert_eq!(
        ledger
            .record_archived(&one.chunk(9), chunk_counts, &full, None, 2_006)
            .await
            .ok(),
        Some(ArchiveMark::Fresh)
    );
    assert_eq!(
        ledger.live_seconds(&test, 1_000, 1_000 + most - 1).await.ok(),
        Some(full),
        "all of them, in order"
    );

    // Metrics batches: claimed once, held by a live lease, taken over once the lease passed, published once.
    use volley_core::ports::BatchClaim;
    let claim = |batch: u32, now: i64| {
        let one = one.clone();
        async move {
            ledger
                .claim_metrics_batch(&one, batch, now, now + 120)
                .await
                .unwrap_or_else(|e| panic!("{e:?}"))
        }
    };
    assert_eq!(claim(0, 3_000).await, BatchClaim::Claimed, "a free batch is claimed");
    assert_eq!(
        claim(0, 3_001).await,
        BatchClaim::InProgress,
        "a batch held by a live lease is another delivery's"
    );
    assert_eq!(
        claim(1, 3_001).await,
        BatchClaim::Claimed,
        "batches are claimed one by one"
    );
    assert_eq!(
        claim(0, 3_121).await,
        BatchClaim::Claimed,
        "a lease that passed without a finish is taken over (its holder died)"
    );
    ledger
        .finish_metrics_batch(&one, 0)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(
        claim(0, 3_122).await,
        BatchClaim::Published,
        "a published batch is never claimed again"
    );
    assert_eq!(
        claim(0, 9_999).await,
        BatchClaim::Published,
        "not even long after: published is final"
    );
    assert_eq!(
        claim(1, 3_120).await,
        BatchClaim::InProgress,
        "the other batch is held until its lease ends"
    );
    assert_eq!(
        ledger
            .claim_metrics_batch(&other.call(&one.call_id), 0, 3_123, 3_243)
            .await
            .ok(),
        Some(BatchClaim::Claimed),
        "another organisation's batch of the same call id is its own"
    );
}

/// Every behaviour a `DomainStore` must have, given a store in which, for organisation `acme<unique>`,
/// `example<unique>.com` is validated and `pending<unique>.com` is pending.
pub async fn domain_store_contract(store: &dyn volley_core::ports::DomainStore, unique: &str) {
    let org = format!("acme{unique}");
    let validated = format!("example{unique}.com");
    let check =
        |o: String, d: String| async move { store.is_validated(&o, &d).await.unwrap_or_else(|e| panic!("{e:?}")) };
    assert!(check(org.clone(), validated.clone()).await, "a validated domain");
    assert!(
        !check(org.clone(), format!("pending{unique}.com")).await,
        "a pending domain is not validated"
    );
    assert!(
        !check(org.clone(), format!("other{unique}.com")).await,
        "an unknown domain"
    );
    assert!(
        !check(format!("other{unique}"), validated.clone()).await,
        "another organisation's domain"
    );
    assert!(
        !check(org, format!("api.{validated}")).await,
        "subdomains are the guard's business, not the store's"
    );
}

mod domains;
pub use domains::{domain_registry_contract, organisation_limits_contract};

/// Every behaviour a `ResultArchive` must have.
pub async fn result_archive_contract(archive: &dyn volley_core::ports::ResultArchive, unique: &str) {
    let key = format!("results/org/test-{unique}/call.json");
    assert_eq!(
        archive.get(&key).await.ok(),
        Some(None),
        "a missing key is None, not an error"
    );
    archive
        .put(&key, b"{\"a\":1}".to_vec())
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(archive.get(&key).await.ok(), Some(Some(b"{\"a\":1}".to_vec())));
    archive
        .put(&key, b"{\"a\":2}".to_vec())
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(
        archive.get(&key).await.ok(),
        Some(Some(b"{\"a\":2}".to_vec())),
        "a put rewrites the same key"
    );
}

#[cfg(test)]
mod tests {
    use volley_core::adapters::memory::MemoryBirthdayStore;

    #[tokio::test]
    async fn memory_birthday_store_meets_the_contract() {
        super::birthday_store_contract(&MemoryBirthdayStore::new(), "x").await;
    }

    #[tokio::test]
    async fn memory_call_claims_meet_the_contract() {
        let ledger = std::sync::Arc::new(volley_core::adapters::memory::MemoryResultLedger::new());
        let claims = volley_core::adapters::memory::MemoryCallClaims::sharing(ledger.clone());
        super::call_claims_contract(&claims, ledger.as_ref(), "x").await;
    }

    #[tokio::test]
    async fn memory_result_ledger_meets_the_contract() {
        super::result_ledger_contract(&volley_core::adapters::memory::MemoryResultLedger::new(), "x").await;
    }

    #[tokio::test]
    async fn memory_domain_store_meets_the_contract() {
        let store = volley_core::adapters::memory::MemoryDomainStore::with_domains("acmex", ["examplex.com"]);
        super::domain_store_contract(&store, "x").await;
    }

    #[tokio::test]
    async fn memory_domain_registry_meets_the_contract() {
        super::domain_registry_contract(&volley_core::adapters::memory::MemoryDomainStore::new(), "x").await;
    }

    #[tokio::test]
    async fn memory_organisation_limits_meet_the_contract() {
        super::organisation_limits_contract(&volley_core::adapters::memory::MemoryDomainStore::new(), "x").await;
    }

    #[tokio::test]
    async fn memory_result_archive_meets_the_contract() {
        super::result_archive_contract(&volley_core::adapters::memory::MemoryResultArchive::default(), "x").await;
    }
}

/// The metrics-saver's ports: `TestActivity`, `SavedMetricsStore`, `MetricsSource`.
pub mod saved_metrics;

/// The orchestrator's port: `OrchestrationStore`.
pub mod orchestration;
