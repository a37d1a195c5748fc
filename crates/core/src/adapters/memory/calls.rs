//! The calls table's twin: the worker's `CallClaims` in a set.

use std::sync::Mutex;

use async_trait::async_trait;

use crate::ports::StoreError;

/// A `CallClaims` in a set.
#[derive(Debug, Default)]
pub struct MemoryCallClaims {
    claims: Mutex<std::collections::HashSet<String>>,
}

impl MemoryCallClaims {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl crate::ports::CallClaims for MemoryCallClaims {
    async fn claim(&self, _test_id: &str, call_id: &str, _now: i64) -> Result<bool, StoreError> {
        Ok(self
            .claims
            .lock()
            .map_err(|_| StoreError::Corrupt("the in-memory claims' lock was poisoned".into()))?
            .insert(call_id.to_owned()))
    }
}
