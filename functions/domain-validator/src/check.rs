//! One check of one record, for the `check` action and for each record a sweep reads: a DNS lookup when it
//! needs one, expiry when it is past its TTL, the result written on the version it read.

use volley_core::challenge;
use volley_core::model::domain::{DomainRecord, DomainStatus};
use volley_core::ports::StoreError;

use crate::deps::Deps;

/// What one check did to one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Checked {
    pub before: DomainStatus,
    /// The record as stored now.
    pub after: DomainRecord,
    pub looked_up: bool,
    pub transient: bool,
    /// Another writer changed the record first; `after` is what it wrote.
    pub conflict: bool,
}

/// Checks one record now: a DNS lookup when it needs one, expiry when it is past its TTL, nothing when it is
/// final. Writes the result unless another writer changed the record since it was read.
pub(crate) async fn check_record(deps: &Deps, record: DomainRecord) -> Result<Checked, StoreError> {
    let policy = &deps.settings.policy;
    let now = deps.clock.now().timestamp();
    let (next, looked_up, transient) = if record.needs_lookup(now, policy) {
        let outcome = challenge::check(deps.txt.as_ref(), &record.domain, &record.token).await;
        let transient = matches!(outcome, volley_core::model::domain::CheckOutcome::Transient(_));
        // The lookup took time: the record is judged at its end.
        let now = deps.clock.now().timestamp();
        (record.after_check(&outcome, now, policy), true, transient)
    } else {
        (
            record.expired(now, policy).unwrap_or_else(|| record.clone()),
            false,
            false,
        )
    };
    let mut checked = Checked {
        before: record.status,
        after: next.clone(),
        looked_up,
        transient,
        conflict: false,
    };
    if next == record {
        return Ok(checked);
    }
    if deps.registry.replace(&next, record.version).await? {
        if next.status != record.status {
            tracing::info!(
                organisation = %next.organisation_id, domain = %next.domain, from = %record.status,
                to = %next.status, reason = next.last_error.as_deref().unwrap_or(""), "domain status changed"
            );
        }
    } else {
        checked.conflict = true;
        if let Some(stored) = deps
            .registry
            .get(&record.organisation_id, record.domain.as_str())
            .await?
        {
            checked.after = stored;
        }
    }
    Ok(checked)
}
