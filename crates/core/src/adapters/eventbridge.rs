//! EventBridge: `User Call` events on a region's bus. `EventBridgeCallBus` is the orchestrator's `CallBus`
//! (a client per region, made when first asked and kept, as the stop signal's are); its `put_user_calls`
//! puts any detail, which the driver and the tests use to put what a user would, invalid events included.

use async_trait::async_trait;
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use crate::model::call::{USER_CALL_DETAIL_TYPE, USER_CALL_SOURCE, UserCall};
use crate::ports::{CallBus, StoreError};

/// The IAM actions `EventBridgeCallBus` calls (on the bus of that name in each region it puts to).
pub const CALL_BUS_ACTIONS: &[&str] = &["events:PutEvents"];

fn unavailable<E: std::error::Error + Send + Sync + 'static>(e: E) -> StoreError {
    StoreError::Unavailable(Box::new(e))
}

/// A PutEvents request holds at most 10 entries and 256 KB; an entry counts its detail, source, detail type
/// and bus name. Batches of `details` within both (a detail is at most about 70 KB: the User Call's body is
/// at most 64 KiB).
const MAX_ENTRIES: usize = 10;
const MAX_REQUEST_BYTES: usize = 256 * 1024;

fn batches(details: &[serde_json::Value]) -> Vec<&[serde_json::Value]> {
    let mut batches = Vec::new();
    let (mut from, mut bytes) = (0, 0);
    for (i, detail) in details.iter().enumerate() {
        let size = detail.to_string().len() + USER_CALL_SOURCE.len() + USER_CALL_DETAIL_TYPE.len() + 64;
        if i > from && (i - from == MAX_ENTRIES || bytes + size > MAX_REQUEST_BYTES) {
            batches.push(&details[from..i]);
            (from, bytes) = (i, 0);
        }
        bytes += size;
    }
    if from < details.len() {
        batches.push(&details[from..]);
    }
    batches
}

/// The bus of one name in every region.
#[derive(Debug)]
pub struct EventBridgeCallBus {
    name: String,
    clients: super::PerRegion<Client>,
}

impl EventBridgeCallBus {
    pub fn new(sdk_config: &aws_config::SdkConfig, name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            clients: super::PerRegion::new(sdk_config, Client::new),
        }
    }

    /// Puts one `User Call` event per detail on this region's bus, up to 10 per request (EventBridge's
    /// limit); any entry the bus refuses is an error that names it.
    pub async fn put_user_calls(&self, details: &[serde_json::Value]) -> Result<(), StoreError> {
        self.put_in(None, details).await
    }

    async fn put_in(&self, region: Option<&str>, details: &[serde_json::Value]) -> Result<(), StoreError> {
        let client = self.clients.client(region);
        for chunk in batches(details) {
            let entries = chunk
                .iter()
                .map(|detail| {
                    PutEventsRequestEntry::builder()
                        .event_bus_name(&self.name)
                        .source(USER_CALL_SOURCE)
                        .detail_type(USER_CALL_DETAIL_TYPE)
                        .detail(detail.to_string())
                        .build()
                })
                .collect();
            // events:PutEvents
            let out = client
                .put_events()
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| unavailable(e.into_service_error()))?;
            if out.failed_entry_count > 0 {
                let reasons: Vec<String> = out
                    .entries()
                    .iter()
                    .filter_map(|e| e.error_message().map(str::to_owned))
                    .collect();
                return Err(StoreError::Corrupt(format!(
                    "the bus {} refused {} event(s): {}",
                    self.name,
                    out.failed_entry_count,
                    reasons.join("; ")
                )));
            }
        }
        Ok(())
    }
}

#[async_trait]
impl CallBus for EventBridgeCallBus {
    async fn put(&self, region: Option<&str>, calls: &[UserCall]) -> Result<(), StoreError> {
        let details = calls
            .iter()
            .map(serde_json::to_value)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StoreError::Corrupt(format!("a User Call could not be written: {e}")))?;
        self.put_in(region, &details).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_hold_at_most_ten_entries_and_256_kb() {
        let small = vec![serde_json::json!({"callId": "c"}); 23];
        let sizes: Vec<usize> = batches(&small).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, vec![10, 10, 3]);
        // 60 KB bodies: four fit in 256 KB, not five.
        let big = vec![serde_json::json!({"body": "x".repeat(60 * 1024)}); 9];
        let sizes: Vec<usize> = batches(&big).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, vec![4, 4, 1]);
        assert!(batches(&[]).is_empty());
    }
}
