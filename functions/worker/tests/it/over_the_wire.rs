//! The worker in process with its real adapters against the local AWS emulator (DynamoDB claims, S3, SQS),
//! with one fault injected around the real queue: its first send fails, as a dropped connection would.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use lambda_runtime::{Context, LambdaEvent};
use volley_core::adapters::dynamodb::calls::DynamoCallClaims;
use volley_core::adapters::memory::MemoryDomainStore;
use volley_core::adapters::s3::S3ResultArchive;
use volley_core::adapters::sqs::SqsResultQueue;
use volley_core::adapters::ssm::SsmSecretStore;
use volley_core::clock::SystemClock;
use volley_core::model::result::{MAX_INLINE_BYTES, ResultMessage};
use volley_core::ports::ResultArchive;
use volley_core::secrets::Secrets;
use volley_engine::guard::{AllowList, DnsResolver, TargetGuard};
use volley_engine::load::request::Sensitive;
use volley_testkit::target::{Behaviour, start};
use volley_testkit::{emulator, fixtures};
use worker::{Deps, WorkerError, function_handler};

use crate::handler::FailsFirst;

/// A guard that lets `address` through (allow-listed) and resolves nothing: its resolver is a closed port,
/// so an accidental lookup fails fast instead of leaving the machine.
fn allowing(address: std::net::SocketAddr) -> TargetGuard {
    let resolver = DnsResolver::with_nameservers(
        &["127.0.0.1:9".parse().unwrap_or_else(|e| panic!("{e}"))],
        Duration::from_millis(200),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    TargetGuard::new(
        Arc::new(MemoryDomainStore::new()),
        Arc::new(resolver),
        AllowList::new([address]),
        None,
    )
}

fn user_call(url: &str, call_id: &str) -> LambdaEvent<EventBridgeEvent<serde_json::Value>> {
    let path = format!(
        "{}/../../testdata/events/worker/user-call.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut event: EventBridgeEvent<serde_json::Value> =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    event.detail["request"]["url"] = url.into();
    event.detail["callId"] = call_id.into();
    let mut context = Context::default();
    let in_a_minute = SystemTime::now() + Duration::from_secs(60);
    context.deadline = in_a_minute
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    LambdaEvent::new(event, context)
}

/// At most once load, at least once results, over the wire: the first delivery fires the call, stores the
/// result in S3 and marks its claim, then fails to send it; the retry finds the claim stored and sends the
/// stored result, firing nothing. The queue ends with exactly one message, and it leads to the result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_delivery_is_redelivered_from_s3_by_the_retry_and_the_call_fires_once() {
    let config = emulator::sdk_config().await;
    let (calls, tests, bucket, queue) = (
        emulator::unique("calls-"),
        emulator::unique("tests-"),
        emulator::unique("results-"),
        emulator::unique("results-"),
    );
    fixtures::create_calls_table(&config, &calls).await;
    fixtures::create_tests_table(&config, &tests).await;
    fixtures::create_bucket(&config, &bucket).await;
    let queue_url = fixtures::create_queue(&config, &queue).await;

    let target = start(Behaviour::default()).await;
    let archive = Arc::new(S3ResultArchive::new(&config, &bucket));
    let deps = Deps {
        guard: allowing(target.address),
        claims: Arc::new(DynamoCallClaims::new(&config, &calls, &tests)),
        queue: Arc::new(FailsFirst {
            inner: Arc::new(SqsResultQueue::new(&config, &queue_url)),
            failed: Default::default(),
        }),
        archive: archive.clone(),
        clock: Arc::new(SystemClock),
        deadline_margin: Duration::from_secs(1),
        inline_limit: MAX_INLINE_BYTES,
        secrets: Secrets {
            store: Arc::new(SsmSecretStore::new(&config)),
            root: "/volley".into(),
        },
        sensitive: Sensitive::default(),
        stops: Arc::new(volley_core::adapters::memory::MemoryOrchestrationStore::new()),
        stop_poll: Duration::from_millis(200),
        chunk_interval: worker::DEFAULT_CHUNK_INTERVAL,
        limits: Arc::new(volley_core::adapters::memory::MemoryDomainStore::new()),
    };
    let url = format!("http://{}/", target.address);
    let call_id = emulator::unique("call-");

    let first = function_handler(&deps, user_call(&url, &call_id)).await;
    assert!(matches!(first, Err(WorkerError::Delivery(_))), "{first:?}");
    assert_eq!(target.arrivals().len(), 50, "the call fired");

    let retry = function_handler(&deps, user_call(&url, &call_id))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((retry.status, retry.requests), ("redelivered", 0));
    assert_eq!(target.arrivals().len(), 50, "the retry fired nothing");

    let again = function_handler(&deps, user_call(&url, &call_id))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        again.status, "redelivered",
        "every later delivery sends the stored result, none fires"
    );

    let mut bodies = Vec::new();
    for _ in 0..5 {
        bodies.extend(fixtures::receive(&config, &queue_url, 1).await);
        if bodies.len() >= 2 {
            break;
        }
    }
    assert_eq!(bodies.len(), 2, "one message per successful delivery: {bodies:?}");
    for body in &bodies {
        let Ok(ResultMessage::Stored { key, .. }) = ResultMessage::from_json(body) else {
            panic!("a pointer to the stored result: {body}")
        };
        let stored = archive
            .get(&key)
            .await
            .unwrap_or_else(|e| panic!("{e:?}"))
            .unwrap_or_else(|| panic!("{key} is in the bucket"));
        let Ok(ResultMessage::Inline(result)) = ResultMessage::from_json(&String::from_utf8_lossy(&stored)) else {
            panic!("the stored object is the whole result message")
        };
        assert_eq!(
            (result.call_id.as_str(), result.report.total.requests),
            (call_id.as_str(), 50)
        );
    }
}

