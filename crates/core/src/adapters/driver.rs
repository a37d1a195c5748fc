//! What a user of the platform does from outside it, as `aws lambda invoke` and `aws events put-events` do:
//! invoke a function synchronously and read its answer, and put `User Call` events on the bus. Used by the
//! local-stack driver (`volley-demo`) and by tests; no function needs it (feature `driver`).

use aws_sdk_lambda::primitives::Blob;

use crate::ports::StoreError;

fn unavailable<E: std::error::Error + Send + Sync + 'static>(e: E) -> StoreError {
    StoreError::Unavailable(Box::new(e))
}

/// The error a function reported: Lambda's `errorType` and `errorMessage`, and the whole answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{error_type}: {message}")]
pub struct FunctionError {
    pub error_type: String,
    pub message: String,
    pub answer: serde_json::Value,
}

/// Synchronous invocations of deployed functions.
#[derive(Debug, Clone)]
pub struct Functions {
    client: aws_sdk_lambda::Client,
}

impl Functions {
    pub fn new(sdk_config: &aws_config::SdkConfig) -> Self {
        Self {
            client: aws_sdk_lambda::Client::new(sdk_config),
        }
    }

    /// Invokes `function` with `payload` and waits for its answer: `Ok(Ok(answer))`, `Ok(Err(what the
    /// function reported))`, or `Err` when Lambda itself could not be asked or answered something other than
    /// JSON.
    pub async fn invoke(
        &self,
        function: &str,
        payload: &serde_json::Value,
    ) -> Result<Result<serde_json::Value, FunctionError>, StoreError> {
        let out = self
            .client
            .invoke()
            .function_name(function)
            .payload(Blob::new(payload.to_string()))
            .send()
            .await
            .map_err(|e| unavailable(e.into_service_error()))?;
        let body = out.payload.map(Blob::into_inner).unwrap_or_default();
        let answer: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
            StoreError::Corrupt(format!("{function} answered {:?}: {e}", String::from_utf8_lossy(&body)))
        })?;
        if out.function_error.is_none() {
            return Ok(Ok(answer));
        }
        let field = |name: &str| answer[name].as_str().unwrap_or_default().to_owned();
        Ok(Err(FunctionError {
            error_type: field("errorType"),
            message: field("errorMessage"),
            answer,
        }))
    }

    /// Starts `function` with `payload` without waiting (`--invocation-type Event`).
    pub async fn invoke_async(&self, function: &str, payload: &serde_json::Value) -> Result<(), StoreError> {
        self.client
            .invoke()
            .function_name(function)
            .invocation_type(aws_sdk_lambda::types::InvocationType::Event)
            .payload(Blob::new(payload.to_string()))
            .send()
            .await
            .map_err(|e| unavailable(e.into_service_error()))?;
        Ok(())
    }
}

/// An EventBridge bus that takes `User Call` events (the orchestrator's `CallBus`; `put_user_calls` puts any
/// detail, as a user can).
pub use super::eventbridge::EventBridgeCallBus as EventBus;
