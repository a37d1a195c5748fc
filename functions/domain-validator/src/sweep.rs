//! The scheduled sweep: every pending record, and every validated record due for its re-check, read page by
//! page from the store's index of due work (never a table scan), at most `max_concurrent_lookups` DNS
//! lookups at a time. No lookup starts later than the deadline margin before the Lambda deadline; what is
//! left waits for the next run, least recently checked first.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::task::JoinSet;
use volley_core::model::domain::DomainStatus;
use volley_core::ports::{DueCursor, StoreError};

use crate::check::{Checked, check_record};
use crate::deps::Deps;

/// What a sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepAnswer {
    /// Records checked (a lookup, or an expiry).
    pub checked: u64,
    /// DNS lookups made.
    pub lookups: u64,
    pub validated: u64,
    pub expired: u64,
    pub revoked: u64,
    /// Lookups that learnt nothing (timeout, SERVFAIL): no status changed.
    pub transient: u64,
    /// Records another writer changed first (left as it wrote them).
    pub conflicts: u64,
    /// Records whose result could not be stored (tried again next run).
    pub errors: u64,
    /// False when the deadline stopped the sweep with due records left for the next run.
    pub finished: bool,
}

impl SweepAnswer {
    fn add(&mut self, result: Result<Result<Checked, StoreError>, tokio::task::JoinError>) {
        match result {
            Ok(Ok(checked)) => {
                self.checked += 1;
                self.lookups += u64::from(checked.looked_up);
                self.transient += u64::from(checked.transient);
                self.conflicts += u64::from(checked.conflict);
                if !checked.conflict && checked.after.status != checked.before {
                    match checked.after.status {
                        DomainStatus::Validated => self.validated += 1,
                        DomainStatus::Expired => self.expired += 1,
                        DomainStatus::Revoked => self.revoked += 1,
                        DomainStatus::Pending => {}
                    }
                }
            }
            Ok(Err(error)) => {
                tracing::error!(error = %volley_core::error_chain(&error), "a checked record could not be stored");
                self.errors += 1;
            }
            Err(error) => {
                tracing::error!(error = %error, "a check failed");
                self.errors += 1;
            }
        }
    }
}

/// Sweeps until done or until `deadline` less the margin (no deadline: until done).
pub(crate) async fn sweep(deps: &Deps, deadline: Option<DateTime<Utc>>) -> Result<SweepAnswer, StoreError> {
    let settings = deps.settings;
    let stop_at = deadline.map(|d| d - settings.deadline_margin);
    let out_of_time = || stop_at.is_some_and(|stop| deps.clock.now() >= stop);
    let as_of = deps.clock.now().timestamp();
    let mut answer = SweepAnswer::default();
    let mut running = JoinSet::new();
    let max = settings.max_concurrent_lookups.max(1);
    let mut finished = true;
    'statuses: for status in [DomainStatus::Pending, DomainStatus::Validated] {
        let mut cursor: Option<DueCursor> = None;
        loop {
            if out_of_time() {
                finished = false;
                break 'statuses;
            }
            let page = match deps
                .registry
                .due(status, as_of, cursor.as_ref(), settings.page_size)
                .await
            {
                Ok(page) => page,
                Err(error) => {
                    // Let the checks in flight finish and be stored before failing the run.
                    while let Some(result) = running.join_next().await {
                        answer.add(result);
                    }
                    return Err(error);
                }
            };
            for record in page.records {
                while running.len() >= max {
                    if let Some(result) = running.join_next().await {
                        answer.add(result);
                    }
                }
                if out_of_time() {
                    finished = false;
                    break 'statuses;
                }
                let deps = deps.clone();
                running.spawn(async move { check_record(&deps, record).await });
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    while let Some(result) = running.join_next().await {
        answer.add(result);
    }
    answer.finished = finished;
    tracing::info!(
        checked = answer.checked,
        lookups = answer.lookups,
        validated = answer.validated,
        expired = answer.expired,
        revoked = answer.revoked,
        transient = answer.transient,
        conflicts = answer.conflicts,
        errors = answer.errors,
        finished,
        "sweep done"
    );
    Ok(answer)
}
