//! The contract of `DomainRegistry` (with the `DomainStore` it extends: one store, one truth).

use volley_core::model::domain::{DomainName, DomainRecord, DomainStatus};
use volley_core::ports::{DomainRegistry, DueCursor};

fn record(org: &str, domain: &str, token: &str, now: i64) -> DomainRecord {
    DomainRecord::pending(org, DomainName::from_stored(domain), token.to_owned(), now)
}

/// Every record of `org` that `due` answers, following the pages of `page_size`, in the order answered.
async fn all_due(
    store: &dyn DomainRegistry,
    org: &str,
    status: DomainStatus,
    as_of: i64,
    page_size: usize,
) -> Vec<String> {
    let mut found = Vec::new();
    let mut cursor: Option<DueCursor> = None;
    for _ in 0..100 {
        let page = store
            .due(status, as_of, cursor.as_ref(), page_size)
            .await
            .unwrap_or_else(|e| panic!("due: {e:?}"));
        assert!(page.records.len() <= page_size, "a page holds at most its limit");
        found.extend(
            page.records
                .iter()
                .filter(|r| r.organisation_id == org)
                .map(|r| r.domain.to_string()),
        );
        match page.next {
            Some(next) => cursor = Some(next),
            None => return found,
        }
    }
    panic!("due never ran out of pages");
}

/// Every behaviour a `DomainRegistry` must have. `unique` makes this run's organisation unique.
pub async fn domain_registry_contract(store: &dyn DomainRegistry, unique: &str) {
    let org = format!("acme{unique}");
    let domain = format!("example{unique}.com");
    let fail = |e: volley_core::ports::StoreError| -> bool { panic!("{e:?}") };
    assert_eq!(
        store.get(&org, &domain).await.ok(),
        Some(None),
        "an unknown domain has no record"
    );

    let first = record(&org, &domain, "token-one", 1_000);
    assert_eq!(store.create(&first).await.ok(), Some(None), "a new record is stored");
    assert_eq!(store.get(&org, &domain).await.ok(), Some(Some(first.clone())));
    let again = record(&org, &domain, "token-two", 1_001);
    assert_eq!(
        store.create(&again).await.ok(),
        Some(Some(first.clone())),
        "creating it again answers the stored record and changes nothing"
    );
    assert_eq!(store.get(&org, &domain).await.ok(), Some(Some(first.clone())));
    assert!(
        !store.is_validated(&org, &domain).await.unwrap_or_else(fail),
        "pending is not validated"
    );

    let validated = DomainRecord {
        status: DomainStatus::Validated,
        validated_at: Some(1_100),
        checked_at: Some(1_100),
        due_at: Some(90_000),
        attempts: 2,
        misses: 1,
        last_error: Some("no TXT record".into()),
        version: 1,
        ..first.clone()
    };
    assert_eq!(
        store.replace(&validated, 0).await.ok(),
        Some(true),
        "a replace at the read version"
    );
    assert_eq!(
        store.get(&org, &domain).await.ok(),
        Some(Some(validated.clone())),
        "every field round-trips"
    );
    let stale = DomainRecord {
        status: DomainStatus::Revoked,
        version: 1,
        ..first.clone()
    };
    assert_eq!(
        store.replace(&stale, 0).await.ok(),
        Some(false),
        "a replace from a stale read is refused"
    );
    assert!(
        store.is_validated(&org, &domain).await.unwrap_or_else(fail),
        "the guard's view is the registry's: validated"
    );
    assert!(
        !store
            .is_validated(&format!("other{unique}"), &domain)
            .await
            .unwrap_or_else(fail),
        "another organisation's domain"
    );

    // The index of due work: pending records in due order, page by page; later ones wait.
    for (i, due_at) in [(3, 5_003), (1, 5_001), (4, 5_004), (2, 5_002), (5, 9_000)] {
        let name = format!("p{i}-{unique}.com");
        let mut r = record(&org, &name, "t", 5_000);
        r.due_at = Some(due_at);
        assert_eq!(store.create(&r).await.ok(), Some(None));
    }
    let mut expired = record(&org, &format!("gone{unique}.com"), "t", 1);
    assert_eq!(store.create(&expired).await.ok(), Some(None));
    expired.status = DomainStatus::Expired;
    expired.due_at = None;
    expired.version = 1;
    assert_eq!(store.replace(&expired, 0).await.ok(), Some(true));

    let order: Vec<String> = (1..=4).map(|i| format!("p{i}-{unique}.com")).collect();
    for page_size in [1, 2, 3, 10] {
        assert_eq!(
            all_due(store, &org, DomainStatus::Pending, 5_004, page_size).await,
            order,
            "pending records due by 5004, least recently due first, in pages of {page_size}"
        );
    }
    assert_eq!(
        all_due(store, &org, DomainStatus::Pending, 5_002, 10).await,
        order[..2].to_vec(),
        "records due later are not yet due"
    );
    assert!(
        all_due(store, &org, DomainStatus::Validated, 89_999, 10)
            .await
            .is_empty(),
        "a validated record is not due before its time"
    );
    assert_eq!(
        all_due(store, &org, DomainStatus::Validated, 90_000, 10).await,
        std::slice::from_ref(&domain),
        "a validated record is due at its time"
    );
    for status in [DomainStatus::Expired, DomainStatus::Revoked] {
        assert!(
            all_due(store, &org, status, i64::MAX / 2, 10).await.is_empty(),
            "final records are never due"
        );
    }

    // An organisation's domains, by name, whatever their status; nobody else's.
    let names = |records: Vec<DomainRecord>| records.into_iter().map(|r| r.domain.to_string()).collect::<Vec<_>>();
    let mut expected: Vec<String> = vec![domain.clone(), format!("gone{unique}.com")];
    expected.extend((1..=5).map(|i| format!("p{i}-{unique}.com")));
    expected.sort();
    assert_eq!(
        names(store.list(&org).await.unwrap_or_else(|e| panic!("{e:?}"))),
        expected,
        "list answers every record of the organisation, by domain name"
    );
    assert_eq!(
        store.list(&format!("other{unique}")).await.ok(),
        Some(vec![]),
        "and none of another's"
    );

    // Remove deletes the record at once: the guard refuses it, the sweep no longer sees it, and a writer that
    // read it before cannot write it back.
    let removed = store.remove(&org, &domain).await.unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(removed, Some(validated.clone()), "remove answers what it removed");
    assert!(
        !store.is_validated(&org, &domain).await.unwrap_or_else(fail),
        "a removed domain is no longer validated"
    );
    assert_eq!(store.get(&org, &domain).await.ok(), Some(None));
    assert!(
        all_due(store, &org, DomainStatus::Validated, 90_000, 10)
            .await
            .is_empty(),
        "nor due"
    );
    let late = DomainRecord {
        checked_at: Some(1_200),
        version: 2,
        ..validated.clone()
    };
    assert_eq!(
        store.replace(&late, 1).await.ok(),
        Some(false),
        "a check that read it before the removal cannot bring it back"
    );
    assert_eq!(store.get(&org, &domain).await.ok(), Some(None));
    assert_eq!(
        store.remove(&org, &domain).await.ok(),
        Some(None),
        "removing it again finds nothing"
    );
}

