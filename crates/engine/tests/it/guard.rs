//! The target guard against hostile and odd targets, with a real DNS server of our own on loopback (UDP and
//! TCP) whose zone is scripted below: CNAME chains, mixed answers, truncation, SERVFAIL, silence, and a
//! name that answers public first and private afterwards.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use hickory_resolver::proto::op::{Message, MessageType, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, AAAA, CNAME};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use volley_engine::guard::ValidatedList;
use volley_engine::guard::{AllowList, DnsResolver, Refusal, TargetGuard};
use volley_localdns as dns;

const ORG: &str = "acme";
const PUBLIC_V4: &str = "93.184.215.14";
const PUBLIC_V6: &str = "2606:2800:21f:cb07:6820:80da:af6b:8b2c";

/// What the server does with a query.
enum Reply {
    Records(Vec<Record>),
    NxDomain,
    ServFail,
    /// Never answers: the resolver must time out.
    Silence,
    /// Over UDP, an empty answer with the truncation bit; over TCP, these records.
    TruncatedUdp(Vec<Record>),
}

fn name(text: &str) -> Name {
    Name::from_ascii(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn a(owner: &str, ip: &str) -> Record {
    Record::from_rdata(
        name(owner),
        60,
        RData::A(A(ip.parse().unwrap_or_else(|e| panic!("{ip}: {e}")))),
    )
}

fn aaaa(owner: &str, ip: &str) -> Record {
    Record::from_rdata(
        name(owner),
        60,
        RData::AAAA(AAAA(ip.parse().unwrap_or_else(|e| panic!("{ip}: {e}")))),
    )
}

fn cname(owner: &str, target: &str) -> Record {
    Record::from_rdata(name(owner), 60, RData::CNAME(CNAME(name(target))))
}

/// The zone. `flips` counts A queries for flip.volley.test.
fn zone(query: &str, kind: RecordType, flips: &AtomicU32) -> Reply {
    use RecordType::{A as QA, AAAA as QAAAA};
    let v4 = |ips: &[&str]| Reply::Records(ips.iter().map(|ip| a(query, ip)).collect());
    let v6 = |ips: &[&str]| Reply::Records(ips.iter().map(|ip| aaaa(query, ip)).collect());
    let nodata = || Reply::Records(vec![]);
    match (query, kind) {
        ("public.volley.test." | "api.public.volley.test.", QA) => v4(&[PUBLIC_V4]),
        // bücher.example.com, straße.example, βόλος.example, as UTS #46 (nontransitional) writes them.
        ("xn--bcher-kva.example.com." | "xn--strae-oqa.example." | "xn--nxasmm1c.example.", QA) => v4(&[PUBLIC_V4]),
        ("public.volley.test." | "api.public.volley.test.", QAAAA) => v6(&[PUBLIC_V6]),
        ("v4only.volley.test.", QA) => v4(&["1.1.1.1"]),
        ("private.volley.test.", QA) => v4(&["10.0.0.1"]),
        ("loopback.volley.test.", QA) => v4(&["127.0.0.1"]),
        ("metadata.volley.test.", QA) => v4(&["169.254.169.254"]),
        ("mapped.volley.test.", QAAAA) => v6(&["::ffff:169.254.169.254"]),
        ("ula.volley.test.", QAAAA) => v6(&["fd00::1"]),
        ("mixed.volley.test.", QA) => v4(&[PUBLIC_V4, "10.0.0.1"]),
        ("mixed6.volley.test.", QA) => v4(&[PUBLIC_V4]),
        ("mixed6.volley.test.", QAAAA) => v6(&["fe80::1"]),
        ("cname.volley.test.", QA) => Reply::Records(vec![
            cname("cname.volley.test.", "chain.volley.test."),
            cname("chain.volley.test.", "public.volley.test."),
            a("public.volley.test.", PUBLIC_V4),
        ]),
        ("cname-private.volley.test.", QA) => Reply::Records(vec![
            cname("cname-private.volley.test.", "private.volley.test."),
            a("private.volley.test.", "10.0.0.1"),
        ]),
        ("big.volley.test.", QA) => Reply::TruncatedUdp(vec![a("big.volley.test.", PUBLIC_V4)]),
        ("big-private.volley.test.", QA) => Reply::TruncatedUdp(vec![a("big-private.volley.test.", "192.168.1.1")]),
        ("flip.volley.test.", QA) => {
            if flips.fetch_add(1, Ordering::SeqCst) == 0 {
                v4(&[PUBLIC_V4])
            } else {
                v4(&["10.0.0.1"])
            }
        }
        ("aaaa-fails.volley.test.", QA) => v4(&[PUBLIC_V4]),
        ("aaaa-fails.volley.test.", QAAAA) | ("servfail.volley.test.", _) => Reply::ServFail,
        ("slow.volley.test.", _) => Reply::Silence,
        (
            "public.volley.test."
            | "api.public.volley.test."
            | "v4only.volley.test."
            | "private.volley.test."
            | "loopback.volley.test."
            | "metadata.volley.test."
            | "mapped.volley.test."
            | "ula.volley.test."
            | "mixed.volley.test."
            | "cname.volley.test."
            | "cname-private.volley.test."
            | "big.volley.test."
            | "big-private.volley.test."
            | "flip.volley.test."
            | "empty.volley.test."
            | "xn--bcher-kva.example.com."
            | "xn--strae-oqa.example."
            | "xn--nxasmm1c.example.",
            _,
        ) => nodata(),
        _ => Reply::NxDomain,
    }
}

/// The answer to `request`, or None for silence. `tcp` decides what a truncating name does.
fn respond(request: &[u8], tcp: bool, flips: &AtomicU32) -> Option<Vec<u8>> {
    let query = Message::from_vec(request).ok()?;
    let question = query.queries.first()?.clone();
    let mut response = Message::new(query.metadata.id, MessageType::Response, query.metadata.op_code);
    response.metadata.recursion_desired = query.metadata.recursion_desired;
    response.metadata.recursion_available = true;
    response.metadata.authoritative = true;
    response.add_query(question.clone());
    match zone(
        &question.name().to_ascii().to_ascii_lowercase(),
        question.query_type(),
        flips,
    ) {
        Reply::Records(records) => response.insert_answers(records),
        Reply::NxDomain => response.metadata.response_code = ResponseCode::NXDomain,
        Reply::ServFail => response.metadata.response_code = ResponseCode::ServFail,
        Reply::Silence => return None,
        Reply::TruncatedUdp(records) if tcp => response.insert_answers(records),
        Reply::TruncatedUdp(_) => response.metadata.truncation = true,
    }
    response.to_vec().ok()
}

/// Starts the DNS server on one loopback port, UDP and TCP.
async fn dns_server() -> SocketAddr {
    let flips = Arc::new(AtomicU32::new(0));
    dns::serve_on_free_port(Arc::new(move |request, tcp| {
        let answer = respond(&request, tcp, &flips);
        Box::pin(std::future::ready(answer))
    }))
    .await
}

async fn guard_with(allow: &[&str], runtime_api: Option<&str>) -> TargetGuard {
    guard_validating(&["volley.test"], allow, runtime_api).await
}

async fn guard_validating(validated: &[&str], allow: &[&str], runtime_api: Option<&str>) -> TargetGuard {
    let dns = dns_server().await;
    let resolver = DnsResolver::with_nameservers(&[dns], Duration::from_millis(500)).unwrap_or_else(|e| panic!("{e}"));
    let domains = ValidatedList::new(ORG, validated.iter().copied()).unwrap_or_else(|e| panic!("{e}"));
    let allow = AllowList::new(allow.iter().map(|a| a.parse().unwrap_or_else(|e| panic!("{a}: {e}"))));
    TargetGuard::new(
        Arc::new(domains),
        Arc::new(resolver),
        allow,
        runtime_api.map(|r| r.parse().unwrap_or_else(|e| panic!("{e}"))),
    )
}

async fn guard() -> TargetGuard {
    guard_with(&[], None).await
}

#[tokio::test]
async fn hostile_and_odd_targets_are_refused_each_with_its_rule() {
    let guard = guard().await;
    let cases = [
        ("http://127.0.0.1/", "literal address"),
        ("http://2130706433/", "ambiguous URL"),
        ("http://0x7f000001/", "ambiguous URL"),
        ("http://0177.0.0.1/", "ambiguous URL"),
        ("http://127.1/", "ambiguous URL"),
        ("http://0.0.0.0/", "literal address"),
        ("http://[::1]/", "literal address"),
        ("http://[::ffff:169.254.169.254]/", "literal address"),
        ("http://[::ffff:a9fe:a9fe]/", "literal address"),
        ("http://169.254.169.254/latest/meta-data/", "literal address"),
        ("http://100.64.0.1/", "literal address"),
        ("http://[fe80::1]/", "literal address"),
        ("http://localhost/", "validated domain"),
        ("http://evil-volley.test/", "validated domain"),
        ("http://volley.test.evil.example/", "validated domain"),
        ("http://loopback.volley.test/", "loopback"),
        ("http://private.volley.test/", "private use"),
        ("http://metadata.volley.test/", "metadata"),
        ("http://mapped.volley.test/", "IPv4-mapped"),
        ("http://ula.volley.test/", "unique local"),
        ("http://mixed.volley.test/", "10.0.0.1"),
        ("http://mixed6.volley.test/", "fe80::1"),
        ("http://cname-private.volley.test/", "10.0.0.1"),
        ("http://big-private.volley.test/", "192.168.1.1"),
        ("http://nothing.volley.test/", "NXDOMAIN"),
        ("http://empty.volley.test/", "no A or AAAA"),
        ("http://servfail.volley.test/", "query failed"),
        ("http://aaaa-fails.volley.test/", "AAAA query failed"),
        ("http://slow.volley.test/", "query failed"),
        ("http://user@public.volley.test/", "user information"),
        ("http://public.volley.test\\@10.0.0.1/", "backslash"),
        ("http://pub%6Cic.volley.test/", "percent-encoded"),
        ("gopher://public.volley.test/", "scheme"),
    ];
    assert!(cases.len() >= 20);
    for (url, says) in cases {
        match guard.vet(ORG, url).await {
            Ok(target) => panic!("{url} was allowed: {target:?}"),
            Err(refusal) => {
                let text = format!(
                    "{refusal}: {}",
                    std::error::Error::source(&refusal)
                        .map(ToString::to_string)
                        .unwrap_or_default()
                );
                assert!(text.contains("rule:"), "{url}: {text}");
                assert!(text.contains(says), "{url}: {text:?} should mention {says:?}");
            }
        }
    }
}

#[tokio::test]
async fn legitimate_targets_pass_with_every_address_vetted() {
    let guard = guard().await;
    let public_v4: IpAddr = PUBLIC_V4.parse().unwrap_or_else(|e| panic!("{e}"));
    let public_v6: IpAddr = PUBLIC_V6.parse().unwrap_or_else(|e| panic!("{e}"));
    let cases: [(&str, Vec<IpAddr>); 6] = [
        ("http://public.volley.test/", vec![public_v4, public_v6]),
        ("https://api.public.volley.test/v1", vec![public_v4, public_v6]),
        ("http://PUBLIC.volley.test./", vec![public_v4, public_v6]),
        (
            "http://v4only.volley.test:8080/",
            vec!["1.1.1.1".parse().unwrap_or_else(|e| panic!("{e}"))],
        ),
        ("http://cname.volley.test/", vec![public_v4]),
        ("http://big.volley.test/", vec![public_v4]),
    ];
    for (url, expected) in cases {
        let target = guard.vet(ORG, url).await.unwrap_or_else(|e| panic!("{url}: {e}"));
        let ips: Vec<IpAddr> = target.addresses.iter().map(SocketAddr::ip).collect();
        assert_eq!(ips, expected, "{url}");
        assert!(
            target.reason.contains("validated for organisation"),
            "{url}: {}",
            target.reason
        );
    }
    let subdomain = guard
        .vet(ORG, "https://api.public.volley.test/")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        subdomain.reason.contains("subdomain of volley.test"),
        "{}",
        subdomain.reason
    );
    assert_eq!(subdomain.port, 443);
}

/// A host name is normalised (UTS #46, nontransitional), not refused: a domain validated in either spelling
/// passes in either spelling, and `ß` and `ς` are letters of their own, not `ss` and `σ`.
#[tokio::test]
async fn internationalised_names_pass_in_either_spelling_and_only_as_themselves() {
    let unicode = ["bücher.example.com", "straße.example", "βόλος.example"];
    let ascii = [
        "xn--bcher-kva.example.com",
        "xn--strae-oqa.example",
        "xn--nxasmm1c.example",
    ];
    for validated in [unicode, ascii] {
        let guard = guard_validating(&validated, &[], None).await;
        for host in unicode.iter().chain(&ascii) {
            let url = format!("https://{host}/");
            let target = guard
                .vet(ORG, &url)
                .await
                .unwrap_or_else(|e| panic!("{url} with {validated:?} validated: {e}"));
            assert!(ascii.contains(&target.host.as_str()), "{url}: {}", target.host);
            assert_eq!(target.url.host_str(), Some(target.host.as_str()), "{url}");
            assert!(
                target.reason.contains("validated for organisation"),
                "{url}: {}",
                target.reason
            );
        }
        for other in [
            "https://strasse.example/",
            "https://βόλοσ.example/",
            "https://bucher.example.com/",
        ] {
            let refusal = guard.vet(ORG, other).await;
            assert!(
                matches!(refusal, Err(Refusal::NotValidated { .. })),
                "{other} is another name: {refusal:?}"
            );
        }
    }
}

#[tokio::test]
async fn user_information_is_refused_saying_how_to_send_credentials() {
    let guard = guard().await;
    let refusal = guard
        .vet(ORG, "https://zoe:s3cret@public.volley.test/")
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(refusal.contains("user information"), "{refusal}");
    assert!(refusal.contains("Authorization: Basic"), "{refusal}");
    assert!(refusal.contains("https://public.volley.test/"), "{refusal}");
    assert!(!refusal.contains("s3cret"), "{refusal}");
}

#[tokio::test]
async fn another_organisation_may_not_test_this_ones_domain() {
    let guard = guard().await;
    let refusal = guard
        .vet("someone-else", "http://public.volley.test/")
        .await
        .err()
        .map(|e| e.to_string());
    assert!(refusal.is_some_and(|e| e.contains("validated domain")));
}

/// A name that answers public first and private afterwards: the vet pins what it saw, and vetting again sees
/// the change and refuses, so the engine (which connects only to the pinned addresses) can never be steered
/// to the private one.
#[tokio::test]
async fn a_rebinding_name_is_pinned_then_refused() {
    let guard = guard().await;
    let first = guard
        .vet(ORG, "http://flip.volley.test/")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        first.addresses,
        vec![SocketAddr::new(PUBLIC_V4.parse().unwrap_or_else(|e| panic!("{e}")), 80)]
    );
    let second = guard.vet(ORG, "http://flip.volley.test/").await;
    assert!(matches!(second, Err(Refusal::SpecialAddress { .. })), "{second:?}");
}

