//! The domain-validator: proves that an organisation owns a domain, so that the worker's target guard lets
//! it load that domain, and keeps proving it.
//!
//! Direct invokes (`aws lambda invoke`):
//!
//! ```json
//! {"action": "register", "organisationId": "acme", "domain": "Example.COM."}
//! {"action": "check", "organisationId": "acme", "domain": "example.com"}
//! {"action": "list", "organisationId": "acme"}
//! {"action": "remove", "organisationId": "acme", "domain": "example.com"}
//! {"action": "limits", "organisationId": "acme"}
//! {"action": "set-limits", "organisationId": "acme", "limits": {"maxRate": 10000, "maxWorkers": 50,
//!  "maxDuration": "15m", "maxConcurrentTests": 3}}
//! ```
//!
//! `register` and `check` answer the domain's record, with the TXT record to publish:
//! `{"organisationId": "acme", "domain": "example.com", "status": "pending", "txtRecord": {"name":
//! "_volley-challenge.example.com", "value": "volley-verification=<token>"}, ...}`; `list` answers
//! `{"organisationId": "acme", "domains": [<record>, ...]}`, every status, by name; `remove` deletes the
//! record (the guard refuses the domain from the next call, and no sweep checks it again) and answers
//! `{"organisationId": "acme", "domain": "example.com", "removed": <the record as it was>}`. The schedule sends
//! `{"action": "sweep"}` (an EventBridge "Scheduled Event" does the same) and gets counts back. `limits`
//! answers the organisation's limits (`volley_core::model::limits`: the defaults until some are set) and
//! `set-limits` replaces them, all four given: `{"organisationId": "acme", "limits": {...}}` both. Only an
//! administrator's role may invoke this function (README, "Trust").
//! The rules (normalisation, the life cycle) are in `volley_core::model::domain`.

mod check;
mod deps;
mod sweep;

use chrono::{DateTime, Utc};
use lambda_runtime::LambdaEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;
use volley_core::model::domain::{
    DomainName, DomainRecord, DomainStatus, Policy, TokenError, challenge_value, new_token,
};
use volley_core::model::identifier::check_identifier;
use volley_core::model::limits::OrganisationLimits;
use volley_core::model::payload;
use volley_core::ports::StoreError;

use check::check_record;
pub use deps::{Config, Deps, IAM_ACTIONS, Settings};
pub use sweep::SweepAnswer;

/// Why an invocation failed. Bad input names the field.
#[derive(Debug, Error)]
pub enum ValidatorError {
    #[error("{field}: {reason}")]
    BadRequest { field: String, reason: String },
    #[error("{domain} is not registered for {organisation}: register it first")]
    NotRegistered { organisation: String, domain: String },
    #[error("could not make a challenge token")]
    Token(#[from] TokenError),
    #[error("the domains table failed")]
    Store(#[from] StoreError),
}

impl ValidatorError {
    /// The variant's name: Lambda's `errorType`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::BadRequest { .. } => "BadRequest",
            Self::NotRegistered { .. } => "NotRegistered",
            Self::Token(..) => "Token",
            Self::Store(..) => "Store",
        }
    }
}

impl From<ValidatorError> for lambda_runtime::Diagnostic {
    fn from(error: ValidatorError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: error.kind().into(),
            error_message: volley_core::error_chain(&error),
        }
    }
}

fn bad(field: impl Into<String>, reason: impl Into<String>) -> ValidatorError {
    ValidatorError::BadRequest {
        field: field.into(),
        reason: reason.into(),
    }
}

/// What an invocation asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    Register {
        organisation_id: String,
        domain: DomainName,
    },
    Check {
        organisation_id: String,
        domain: DomainName,
    },
    List {
        organisation_id: String,
    },
    Remove {
        organisation_id: String,
        domain: DomainName,
    },
    Limits {
        organisation_id: String,
    },
    SetLimits {
        organisation_id: String,
        limits: OrganisationLimits,
    },
    Sweep,
}

/// An invocation's payload as written: `{"action": ...}` and the action's fields, nothing else.
#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case", deny_unknown_fields)]
enum Payload {
    #[serde(rename_all = "camelCase")]
    Register {
        organisation_id: String,
        domain: String,
    },
    #[serde(rename_all = "camelCase")]
    Check {
        organisation_id: String,
        domain: String,
    },
    #[serde(rename_all = "camelCase")]
    List {
        organisation_id: String,
    },
    #[serde(rename_all = "camelCase")]
    Remove {
        organisation_id: String,
        domain: String,
    },
    #[serde(rename_all = "camelCase")]
    Limits {
        organisation_id: String,
    },
    // The limits are read on their own: inside a tagged enum serde loses the path of a nested field.
    #[serde(rename_all = "camelCase")]
    SetLimits {
        organisation_id: String,
        limits: Value,
    },
    Sweep {},
}

