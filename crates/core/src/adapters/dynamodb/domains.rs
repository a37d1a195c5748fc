//! The domains table in DynamoDB: the guard's `DomainStore` and the domain-validator's `DomainRegistry`, one
//! adapter over one table, so both read the same truth.
//!
//! Table `<prefix>-domains`: partition key `organisationId` (S), sort key `domain` (S, normalised), and
//! `status` (S: `pending`, `validated`, `expired`, `revoked`), `token` (S), `createdAt`, `validatedAt`,
//! `checkedAt`, `dueAt` (N, Unix seconds), `attempts`, `misses`, `version` (N), `lastError` (S).
//!
//! The organisation's own item (its limits, `model::limits`) is in the same partition under the sort key
//! [`schema::LIMITS`] (`#limits`: no domain name holds a `#`), with `maxRate`, `maxWorkers`,
//! `maxDurationSeconds` and `maxConcurrentTests` (N); it has no `status`, so it is in no index, and `list`
//! leaves it out.
//!
//! Global secondary index `status-dueAt`: partition key `status`, sort key `dueAt`, all attributes
//! projected. It is sparse: final records (expired, revoked) have no `dueAt`, so the index holds only the
//! work left to do, and a sweep reads it page by page in due order instead of scanning the table.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;

use super::{Item, conditional, n, query_all, s, unavailable};

use crate::model::domain::{DomainName, DomainRecord, DomainStatus};
use crate::model::limits::OrganisationLimits;
use crate::ports::{DomainRegistry, DomainStore, DueCursor, DuePage, OrganisationLimitsStore, StoreError};

/// The attribute and index names of the domains table, shared with deploy/ and template.yaml.
pub mod schema {
    pub const ORGANISATION_ID: &str = "organisationId";
    pub const DOMAIN: &str = "domain";
    pub const STATUS: &str = "status";
    pub const VALIDATED: &str = "validated";
    pub const TOKEN: &str = "token";
    pub const CREATED_AT: &str = "createdAt";
    pub const VALIDATED_AT: &str = "validatedAt";
    pub const CHECKED_AT: &str = "checkedAt";
    pub const DUE_AT: &str = "dueAt";
    pub const ATTEMPTS: &str = "attempts";
    pub const MISSES: &str = "misses";
    pub const VERSION: &str = "version";
    pub const LAST_ERROR: &str = "lastError";
    /// The sparse index of records due for a check: partition key `status`, sort key `dueAt`.
    pub const DUE_INDEX: &str = "status-dueAt";
    /// The sort key of the organisation's own item, and its attributes.
    pub const LIMITS: &str = "#limits";
    pub const MAX_RATE: &str = "maxRate";
    pub const MAX_WORKERS: &str = "maxWorkers";
    pub const MAX_DURATION_SECONDS: &str = "maxDurationSeconds";
    pub const MAX_CONCURRENT_TESTS: &str = "maxConcurrentTests";
}
use schema::*;

/// The IAM actions `DynamoDomainStore` calls as a `DomainStore` (the worker's guard).
pub const DOMAIN_STORE_ACTIONS: &[&str] = &["dynamodb:GetItem"];
/// The IAM actions it calls as an `OrganisationLimitsStore`: `limits` GetItem (the worker), `set_limits`
/// PutItem (the domain-validator).
pub const LIMITS_READ_ACTIONS: &[&str] = &["dynamodb:GetItem"];
pub const LIMITS_WRITE_ACTIONS: &[&str] = &["dynamodb:PutItem"];
/// The IAM actions it calls as a `DomainRegistry` (the domain-validator): `get` GetItem, `create` and
/// `replace` PutItem (conditional), `list` Query on the table, `remove` DeleteItem, `due` Query on the
/// `status-dueAt` index.
pub const DOMAIN_REGISTRY_ACTIONS: &[&str] = &[
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
];

/// The domains table.
#[derive(Debug, Clone)]
pub struct DynamoDomainStore {
    client: Client,
    table: String,
    /// DynamoDB requests sent, for the benchmark's count.
    requests: Arc<AtomicU64>,
}

impl DynamoDomainStore {
    pub fn new(sdk_config: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self {
            client: Client::new(sdk_config),
            table: table.into(),
            requests: Arc::default(),
        }
    }

