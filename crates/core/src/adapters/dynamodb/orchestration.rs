//! The orchestrator's state in DynamoDB: one item per test, changed only by atomic operations (ADD to string
//! sets under a condition, conditional flag flips), so concurrent calls from many regions never lose one.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::{Item, conditional, flag, get_by_key, n, number, s, string_set, text, unavailable};
use crate::model::orchestration::{RegionMark, TestState};
use crate::model::scope::TestScope;
use crate::ports::{OrchestrationStore, RegionRecorded, StopSignal, StoreError};

/// The orchestration table: partition key `testKey` (S, `<org>#<test>`, `model::scope`) with
/// `organisationId` and `testId`; string sets `requiredRegions`, `readyRegions`,
/// `completedRegions` (absent while empty: DynamoDB has no empty sets); `bufferSeconds` (N), `started` and
/// `completed` and `stopped` (BOOL; an item written before the stop existed has no `stopped`, and is not),
/// `startAt`, `completedAt`, `stoppedAt` and `resetAt` (N, Unix ms); `stopReason` (S) when an abort rule
/// stopped it; `plan` (S, JSON) when `test-start` started it.
pub mod schema {
    pub const TEST_KEY: &str = "testKey";
    pub const ORGANISATION_ID: &str = "organisationId";
    pub const TEST_ID: &str = "testId";
    pub const REQUIRED: &str = "requiredRegions";
    pub const READY: &str = "readyRegions";
    pub const COMPLETED_REGIONS: &str = "completedRegions";
    pub const BUFFER_SECONDS: &str = "bufferSeconds";
    pub const STARTED: &str = "started";
    pub const START_AT: &str = "startAt";
    pub const COMPLETED: &str = "completed";
    pub const COMPLETED_AT: &str = "completedAt";
    pub const RESET_AT: &str = "resetAt";
    pub const STOPPED: &str = "stopped";
    pub const STOPPED_AT: &str = "stoppedAt";
    pub const STOP_REASON: &str = "stopReason";
    pub const PLAN: &str = "plan";
}
use schema::*;

/// The IAM actions `DynamoOrchestrationStore` calls.
pub const ORCHESTRATION_STORE_ACTIONS: &[&str] = &["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem"];
/// The IAM actions `DynamoStopSignal::stopped` calls (on the table in the test's home region).
pub const STOP_SIGNAL_ACTIONS: &[&str] = &["dynamodb:GetItem"];
/// The IAM actions `DynamoStopSignal::stop_because` calls (on the table in the test's home region).
pub const STOP_BECAUSE_ACTIONS: &[&str] = &["dynamodb:UpdateItem"];

fn state_of(item: &Item) -> Result<TestState, StoreError> {
    let part = |name: &str| {
        text(item, name)
            .map(str::to_owned)
            .ok_or_else(|| StoreError::Corrupt(format!("an orchestration item has no {name}")))
    };
    Ok(TestState {
        test: TestScope::new(part(ORGANISATION_ID)?, part(TEST_ID)?),
        required_regions: string_set(item, REQUIRED),
        ready_regions: string_set(item, READY),
        completed_regions: string_set(item, COMPLETED_REGIONS),
        buffer_seconds: number(item, BUFFER_SECONDS)
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0),
        started: flag(item, STARTED),
        start_at: number(item, START_AT),
        completed: flag(item, COMPLETED),
        completed_at: number(item, COMPLETED_AT),
        stopped: flag(item, STOPPED),
        stopped_at: number(item, STOPPED_AT),
        stop_reason: text(item, STOP_REASON).map(str::to_owned),
        plan: text(item, PLAN)
            .map(|json| {
                serde_json::from_str(json)
                    .map_err(|e| StoreError::Corrupt(format!("a stored test plan is not JSON: {e}")))
            })
            .transpose()?,
        reset_at: number(item, RESET_AT).unwrap_or(0),
    })
}

/// An `OrchestrationStore` in a DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoOrchestrationStore {
    client: Client,
    table: String,
}

impl DynamoOrchestrationStore {
    pub fn new(sdk_config: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self {
            client: Client::new(sdk_config),
            table: table.into(),
        }
    }

    /// The put of a whole state, every attribute it has (a reset's has no start, no plan).
    fn put_state(&self, state: &TestState) -> aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder {
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(TEST_KEY, s(&state.test.key()))
            .item(ORGANISATION_ID, s(&state.test.organisation_id))
            .item(TEST_ID, s(&state.test.test_id))
            .item(BUFFER_SECONDS, n(state.buffer_seconds))
            .item(STARTED, AttributeValue::Bool(state.started))
            .item(COMPLETED, AttributeValue::Bool(state.completed))
            .item(STOPPED, AttributeValue::Bool(state.stopped))
            .item(RESET_AT, n(state.reset_at));
        if let Some(plan) = &state.plan {
            put = put.item(PLAN, s(&plan.to_string()));
        }
        if !state.required_regions.is_empty() {
            put = put.item(
                REQUIRED,
                AttributeValue::Ss(state.required_regions.iter().cloned().collect()),
            );
        }
        if let Some(start_at) = state.start_at {
            put = put.item(START_AT, n(start_at));
        }
        put
    }

    /// Sets `flag` and `at` unless the flag is already set: true when this call set it.
    async fn flip(&self, test: &TestScope, flag: &str, at_name: &str, at: i64) -> Result<bool, StoreError> {
        flip(&self.client, &self.table, test, (flag, at_name, at), None).await
    }
}

