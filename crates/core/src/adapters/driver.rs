//! What a user of the platform does from outside it, as `aws lambda invoke` and `aws events put-events` do:
//! invoke a function synchronously and read its answer, and put `User Call` events on the bus. Used by the
//! local-stack driver (`volley-demo`), by `volley`'s stack commands (`volley run` reads the deployed worker's
//! configuration and concurrency) and by tests; no function needs it (feature `driver`).

use std::collections::BTreeMap;

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

    /// `function` as deployed (GetFunctionConfiguration): its environment (what its `Config` reads), its
    /// memory and its architecture.
    pub async fn configuration(&self, function: &str) -> Result<Deployment, StoreError> {
        let out = self
            .client
            .get_function_configuration()
            .function_name(function)
            .send()
            .await
            .map_err(|e| unavailable(e.into_service_error()))?;
        Ok(Deployment {
            memory_mb: out.memory_size.unwrap_or(128).max(0) as u32,
            architecture: out
                .architectures
                .and_then(|a| a.first().map(|a| a.as_str().to_owned()))
                .unwrap_or_else(|| "x86_64".into()),
            environment: out
                .environment
                .and_then(|e| e.variables)
                .unwrap_or_default()
                .into_iter()
                .collect(),
        })
    }

    /// How many of `function` may run at once in this region: its reserved concurrency when it has one
    /// (GetFunctionConcurrency), else the account's unreserved concurrency (GetAccountSettings), which every
    /// function without a reservation shares.
    pub async fn concurrency(&self, function: &str) -> Result<Concurrency, StoreError> {
        let reserved = self
            .client
            .get_function_concurrency()
            .function_name(function)
            .send()
            .await
            .map_err(|e| unavailable(e.into_service_error()))?
            .reserved_concurrent_executions;
        if let Some(reserved) = reserved {
            return Ok(Concurrency::Reserved(reserved.max(0) as u64));
        }
        let settings = self
            .client
            .get_account_settings()
            .send()
            .await
            .map_err(|e| unavailable(e.into_service_error()))?;
        let limit = settings
            .account_limit
            .ok_or_else(|| StoreError::Corrupt("GetAccountSettings answered no AccountLimit".into()))?;
        Ok(Concurrency::Unreserved {
            unreserved: limit.unreserved_concurrent_executions.unwrap_or_default().max(0) as u64,
            account: limit.concurrent_executions.max(0) as u64,
        })
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

/// A function as deployed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    pub environment: BTreeMap<String, String>,
    pub memory_mb: u32,
    /// `arm64` or `x86_64` (Lambda's default when none is set).
    pub architecture: String,
}

/// How many executions of a function may run at once in a region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concurrency {
    /// Its own reservation.
    Reserved(u64),
    /// None of its own: the account's unreserved executions, shared by every such function, of `account`.
    Unreserved { unreserved: u64, account: u64 },
}

impl Concurrency {
    /// The most that may run at once.
    pub fn limit(self) -> u64 {
        match self {
            Self::Reserved(n) | Self::Unreserved { unreserved: n, .. } => n,
        }
    }
}

impl std::fmt::Display for Concurrency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Reserved(n) => write!(f, "its reserved concurrency of {n}"),
            Self::Unreserved { unreserved, account } => write!(
                f,
                "the account's {unreserved} unreserved concurrent executions (of {account}), shared with every function without a reservation"
            ),
        }
    }
}

/// The account the SDK's credentials belong to (STS GetCallerIdentity): part of the names deploy/ gives
/// what must be unique across accounts (the results bucket).
pub async fn account_id(sdk_config: &aws_config::SdkConfig) -> Result<String, StoreError> {
    aws_sdk_sts::Client::new(sdk_config)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| unavailable(e.into_service_error()))?
        .account
        .ok_or_else(|| StoreError::Corrupt("STS answered no account".into()))
}

/// An EventBridge bus that takes `User Call` events (the orchestrator's `CallBus`; `put_user_calls` puts any
/// detail, as a user can).
pub use super::eventbridge::EventBridgeCallBus as EventBus;