/// The name errors give the payload as a whole.
const EVENT: &str = "event";

impl Request {
    /// Reads an event: `{"action": ...}`, or an EventBridge "Scheduled Event" (a sweep).
    pub fn parse(event: &Value) -> Result<Self, ValidatorError> {
        if payload::is_scheduled_event(event) {
            return Ok(Self::Sweep);
        }
        let payload: Payload = payload::parse(event).map_err(|e| {
            let field = if e.is_root() { EVENT.to_owned() } else { e.field };
            bad(field, e.problem)
        })?;
        let owned = |organisation_id: String, domain: &str| -> Result<(String, DomainName), ValidatorError> {
            check_identifier(&organisation_id).map_err(|e| bad("organisationId", e.to_string()))?;
            let domain = DomainName::parse(domain).map_err(|e| bad("domain", e.to_string()))?;
            Ok((organisation_id, domain))
        };
        Ok(match payload {
            Payload::Register {
                organisation_id,
                domain,
            } => {
                let (organisation_id, domain) = owned(organisation_id, &domain)?;
                Self::Register {
                    organisation_id,
                    domain,
                }
            }
            Payload::Check {
                organisation_id,
                domain,
            } => {
                let (organisation_id, domain) = owned(organisation_id, &domain)?;
                Self::Check {
                    organisation_id,
                    domain,
                }
            }
            Payload::List { organisation_id } => {
                check_identifier(&organisation_id).map_err(|e| bad("organisationId", e.to_string()))?;
                Self::List { organisation_id }
            }
            Payload::Remove {
                organisation_id,
                domain,
            } => {
                let (organisation_id, domain) = owned(organisation_id, &domain)?;
                Self::Remove {
                    organisation_id,
                    domain,
                }
            }
            Payload::Limits { organisation_id } => {
                check_identifier(&organisation_id).map_err(|e| bad("organisationId", e.to_string()))?;
                Self::Limits { organisation_id }
            }
            Payload::SetLimits {
                organisation_id,
                limits,
            } => {
                check_identifier(&organisation_id).map_err(|e| bad("organisationId", e.to_string()))?;
                let in_limits = |field: &str| format!("limits.{field}");
                let limits = payload::parse::<OrganisationLimits>(&limits)
                    .map_err(|e| {
                        let field = if e.is_root() {
                            "limits".to_owned()
                        } else {
                            in_limits(&e.field)
                        };
                        bad(field, e.problem)
                    })?
                    .checked()
                    .map_err(|e| bad(in_limits(&e.field), e.problem))?;
                Self::SetLimits {
                    organisation_id,
                    limits,
                }
            }
            Payload::Sweep {} => Self::Sweep,
        })
    }
}

/// The TXT record that proves ownership.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TxtRecord {
    pub name: String,
    pub value: String,
}

/// A domain's record, as register and check answer it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DomainAnswer {
    pub organisation_id: String,
    pub domain: String,
    pub status: DomainStatus,
    pub txt_record: TxtRecord,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validated_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checked_at: Option<String>,
    /// When the next check is due (none once final).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due_at: Option<String>,
    /// For a pending record: when it expires unless validated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    pub attempts: u32,
    pub consecutive_misses: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

fn rfc3339(seconds: i64) -> String {
    DateTime::<Utc>::from_timestamp(seconds, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl DomainAnswer {
    pub fn of(record: &DomainRecord, policy: &Policy) -> Self {
        Self {
            organisation_id: record.organisation_id.clone(),
            domain: record.domain.to_string(),
            status: record.status,
            txt_record: TxtRecord {
                name: record.domain.challenge_name(),
                value: challenge_value(&record.token),
            },
            created_at: rfc3339(record.created_at),
            validated_at: record.validated_at.map(rfc3339),
            checked_at: record.checked_at.map(rfc3339),
            due_at: record.due_at.map(rfc3339),
            expires_at: (record.status == DomainStatus::Pending).then(|| rfc3339(record.expires_at(policy))),
            attempts: record.attempts,
            consecutive_misses: record.misses,
            last_error: record.last_error.clone(),
        }
    }
}

/// What an invocation answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Answer {
    Domain(DomainAnswer),
    List(ListAnswer),
    Removed(RemovedAnswer),
    Limits(LimitsAnswer),
    Sweep(SweepAnswer),
}

/// `limits`' and `set-limits`' answer: the organisation's limits as they now stand.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LimitsAnswer {
    pub organisation_id: String,
    pub limits: OrganisationLimits,
}

