//! The domain-validator: proves that an organisation owns a domain, so that the worker's target guard lets
//! it load that domain, and keeps proving it.
//!
//! Direct invokes (`aws lambda invoke`):
//!
//! ```json
//! {"action": "register", "organisationId": "acme", "domain": "Example.COM."}
//! {"action": "check", "organisationId": "acme", "domain": "example.com"}
//! ```
//!
//! Both answer the domain's record, with the TXT record to publish:
//! `{"organisationId": "acme", "domain": "example.com", "status": "pending", "txtRecord": {"name":
//! "_volley-challenge.example.com", "value": "volley-verification=<token>"}, ...}`. The schedule sends
//! `{"action": "sweep"}` (an EventBridge "Scheduled Event" does the same) and gets counts back.
//! The rules (normalisation, the life cycle) are in `volley_core::model::domain`.

mod sweep;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lambda_runtime::LambdaEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;
use volley_core::adapters::dynamodb::domains::DynamoDomainStore;
use volley_core::challenge::{self, TxtLookup};
use volley_core::clock::{Clock, SystemClock};
use volley_core::config::{self, ConfigError, EnvReader};
use volley_core::model::domain::{
    DomainName, DomainRecord, DomainStatus, Policy, TokenError, challenge_value, new_token,
};
use volley_core::model::identifier::check_identifier;
use volley_core::model::payload;
use volley_core::ports::{DomainRegistry, StoreError};
use volley_engine::guard::{DnsResolver, ResolveError};

pub use sweep::SweepAnswer;

/// How the validator behaves, apart from where its store and DNS are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    pub policy: Policy,
    /// `MAX_CONCURRENT_LOOKUPS`: DNS lookups in flight at once during a sweep (default 16).
    pub max_concurrent_lookups: usize,
    /// `DEADLINE_MARGIN`: a sweep starts no lookup later than this before the Lambda deadline (default
    /// 10s, more than a lookup's worst case), so it always finishes in time; the rest wait for the next run.
    pub deadline_margin: Duration,
    /// Records read from the index per query.
    pub page_size: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            policy: Policy::default(),
            max_concurrent_lookups: 16,
            deadline_margin: Duration::from_secs(10),
            page_size: 100,
        }
    }
}

/// The validator's environment, read once per cold start.
#[derive(Debug, Clone)]
pub struct Config {
    /// `DOMAINS_TABLE`: the table the worker's guard reads too.
    pub domains_table: String,
    /// `DNS_SERVERS`: nameservers (address:port, comma-separated); default the system's.
    pub dns_servers: Vec<std::net::SocketAddr>,
    /// `DNS_TIMEOUT`: per query attempt (default 2s; two attempts).
    pub dns_timeout: Duration,
    /// `PENDING_TTL` (7d), `RECHECK_INTERVAL` (24h), `MISS_RECHECK_INTERVAL` (1h), `REVOKE_AFTER_MISSES`
    /// (3), `MAX_CONCURRENT_LOOKUPS` (16), `DEADLINE_MARGIN` (10s).
    pub settings: Settings,
}

fn positive(text: &str) -> Result<u32, String> {
    match text.trim().parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err("must be a whole number above 0".into()),
    }
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_reader(&mut EnvReader::new())
    }

    /// Reads the settings through `env` (the process environment, or a map in the deploy tests).
    pub fn from_reader(env: &mut EnvReader) -> Result<Self, ConfigError> {
        let defaults = Settings::default();
        let domains_table = env.required("DOMAINS_TABLE");
        let dns_servers = env.parsed("DNS_SERVERS", config::socket_addrs).unwrap_or_default();
        let dns_timeout = env
            .parsed("DNS_TIMEOUT", config::duration)
            .unwrap_or(Duration::from_secs(2));
        let policy = Policy {
            pending_ttl: env
                .parsed("PENDING_TTL", config::duration)
                .unwrap_or(defaults.policy.pending_ttl),
            recheck_interval: env
                .parsed("RECHECK_INTERVAL", config::duration)
                .unwrap_or(defaults.policy.recheck_interval),
            miss_recheck_interval: env
                .parsed("MISS_RECHECK_INTERVAL", config::duration)
                .unwrap_or(defaults.policy.miss_recheck_interval),
            revoke_after_misses: env
                .parsed("REVOKE_AFTER_MISSES", positive)
                .unwrap_or(defaults.policy.revoke_after_misses),
        };
        let max_concurrent_lookups = env
            .parsed("MAX_CONCURRENT_LOOKUPS", positive)
            .map_or(defaults.max_concurrent_lookups, |n| n as usize);
        let deadline_margin = env
            .parsed("DEADLINE_MARGIN", config::duration)
            .unwrap_or(defaults.deadline_margin);
        env.finish()?;
        Ok(Self {
            domains_table,
            dns_servers,
            dns_timeout,
            settings: Settings {
                policy,
                max_concurrent_lookups,
                deadline_margin,
                ..defaults
            },
        })
    }
}

/// The AWS actions this function's adapter methods call (each list sits next to its adapter): the deploy
/// consistency test (`tests/it/deploy.rs`) holds the IAM policies in deploy/ and template.yaml to them.
pub const IAM_ACTIONS: &[&[&str]] = &[volley_core::adapters::dynamodb::domains::DOMAIN_REGISTRY_ACTIONS];

/// Everything an invocation needs, built once.
#[derive(Debug, Clone)]
pub struct Deps {
    pub registry: Arc<dyn DomainRegistry>,
    pub txt: Arc<dyn TxtLookup>,
    pub clock: Arc<dyn Clock>,
    pub settings: Settings,
}

impl Deps {
    pub fn from_aws(sdk_config: &volley_core::aws::SdkConfig, config: &Config) -> Result<Self, ResolveError> {
        let resolver = if config.dns_servers.is_empty() {
            DnsResolver::system(config.dns_timeout)?
        } else {
            DnsResolver::with_nameservers(&config.dns_servers, config.dns_timeout)?
        };
        Ok(Self {
            registry: Arc::new(DynamoDomainStore::new(sdk_config, &config.domains_table)),
            txt: Arc::new(resolver),
            clock: Arc::new(SystemClock),
            settings: config.settings,
        })
    }
}

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Register {
        organisation_id: String,
        domain: DomainName,
    },
    Check {
        organisation_id: String,
        domain: DomainName,
    },
    Sweep,
}

/// An invocation's payload as written: `{"action": ...}` and the action's fields, nothing else.
#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "lowercase", deny_unknown_fields)]
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
            expires_at: (record.status == DomainStatus::Pending).then(|| rfc3339(record.expires_at(policy))),
            attempts: record.attempts,
            consecutive_misses: record.misses,
            last_error: record.last_error.clone(),
        }
    }
}

/// What an invocation answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Answer {
    Domain(DomainAnswer),
    Sweep(SweepAnswer),
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
