//! The calls table's twin: the worker's `CallClaims` in a map, with the same lease and states, counting lost
//! calls in a `MemoryResultLedger`'s counters as `dynamodb::calls` counts them in the tests table.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::tests::MemoryResultLedger;
use crate::model::scope::CallScope;
use crate::ports::{Claim, StoreError};

/// A `CallClaims` in a map.
#[derive(Debug, Default)]
pub struct MemoryCallClaims {
    claims: Mutex<HashMap<CallScope, Claim>>,
    /// Where lost calls are counted.
    ledger: Arc<MemoryResultLedger>,
}

impl MemoryCallClaims {
    /// Claims counting lost calls in a ledger of their own.
    pub fn new() -> Self {
        Self::default()
    }

    /// Claims counting lost calls in `ledger` (the archiver's, as the tests table is shared).
    pub fn sharing(ledger: Arc<MemoryResultLedger>) -> Self {
        Self {
            claims: Mutex::default(),
            ledger,
        }
    }

    /// How `call`'s claim stands, if there is one.
    pub fn get(&self, call: &CallScope) -> Option<Claim> {
        self.claims.lock().ok()?.get(call).cloned()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, HashMap<CallScope, Claim>>, StoreError> {
        self.claims
            .lock()
            .map_err(|_| StoreError::Corrupt("the in-memory claims' lock was poisoned".into()))
    }
}

#[async_trait]
impl crate::ports::CallClaims for MemoryCallClaims {
    async fn claim(&self, call: &CallScope, now: i64, lease_until: i64) -> Result<Claim, StoreError> {
        let mut claims = self.lock()?;
        let Some(existing) = claims.get(call).cloned() else {
            claims.insert(call.clone(), Claim::Running { lease_until });
            return Ok(Claim::Fresh);
        };
        Ok(match existing {
            Claim::Running { lease_until: held } if held < now => {
                claims.insert(call.clone(), Claim::Lost);
                self.ledger.count_lost(&call.test)?;
                Claim::Lost
            }
            other => other,
        })
    }

    async fn stored(&self, call: &CallScope) -> Result<Option<String>, StoreError> {
        Ok(match self.lock()?.get(call) {
            Some(Claim::Stored { key }) => Some(key.clone()),
            _ => None,
        })
    }

    async fn mark_stored(&self, call: &CallScope, key: &str) -> Result<(), StoreError> {
        self.lock()?.insert(call.clone(), Claim::Stored { key: key.to_owned() });
        Ok(())
    }
}
