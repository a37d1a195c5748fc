//! run-load against the real greeter served in the test (its store in memory, slowed on demand), with the
//! run index and archive in memory: a first run reports no baseline, a slowed run is caught as a
//! regression, an improvement passes, the average merges the last runs, and bad payloads are refused naming
//! the field.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::NaiveDate;
use lambda_runtime::{Context, LambdaEvent};
use run_load::{Deps, RunError, function_handler};
use serde_json::{Value, json};
use volley_core::adapters::memory::{
    MemoryBirthdayStore, MemoryDomainStore, MemoryResultArchive, MemoryRunClaims, MemoryRunIndex, MemorySecretStore,
};
use volley_core::clock::SystemClock;
use volley_core::model::birthday::Username;
use volley_core::ports::{BirthdayStore, ResultArchive, StoreError};
use volley_core::secrets::Secrets;
use volley_engine::guard::resolve::DnsResolver;
use volley_engine::guard::{AllowList, TargetGuard};
use volley_engine::load::request::Sensitive;

/// The greeter's store, slowed by `delay` on every call: a slow target without touching the greeter.
#[derive(Debug, Default)]
struct SlowStore {
    inner: MemoryBirthdayStore,
    delay: Mutex<Duration>,
    /// Every call fails (the greeter answers 500).
    broken: std::sync::atomic::AtomicBool,
}

impl SlowStore {
    async fn pause(&self) -> Result<(), StoreError> {
        let delay = *self.delay.lock().unwrap_or_else(|e| e.into_inner());
        tokio::time::sleep(delay).await;
        if self.broken.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(StoreError::Unavailable("broken on purpose".into()));
        }
        Ok(())
    }
}

#[async_trait]
impl BirthdayStore for SlowStore {
    async fn put(&self, user: &Username, born: NaiveDate) -> Result<(), StoreError> {
        self.pause().await?;
        self.inner.put(user, born).await
    }
    async fn get(&self, user: &Username) -> Result<Option<NaiveDate>, StoreError> {
        self.pause().await?;
        self.inner.get(user).await
    }
}

/// The greeter on loopback, and run-load's deps with that address allowed.
struct World {
    store: Arc<SlowStore>,
    host: String,
    archive: Arc<MemoryResultArchive>,
    deps: Deps,
}