#[tokio::test]
async fn the_allow_list_admits_exactly_its_address_and_port() {
    let guard = guard_with(&["127.0.0.1:8080"], None).await;
    assert!(guard.vet(ORG, "http://127.0.0.1:8080/").await.is_ok());
    assert!(
        guard.vet(ORG, "http://loopback.volley.test:8080/").await.is_ok(),
        "a validated name on the allow-list"
    );
    for url in [
        "http://127.0.0.1:8081/",
        "http://127.0.0.2:8080/",
        "http://loopback.volley.test:8081/",
        "http://[::1]:8080/",
    ] {
        assert!(guard.vet(ORG, url).await.is_err(), "{url}");
    }
}

#[tokio::test]
async fn the_lambda_runtime_api_is_never_a_target_even_when_allowed() {
    let guard = guard_with(&["127.0.0.1:9001"], Some("127.0.0.1:9001")).await;
    let refusal = guard
        .vet(ORG, "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next")
        .await;
    assert!(matches!(refusal, Err(Refusal::RuntimeApi { .. })), "{refusal:?}");
    let refusal = guard.vet(ORG, "http://loopback.volley.test:9001/").await;
    assert!(matches!(refusal, Err(Refusal::RuntimeApi { .. })), "{refusal:?}");
}

mod label_boundaries {
    use std::net::IpAddr;
    use std::sync::Arc;