/// `list`'s answer: every domain of the organisation, by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListAnswer {
    pub organisation_id: String,
    pub domains: Vec<DomainAnswer>,
}

/// `remove`'s answer: the record as it was when it was removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RemovedAnswer {
    pub organisation_id: String,
    pub domain: String,
    pub removed: DomainAnswer,
}

/// Registers `domain` for `organisation`: a new pending record with a fresh token, or the current one while
/// it is pending or validated (so registering twice answers the same token). An expired or revoked domain
/// starts again with a new token.
async fn register(deps: &Deps, organisation: &str, domain: DomainName) -> Result<DomainRecord, ValidatorError> {
    let policy = &deps.settings.policy;
    // A concurrent register can win each write; three reads settle it.
    for _ in 0..3 {
        let now = deps.clock.now().timestamp();
        let existing = deps.registry.get(organisation, domain.as_str()).await?;
        match existing {
            Some(record) if !record.status.is_final() && record.expired(now, policy).is_none() => return Ok(record),
            Some(old) => {
                let fresh = DomainRecord {
                    version: old.version + 1,
                    ..DomainRecord::pending(organisation, domain.clone(), new_token()?, now)
                };
                if deps.registry.replace(&fresh, old.version).await? {
                    tracing::info!(organisation, domain = %domain, previous = %old.status, "domain registered again");
                    return Ok(fresh);
                }
            }
            None => {
                let fresh = DomainRecord::pending(organisation, domain.clone(), new_token()?, now);
                match deps.registry.create(&fresh).await? {
                    None => {
                        tracing::info!(organisation, domain = %domain, "domain registered");
                        return Ok(fresh);
                    }
                    Some(existing) if !existing.status.is_final() => return Ok(existing),
                    Some(_) => {}
                }
            }
        }
    }
    Err(ValidatorError::Store(StoreError::Unavailable(
        "the record kept changing while it was being registered".into(),
    )))
}

/// Handles one invocation.
pub async fn function_handler(deps: &Deps, event: LambdaEvent<Value>) -> Result<Answer, ValidatorError> {
    let (payload, context) = event.into_parts();
    let policy = &deps.settings.policy;
    match Request::parse(&payload)? {
        Request::Register {
            organisation_id,
            domain,
        } => {
            let record = register(deps, &organisation_id, domain).await?;
            Ok(Answer::Domain(DomainAnswer::of(&record, policy)))
        }
        Request::Check {
            organisation_id,
            domain,
        } => {
            let record = deps
                .registry
                .get(&organisation_id, domain.as_str())
                .await?
                .ok_or_else(|| ValidatorError::NotRegistered {
                    organisation: organisation_id.clone(),
                    domain: domain.to_string(),
                })?;
            let checked = check_record(deps, record).await?;
            Ok(Answer::Domain(DomainAnswer::of(&checked.after, policy)))
        }
        Request::Limits { organisation_id } => {
            let limits = deps.limits.limits(&organisation_id).await?;
            Ok(Answer::Limits(LimitsAnswer {
                organisation_id,
                limits,
            }))
        }
        Request::SetLimits {
            organisation_id,
            limits,
        } => {
            deps.limits.set_limits(&organisation_id, &limits).await?;
            tracing::info!(organisation = %organisation_id, ?limits, "limits set");
            Ok(Answer::Limits(LimitsAnswer {
                organisation_id,
                limits,
            }))
        }
        Request::List { organisation_id } => {
            let records = deps.registry.list(&organisation_id).await?;
            Ok(Answer::List(ListAnswer {
                organisation_id,
                domains: records.iter().map(|r| DomainAnswer::of(r, policy)).collect(),
            }))
        }
        Request::Remove {
            organisation_id,
            domain,
        } => {
            let removed = deps
                .registry
                .remove(&organisation_id, domain.as_str())
                .await?
                .ok_or_else(|| ValidatorError::NotRegistered {
                    organisation: organisation_id.clone(),
                    domain: domain.to_string(),
                })?;
            tracing::info!(organisation = %organisation_id, domain = %domain, status = %removed.status, "domain removed");
            Ok(Answer::Removed(RemovedAnswer {
                organisation_id,
                domain: domain.to_string(),
                removed: DomainAnswer::of(&removed, policy),
            }))
        }
        Request::Sweep => {
            // 0 means no deadline is known (a test's context); Lambda always sets one.
            let deadline = i64::try_from(context.deadline)
                .ok()
                .filter(|ms| *ms > 0)
                .and_then(DateTime::<Utc>::from_timestamp_millis);
            Ok(Answer::Sweep(sweep::sweep(deps, deadline).await?))
        }
    }
}