/// Every behaviour an `OrganisationLimitsStore` must have: the defaults until limits are set, then exactly
/// what was set, for that organisation only; set again, replaced; and the organisation's domains listed
/// without its limits beside them (one partition holds both in DynamoDB).
pub async fn organisation_limits_contract<S>(store: &S, unique: &str)
where
    S: volley_core::ports::OrganisationLimitsStore + DomainRegistry,
{
    use std::time::Duration;
    use volley_core::model::limits::OrganisationLimits;

    let (org, other) = (format!("limits{unique}"), format!("other{unique}"));
    let read = |org: String| async move { store.limits(&org).await.unwrap_or_else(|e| panic!("limits: {e:?}")) };
    assert_eq!(
        read(org.clone()).await,
        OrganisationLimits::default(),
        "none set: the defaults"
    );
    let set = OrganisationLimits {
        max_rate: 1234.5,
        max_workers: 7,
        max_duration: Duration::from_secs(300),
        max_concurrent_tests: 2,
    };
    store
        .set_limits(&org, &set)
        .await
        .unwrap_or_else(|e| panic!("set_limits: {e:?}"));
    assert_eq!(read(org.clone()).await, set, "read back exactly");
    assert_eq!(
        read(other).await,
        OrganisationLimits::default(),
        "another organisation's are its own"
    );
    let raised = OrganisationLimits {
        max_rate: 20_000.0,
        ..set
    };
    store
        .set_limits(&org, &raised)
        .await
        .unwrap_or_else(|e| panic!("set_limits: {e:?}"));
    assert_eq!(read(org.clone()).await, raised, "set again: replaced");

    let domain = format!("example{unique}.com");
    store
        .create(&record(&org, &domain, "token", 1_000))
        .await
        .unwrap_or_else(|e| panic!("create: {e:?}"));
    let listed: Vec<String> = store
        .list(&org)
        .await
        .unwrap_or_else(|e| panic!("list: {e:?}"))
        .iter()
        .map(|r| r.domain.to_string())
        .collect();
    assert_eq!(listed, vec![domain], "the list holds domains only");
}
