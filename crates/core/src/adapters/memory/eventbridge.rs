//! The event bus's twin: every call put, by region, in order.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::model::call::UserCall;
use crate::ports::{CallBus, StoreError};

/// A `CallBus` that keeps what it was given; `failing` refuses every put (a bus that is down).
#[derive(Debug, Default)]
pub struct MemoryCallBus {
    /// The calls put, by region (`""` for this region).
    pub put: Mutex<BTreeMap<String, Vec<UserCall>>>,
    pub failing: std::sync::atomic::AtomicBool,
}

impl MemoryCallBus {
    /// Every call put in `region` (`""`: this region), in order.
    pub fn calls_in(&self, region: &str) -> Vec<UserCall> {
        let put = self.put.lock().unwrap_or_else(|e| e.into_inner());
        put.get(region).cloned().unwrap_or_default()
    }
}

#[async_trait]
impl CallBus for MemoryCallBus {
    async fn put(&self, region: Option<&str>, calls: &[UserCall]) -> Result<(), StoreError> {
        if self.failing.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(StoreError::Unavailable("the bus is down".into()));
        }
        let mut put = self.put.lock().unwrap_or_else(|e| e.into_inner());
        put.entry(region.unwrap_or_default().to_owned())
            .or_default()
            .extend_from_slice(calls);
        Ok(())
    }
}
