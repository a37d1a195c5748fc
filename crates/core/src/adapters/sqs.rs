//! SQS adapters: the results queue.

use async_trait::async_trait;
use aws_sdk_sqs::Client;

use crate::ports::{ResultQueue, StoreError};

/// The IAM actions `SqsResultQueue` calls.
pub const RESULT_QUEUE_ACTIONS: &[&str] = &["sqs:SendMessage"];

/// A `ResultQueue` on an SQS queue.
#[derive(Debug, Clone)]
pub struct SqsResultQueue {
    client: Client,
    queue_url: String,
}

impl SqsResultQueue {
    pub fn new(sdk_config: &aws_config::SdkConfig, queue_url: impl Into<String>) -> Self {
        Self {
            client: Client::new(sdk_config),
            queue_url: queue_url.into(),
        }
    }
}

#[async_trait]
impl ResultQueue for SqsResultQueue {
    async fn send(&self, body: String) -> Result<(), StoreError> {
        // sqs:SendMessage
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| StoreError::Unavailable(Box::new(e.into_service_error())))?;
        Ok(())
    }
}