    /// How many DynamoDB requests this store (and its clones) has sent.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    fn count(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// A PutItem of `record`, for the caller to add its condition and send. dynamodb:PutItem
    fn put(&self, record: &DomainRecord) -> aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder {
        self.count();
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(record)))
    }

    /// One item, read consistently. dynamodb:GetItem
    async fn get_item(&self, organisation: &str, domain: &str) -> Result<Option<Item>, StoreError> {
        self.count();
        Ok(self
            .client
            .get_item()
            .table_name(&self.table)
            .key(ORGANISATION_ID, s(organisation))
            .key(DOMAIN, s(domain))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable(e.into_service_error()))?
            .item)
    }
}

fn to_item(record: &DomainRecord) -> Item {
    let mut item = Item::from([
        (ORGANISATION_ID.to_owned(), s(&record.organisation_id)),
        (DOMAIN.to_owned(), s(record.domain.as_str())),
        (STATUS.to_owned(), s(record.status.as_str())),
        (TOKEN.to_owned(), s(&record.token)),
        (CREATED_AT.to_owned(), n(record.created_at)),
        (ATTEMPTS.to_owned(), n(record.attempts)),
        (MISSES.to_owned(), n(record.misses)),
        (VERSION.to_owned(), n(record.version)),
    ]);
    let optional = [
        (VALIDATED_AT, record.validated_at.map(n)),
        (CHECKED_AT, record.checked_at.map(n)),
        (DUE_AT, record.due_at.map(n)),
        (LAST_ERROR, record.last_error.as_deref().map(s)),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            item.insert(name.to_owned(), value);
        }
    }
    item
}

fn from_item(item: &Item) -> Result<DomainRecord, StoreError> {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    let number = |name: &str| -> Result<Option<i64>, StoreError> {
        item.get(name)
            .map(|v| {
                v.as_n()
                    .ok()
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| StoreError::Corrupt(format!("domain item {name} is {v:?}")))
            })
            .transpose()
    };
    let required = |name: &str| text(name).ok_or_else(|| StoreError::Corrupt(format!("domain item has no {name}")));
    let count =
        |name: &str| -> Result<u32, StoreError> { Ok(u32::try_from(number(name)?.unwrap_or(0)).unwrap_or(u32::MAX)) };
    let status = required(STATUS)?;
    Ok(DomainRecord {
        organisation_id: required(ORGANISATION_ID)?,
        domain: DomainName::from_stored(required(DOMAIN)?),
        status: DomainStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("domain item has status {status:?}")))?,
        token: required(TOKEN)?,
        created_at: number(CREATED_AT)?.unwrap_or(0),
        validated_at: number(VALIDATED_AT)?,
        checked_at: number(CHECKED_AT)?,
        due_at: number(DUE_AT)?,
        attempts: count(ATTEMPTS)?,
        misses: count(MISSES)?,
        last_error: text(LAST_ERROR),
        version: u64::try_from(number(VERSION)?.unwrap_or(0)).unwrap_or(0),
    })
}

#[async_trait]
impl OrganisationLimitsStore for DynamoDomainStore {
    async fn limits(&self, organisation: &str) -> Result<OrganisationLimits, StoreError> {
        let Some(item) = self.get_item(organisation, LIMITS).await? else {
            return Ok(OrganisationLimits::default());
        };
        let number = |name: &str| -> Result<f64, StoreError> {
            item.get(name)
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| StoreError::Corrupt(format!("the limits of {organisation} have no number {name}")))
        };
        OrganisationLimits {
            max_rate: number(MAX_RATE)?,
            max_workers: number(MAX_WORKERS)? as u64,
            max_duration: std::time::Duration::from_secs_f64(number(MAX_DURATION_SECONDS)?.max(0.0)),
            max_concurrent_tests: number(MAX_CONCURRENT_TESTS)? as u64,
        }
        .checked()
        .map_err(|e| StoreError::Corrupt(format!("the limits of {organisation}: {e}")))
    }

    async fn set_limits(&self, organisation: &str, limits: &OrganisationLimits) -> Result<(), StoreError> {
        // dynamodb:PutItem
        self.count();
        self.client
            .put_item()
            .table_name(&self.table)
            .item(ORGANISATION_ID, s(organisation))
            .item(DOMAIN, s(LIMITS))
            .item(MAX_RATE, n(limits.max_rate))
            .item(MAX_WORKERS, n(limits.max_workers))
            .item(MAX_DURATION_SECONDS, n(limits.max_duration.as_secs()))
            .item(MAX_CONCURRENT_TESTS, n(limits.max_concurrent_tests))
            .send()
            .await
            .map_err(|e| unavailable(e.into_service_error()))?;
        Ok(())
    }
}

