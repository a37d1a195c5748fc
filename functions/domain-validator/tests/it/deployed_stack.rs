//! The deployed domain-validator in the local AWS emulator: the real bootstrap, invoked directly to register,
//! then run by its EventBridge Scheduler schedule (rate(1 minute) in the local stack), which validates the
//! domain against a DNS server this test serves on the loopback port the stack was deployed with
//! (`ValidatorDnsServers`). `make stack-deploy` deploys and writes the outputs read here.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::json;
use volley_core::adapters::dynamodb::domains::DynamoDomainStore;
use volley_core::ports::{DomainRegistry, DomainStore};
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