    use async_trait::async_trait;
    use proptest::prelude::*;
    use volley_engine::guard::ValidatedList;
    use volley_engine::guard::{AllowList, Refusal, Resolution, Resolve, ResolveError, TargetGuard};

    /// Every name resolves to one public address: these properties are about names, not DNS.
    #[derive(Debug)]
    struct Public;

    #[async_trait]
    impl Resolve for Public {
        async fn resolve(&self, _host: &str) -> Result<Resolution, ResolveError> {
            Ok(Resolution {
                addresses: vec![IpAddr::from([93, 184, 215, 14])],
            })
        }
    }

    fn guard() -> TargetGuard {
        TargetGuard::new(
            Arc::new(ValidatedList::new("acme", ["example.com"]).unwrap_or_else(|e| panic!("{e}"))),
            Arc::new(Public),
            AllowList::default(),
            None,
        )
    }

    fn vet(url: String) -> Result<(), Refusal> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        runtime.block_on(guard().vet("acme", &url)).map(|_| ())
    }

    proptest! {
        #[test]
        fn any_subdomain_of_a_validated_domain_passes(labels in prop::collection::vec("[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", 1..4)) {
            let host = format!("{}.example.com", labels.join("."));
            prop_assert!(vet(format!("https://{host}/")).is_ok(), "{host}");
        }

        #[test]
        fn a_name_that_only_ends_with_the_domains_text_is_refused(prefix in "[a-z0-9-]{1,12}") {
            prop_assume!(!prefix.starts_with('-'));
            let host = format!("{prefix}example.com");
            // Refused by the validated-domain rule; or, when the prefix makes a label that is not a valid
            // international name (`xn--` and punycode that does not decode), as not a URL at all.
            let refused = match vet(format!("https://{host}/")) {
                Err(Refusal::NotValidated { .. }) => true,
                Err(Refusal::NotAUrl { why, .. }) => prefix.starts_with("xn--") && why.contains("international domain name"),
                _ => false,
            };
            prop_assert!(refused, "{host} must not count as under example.com");
        }

        #[test]
        fn the_validated_domain_under_another_suffix_is_refused(suffix in "[a-z]{2,10}") {
            let host = format!("example.com.{suffix}");
            let refused = matches!(vet(format!("https://{host}/")), Err(Refusal::NotValidated { .. }));
            prop_assert!(refused, "{host}");
        }
    }
}
