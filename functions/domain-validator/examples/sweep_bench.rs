//! The sweep benchmark (`make bench`, docs/benchmarks.md): one sweep of N pending domains (default 1,000)
//! through the real handler, against the domains table in the local AWS emulator (a fresh table per run,
//! with its status-dueAt index) and the loopback test DNS server. Prints the wall time, the DynamoDB
//! requests the sweep sent (counted by the adapter) and the DNS queries the server received.
//!
//! `cargo run --release -p domain-validator --example sweep_bench -- [N] [RUNS]`, with `make env`'s
//! variables pointing at a running MiniStack.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lambda_runtime::{Context, LambdaEvent};
use volley_core::adapters::dynamodb::domains::DynamoDomainStore;
use volley_core::clock::SystemClock;
use volley_core::model::domain::{DomainName, DomainRecord, challenge_value, new_token};
use volley_core::ports::DomainRegistry;
use volley_engine::guard::DnsResolver;
use volley_localdns::LocalDns;
use volley_testkit::emulator;
use volley_testkit::fixtures;

use domain_validator::{Answer, Deps, Settings, SweepAnswer, function_handler};

struct Run {
    elapsed: Duration,
    requests: u64,
    queries: u64,
    answer: SweepAnswer,
}

async fn run(domains: usize, publish: bool) -> Run {
    let config = emulator::sdk_config().await;
    let table = emulator::unique("domains-bench-");
    fixtures::create_domains_table(&config, &table).await;
    let store = DynamoDomainStore::new(&config, &table);
    let dns = LocalDns::start().await;
    let org = emulator::unique("bench");
    let now = chrono::Utc::now().timestamp();
    for i in 0..domains {
        let domain = DomainName::parse(&format!("d{i}.bench.example")).unwrap_or_else(|e| panic!("{e}"));
        let token = new_token().unwrap_or_else(|e| panic!("{e}"));
        if publish {
            dns.txt(&domain.challenge_name(), &[&[&challenge_value(&token)]]);
        }
        let record = DomainRecord::pending(&org, domain, token, now);
        store.create(&record).await.unwrap_or_else(|e| panic!("{e:?}"));
    }
    let resolver =
        DnsResolver::with_nameservers(&[dns.address], Duration::from_secs(2)).unwrap_or_else(|e| panic!("{e}"));
    let deps = Deps {
        registry: Arc::new(store.clone()),
        limits: Arc::new(store.clone()),
        txt: Arc::new(resolver),
        clock: Arc::new(SystemClock),
        settings: Settings::default(),
    };
    let (requests, queries) = (store.requests(), dns.queries());
    let started = Instant::now();
    let event = LambdaEvent::new(serde_json::json!({"action": "sweep"}), Context::default());
    let answer = match function_handler(&deps, event).await {
        Ok(Answer::Sweep(answer)) => answer,
        other => panic!("{other:?}"),
    };
    Run {
        elapsed: started.elapsed(),
        requests: store.requests() - requests,
        queries: dns.queries() - queries,
        answer,
    }
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let domains: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000);
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    println!(
        "sweep of {domains} pending domains, {} lookups at a time, {} cores",
        Settings::default().max_concurrent_lookups,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    for (label, publish) in [
        ("all published (each validated)", true),
        ("none published (NXDOMAIN, each stays pending)", false),
    ] {
        let mut times = Vec::new();
        for _ in 0..runs {
            let r = run(domains, publish).await;
            assert!(
                r.answer.finished && r.answer.checked == domains as u64,
                "{:?}",
                r.answer
            );
            println!(
                "  {label}: {:.2} s, {} DynamoDB requests ({} Query pages + {} conditional PutItem), {} DNS queries; {} validated",
                r.elapsed.as_secs_f64(),
                r.requests,
                r.requests - r.answer.checked,
                r.answer.checked,
                r.queries,
                r.answer.validated
            );
            times.push(r.elapsed);
        }
        times.sort();
        println!("  {label}: median {:.2} s", times[times.len() / 2].as_secs_f64());
    }
}
