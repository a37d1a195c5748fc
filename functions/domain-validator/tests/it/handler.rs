//! The domain-validator's behaviour on the memory twin of the domains table, against a real DNS server on
//! loopback (UDP and TCP, its zone changed by each test), driven by testdata/events/domain-validator.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use volley_core::adapters::memory::MemoryDomainStore;
use volley_core::clock::{Clock, SystemClock};
use volley_core::model::domain::DomainStatus;
use volley_core::ports::{DomainRegistry, DomainStore};
use volley_engine::guard::{AllowList, DnsResolver, Refusal, TargetGuard};
use volley_localdns::{Answer as Dns, LocalDns};

use domain_validator::{Answer, Deps, DomainAnswer, Settings, SweepAnswer, ValidatorError, function_handler};

/// A clock the test moves.
#[derive(Debug)]
struct TestClock(Mutex<DateTime<Utc>>);

impl TestClock {
    fn advance(&self, by: TimeDelta) {
        let mut now = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

struct World {
    deps: Deps,
    store: Arc<MemoryDomainStore>,
    clock: Arc<TestClock>,
    dns: LocalDns,
}

const DNS_TIMEOUT: Duration = Duration::from_millis(300);

async fn world_with(settings: Settings) -> World {
    let dns = LocalDns::start().await;
    let resolver = DnsResolver::with_nameservers(&[dns.address], DNS_TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    let store = Arc::new(MemoryDomainStore::new());
    let clock = Arc::new(TestClock(Mutex::new(
        DateTime::parse_from_rfc3339("2026-11-23T09:00:00Z")
            .unwrap_or_else(|e| panic!("{e}"))
            .to_utc(),
    )));
    let deps = Deps {
        registry: store.clone(),
        limits: store.clone(),
        txt: Arc::new(resolver),
        clock: clock.clone(),
        settings,
    };
    World {
        deps,
        store,
        clock,
        dns,
    }
}

async fn world() -> World {
    world_with(Settings::default()).await
}

fn event(name: &str) -> Value {
    let path = format!(
        "{}/../../testdata/events/domain-validator/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `name`'s event with `domain` (and the organisation, when given) replaced.
fn event_for(name: &str, organisation: &str, domain: &str) -> Value {
    let mut event = event(name);
    event["organisationId"] = json!(organisation);
    event["domain"] = json!(domain);
    event
}

async fn invoke_with(w: &World, payload: Value, deadline: Option<DateTime<Utc>>) -> Result<Answer, ValidatorError> {
    let mut context = Context::default();
    context.deadline = deadline.map_or(0, |d| d.timestamp_millis() as u64);
    function_handler(&w.deps, LambdaEvent::new(payload, context)).await
}

async fn invoke(w: &World, payload: Value) -> Result<Answer, ValidatorError> {
    invoke_with(w, payload, None).await
}

async fn domain(w: &World, payload: Value) -> DomainAnswer {
    match invoke(w, payload).await {
        Ok(Answer::Domain(answer)) => answer,
        other => panic!("expected a domain answer, got {other:?}"),
    }
}

async fn register(w: &World, domain_name: &str) -> DomainAnswer {
    domain(w, event_for("register", "acme", domain_name)).await
}

async fn check(w: &World, domain_name: &str) -> DomainAnswer {
    domain(w, event_for("check", "acme", domain_name)).await
}

async fn sweep(w: &World) -> SweepAnswer {
    match invoke(w, event("sweep")).await {
        Ok(Answer::Sweep(answer)) => answer,
        other => panic!("expected a sweep answer, got {other:?}"),
    }
}

/// Publishes `answer`'s TXT record (its exact value) in the zone.
fn publish(w: &World, answer: &DomainAnswer) {
    w.dns.txt(&answer.txt_record.name, &[&[&answer.txt_record.value]]);
}

fn token(answer: &DomainAnswer) -> &str {
    answer
        .txt_record
        .value
        .strip_prefix("volley-verification=")
        .unwrap_or_else(|| panic!("{answer:?}"))
}

/// The record as stored.
async fn stored(w: &World, domain_name: &str) -> volley_core::model::domain::DomainRecord {
    w.store
        .get("acme", domain_name)
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("no record for {domain_name}"))
}

async fn guard_allows(w: &World, domain_name: &str) -> bool {
    w.store
        .is_validated("acme", domain_name)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"))
}

#[tokio::test]
async fn registering_answers_a_pending_record_with_the_txt_record_to_publish() {
    let w = world().await;
    let answer = domain(&w, event("register")).await;
    assert_eq!(answer.domain, "shop.example.com", "lower case, no trailing dot");
    assert_eq!(answer.status.as_str(), "pending");
    assert_eq!(answer.txt_record.name, "_volley-challenge.shop.example.com");
    let token = token(&answer).to_owned();
    assert_eq!(token.len(), 43, "256 bits of URL-safe base64");
    assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    assert_eq!(answer.created_at, "2026-11-23T09:00:00Z");
    assert_eq!(answer.expires_at.as_deref(), Some("2026-11-30T09:00:00Z"));

    let again = register(&w, "SHOP.example.com.").await;
    assert_eq!(
        again.txt_record, answer.txt_record,
        "registering again answers the same token"
    );
    let other = domain(&w, event_for("register", "globex", "shop.example.com")).await;
    assert_ne!(token, self::token(&other), "another organisation gets its own token");

    let unicode = domain(&w, event("register-unicode")).await;
    assert_eq!(unicode.domain, "xn--bcher-kva.example.com", "IDNA to punycode");
    assert_eq!(unicode.txt_record.name, "_volley-challenge.xn--bcher-kva.example.com");
}

#[tokio::test]
async fn bad_requests_are_refused_naming_the_field_and_the_reason() {
    let w = world().await;
    let cases = [
        ("register-public-suffix", "domain", "public suffix"),
        ("register-ip-address", "domain", "IP address"),
        ("register-wildcard", "domain", "wildcard"),
        ("register-single-label", "domain", "single label"),
        ("register-missing-domain", "domain", "missing"),
        ("register-bad-organisation", "organisationId", "letters, digits"),
        ("register-unknown-field", "token", "unknown field `token`"),
        ("unknown-action", "action", "unknown variant `delete`"),
        ("sweep-with-unknown-field", "dryRun", "unknown field `dryRun`"),
        ("list-with-a-domain", "domain", "unknown field `domain`"),
        (
            "set-limits-missing-max-workers",
            "limits.maxWorkers",
            "missing field `maxWorkers`",
        ),
        ("set-limits-zero-rate", "limits.maxRate", "at least 1 request a second"),
    ];
    for (name, field, says) in cases {
        match invoke(&w, event(name)).await {
            Err(ValidatorError::BadRequest { field: f, reason }) => {
                assert_eq!(f, field, "{name}: {reason}");
                assert!(reason.contains(says), "{name}: {reason:?} should say {says:?}");
            }
            other => panic!("{name}: expected a bad request, got {other:?}"),
        }
    }
    let not_json_object = invoke(&w, json!("register")).await;
    assert!(
        matches!(&not_json_object, Err(ValidatorError::BadRequest { field, .. }) if field == "event"),
        "{not_json_object:?}"
    );
    let unknown = invoke(&w, event("check")).await;
    assert!(
        matches!(unknown, Err(ValidatorError::NotRegistered { .. })),
        "checking an unregistered domain: {unknown:?}"
    );
}

#[tokio::test]
async fn a_published_token_validates_a_pending_domain() {
    let w = world().await;
    let registered = register(&w, "shop.example.com").await;
    assert!(!guard_allows(&w, "shop.example.com").await);
    publish(&w, &registered);
    w.clock.advance(TimeDelta::minutes(5));
    let checked = check(&w, "shop.example.com").await;
    assert_eq!(checked.status.as_str(), "validated");
    assert_eq!(checked.validated_at.as_deref(), Some("2026-11-23T09:05:00Z"));
    assert_eq!((checked.attempts, checked.last_error.as_deref()), (1, None));
    assert!(
        guard_allows(&w, "shop.example.com").await,
        "the guard reads the same store: validated"
    );
    let again = register(&w, "shop.example.com").await;
    assert_eq!(
        (again.status.as_str(), &again.txt_record),
        ("validated", &registered.txt_record),
        "registering a validated domain answers it as it is"
    );
}

#[tokio::test]
async fn list_answers_the_organisations_domains_and_remove_withdraws_one_at_once() {
    let w = world().await;
    let shop = register(&w, "shop.example.com").await;
    register(&w, "api.example.org").await;
    domain(&w, event_for("register", "globex", "other.example.net")).await;
    publish(&w, &shop);
    check(&w, "shop.example.com").await;
    assert!(guard_allows(&w, "shop.example.com").await);

    let Ok(Answer::List(list)) = invoke(&w, event("list")).await else {
        panic!("expected a list");
    };
    let listed: Vec<(&str, &str)> = list
        .domains
        .iter()
        .map(|d| (d.domain.as_str(), d.status.as_str()))
        .collect();
    assert_eq!(
        (list.organisation_id.as_str(), listed),
        (
            "acme",
            vec![("api.example.org", "pending"), ("shop.example.com", "validated")]
        ),
        "every domain of the organisation, by name, and no other's"
    );
    assert!(
        list.domains.iter().all(|d| d.due_at.is_some()),
        "with when each is next due: {list:?}"
    );

    let Ok(Answer::Removed(removed)) = invoke(&w, event("remove")).await else {
        panic!("expected a removal");
    };
    assert_eq!(
        (removed.domain.as_str(), removed.removed.status.as_str()),
        ("shop.example.com", "validated")
    );
    assert!(
        !guard_allows(&w, "shop.example.com").await,
        "the guard refuses it from the next call"
    );
    let due = w
        .store
        .due(DomainStatus::Validated, i64::MAX / 2, None, 10)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert!(due.records.is_empty(), "and no sweep checks it again: {due:?}");
    let again = invoke(&w, event("remove")).await;
    assert!(
        matches!(again, Err(ValidatorError::NotRegistered { .. })),
        "removing it again: {again:?}"
    );
}

/// An organisation's limits: the defaults until set, then what was set, for it alone; the worker reads the
/// same store.
#[tokio::test]
async fn limits_answer_the_defaults_until_set_and_then_what_was_set() {
    use volley_core::model::limits::OrganisationLimits;
    let w = world().await;
    let Ok(Answer::Limits(before)) = invoke(&w, event("limits")).await else {
        panic!("expected limits");
    };
    assert_eq!(before.limits, OrganisationLimits::default());
    let Ok(Answer::Limits(set)) = invoke(&w, event("set-limits")).await else {
        panic!("expected limits");
    };
    assert_eq!(
        serde_json::to_value(&set).unwrap_or_default(),
        json!({"organisationId": "acme", "limits": {"maxRate": 2500.0, "maxWorkers": 10, "maxDuration": "10m", "maxConcurrentTests": 2}})
    );
    let Ok(Answer::Limits(after)) = invoke(&w, event("limits")).await else {
        panic!("expected limits");
    };
    assert_eq!(after, set);
    let mut other = event("limits");
    other["organisationId"] = json!("globex");
    let Ok(Answer::Limits(theirs)) = invoke(&w, other).await else {
        panic!("expected limits");
    };
    assert_eq!(
        theirs.limits,
        OrganisationLimits::default(),
        "another organisation's stay its own"
    );
}

#[tokio::test]
async fn a_wrong_token_leaves_the_domain_pending_with_the_reason() {
    let w = world().await;
    let registered = register(&w, "shop.example.com").await;
    let wrong = format!("volley-verification={}", "A".repeat(43));
    w.dns.txt(&registered.txt_record.name, &[&[&wrong]]);
    let checked = check(&w, "shop.example.com").await;
    assert_eq!(checked.status.as_str(), "pending");
    assert_eq!((checked.attempts, checked.consecutive_misses), (1, 1));
    let error = checked.last_error.unwrap_or_default();
    assert!(error.contains("none of the 1 TXT records"), "{error}");
    assert!(!guard_allows(&w, "shop.example.com").await);
}

#[tokio::test]
async fn the_token_counts_in_any_of_several_txt_records_and_split_across_strings() {
    let w = world().await;
    let second = register(&w, "second.example.com").await;
    w.dns.txt(
        &second.txt_record.name,
        &[
            &["v=spf1 -all"],
            &["volley-verification=someone-else"],
            &[&second.txt_record.value],
        ],
    );
    assert_eq!(check(&w, "second.example.com").await.status.as_str(), "validated");

    let split = register(&w, "split.example.com").await;
    let token = token(&split);
    w.dns.txt(
        &split.txt_record.name,
        &[&["volley-verification=", &token[..20], &token[20..]]],
    );
    assert_eq!(
        check(&w, "split.example.com").await.status.as_str(),
        "validated",
        "the strings of one record are joined"
    );

    let across = register(&w, "across.example.com").await;
    let token = self::token(&across);
    w.dns
        .txt(&across.txt_record.name, &[&["volley-verification="], &[token]]);
    assert_eq!(
        check(&w, "across.example.com").await.status.as_str(),
        "pending",
        "two records are not joined into one"
    );
}

#[tokio::test]
async fn case_differences_in_the_name_and_prefix_match_but_not_in_the_token() {
    let w = world().await;
    let registered = register(&w, "Shop.EXAMPLE.com").await;
    let published = token(&registered).to_owned();
    // The zone's owner name in upper case, the prefix as a DNS console might capitalise it.
    w.dns.txt(
        "_VOLLEY-CHALLENGE.SHOP.EXAMPLE.COM.",
        &[&[&format!("Volley-Verification={published}")]],
    );
    assert_eq!(check(&w, "shop.example.com").await.status.as_str(), "validated");

    let other = register(&w, "other.example.com").await;
    let swapped: String = token(&other)
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect();
    assert_ne!(swapped, token(&other));
    w.dns
        .txt(&other.txt_record.name, &[&[&format!("volley-verification={swapped}")]]);
    let checked = check(&w, "other.example.com").await;
    assert_eq!(checked.status.as_str(), "pending", "the token is case-sensitive");
}

#[tokio::test]
async fn nxdomain_is_a_miss_and_counts_towards_revocation() {
    let w = world().await;
    let registered = register(&w, "shop.example.com").await;
    let checked = check(&w, "shop.example.com").await;
    assert_eq!(checked.status.as_str(), "pending");
    assert_eq!(checked.consecutive_misses, 1);
    assert!(
        checked.last_error.unwrap_or_default().contains("NXDOMAIN"),
        "nothing is published yet"
    );
    publish(&w, &registered);
    assert_eq!(check(&w, "shop.example.com").await.status.as_str(), "validated");
    w.dns.remove(&registered.txt_record.name);
    let missed = check(&w, "shop.example.com").await;
    assert_eq!((missed.status.as_str(), missed.consecutive_misses), ("validated", 1));
}

#[tokio::test]
async fn a_server_that_never_answers_or_fails_changes_only_the_error_and_the_attempts() {
    let w = world().await;
    let registered = register(&w, "shop.example.com").await;
    publish(&w, &registered);
    let validated = check(&w, "shop.example.com").await;
    assert_eq!(validated.status.as_str(), "validated");

    w.dns.set(&registered.txt_record.name, Dns::Silence);
    let started = Instant::now();
    let timed_out = check(&w, "shop.example.com").await;
    assert!(started.elapsed() >= DNS_TIMEOUT, "it waited for the server");
    assert_eq!(timed_out.status.as_str(), "validated", "a timeout revokes nothing");
    assert_eq!((timed_out.attempts, timed_out.consecutive_misses), (2, 0));
    let error = timed_out.last_error.unwrap_or_default();
    assert!(error.contains("_volley-challenge.shop.example.com"), "{error}");
    assert!(
        error.to_lowercase().contains("timed out") || error.contains("timeout"),
        "{error}"
    );

    w.dns.set(&registered.txt_record.name, Dns::ServFail);
    let servfail = check(&w, "shop.example.com").await;
    assert_eq!((servfail.status.as_str(), servfail.attempts), ("validated", 3));
    let error = servfail.last_error.unwrap_or_default();
    assert!(error.contains("Server Failure"), "{error}");
    assert!(guard_allows(&w, "shop.example.com").await);

    // A pending domain is not expired, nor counted as missing, by a silent server either.
    let pending = register(&w, "silent.example.com").await;
    w.dns.set(&pending.txt_record.name, Dns::Silence);
    let still = check(&w, "silent.example.com").await;
    assert_eq!(
        (still.status.as_str(), still.attempts, still.consecutive_misses),
        ("pending", 1, 0)
    );
}

#[tokio::test]
async fn a_pending_domain_expires_after_seven_days_and_can_be_registered_afresh() {
    let w = world().await;
    let registered = register(&w, "shop.example.com").await;
    w.clock.advance(TimeDelta::days(7) - TimeDelta::seconds(1));
    assert_eq!(check(&w, "shop.example.com").await.status.as_str(), "pending");
    w.clock.advance(TimeDelta::seconds(1));
    publish(&w, &registered);
    let queries = w.dns.queries();
    let expired = check(&w, "shop.example.com").await;
    assert_eq!(
        expired.status.as_str(),
        "expired",
        "too late, even with the record now published"
    );
    assert_eq!(w.dns.queries(), queries, "an expired challenge is not looked up");
    assert_eq!(
        check(&w, "shop.example.com").await.status.as_str(),
        "expired",
        "expired is final"
    );

    let fresh = register(&w, "shop.example.com").await;
    assert_eq!(fresh.status.as_str(), "pending");
    assert_ne!(
        fresh.txt_record.value, registered.txt_record.value,
        "a new challenge, a new token"
    );
}

#[tokio::test]
async fn the_pending_ttl_is_configurable() {
    let mut settings = Settings::default();
    settings.policy.pending_ttl = Duration::from_secs(3600);
    let w = world_with(settings).await;
    register(&w, "shop.example.com").await;
    w.clock.advance(TimeDelta::hours(1));
    let swept = sweep(&w).await;
    assert_eq!((swept.expired, swept.lookups), (1, 0));
    let expired = stored(&w, "shop.example.com").await;
    assert_eq!(expired.status.as_str(), "expired");
}

#[tokio::test]
async fn a_validated_domain_is_revoked_after_three_consecutive_misses_in_sweeps() {
    let w = world().await;
    let registered = register(&w, "shop.example.com").await;
    publish(&w, &registered);
    assert_eq!(sweep(&w).await.validated, 1);

    // Not due again for 24 hours: a sweep before then looks nothing up.
    w.clock.advance(TimeDelta::hours(23));
    let queries = w.dns.queries();
    assert_eq!(sweep(&w).await.lookups, 0);
    assert_eq!(w.dns.queries(), queries);

    w.dns.remove(&registered.txt_record.name);
    w.clock.advance(TimeDelta::hours(1));
    let first = sweep(&w).await;
    assert_eq!((first.lookups, first.revoked), (1, 0));
    // A miss is checked again after an hour, not at every sweep.
    w.clock.advance(TimeDelta::minutes(30));
    assert_eq!(sweep(&w).await.lookups, 0);
    w.clock.advance(TimeDelta::minutes(30));
    assert_eq!(sweep(&w).await.revoked, 0, "two misses");
    assert!(
        guard_allows(&w, "shop.example.com").await,
        "still validated after two misses"
    );

    // The record comes back: the count starts again.
    publish(&w, &registered);
    w.clock.advance(TimeDelta::hours(1));
    let back = check(&w, "shop.example.com").await;
    assert_eq!((back.status.as_str(), back.consecutive_misses), ("validated", 0));

    w.dns.remove(&registered.txt_record.name);
    for hour in 0..3 {
        w.clock.advance(TimeDelta::hours(25));
        let swept = sweep(&w).await;
        assert_eq!(swept.revoked, u64::from(hour == 2), "sweep {hour}");
    }
    let revoked = check(&w, "shop.example.com").await;
    assert_eq!(revoked.status.as_str(), "revoked");
    assert_eq!(revoked.validated_at.as_deref(), Some("2026-11-23T09:00:00Z"));
    assert!(
        !guard_allows(&w, "shop.example.com").await,
        "the guard stops allowing it"
    );

    publish(&w, &registered);
    assert_eq!(
        check(&w, "shop.example.com").await.status.as_str(),
        "revoked",
        "revoked is final: register again"
    );
    let fresh = register(&w, "shop.example.com").await;
    assert_eq!(fresh.status.as_str(), "pending");
}

#[tokio::test]
async fn a_sweep_checks_every_pending_domain_and_only_the_validated_ones_due() {
    let w = world().await;
    for i in 0..5 {
        let registered = register(&w, &format!("p{i}.example.com")).await;
        if i < 3 {
            publish(&w, &registered);
        }
    }
    let old = register(&w, "old.example.com").await;
    publish(&w, &old);
    check(&w, "old.example.com").await;
    w.clock.advance(TimeDelta::hours(12));
    let recent = register(&w, "recent.example.com").await;
    publish(&w, &recent);
    check(&w, "recent.example.com").await;
    w.clock.advance(TimeDelta::hours(12));

    let queries = w.dns.queries();
    let swept = sweep(&w).await;
    assert_eq!(
        (swept.checked, swept.lookups, swept.validated, swept.finished),
        (6, 6, 3, true),
        "5 pending and the validated domain checked 24 hours ago, not the one checked 12 hours ago: {swept:?}"
    );
    assert_eq!(w.dns.queries() - queries, 6, "one query per lookup");
    let recent = stored(&w, "recent.example.com").await;
    assert_eq!(recent.attempts, 1, "the recent one was left alone");

    w.clock.advance(TimeDelta::minutes(1));
    let next = sweep(&w).await;
    assert_eq!(
        (next.checked, next.validated),
        (2, 0),
        "the next sweep: the two still pending"
    );
}

#[tokio::test]
async fn a_scheduled_event_runs_a_sweep() {
    let w = world().await;
    let registered = register(&w, "shop.example.com").await;
    publish(&w, &registered);
    match invoke(&w, event("scheduled-event")).await {
        Ok(Answer::Sweep(swept)) => assert_eq!(swept.validated, 1),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_runs_at_most_the_configured_lookups_at_once() {
    let w = world_with(Settings {
        max_concurrent_lookups: 4,
        ..Settings::default()
    })
    .await;
    for i in 0..24 {
        register(&w, &format!("d{i}.example.com")).await;
    }
    w.dns.set_delay(Duration::from_millis(100));
    let started = Instant::now();
    let swept = sweep(&w).await;
    assert_eq!(swept.lookups, 24);
    assert_eq!(w.dns.most_in_flight(), 4, "four lookups at a time, and no more");
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "24 lookups of 100 ms, 4 at a time"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_stops_before_the_deadline_and_the_next_run_does_the_rest() {
    let mut w = world_with(Settings {
        max_concurrent_lookups: 2,
        deadline_margin: Duration::from_millis(500),
        ..Settings::default()
    })
    .await;
    w.deps.clock = Arc::new(SystemClock);
    for i in 0..30 {
        register(&w, &format!("d{i}.example.com")).await;
    }
    w.dns.set_delay(Duration::from_millis(100));
    let deadline = Utc::now() + TimeDelta::milliseconds(1_500);
    let first = match invoke_with(&w, event("sweep"), Some(deadline)).await {
        Ok(Answer::Sweep(answer)) => answer,
        other => panic!("{other:?}"),
    };
    assert!(Utc::now() < deadline, "finished before the deadline");
    assert!(!first.finished, "{first:?}");
    assert!(
        (1..30).contains(&first.checked),
        "some, not all: about a second of 2 lookups per 100 ms: {first:?}"
    );

    let second = sweep(&w).await;
    assert!(second.finished);
    for i in 0..30 {
        let record = stored(&w, &format!("d{i}.example.com")).await;
        assert!(record.attempts >= 1, "d{i} was checked by one of the two runs");
    }
}

/// The registry and the guard normalise a name through the one function (UTS #46, nontransitional), so a
/// domain registered in Unicode is the one a target URL names, in either spelling. `ß` and `ς` stay
/// themselves: transitional processing would read them as `ss` and `σ`, which are other names.
#[tokio::test]
async fn an_internationalised_domain_validated_here_is_the_one_the_guard_allows() {
    let w = world().await;
    let resolver = DnsResolver::with_nameservers(&[w.dns.address], DNS_TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    let guard = TargetGuard::new(w.store.clone(), Arc::new(resolver), AllowList::default(), None);
    let cases = [
        (
            "straße.example",
            "xn--strae-oqa.example",
            ["https://shop.straße.example/", "https://shop.xn--strae-oqa.example/"],
            "https://shop.strasse.example/",
        ),
        (
            "Βόλος.example",
            "xn--nxasmm1c.example",
            ["https://api.βόλος.example/", "https://api.xn--nxasmm1c.example/"],
            "https://api.βόλοσ.example/",
        ),
        (
            "München.test",
            "xn--mnchen-3ya.test",
            ["https://shop.münchen.test/", "https://shop.xn--mnchen-3ya.test/"],
            "https://shop.munchen.test/",
        ),
    ];
    for (typed, stored, urls, other) in cases {
        let registered = register(&w, typed).await;
        assert_eq!(registered.domain, stored, "{typed}");
        publish(&w, &registered);
        assert_eq!(check(&w, stored).await.status.as_str(), "validated", "{typed}");
        let label = urls[0]
            .trim_start_matches("https://")
            .split('.')
            .next()
            .unwrap_or_default();
        w.dns.set(
            &format!("{label}.{stored}"),
            Dns::Addresses(vec![[93, 184, 215, 14].into()]),
        );
        for url in urls {
            let target = guard.vet("acme", url).await.unwrap_or_else(|e| panic!("{url}: {e}"));
            assert!(
                target.reason.contains(&format!("subdomain of {stored}")),
                "{url}: {}",
                target.reason
            );
        }
        let refused = guard.vet("acme", other).await;
        assert!(
            matches!(refused, Err(Refusal::NotValidated { .. })),
            "{other} is another name: {refused:?}"
        );
    }
}
