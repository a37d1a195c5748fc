//! The load engine against a test server of our own on loopback, with an injected delay and stall.
//! Bounds are generous (this machine has two cores and runs other work); exact figures belong to
//! `make bench` and docs/benchmarks.md.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use volley_engine::load::attack::{Attack, AttackError, Load, MAX_CONCURRENCY, Progress};
use volley_engine::load::engine::run;
use volley_engine::load::report::Report;
use volley_engine::load::schedule::Schedule;
use volley_engine::load::stats::ErrorKind;
use volley_testkit::target::{self, Behaviour, start};

fn behaviour(delay_ms: u64) -> Behaviour {
    Behaviour {
        delay: Duration::from_millis(delay_ms),
        ..Behaviour::default()
    }
}

fn attack(address: SocketAddr, load: Load) -> Attack {
    let url = format!("http://target.volley.test:{}/hello", address.port());
    target::attack(address, &url, load, Duration::from_secs(5))
}

fn open(rate: f64, seconds: u64, max_in_flight: usize) -> Load {
    let schedule = Schedule::constant(rate, Duration::from_secs(seconds)).unwrap_or_else(|e| panic!("{e}"));
    Load::Open {
        schedule,
        share: volley_engine::load::share::Share::whole(),
        segment: None,
        max_in_flight,
    }
}