/// Secrets by reference over the wire: a SecureString in the emulator's SSM Parameter Store, named in a
/// header by its organisation's call, reaches the target resolved; the same reference in another
/// organisation's call is refused before anything is read or claimed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ssm_reference_resolves_for_its_own_organisation_and_is_refused_for_anothers() {
    let config = emulator::sdk_config().await;
    let organisation = emulator::unique("acme");
    let path = format!("/volley/{organisation}/api-token");
    let secret = emulator::unique("s3cr3t");
    fixtures::put_secret(&config, &path, &secret).await;
    let target = start(Behaviour::default()).await;
    let claims = Arc::new(volley_core::adapters::memory::MemoryCallClaims::new());
    let deps = Deps {
        guard: allowing(target.address),
        claims: claims.clone(),
        queue: Arc::new(volley_core::adapters::memory::MemoryResultQueue::default()),
        archive: Arc::new(volley_core::adapters::memory::MemoryResultArchive::default()),
        clock: Arc::new(SystemClock),
        deadline_margin: Duration::from_secs(1),
        inline_limit: MAX_INLINE_BYTES,
        secrets: Secrets {
            store: Arc::new(SsmSecretStore::new(&config)),
            root: "/volley".into(),
        },
        sensitive: Sensitive::default(),
        stops: Arc::new(volley_core::adapters::memory::MemoryOrchestrationStore::new()),
        stop_poll: Duration::from_millis(200),
        chunk_interval: worker::DEFAULT_CHUNK_INTERVAL,
        limits: Arc::new(volley_core::adapters::memory::MemoryDomainStore::new()),
    };
    let url = format!("http://{}/", target.address);
    let call = |organisation: &str, call_id: &str| {
        let mut event = user_call(&url, call_id);
        event.payload.detail["organisationId"] = organisation.into();
        event.payload.detail["request"]["headers"]["authorization"] = format!("Bearer {{{{ssm:{path}}}}}").into();
        event
    };
    let own = function_handler(&deps, call(&organisation, &emulator::unique("own-")))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(own.status, "completed");
    let sent = target.authorizations();
    assert!(
        !sent.is_empty()
            && sent
                .iter()
                .all(|a| a.as_deref() == Some(format!("Bearer {secret}").as_str())),
        "every request carried the resolved secret ({} requests)",
        sent.len()
    );

    let other = emulator::unique("globex");
    let refused = function_handler(&deps, call(&other, "theirs")).await.err();
    let message = refused.as_ref().map(ToString::to_string).unwrap_or_default();
    assert_eq!(refused.map(|e| e.kind()), Some("InvalidCall"), "{message}");
    assert!(message.contains(&format!("is outside /volley/{other}/")), "{message}");
    assert!(!message.contains(&secret), "no value in the message: {message}");
    assert_eq!(target.authorizations().len(), sent.len(), "nothing fired");

    let missing = function_handler(&deps, {
        let mut event = call(&organisation, &emulator::unique("missing-"));
        event.payload.detail["request"]["headers"]["authorization"] =
            format!("{{{{ssm:/volley/{organisation}/nothing}}}}").into();
        event
    })
    .await
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(missing.contains("does not exist"), "{missing}");
}
