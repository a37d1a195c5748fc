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
use volley_core::clock::SystemClock;
use volley_core::model::result::{MAX_INLINE_BYTES, ResultMessage};
use volley_core::ports::ResultArchive;
use volley_engine::guard::{AllowList, DnsResolver, TargetGuard};
use volley_testkit::target::{Behaviour, start};
use volley_testkit::{emulator, fixtures};
use worker::{Deps, WorkerError, function_handler};

use crate::handler::FailsFirst;

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
    let resolver = DnsResolver::with_nameservers(
        &["127.0.0.1:9".parse().unwrap_or_else(|e| panic!("{e}"))],
        Duration::from_millis(200),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let archive = Arc::new(S3ResultArchive::new(&config, &bucket));
    let deps = Deps {
        guard: TargetGuard::new(
            Arc::new(MemoryDomainStore::new()),
            Arc::new(resolver),
            AllowList::new([target.address]),
            None,
        ),
        claims: Arc::new(DynamoCallClaims::new(&config, &calls, &tests)),
        queue: Arc::new(FailsFirst {
            inner: Arc::new(SqsResultQueue::new(&config, &queue_url)),
            failed: Default::default(),
        }),
        archive: archive.clone(),
        clock: Arc::new(SystemClock),
        deadline_margin: Duration::from_secs(1),
        inline_limit: MAX_INLINE_BYTES,
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
