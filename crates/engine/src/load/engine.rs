//! The attack: sends requests at their intended times and measures each one.
//!
//! Open model (the default): request i is due at `start + schedule.offset(i)` and is sent then, whatever
//! happened to earlier requests, as long as fewer than `max_in_flight` are outstanding; a send that finds
//! the cap reached is counted as `dropped`, never queued. New connections are opened as needed (the HTTP/1
//! pool never makes a request wait for a busy connection; over HTTP/2 one connection carries many), so a
//! stalled target cannot hold the schedule back. Latency is measured from the intended time (free of
//! coordinated omission) and, separately, from the actual send (service time).
//!
//! Closed loop (`Load::Closed`): N workers each send, wait for the answer, and send again, as wrk does; for
//! comparison only, since a closed loop slows down with the target and so hides its stalls.
//!
//! Connections go only to the guard's vetted addresses ([`super::transport`] dials them without resolving any
//! name), redirects are never followed, and proxies are ignored.
//!
//! The parts, after vegeta's attack/pacer/metrics/results and oha's request generator/client/result data:
//! [`super::request`] (what to send), [`super::attack`] (what is asked), [`super::transport`] and
//! [`super::http1`] (the client), [`super::open`] and [`super::closed`] (the two models), [`super::recorder`]
//! and [`super::stats`] (the per-second buckets), [`super::report`] (what is answered).

use std::sync::Arc;
use std::time::{Instant, UNIX_EPOCH};

use super::attack::{Attack, AttackError, Load, MAX_CONCURRENCY, Progress};
use super::clocks::{Clocks, wait_for};
use super::closed::closed;
use super::open::open;
use super::recorder::Recorder;
use super::report::{Report, StartSkew};
use super::run::Run;
use super::transport::Endpoint;

/// Runs an attack to its end (or its deadline) and reports what it measured.
pub async fn run(attack: &Attack, progress: Arc<Progress>) -> Result<Report, AttackError> {
    let concurrency = match &attack.load {
        Load::Open { max_in_flight, .. } => *max_in_flight,
        Load::Closed { connections, .. } => *connections,
    };
    if concurrency == 0 {
        return Err(AttackError::NoConcurrency);
    }
    if concurrency > MAX_CONCURRENCY {
        return Err(AttackError::TooMuchConcurrency {
            asked: concurrency,
            max: MAX_CONCURRENCY,
        });
    }
    let endpoint = Arc::new(Endpoint::new(
        &attack.target,
        attack.request.clone(),
        &attack.tls_roots,
    )?);
    let start = match attack.start_at {
        Some(at) => wait_for(at).await,
        None => Instant::now(),
    };
    let run = Run {
        attack,
        endpoint,
        start,
        clocks: Clocks::now(),
        events: Recorder::new(Arc::clone(&progress)),
        progress,
    };
    let outcome = match &attack.load {
        Load::Open {
            schedule,
            share,
            segment,
            max_in_flight,
        } => open(&run, schedule.clone(), share.clone(), segment.clone(), *max_in_flight).await,
        Load::Closed { connections, duration } => closed(&run, *connections, *duration).await,
    };
    let Run { clocks, events, .. } = run;
    let (seconds, total) = events.finish()?;
    let start_skew = attack.start_at.map(|at| {
        let at_ms = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        // Each measured from the first request's own scheduled time: `startAt` plus its offset.
        let due_ms = at_ms as f64 + outcome.first_offset.as_secs_f64() * 1e3;
        let ms = |instant: Instant| clocks.unix_nanos(instant) as f64 / 1e6 - due_ms;
        StartSkew {
            start_at_ms: at_ms,
            first_intended_ms: ms(start + outcome.first_offset),
            first_sent_ms: ms(outcome.first_sent.unwrap_or(start + outcome.first_offset)),
        }
    });
    Ok(Report {
        seconds,
        total,
        started_at_ms: clocks.unix_millis(start),
        duration: outcome.last_send.saturating_duration_since(start),
        wait: outcome.finished.saturating_duration_since(outcome.last_send),
        planned: outcome.planned,
        truncated: outcome.truncated,
        stopped: outcome.stopped,
        start_skew,
    })
}