#[async_trait]
impl DomainStore for DynamoDomainStore {
    async fn is_validated(&self, organisation: &str, domain: &str) -> Result<bool, StoreError> {
        let item = self.get_item(organisation, domain).await?;
        Ok(item.is_some_and(|item| {
            item.get(STATUS)
                .and_then(|v| v.as_s().ok())
                .is_some_and(|s| s == VALIDATED)
        }))
    }
}

#[async_trait]
impl DomainRegistry for DynamoDomainStore {
    async fn get(&self, organisation: &str, domain: &str) -> Result<Option<DomainRecord>, StoreError> {
        let item = self.get_item(organisation, domain).await?;
        item.as_ref().map(from_item).transpose()
    }

    async fn create(&self, record: &DomainRecord) -> Result<Option<DomainRecord>, StoreError> {
        // dynamodb:PutItem (conditional; the existing item comes back with the refusal)
        let put = self
            .put(record)
            .condition_expression("attribute_not_exists(#d)")
            .expression_attribute_names("#d", DOMAIN)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match conditional(put.map_err(|e| e.into_service_error()))? {
            Ok(_) => Ok(None),
            Err(PutItemError::ConditionalCheckFailedException(e)) => match e.item() {
                Some(item) => from_item(item).map(Some),
                // An emulator or SDK that does not return the item: read it.
                None => self
                    .get(&record.organisation_id, record.domain.as_str())
                    .await?
                    .ok_or_else(|| unavailable(e))
                    .map(Some),
            },
            // `conditional` answers only the condition's refusal here.
            Err(other) => Err(unavailable(other)),
        }
    }

    async fn replace(&self, record: &DomainRecord, expected_version: u64) -> Result<bool, StoreError> {
        // dynamodb:PutItem (conditional on the version read)
        let put = self
            .put(record)
            .condition_expression("#v = :v")
            .expression_attribute_names("#v", VERSION)
            .expression_attribute_values(":v", n(expected_version))
            .send()
            .await;
        Ok(conditional(put.map_err(|e| e.into_service_error()))?.is_ok())
    }

    async fn list(&self, organisation: &str) -> Result<Vec<DomainRecord>, StoreError> {
        // dynamodb:Query on the table, by partition (every page)
        self.count();
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#o = :o")
            .expression_attribute_names("#o", ORGANISATION_ID)
            .expression_attribute_values(":o", s(organisation))
            .consistent_read(true);
        query_all(query)
            .await?
            .iter()
            .filter(|item| item.get(DOMAIN).and_then(|v| v.as_s().ok()).is_none_or(|d| d != LIMITS))
            .map(from_item)
            .collect()
    }

    async fn remove(&self, organisation: &str, domain: &str) -> Result<Option<DomainRecord>, StoreError> {
        // dynamodb:DeleteItem, answering what it deleted
        self.count();
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(ORGANISATION_ID, s(organisation))
            .key(DOMAIN, s(domain))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| unavailable(e.into_service_error()))?;
        out.attributes
            .filter(|a| !a.is_empty())
            .as_ref()
            .map(from_item)
            .transpose()
    }

    async fn due(
        &self,
        status: DomainStatus,
        as_of: i64,
        after: Option<&DueCursor>,
        limit: usize,
    ) -> Result<DuePage, StoreError> {
        // dynamodb:Query on the status-dueAt index
        self.count();
        let start = after.map(|c| {
            Item::from([
                (STATUS.to_owned(), s(status.as_str())),
                (DUE_AT.to_owned(), n(c.due_at)),
                (ORGANISATION_ID.to_owned(), s(&c.organisation_id)),
                (DOMAIN.to_owned(), s(&c.domain)),
            ])
        });
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(DUE_INDEX)
            .key_condition_expression("#s = :s AND #d <= :asof")
            .expression_attribute_names("#s", STATUS)
            .expression_attribute_names("#d", DUE_AT)
            .expression_attribute_values(":s", s(status.as_str()))
            .expression_attribute_values(":asof", n(as_of))
            .set_exclusive_start_key(start)
            .limit(i32::try_from(limit.max(1)).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| unavailable(e.into_service_error()))?;
        let records = out
            .items
            .unwrap_or_default()
            .iter()
            .map(from_item)
            .collect::<Result<Vec<_>, _>>()?;
        let next = out.last_evaluated_key.and_then(|key| {
            let text = |name: &str| key.get(name).and_then(|v| v.as_s().ok()).cloned();
            Some(DueCursor {
                due_at: key.get(DUE_AT)?.as_n().ok()?.parse().ok()?,
                organisation_id: text(ORGANISATION_ID)?,
                domain: text(DOMAIN)?,
            })
        });
        Ok(DuePage { records, next })
    }
}
