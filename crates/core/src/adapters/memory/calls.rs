//! The calls table's twin: the worker's `CallClaims` in a map, with the same lease and states.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::ports::{Claim, StoreError};

/// A `CallClaims` in a map.
#[derive(Debug, Default)]
pub struct MemoryCallClaims {
    claims: Mutex<HashMap<String, Claim>>,
}

impl MemoryCallClaims {
    pub fn new() -> Self {
        Self::default()
    }

    /// How `call_id`'s claim stands, if there is one.
    pub fn get(&self, call_id: &str) -> Option<Claim> {
        self.claims.lock().ok()?.get(call_id).cloned()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, HashMap<String, Claim>>, StoreError> {
        self.claims
            .lock()
            .map_err(|_| StoreError::Corrupt("the in-memory claims' lock was poisoned".into()))
    }
}

#[async_trait]
impl crate::ports::CallClaims for MemoryCallClaims {
    async fn claim(&self, _test_id: &str, call_id: &str, now: i64, lease_until: i64) -> Result<Claim, StoreError> {
        let mut claims = self.lock()?;
        let Some(existing) = claims.get(call_id).cloned() else {
            claims.insert(call_id.to_owned(), Claim::Running { lease_until });
            return Ok(Claim::Fresh);
        };
        Ok(match existing {
            Claim::Running { lease_until: held } if held < now => {
                claims.insert(call_id.to_owned(), Claim::Lost);
                Claim::Lost
            }
            other => other,
        })
    }

    async fn stored(&self, call_id: &str) -> Result<Option<String>, StoreError> {
        Ok(match self.lock()?.get(call_id) {
            Some(Claim::Stored { key }) => Some(key.clone()),
            _ => None,
        })
    }

    async fn mark_stored(&self, call_id: &str, key: &str) -> Result<(), StoreError> {
        self.lock()?
            .insert(call_id.to_owned(), Claim::Stored { key: key.to_owned() });
        Ok(())
    }
}