/// Sets a test's flag and its time (`flag`, `at_name`, `at`) unless the flag is already set, with a
/// `reason` beside them if given: true when this call set it. A test never reset has nothing to flip.
async fn flip(
    client: &Client,
    table: &str,
    test: &TestScope,
    (flag, at_name, at): (&str, &str, i64),
    reason: Option<(&str, &str)>,
) -> Result<bool, StoreError> {
    let mut update = client
        .update_item()
        .table_name(table)
        .key(TEST_KEY, s(&test.key()))
        .condition_expression("attribute_exists(#id) AND (attribute_not_exists(#f) OR #f = :f)")
        .expression_attribute_names("#id", TEST_KEY)
        .expression_attribute_names("#f", flag)
        .expression_attribute_names("#at", at_name)
        .expression_attribute_values(":t", AttributeValue::Bool(true))
        .expression_attribute_values(":f", AttributeValue::Bool(false))
        .expression_attribute_values(":at", n(at));
    update = match reason {
        None => update.update_expression("SET #f = :t, #at = :at"),
        Some((reason_name, reason)) => update
            .update_expression("SET #f = :t, #at = :at, #why = :why")
            .expression_attribute_names("#why", reason_name)
            .expression_attribute_values(":why", s(reason)),
    };
    // dynamodb:UpdateItem (conditional)
    let updated = update.send().await;
    Ok(conditional(updated.map_err(|e| e.into_service_error()))?.is_ok())
}

#[async_trait]
impl OrchestrationStore for DynamoOrchestrationStore {
    async fn reset(&self, state: &TestState) -> Result<(), StoreError> {
        // dynamodb:PutItem
        self.put_state(state)
            .send()
            .await
            .map_err(|e| unavailable(e.into_service_error()))?;
        Ok(())
    }

    async fn begin(&self, state: &TestState) -> Result<Option<TestState>, StoreError> {
        // dynamodb:PutItem (conditional), then dynamodb:GetItem when another start won
        let put = self
            .put_state(state)
            .condition_expression("attribute_not_exists(#plan)")
            .expression_attribute_names("#plan", PLAN)
            .send()
            .await;
        match conditional(put.map_err(|e| e.into_service_error()))? {
            Ok(_) => Ok(None),
            Err(refused) => self
                .get(&state.test)
                .await?
                .map(Some)
                .ok_or_else(|| unavailable(refused)),
        }
    }

    async fn get(&self, test: &TestScope) -> Result<Option<TestState>, StoreError> {
        let item = get_by_key(&self.client, &self.table, TEST_KEY, &test.key()).await?;
        item.as_ref().map(state_of).transpose()
    }

    async fn add_region(&self, test: &TestScope, mark: RegionMark, region: &str) -> Result<RegionRecorded, StoreError> {
        let target = match mark {
            RegionMark::Ready => READY,
            RegionMark::Completed => COMPLETED_REGIONS,
        };
        // dynamodb:UpdateItem (conditional): ADD to a string set is atomic, so concurrent regions never
        // overwrite each other.
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(TEST_KEY, s(&test.key()))
            .update_expression("ADD #set :region")
            .condition_expression("attribute_exists(#id) AND contains(#required, :name)")
            .expression_attribute_names("#id", TEST_KEY)
            .expression_attribute_names("#set", target)
            .expression_attribute_names("#required", REQUIRED)
            .expression_attribute_values(":region", AttributeValue::Ss(vec![region.to_owned()]))
            .expression_attribute_values(":name", s(region))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match conditional(update.map_err(|e| e.into_service_error()))? {
            Ok(out) => Ok(RegionRecorded::Recorded(state_of(&out.attributes.unwrap_or_default())?)),
            Err(_) => Ok(match self.get(test).await? {
                None => RegionRecorded::UnknownTest,
                Some(state) => RegionRecorded::NotRequired(state),
            }),
        }
    }

    async fn start(&self, test: &TestScope, start_at: i64) -> Result<bool, StoreError> {
        self.flip(test, STARTED, START_AT, start_at).await
    }

    async fn complete(&self, test: &TestScope, at: i64) -> Result<bool, StoreError> {
        self.flip(test, COMPLETED, COMPLETED_AT, at).await
    }

    async fn stop(&self, test: &TestScope, at: i64) -> Result<bool, StoreError> {
        self.flip(test, STOPPED, STOPPED_AT, at).await
    }
}

/// The worker's `StopSignal`: the orchestration table of the test's home region, by the same name in every
/// region (one stack per region). A client per region, made when first asked and kept.
#[derive(Debug)]
pub struct DynamoStopSignal {
    table: String,
    clients: crate::adapters::PerRegion<Client>,
}

impl DynamoStopSignal {
    pub fn new(sdk_config: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self {
            table: table.into(),
            clients: crate::adapters::PerRegion::new(sdk_config, Client::new),
        }
    }
}

#[async_trait]
impl StopSignal for DynamoStopSignal {
    async fn stopped(&self, test: &TestScope, home_region: Option<&str>) -> Result<bool, StoreError> {
        // dynamodb:GetItem, eventually consistent (half a read unit) and only the flag: a stop seen a
        // moment late is still seen within the poll.
        let out = self
            .clients
            .client(home_region)
            .get_item()
            .table_name(&self.table)
            .key(TEST_KEY, s(&test.key()))
            .projection_expression("#s")
            .expression_attribute_names("#s", STOPPED)
            .send()
            .await
            .map_err(|e| unavailable(e.into_service_error()))?;
        Ok(out.item.is_some_and(|item| flag(&item, STOPPED)))
    }

    async fn stop_because(
        &self,
        test: &TestScope,
        home_region: Option<&str>,
        at: i64,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let client = self.clients.client(home_region);
        flip(
            &client,
            &self.table,
            test,
            (STOPPED, STOPPED_AT, at),
            Some((STOP_REASON, reason)),
        )
        .await
    }
}