async fn world() -> World {
    let store = Arc::new(SlowStore::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let address: SocketAddr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let greeter = Arc::new(greeter::Deps {
        store: store.clone(),
        clock: Arc::new(SystemClock),
    });
    tokio::spawn(greeter::local::serve(greeter, listener));
    let archive = Arc::new(MemoryResultArchive::default());
    let claims = Arc::new(MemoryRunClaims::default());
    let resolver = DnsResolver::with_nameservers(
        &["127.0.0.1:9".parse().unwrap_or_else(|e| panic!("{e}"))],
        Duration::from_secs(1),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let deps = Deps {
        guard: TargetGuard::new(
            Arc::new(MemoryDomainStore::new()),
            Arc::new(resolver),
            AllowList::new([address]),
            None,
        ),
        archive: archive.clone(),
        index: Arc::new(MemoryRunIndex::default()),
        claims: claims.clone(),
        results_bucket: "results".into(),
        secrets: Secrets {
            store: Arc::new(MemorySecretStore::with([
                ("/volley/acme/greeter-token", "s3cr3t"),
                ("/volley/globex/greeter-token", "theirs"),
            ])),
            root: "/volley".into(),
        },
        sensitive: Sensitive::default(),
        clock: Arc::new(SystemClock),
        organisation_id: Some("acme".into()),
        log_group_name: "/aws/lambda/volley-run-load".into(),
        log_stream_name: "2026/11/23/[$LATEST]test".into(),
        deadline_margin: Duration::from_secs(1),
        request_timeout: Duration::from_secs(5),
        stats_every: Duration::from_millis(500),
    };
    World {
        store,
        host: format!("http://{address}"),
        archive,
        deps,
    }
}

fn payload(world: &World, extra: Value) -> Value {
    let mut payload = json!({
        "suite": "greeter", "host": world.host, "spawn_rate": 20, "users": 4, "spawned_runtime": "2s",
        "only_summary": true
    });
    if let (Some(payload), Value::Object(extra)) = (payload.as_object_mut(), extra) {
        payload.extend(extra);
    }
    payload
}

fn in_a_minute() -> Context {
    let mut context = Context::default();
    context.deadline = (chrono::Utc::now().timestamp_millis() + 60_000) as u64;
    context
}

async fn run(world: &World, extra: Value) -> Result<Value, RunError> {
    function_handler(&world.deps, LambdaEvent::new(payload(world, extra), in_a_minute())).await
}

async fn ok(world: &World, extra: Value) -> Value {
    run(world, extra).await.unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn a_first_run_succeeds_says_it_has_no_baseline_and_is_stored() {
    let world = world().await;
    let answer = ok(
        &world,
        json!({"compare": {"type": "previous", "tag": "ci"}, "store": {"tags": ["ci"]}}),
    )
    .await;
    assert_eq!(answer["result"], "success", "{answer}");
    let message = answer["message"].as_str().unwrap_or_default();
    assert!(message.contains("no baseline"), "{message}");
    let total = &answer["summary"]["total"];
    assert!(total["requests"].as_u64().unwrap_or(0) >= 20, "{total}");
    assert_eq!(total["failures"], 0, "PUT then GET on the real greeter: {answer}");
    let tasks: Vec<&str> = answer["summary"]["tasks"]
        .as_array()
        .map(|t| t.iter().filter_map(|t| t["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(tasks, ["put birthday", "get greeting"]);
    let puts = answer["summary"]["tasks"][0]["requests"].as_u64().unwrap_or(0);
    assert!(
        puts >= 4,
        "each user stores its birthday first (and again by weight): {puts}"
    );
    for field in ["p50_ms", "p95_ms", "p99_ms", "max_ms", "avg_ms", "rps"] {
        assert!(total[field].as_f64().is_some_and(|v| v > 0.0), "{field}: {total}");
    }
    assert_eq!(answer["log_group_name"], "/aws/lambda/volley-run-load");
    let key = answer["stored"][0].as_str().unwrap_or_default();
    assert!(
        key.starts_with("runs/org=acme/tag=ci/dt=") && key.ends_with(".json"),
        "{key}"
    );
    let stored = world.archive.get(key).await.ok().flatten().unwrap_or_default();
    let stored: Value = serde_json::from_slice(&stored).unwrap_or_default();
    assert_eq!(stored["total"]["requests"], total["requests"]);
}

#[tokio::test]
async fn runs_are_kept_per_organisation_and_a_run_for_none_is_refused() {
    let world = world().await;
    // acme (the function's ORGANISATION_ID) stores a run tagged nightly; globex's first run of the same tag
    // finds no baseline, and is stored apart.
    ok(&world, json!({"store": {"tags": ["nightly"]}})).await;
    let theirs = ok(
        &world,
        json!({"organisation_id": "globex", "compare": {"type": "previous", "tag": "nightly"},
               "store": {"tags": ["nightly"]}}),
    )
    .await;
    let message = theirs["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("no baseline"),
        "another organisation's runs of the same tag are not a baseline: {message}"
    );
    let key = theirs["stored"][0].as_str().unwrap_or_default();
    assert!(key.starts_with("runs/org=globex/tag=nightly/"), "{key}");
    let ours = ok(&world, json!({"compare": {"type": "previous", "tag": "nightly"}})).await;
    assert_eq!(
        ours["baseline"]["runs"].as_array().map(Vec::len),
        Some(1),
        "acme's baseline is its own run: {ours}"
    );

    let mut anonymous = world.deps.clone();
    anonymous.organisation_id = None;
    let refused = function_handler(&anonymous, LambdaEvent::new(payload(&world, json!({})), in_a_minute()))
        .await
        .err();
    assert!(
        matches!(&refused, Some(RunError::BadRequest(m)) if m.starts_with("organisation_id: name the organisation")),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_retried_run_id_answers_the_first_run_and_never_runs_again() {
    let world = world().await;
    let once = json!({"run_id": "nightly-1", "store": {"tags": ["once"]}});
    let first = ok(&world, once.clone()).await;
    assert_eq!(first["run_id"], "nightly-1", "the caller's id names the run");
    let retried = ok(&world, once.clone()).await;
    assert_eq!(
        retried, first,
        "a retry answers the first run's answer, field for field"
    );
    let stored: Vec<String> = world
        .archive
        .objects
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .keys()
        .filter(|k| k.starts_with("runs/org=acme/tag=once/"))
        .cloned()
        .collect();
    assert_eq!(stored.len(), 1, "the run was run and stored once: {stored:?}");

    // The same id for another request is refused; another organisation's same id is its own run.
    let other = run(&world, json!({"run_id": "nightly-1", "users": 2})).await.err();
    assert!(matches!(&other, Some(RunError::RunIdReused { .. })), "{other:?}");
    let theirs = ok(&world, json!({"run_id": "nightly-1", "organisation_id": "globex"})).await;
    assert_eq!(theirs["run_id"], "nightly-1");
    assert_ne!(theirs["summary"], first["summary"], "a run of its own");

    // A run under way in another invocation, and one whose invocation died, are never run again.
    let now = chrono::Utc::now().timestamp();
    let payload_of = |run_id: &str| payload(&world, json!({"run_id": run_id}));
    let live = volley_core::model::run::fingerprint(&payload_of("live"));
    let claims = &world.deps.claims;
    let held = claims.claim("acme", "live", &live, now, now + 600).await.ok();
    assert_eq!(held, Some(volley_core::ports::RunClaim::Fresh));
    let running = run(&world, json!({"run_id": "live"})).await.err();
    assert!(
        matches!(&running, Some(RunError::RunInProgress { run_id, .. }) if run_id == "live"),
        "{running:?}"
    );
    let dead = volley_core::model::run::fingerprint(&payload_of("dead"));
    claims
        .claim("acme", "dead", &dead, now - 2_000, now - 1_000)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let lost = run(&world, json!({"run_id": "dead"})).await.err();
    assert!(matches!(&lost, Some(RunError::RunLost { .. })), "{lost:?}");
    let bad = run(&world, json!({"run_id": "no spaces"})).await.err();
    assert!(
        matches!(&bad, Some(RunError::BadRequest(m)) if m.starts_with("run_id: ")),
        "{bad:?}"
    );
}

/// A suite that only stores each row's birthday, fed from a CSV file: 2 users, 8 rows, each user walking
/// its own 4 in turn; every task is a PUT, so every row is sent within the run.
const FEEDER: &str = include_str!("../../../../testdata/suites/people.toml");

/// Every row of the packaged example's CSV, as (name, date of birth).
fn people() -> Vec<(String, NaiveDate)> {
    include_str!("../../suites/greeter-users.csv")
        .lines()
        .skip(1)
        .filter_map(|line| line.split_once(','))
        .map(|(name, born)| (name.to_owned(), born.parse().unwrap_or_default()))
        .collect()
}

/// Asserts the greeter holds every row's birthday: each row's values were sent.
async fn every_row_was_sent(world: &World) {
    for (name, born) in people() {
        let user = Username::parse(&name).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            world.store.inner.get(&user).await.ok().flatten(),
            Some(born),
            "{name}'s row was sent"
        );
    }
}

#[tokio::test]
async fn a_suite_from_the_bucket_runs_fed_from_the_csv_beside_it() {
    let world = world().await;
    for (key, text) in [
        ("suites/acme/people/suite.toml", FEEDER),
        (
            "suites/acme/people/people.csv",
            include_str!("../../suites/greeter-users.csv"),
        ),
    ] {
        world
            .archive
            .put(key, text.as_bytes().to_vec())
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
    }
    let answer = ok(
        &world,
        json!({"suite": "s3://results/suites/acme/people/suite.toml", "users": 2, "spawn_rate": 10}),
    )
    .await;
    assert_eq!(answer["result"], "success", "{answer}");
    every_row_was_sent(&world).await;

    // Another organisation's key, another bucket, a missing key: refused naming the suite.
    for (suite, kind, says) in [
        (
            "suites/globex/people/suite.toml",
            "InvalidSuite",
            "a key under suites/acme/",
        ),
        (
            "s3://elsewhere/suites/acme/people/suite.toml",
            "InvalidSuite",
            "in the results bucket",
        ),
        ("suites/acme/none.toml", "InvalidSuite", "is not in the results bucket"),
        ("checkout", "UnknownSuite", "greeter, greeter-feeder"),
    ] {
        let error = run(&world, json!({"suite": suite})).await.err();
        let message = error.as_ref().map(ToString::to_string).unwrap_or_default();
        assert_eq!(error.map(|e| e.kind()), Some(kind), "{suite}: {message}");
        assert!(
            message.starts_with("suite") && message.contains(says),
            "{suite}: {message}"
        );
    }
}

#[tokio::test]
async fn an_inline_suite_runs_and_a_bad_one_is_refused_naming_the_field() {
    let world = world().await;
    let suite: toml::Value =
        toml::from_str(&FEEDER.replace("people.csv", "suites/acme/feed.csv")).unwrap_or_else(|e| panic!("{e}"));
    world
        .archive
        .put(
            "suites/acme/feed.csv",
            include_str!("../../suites/greeter-users.csv").as_bytes().to_vec(),
        )
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let inline = serde_json::to_value(&suite).unwrap_or_default();
    let answer = ok(&world, json!({"suite": inline.clone(), "users": 2, "spawn_rate": 10})).await;
    assert_eq!(answer["result"], "success", "{answer}");
    every_row_was_sent(&world).await;

    let mut bad = inline.clone();
    bad["tasks"][0]["weight"] = json!("heavy");
    let error = run(&world, json!({"suite": bad})).await.err();
    let message = error.as_ref().map(ToString::to_string).unwrap_or_default();
    assert!(
        message.contains("is invalid: tasks[0].weight: invalid type: string \"heavy\""),
        "{message}"
    );
    let mut unknown = inline.clone();
    unknown["wait"]["mean"] = json!("1s");
    let message = run(&world, json!({"suite": unknown}))
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(message.contains("wait.mean: unknown field `mean`"), "{message}");
    let mut no_column = inline;
    no_column["tasks"][0]["path"] = json!("/hello/{{data.surname}}");
    let message = run(&world, json!({"suite": no_column}))
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        message.contains("{{data.surname}} names no column of the data file (it has name, born)"),
        "{message}"
    );
}

#[tokio::test]
async fn a_slowed_target_is_caught_as_a_regression_with_its_numbers() {
    let world = world().await;
    ok(&world, json!({"store": {"tags": ["nightly"]}})).await;
    // Far above what a loaded machine adds to the baseline's tail (40 ms once was not: CI saw a baseline p99
    // inflated enough that the slowed run's was no regression).
    *world.store.delay.lock().unwrap_or_else(|e| e.into_inner()) = Duration::from_millis(200);
    let answer = ok(&world, json!({"compare": {"type": "previous", "tag": "nightly"}})).await;
    assert_eq!(answer["result"], "failed", "{answer}");
    let message = answer["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("p95 regression") && message.contains("against a baseline of"),
        "{message}"
    );
    assert!(
        answer["findings"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["metric"] == "p99" && f["level"] == "fail")),
        "{answer}"
    );
    assert_eq!(answer["baseline"]["runs"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn an_improvement_passes() {
    let world = world().await;
    *world.store.delay.lock().unwrap_or_else(|e| e.into_inner()) = Duration::from_millis(40);
    ok(&world, json!({"store": {"tags": ["nightly"]}})).await;
    *world.store.delay.lock().unwrap_or_else(|e| e.into_inner()) = Duration::ZERO;
    let answer = ok(&world, json!({"compare": {"type": "previous", "tag": "nightly"}})).await;
    assert_eq!(answer["result"], "success", "{answer}");
    assert!(
        answer["findings"]
            .as_array()
            .is_some_and(|f| f.iter().all(|f| f["metric"] == "requests per second")),
        "{answer}"
    );
}

#[tokio::test]
async fn the_average_merges_the_last_runs_of_the_same_shape() {
    let world = world().await;
    for _ in 0..3 {
        ok(&world, json!({"store": {"tags": ["avg"]}})).await;
    }
    ok(&world, json!({"users": 2, "store": {"tags": ["avg"]}})).await;
    let answer = ok(
        &world,
        json!({"compare": {"type": "average", "tag": "avg", "load_limit": 2}}),
    )
    .await;
    assert_eq!(answer["baseline"]["runs"].as_array().map(Vec::len), Some(2), "{answer}");
    let merged = answer["baseline"]["total"]["requests"].as_u64().unwrap_or(0);
    assert!(merged >= 40, "two runs' requests, merged: {merged}");
    let other = ok(
        &world,
        json!({"users": 2, "compare": {"type": "average", "tag": "avg"}}),
    )
    .await;
    assert_eq!(
        other["baseline"]["runs"].as_array().map(Vec::len),
        Some(1),
        "another shape is another baseline"
    );
    let null = ok(
        &world,
        json!({"compare": {"type": "average", "tag": "avg", "load_limit": null}}),
    )
    .await;
    assert_eq!(
        null["baseline"]["runs"].as_array().map(Vec::len),
        Some(3),
        "load_limit null is the default (5): all three runs of the shape: {null}"
    );
}

#[tokio::test]
async fn failures_above_the_suites_limit_fail_the_run_without_a_baseline() {
    let world = world().await;
    world.store.broken.store(true, std::sync::atomic::Ordering::SeqCst);
    let answer = ok(&world, json!({})).await;
    assert_eq!(answer["result"], "failed", "{answer}");
    let message = answer["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("failure ratio 100.00% is above the suite's limit of 1%"),
        "{message}"
    );
}

#[tokio::test]
async fn bad_payloads_are_refused_naming_the_field() {
    let world = world().await;
    for (extra, needle) in [
        (json!({"users": -3}), "users: -3 must be from 1"),
        (
            json!({"suite": "checkout"}),
            "suite: \"checkout\" is unknown; the packaged suites are greeter, greeter-feeder",
        ),
        (
            json!({"spawned_runtime": "10x"}),
            "spawned_runtime: \"10x\" is not a duration",
        ),
        (json!({"spawned_runtime": "2m"}), "the invocation has"),
        (
            json!({"spawned_runtime": "100000000h"}),
            "spawned_runtime: \"100000000h\" must be above 0 and at most 15m",
        ),
        (
            json!({"spawned_runtime": "580000000000years"}),
            "spawned_runtime: \"580000000000years\" must be above 0 and at most 15m",
        ),
        (json!({"spawn_rate": 1e308}), "spawn_rate: "),
        (json!({"users": 1001}), "users: 1001 must be from 1 to 1000"),
        (
            json!({"compare": {"type": "average", "tag": "x", "load_limit": 51}}),
            "compare.load_limit: 51 must be from 1 to 50",
        ),
        (
            json!({"store": {"tags": ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"]}}),
            "store.tags: at most 10 tags",
        ),
        (json!({"spawn_rate": 0}), "spawn_rate"),
        (json!({"compare": {"type": "median", "tag": "x"}}), "compare.type"),
        (
            json!({"compare": {"type": "previous", "tag": "x", "load_limit": 0}}),
            "compare.load_limit",
        ),
        (json!({"store": {"tags": ["no spaces"]}}), "store.tags[0]"),
        (json!({"store": {"tags": []}}), "store.tags: name at least one tag"),
        (json!({"colour": "red"}), "colour: unknown field `colour`"),
        (
            json!({"compare": {"type": "previous", "tag": "x", "limit": 3}}),
            "compare.limit: unknown field `limit`",
        ),
        (
            json!({"store": {"tags": ["ci"], "bucket": "mine"}}),
            "store.bucket: unknown field `bucket`",
        ),
        (
            json!({"organisation_id": "acme corp"}),
            "organisation_id: \"acme corp\" must be 1 to 128 letters, digits",
        ),
        (json!({"host": "http://10.0.0.1/"}), "may not be load-tested"),
    ] {
        let error = run(&world, extra.clone())
            .await
            .err()
            .map(|e| volley_core::error_chain(&e))
            .unwrap_or_default();
        assert!(error.contains(needle), "{extra}: {error:?} should say {needle:?}");
    }
}

#[tokio::test]
async fn a_suites_secret_reference_resolves_for_its_own_organisation_and_is_refused_for_anothers() {
    let world = world().await;
    let target = volley_testkit::target::start(volley_testkit::target::Behaviour::default()).await;
    let mut deps = world.deps.clone();
    deps.guard = TargetGuard::new(
        Arc::new(MemoryDomainStore::new()),
        Arc::new(
            DnsResolver::with_nameservers(
                &["127.0.0.1:9".parse().unwrap_or_else(|e| panic!("{e}"))],
                Duration::from_secs(1),
            )
            .unwrap_or_else(|e| panic!("{e}")),
        ),
        AllowList::new([target.address]),
        None,
    );
    let suite = |reference: &str| {
        json!({"description": "with a token", "wait": {"min": "20ms", "max": "50ms"},
               "tasks": [{"name": "get", "method": "GET", "path": "/",
                          "headers": {"authorization": format!("Bearer {{{{ssm:{reference}}}}}")}}]})
    };
    let payload = |suite: Value| {
        json!({"suite": suite, "host": format!("http://{}", target.address), "spawn_rate": 1, "users": 1,
               "spawned_runtime": "1s", "only_summary": true})
    };
    let answer = function_handler(
        &deps,
        LambdaEvent::new(payload(suite("/volley/acme/greeter-token")), in_a_minute()),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(answer["result"], "success", "{answer}");
    let sent = target.authorizations();
    assert!(
        !sent.is_empty() && sent.iter().all(|a| a.as_deref() == Some("Bearer s3cr3t")),
        "every request carried the resolved secret: {sent:?}"
    );
    assert!(!answer.to_string().contains("s3cr3t"), "the answer holds no secret");

    let refused = function_handler(
        &deps,
        LambdaEvent::new(payload(suite("/volley/globex/greeter-token")), in_a_minute()),
    )
    .await
    .err();
    let message = refused.as_ref().map(ToString::to_string).unwrap_or_default();
    assert_eq!(refused.map(|e| e.kind()), Some("InvalidSuite"), "{message}");
    assert!(
        message.contains("headers.authorization: {{ssm:/volley/globex/greeter-token}} is outside /volley/acme/"),
        "{message}"
    );
    assert!(!message.contains("theirs"), "{message}");
    assert_eq!(target.authorizations().len(), sent.len(), "nothing was sent");
}
