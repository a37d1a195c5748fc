//! The closed model: simulated users spawn at `spawn_rate` per second until there are `users`, then all of
//! them run for `spawned_runtime`. Each user runs the suite's start task once, then picks tasks by weight,
//! waiting a random time from the suite's range after each. Every request is measured with the engine's
//! pinned, redirect-free client and recorded per task in an HdrHistogram.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use volley_engine::guard::VettedTarget;
use volley_engine::load::attack::AttackError;
use volley_engine::load::request::{RequestSpec, Sensitive};
use volley_engine::load::stats::Latencies;
use volley_engine::load::transport::{Connection, Endpoint};

use crate::suite::{Suite, Vars, letters, render};

/// How many users, how fast they arrive, and how long they all run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shape {
    pub users: u32,
    /// Users started per second.
    pub spawn_rate: f64,
    pub spawned_runtime: Duration,
}

impl Shape {
    /// The time to spawn every user.
    pub fn spawn_time(&self) -> Duration {
        Duration::from_secs_f64(f64::from(self.users.saturating_sub(1)) / self.spawn_rate)
    }

    /// The whole run: spawning, then the runtime.
    pub fn total(&self) -> Duration {
        self.spawn_time() + self.spawned_runtime
    }
}

/// What one task (or the whole run) measured.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TaskStats {
    pub name: String,
    pub requests: u64,
    pub failures: u64,
    pub latencies: Latencies,
}

impl TaskStats {
    fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            ..Self::default()
        }
    }

    /// Adds `other`'s counts and histogram into this one.
    pub fn add(&mut self, other: &Self) {
        self.requests += other.requests;
        self.failures += other.failures;
        self.latencies.add(&other.latencies);
    }
}

/// What a run measured: per task, and how long it took.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunStats {
    pub tasks: Vec<TaskStats>,
    /// From the first user's start to the last user's end.
    pub elapsed: Duration,
}

impl RunStats {
    /// Every task together.
    pub fn total(&self) -> TaskStats {
        let mut total = TaskStats::new("total");
        for task in &self.tasks {
            total.add(task);
        }
        total
    }
}

/// Runs `suite` against `target` in the given shape. `log_every` logs a stats line that often.
pub async fn run(
    suite: &Suite,
    target: &VettedTarget,
    shape: Shape,
    timeout: Duration,
    today: NaiveDate,
    log_every: Option<Duration>,
    sensitive: &Sensitive,
) -> Result<RunStats, AttackError> {
    // Each user keeps one connection of its own, as a browser tab would; every request is a sibling of the
    // target's (same origin and connections, its own path, method, headers and body).
    let endpoint = Arc::new(Endpoint::new(target, RequestSpec::default(), &[])?);
    let stats = Arc::new(Mutex::new(
        suite.tasks.iter().map(|t| TaskStats::new(&t.name)).collect::<Vec<_>>(),
    ));
    let start = Instant::now();
    let end = start + shape.total();
    let base = target.url.path().trim_end_matches('/').to_owned();
    let suite = Arc::new(suite.clone());

    let logger = log_every.map(|every| {
        let stats = stats.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(start + every, every);
            loop {
                tick.tick().await;
                if let Ok(tasks) = stats.lock() {
                    let (requests, failures) = tasks.iter().fold((0, 0), |(r, f), t| (r + t.requests, f + t.failures));
                    tracing::info!(elapsed_s = start.elapsed().as_secs(), requests, failures, "stats");
                }
            }
        })
    });

    let mut users = Vec::new();
    for i in 0..shape.users {
        let arrive = start + Duration::from_secs_f64(f64::from(i) / shape.spawn_rate);
        let (endpoint, stats, suite, base) = (endpoint.clone(), stats.clone(), suite.clone(), base.clone());
        let sensitive = sensitive.clone();
        users.push(tokio::spawn(async move {
            tokio::time::sleep_until(arrive).await;
            let mut rng = fastrand::Rng::new();
            let username = letters(&mut rng, 12);
            let mut next = suite.on_start;
            let mut connection = None;
            let mut step = 0;
            while Instant::now() < end {
                let index = next.take().unwrap_or_else(|| suite.pick(&mut rng));
                let task = &suite.tasks[index];
                // This user's next own row of the feeder, if the suite has one.
                let row = suite
                    .data
                    .as_ref()
                    .map(|data| (data, data.row_of(i as usize, shape.users as usize, step)));
                step += 1;
                let vars = Vars {
                    username: &username,
                    today,
                    row,
                };
                let rendered = Rendered::of(task, &vars, &mut rng, &sensitive);
                let outcome = send(&endpoint, &mut connection, &base, rendered, timeout).await;
                if let Ok(mut tasks) = stats.lock() {
                    let record = &mut tasks[index];
                    record.requests += 1;
                    let (failed, took) = outcome;
                    record.failures += u64::from(failed);
                    record.latencies.record(took);
                }
                let pause = suite.wait(&mut rng).min(end.saturating_duration_since(Instant::now()));
                tokio::time::sleep(pause).await;
            }
        }));
    }
    for user in users {
        let _ = user.await;
    }
    if let Some(logger) = logger {
        logger.abort();
    }
    let tasks = stats.lock().map(|t| t.clone()).unwrap_or_default();
    Ok(RunStats {
        tasks,
        elapsed: start.elapsed(),
    })
}

/// One task's request, its templates filled.
struct Rendered {
    method: http::Method,
    path: String,
    headers: http::HeaderMap,
    body: Option<String>,
}

impl Rendered {
    /// `task` for one request of a user, its templates filled from `vars`. A header the template makes
    /// invalid is left out (the suite's check refuses invalid names and values before the run).
    fn of(task: &crate::suite::Task, vars: &Vars<'_>, rng: &mut fastrand::Rng, sensitive: &Sensitive) -> Self {
        let mut headers = http::HeaderMap::new();
        for (name, value) in &task.headers {
            let value = render(value, vars, rng);
            if let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                http::HeaderValue::from_str(&value),
            ) {
                headers.insert(name, value);
            }
        }
        sensitive.mark(&mut headers);
        Self {
            method: http::Method::from_bytes(task.method.as_bytes()).unwrap_or(http::Method::GET),
            path: render(&task.path, vars, rng),
            headers,
            body: task.body.as_deref().map(|b| render(b, vars, rng)),
        }
    }
}

/// Sends one task's request: (failed, latency). A failure is a transport error or a status of 400 or more.
async fn send(
    endpoint: &Endpoint,
    connection: &mut Option<Connection>,
    base: &str,
    rendered: Rendered,
    timeout: Duration,
) -> (bool, Duration) {
    let began = std::time::Instant::now();
    let spec = RequestSpec {
        method: rendered.method,
        headers: rendered.headers,
        body: rendered.body.map(bytes::Bytes::from).unwrap_or_default(),
    };
    let Ok(request) = endpoint.sibling(spec, &format!("{base}{}", rendered.path)) else {
        return (true, began.elapsed());
    };
    let failed = match tokio::time::timeout(timeout, request.exchange(connection)).await {
        Ok(Ok(answer)) => answer.status >= 400,
        Ok(Err(_)) | Err(_) => true,
    };
    (failed, began.elapsed())
}
