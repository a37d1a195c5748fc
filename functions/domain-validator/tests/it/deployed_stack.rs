//! The deployed domain-validator in the local AWS emulator: the real bootstrap, invoked directly to register,
//! then run by its EventBridge Scheduler schedule (rate(1 minute) in the local stack), which validates the
//! domain against a DNS server this test serves on the loopback port the stack was deployed with
//! (`ValidatorDnsServers`). `make stack-deploy` deploys and writes the outputs read here.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use volley_core::adapters::dynamodb::domains::DynamoDomainStore;
use volley_core::model::domain::{DomainRecord, DomainStatus};
use volley_core::ports::{DomainRegistry, DomainStore};

use volley_engine::guard::{AllowList, DnsResolver, Refusal, TargetGuard};
use volley_localdns::LocalDns;
use volley_testkit::emulator::{self, eventually};
use volley_testkit::fixtures;

fn output(name: &str) -> String {
    emulator::stack_output(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schedule_runs_the_deployed_validator_which_validates_a_registered_domain() {
    let config = emulator::sdk_config().await;
    let function = output("DomainValidatorFunctionName");
    let table = output("DomainsTableName");
    let address: SocketAddr = output("ValidatorDnsServers")
        .parse()
        .unwrap_or_else(|e| panic!("ValidatorDnsServers: {e}"));
    let dns = LocalDns::start_on(address)
        .await
        .unwrap_or_else(|e| panic!("binding the validator's DNS server at {address}: {e} (is another run using it?)"));

    let org = emulator::unique("acme");
    let domain = format!("{}.example.com", emulator::unique("shop"));
    let answer = fixtures::invoke(
        &config,
        &function,
        &json!({"action": "register", "organisationId": org, "domain": domain.to_uppercase()}),
    )
    .await
    .unwrap_or_else(|error| panic!("register: {error}"));
    assert_eq!(answer["status"], "pending", "{answer}");
    assert_eq!(
        answer["domain"],
        domain.as_str(),
        "normalised by the real binary: {answer}"
    );
    let name = answer["txtRecord"]["name"].as_str().unwrap_or_default().to_owned();
    let value = answer["txtRecord"]["value"].as_str().unwrap_or_default().to_owned();
    assert_eq!(name, format!("_volley-challenge.{domain}"));

    let refused = fixtures::invoke(
        &config,
        &function,
        &json!({"action": "register", "organisationId": org, "domain": "co.uk"}),
    )
    .await
    .err()
    .unwrap_or_else(|| panic!("a public suffix is refused"));
    assert_eq!(refused["errorType"], "BadRequest", "{refused}");
    let message = refused["errorMessage"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("domain: ") && message.contains("public suffix"),
        "{message}"
    );

    // Publish the record; from here on only the schedule runs the validator.
    dns.txt(&name, &[&["v=spf1 -all"], &[&value]]);
    let store = DynamoDomainStore::new(&config, &table);
    eventually(
        "the scheduled sweep to validate the domain",
        Duration::from_secs(150),
        || async {
            store
                .is_validated(&org, &domain)
                .await
                .unwrap_or_else(|e| panic!("{e:?}"))
                .then_some(())
        },
    )
    .await;
    assert!(
        dns.queries() >= 1,
        "the deployed validator asked this test's DNS server"
    );
    let record = store
        .get(&org, &domain)
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("no record for {domain}"));
    assert!(record.validated_at.is_some() && record.attempts >= 1, "{record:?}");
}

/// `list` answers an organisation's domains, and `remove` withdraws one from the guard at once: the worker's
/// guard, over the deployed domains table, lets a validated domain through its ownership rule and refuses
/// it on the very next call after the removal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_domain_is_refused_by_the_guard_on_the_next_call() {
    let config = emulator::sdk_config().await;
    let function = output("DomainValidatorFunctionName");
    let store = DynamoDomainStore::new(&config, output("DomainsTableName"));
    let org = emulator::unique("acme");
    let domain = format!("{}.example.com", emulator::unique("shop"));
    for name in [domain.clone(), format!("pending.{domain}")] {
        fixtures::invoke(
            &config,
            &function,
            &json!({"action": "register", "organisationId": org, "domain": name}),
        )
        .await
        .unwrap_or_else(|error| panic!("register {name}: {error}"));
    }
    // Validated, as a sweep that found the TXT record leaves it.
    let pending = store
        .get(&org, &domain)
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("no record for {domain}"));
    let validated = DomainRecord {
        status: DomainStatus::Validated,
        validated_at: Some(pending.created_at),
        version: pending.version + 1,
        ..pending.clone()
    };
    assert_eq!(store.replace(&validated, pending.version).await.ok(), Some(true));

    let listed = fixtures::invoke(&config, &function, &json!({"action": "list", "organisationId": org}))
        .await
        .unwrap_or_else(|error| panic!("list: {error}"));
    let statuses: Vec<(&str, &str)> = listed["domains"]
        .as_array()
        .map(|d| {
            d.iter()
                .map(|d| {
                    (
                        d["domain"].as_str().unwrap_or_default(),
                        d["status"].as_str().unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let pending_name = format!("pending.{domain}");
    assert_eq!(
        statuses,
        [(pending_name.as_str(), "pending"), (domain.as_str(), "validated")],
        "by name: {listed}"
    );

    // The guard resolves nothing here (its resolver is a closed port): a domain that passes the ownership
    // rule is refused for resolution instead, one that does not is refused as not validated.
    let resolver = DnsResolver::with_nameservers(
        &["127.0.0.1:9".parse().unwrap_or_else(|e| panic!("{e}"))],
        Duration::from_millis(200),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let guard = TargetGuard::new(Arc::new(store.clone()), Arc::new(resolver), AllowList::new([]), None);
    let url = format!("https://api.{domain}/health");
    let before = guard.vet(&org, &url).await.err();
    assert!(
        matches!(before, Some(Refusal::Unresolved { .. })),
        "a validated domain passes the ownership rule: {before:?}"
    );

    let removed = fixtures::invoke(
        &config,
        &function,
        &json!({"action": "remove", "organisationId": org, "domain": domain.to_uppercase()}),
    )
    .await
    .unwrap_or_else(|error| panic!("remove: {error}"));
    assert_eq!(
        (removed["domain"].as_str(), removed["removed"]["status"].as_str()),
        (Some(domain.as_str()), Some("validated")),
        "{removed}"
    );
    let after = guard.vet(&org, &url).await.err();
    assert!(
        matches!(after, Some(Refusal::NotValidated { .. })),
        "removed: refused on the next call: {after:?}"
    );
    let again = fixtures::invoke(
        &config,
        &function,
        &json!({"action": "remove", "organisationId": org, "domain": domain}),
    )
    .await
    .err()
    .unwrap_or_else(|| panic!("removing it again is refused"));
    assert_eq!(again["errorType"], "NotRegistered", "{again}");
}
