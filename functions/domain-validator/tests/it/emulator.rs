//! The domain-validator over the wire: its handler on the DynamoDB adapter in the local AWS emulator (a
//! table of its own, with the status-dueAt index) and a real DNS server on loopback.

use std::sync::Arc;
use std::time::Duration;

use lambda_runtime::{Context, LambdaEvent};
use serde_json::json;
use volley_core::adapters::dynamodb::domains::DynamoDomainStore;
use volley_core::clock::SystemClock;
use volley_core::ports::DomainStore;
use volley_engine::guard::DnsResolver;
use volley_localdns::LocalDns;
use volley_testkit::emulator;
use volley_testkit::fixtures;

use domain_validator::{Answer, Deps, Settings, function_handler};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_reads_the_due_index_and_writes_each_record_once() {
    let config = emulator::sdk_config().await;
    let table = emulator::unique("domains-validator-");
    fixtures::create_domains_table(&config, &table).await;
    let store = DynamoDomainStore::new(&config, &table);
    let dns = LocalDns::start().await;
    let deps = Deps {
        registry: Arc::new(store.clone()),
        limits: Arc::new(store.clone()),
        txt: Arc::new(
            DnsResolver::with_nameservers(&[dns.address], Duration::from_millis(500)).unwrap_or_else(|e| panic!("{e}")),
        ),
        clock: Arc::new(SystemClock),
        settings: Settings::default(),
    };
    let invoke = |payload: serde_json::Value| function_handler(&deps, LambdaEvent::new(payload, Context::default()));

    let org = emulator::unique("acme");
    for (i, publish) in [true, true, false].into_iter().enumerate() {
        let domain = format!("d{i}.example.com");
        let answer = invoke(json!({"action": "register", "organisationId": org, "domain": domain}))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let Answer::Domain(answer) = answer else {
            panic!("{answer:?}")
        };
        if publish {
            dns.txt(&answer.txt_record.name, &[&[&answer.txt_record.value]]);
        }
    }

    let before = store.requests();
    let swept = invoke(json!({"action": "sweep"}))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let Answer::Sweep(swept) = swept else {
        panic!("{swept:?}")
    };
    assert_eq!(
        (swept.checked, swept.validated, swept.finished),
        (3, 2, true),
        "{swept:?}"
    );
    assert_eq!(
        store.requests() - before,
        2 + 3,
        "one Query of each status's index partition, one conditional PutItem per record; no scan, no reads"
    );
    for (i, validated) in [true, true, false].into_iter().enumerate() {
        let domain = format!("d{i}.example.com");
        assert_eq!(
            store.is_validated(&org, &domain).await.ok(),
            Some(validated),
            "{domain}, as the worker's guard reads it"
        );
    }
}