async fn go(attack: &Attack) -> Report {
    run(attack, Arc::new(Progress::default()))
        .await
        .unwrap_or_else(|e| panic!("attack failed: {e}"))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_model_holds_the_asked_rate() {
    let target = start(behaviour(1)).await;
    let report = go(&attack(target.address, open(1000.0, 3, 1000))).await;
    assert_eq!(report.planned, 3000);
    assert_eq!(report.total.requests + report.total.dropped, 3000);
    assert_eq!(report.total.dropped, 0);
    assert_eq!(report.total.statuses.get(&200), Some(&3000));
    let rate = report.rate();
    assert!(
        (rate - 1000.0).abs() / 1000.0 < 0.02,
        "achieved {rate:.1} rps for 1000 asked"
    );
    assert_eq!(target.arrivals().len(), 3000, "the target saw every request");
    let seconds = report.decode_seconds().unwrap_or_else(|e| panic!("{e}"));
    assert!((3..=4).contains(&seconds.len()), "{} buckets", seconds.len());
    assert_eq!(
        seconds.iter().map(|s| s.stats.requests).sum::<u64>(),
        3000,
        "buckets add up to the total"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_shows_an_injected_delay() {
    let target = start(behaviour(20)).await;
    let report = go(&attack(target.address, open(200.0, 2, 1000))).await;
    let p50 = ms(report.total.latency.quantile(0.5));
    let service_p50 = ms(report.total.service_time.quantile(0.5));
    assert!((20.0..26.0).contains(&p50), "p50 {p50:.2} ms for a 20 ms delay");
    assert!(
        (20.0..26.0).contains(&service_p50),
        "service p50 {service_p50:.2} ms for a 20 ms delay"
    );
    assert!(
        report.total.bytes_in >= 13 * 400,
        "bodies are counted: {}",
        report.total.bytes_in
    );
}

/// The defect to avoid: a generator that waits for the stalled target and then sends in a burst. The target
/// must keep receiving requests at the asked rate during the stall, and the stall must show in the
/// intended-time latencies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_target_keeps_receiving_requests_and_the_stall_shows() {
    let stall_from = Instant::now() + Duration::from_secs(1);
    let stall_until = stall_from + Duration::from_secs(1);
    let target = start(Behaviour {
        stall: Some((stall_from, stall_until)),
        ..behaviour(1)
    })
    .await;
    // The attack starts when the stall does: its first second is stalled, its last two are not.
    let mut attack = attack(target.address, open(1000.0, 3, 5000));
    attack.start_at = Some(std::time::SystemTime::now() + (stall_from - Instant::now()));
    let report = go(&attack).await;
    let arrivals = target.arrivals();
    let during = arrivals
        .iter()
        .filter(|a| **a >= stall_from && **a < stall_until)
        .count();
    assert!(
        during >= 900,
        "the target received {during} requests during a 1 s stall at 1000 rps"
    );
    assert_eq!(report.total.dropped, 0);
    // A third of the requests waited for the end of the stall, from up to 1 s down to nothing.
    let p75 = ms(report.total.latency.quantile(0.75));
    let p99 = ms(report.total.latency.quantile(0.99));
    let max = ms(report.total.latency.max());
    assert!(p75 > 150.0, "p75 {p75:.0} ms");
    assert!(
        p99 > 900.0 && max > 950.0,
        "the stall shows in the tail: p99 {p99:.0} ms, max {max:.0} ms"
    );
    let skew = report
        .start_skew
        .unwrap_or_else(|| panic!("a synchronised start reports its skew"));
    assert!(
        skew.first_intended_ms.abs() < 5.0 && skew.first_sent_ms.abs() < 20.0,
        "{skew:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_over_max_in_flight_are_dropped_and_counted() {
    let target = start(behaviour(300)).await;
    let report = go(&attack(target.address, open(200.0, 1, 10))).await;
    assert_eq!(
        report.total.requests + report.total.dropped,
        200,
        "every planned send is a request or a drop"
    );
    assert!(report.total.dropped >= 100, "dropped {}", report.total.dropped);
    assert!(report.total.requests >= 10, "requests {}", report.total.requests);
}

/// Above `u32::MAX` the final wait once read a truncated count and ended with requests still in flight;
/// at 2^61 the semaphore panicked. Anything above the file-descriptor ceiling is refused before a send.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_in_flight_above_the_open_file_ceiling_is_refused_before_anything_is_sent() {
    let target = start(behaviour(300)).await;
    for asked in [MAX_CONCURRENCY + 1, (1 << 32) + 1, 1 << 61, usize::MAX] {
        let refused = run(
            &attack(target.address, open(10.0, 1, asked)),
            Arc::new(Progress::default()),
        )
        .await;
        assert!(
            matches!(refused, Err(AttackError::TooMuchConcurrency { asked: a, max }) if a == asked && max == MAX_CONCURRENCY),
            "{asked}: {refused:?}"
        );
    }
    let closed = Load::Closed {
        connections: MAX_CONCURRENCY + 1,
        duration: Duration::from_secs(1),
    };
    let refused = run(&attack(target.address, closed), Arc::new(Progress::default())).await;
    assert!(
        matches!(refused, Err(AttackError::TooMuchConcurrency { .. })),
        "{refused:?}"
    );
    assert!(target.arrivals().is_empty(), "nothing was sent");
    // At the ceiling itself every request is waited for.
    let report = go(&attack(target.address, open(10.0, 1, MAX_CONCURRENCY))).await;
    assert_eq!(report.total.statuses.get(&200), Some(&10), "{:?}", report.total);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_is_an_error_and_its_latency_is_still_recorded() {
    let target = start(behaviour(2000)).await;
    let mut attack = attack(target.address, open(20.0, 1, 100));
    attack.timeout = Duration::from_millis(200);
    let report = go(&attack).await;
    assert_eq!(report.total.errors.get(&ErrorKind::Timeout), Some(&20));
    assert_eq!(report.total.latency.count(), 20, "timeouts keep their latency");
    assert!(ms(report.total.latency.quantile(0.5)) >= 199.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_ends_the_run_early_and_marks_it_truncated() {
    let target = start(behaviour(1)).await;
    let mut attack = attack(target.address, open(100.0, 10, 100));
    attack.deadline = Some(Instant::now() + Duration::from_secs(1));
    let started = Instant::now();
    let report = go(&attack).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert!(report.truncated);
    assert!(
        (90..=110).contains(&report.total.requests),
        "{} requests in 1 s at 100 rps",
        report.total.requests
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_counted_not_followed() {
    let target = start(Behaviour {
        status: 302,
        location: Some("http://10.0.0.1/"),
        ..behaviour(0)
    })
    .await;
    let report = go(&attack(target.address, open(10.0, 1, 10))).await;
    assert_eq!(report.total.statuses.get(&302), Some(&10));
    assert_eq!(
        target.arrivals().len(),
        10,
        "the redirect to a private address was not followed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_is_a_connect_error() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
    };
    let report = go(&attack(closed, open(10.0, 1, 10))).await;
    assert_eq!(
        report.total.errors.get(&ErrorKind::Connect),
        Some(&10),
        "{:?}",
        report.total.errors
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_loop_keeps_its_connections_busy() {
    let target = start(behaviour(10)).await;
    let load = Load::Closed {
        connections: 4,
        duration: Duration::from_secs(1),
    };
    let report = go(&attack(target.address, load)).await;
    // 4 connections, 10 ms each: about 400 requests.
    assert!(
        (250..=420).contains(&report.total.requests),
        "{} requests",
        report.total.requests
    );
    assert_eq!(report.total.dropped, 0);
    assert_eq!(target.connections(), 4, "one connection per worker, kept alive");
    let seconds = report.decode_seconds().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        seconds.iter().map(|s| s.stats.requests).sum::<u64>(),
        report.total.requests,
        "the workers' buckets add up to the total"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_round_trip_through_json() {
    let target = start(behaviour(1)).await;
    let report = go(&attack(target.address, open(50.0, 1, 10))).await;
    let json = serde_json::to_string(&report).unwrap_or_else(|e| panic!("{e}"));
    let back: Report = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back.total, report.total);
    assert_eq!(back.decode_seconds().ok(), report.decode_seconds().ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_connections_are_reused() {
    let target = start(behaviour(1)).await;
    let report = go(&attack(target.address, open(100.0, 1, 50))).await;
    assert_eq!(report.total.statuses.get(&200), Some(&100));
    // One request every 10 ms, each answered in about 1 ms: a connection is idle again long before the next.
    assert!(
        target.connections() <= 5,
        "{} connections for 100 requests",
        target.connections()
    );
}

const TLS_NAME: &str = "target.volley.test";

fn https_attack(address: SocketAddr, load: Load, roots: Vec<rustls::pki_types::CertificateDer<'static>>) -> Attack {
    let url = format!("https://{TLS_NAME}:{}/hello", address.port());
    Attack {
        tls_roots: roots,
        ..target::attack(address, &url, load, Duration::from_secs(5))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_negotiates_http2_by_alpn_and_shares_one_connection() {
    let (target, certificate) = target::start_tls(behaviour(1), TLS_NAME, &[b"h2", b"http/1.1"]).await;
    let report = go(&https_attack(
        target.address,
        open(200.0, 1, 100),
        vec![certificate.der],
    ))
    .await;
    assert_eq!(report.total.statuses.get(&200), Some(&200), "{:?}", report.total);
    let versions = target.versions();
    assert_eq!(versions.len(), 200);
    assert!(versions.iter().all(|v| *v == http::Version::HTTP_2), "{versions:?}");
    // Requests that start before the first handshake completes may each open one; after that, one is shared.
    assert!(target.connections() <= 3, "{} connections", target.connections());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_falls_back_to_http1_when_the_server_offers_only_that() {
    let (target, certificate) = target::start_tls(behaviour(1), TLS_NAME, &[b"http/1.1"]).await;
    let load = Load::Closed {
        connections: 2,
        duration: Duration::from_millis(500),
    };
    let report = go(&https_attack(target.address, load, vec![certificate.der])).await;
    let versions = target.versions();
    assert!(!versions.is_empty());
    assert!(versions.iter().all(|v| *v == http::Version::HTTP_11), "{versions:?}");
    assert_eq!(report.total.failures(), 0, "{:?}", report.total);
    assert_eq!(target.connections(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_is_a_tls_error_and_nothing_is_sent() {
    let (target, _certificate) = target::start_tls(behaviour(0), TLS_NAME, &[b"h2", b"http/1.1"]).await;
    let report = go(&https_attack(target.address, open(10.0, 1, 10), Vec::new())).await;
    assert_eq!(
        report.total.errors.get(&ErrorKind::Tls),
        Some(&10),
        "{:?}",
        report.total
    );
    assert!(target.arrivals().is_empty());
}

/// A stop takes effect within the pacer's slice: at 20 requests a second (50 ms apart, so the pacer sleeps
/// between them) and over 10 closed-loop connections, nothing reaches the target more than
/// `STOP_LATENCY` (plus a little scheduling) after the stop, the answers in flight are still measured, and
/// the report says it was stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_attack_sends_nothing_more_within_the_stop_latency_and_says_so() {
    use volley_engine::load::attack::STOP_LATENCY;
    for load in [
        open(20.0, 10, 100),
        Load::Closed {
            connections: 10,
            duration: Duration::from_secs(10),
        },
    ] {
        let target = start(behaviour(5)).await;
        let attack = attack(target.address, load);
        let progress = Arc::new(Progress::default());
        let running = {
            let progress = Arc::clone(&progress);
            tokio::spawn(async move { run(&attack, progress).await })
        };
        tokio::time::sleep(Duration::from_millis(1200)).await;
        progress.stop();
        let stopped_at = Instant::now();
        let report = running
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|e| panic!("{e}"));
        let arrivals = target.arrivals();
        let late: Vec<Duration> = arrivals
            .iter()
            .filter(|at| **at > stopped_at + STOP_LATENCY + Duration::from_millis(50))
            .map(|at| at.duration_since(stopped_at))
            .collect();
        assert!(late.is_empty(), "sent after the stop: {late:?}");
        assert!(report.stopped, "the report says it was stopped");
        assert!(
            !arrivals.is_empty() && report.total.requests == arrivals.len() as u64,
            "every answer measured"
        );
        assert!(
            stopped_at.elapsed() < Duration::from_secs(2),
            "it ended at once, not at its 10 s"
        );
    }
}

/// A segment of a schedule: only the requests due in it, the attack's start standing for the segment's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_segment_fires_only_its_part_of_the_schedule_from_its_own_start() {
    let target = start(behaviour(1)).await;
    let schedule = Schedule::constant(20.0, Duration::from_secs(4)).unwrap_or_else(|e| panic!("{e}"));
    let load = Load::Open {
        schedule,
        share: volley_engine::load::share::Share::whole(),
        segment: Some(Duration::from_secs(2)..Duration::from_secs(3)),
        max_in_flight: 100,
    };
    let began = Instant::now();
    let report = go(&attack(target.address, load)).await;
    assert_eq!(
        (report.planned, report.total.requests),
        (20, 20),
        "one second of the four"
    );
    let arrivals = target.arrivals();
    let (first, last) = (arrivals[0].duration_since(began), arrivals[19].duration_since(began));
    assert!(
        first < Duration::from_millis(100),
        "the segment starts at once: {first:?}"
    );
    assert!(
        last >= Duration::from_millis(950) && last < Duration::from_millis(1100),
        "and spans its one second: {last:?}"
    );
}

/// Sealed seconds while the attack runs: 1.3 s in, a 2-second attack has handed out the seconds it has
/// finished (none still open), each final, and the report ends up holding them at the same
/// positions, the rest after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_seconds_are_handed_out_while_the_attack_runs_and_keep_their_place_in_the_report() {
    let target = start(behaviour(1)).await;
    let attack = attack(target.address, open(50.0, 2, 100));
    let progress = Arc::new(Progress::default());
    let running = {
        let progress = Arc::clone(&progress);
        tokio::spawn(async move { run(&attack, progress).await })
    };
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let early = progress.sealed_since(0);
    let report = running
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|e| panic!("{e}"));
    // Seconds are the wall clock's: 2 s of sending span 2 or 3 of them, and 1.3 s in, 1 or 2 are past.
    assert!(
        (2..=3).contains(&report.seconds.len()) && (1..=2).contains(&early.len()),
        "{} of {} seconds sealed 1.3 s in",
        early.len(),
        report.seconds.len()
    );
    for (i, raw) in early.iter().enumerate() {
        assert_eq!(
            raw.get(),
            report.seconds[i].get(),
            "second {i} kept its place, unchanged"
        );
    }
    assert!(progress.sealed_since(0).is_empty(), "the report took them all");
    let from_one = report.decode_seconds().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(from_one.iter().map(|s| s.stats.requests).sum::<u64>(), 100);
}
