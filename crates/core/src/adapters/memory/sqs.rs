//! The results queue's twin: a `ResultQueue` that keeps what was sent.

use std::sync::Mutex;

use async_trait::async_trait;

use crate::ports::StoreError;

/// A `ResultQueue` that keeps what was sent, in order.
#[derive(Debug, Default)]
pub struct MemoryResultQueue {
    pub sent: Mutex<Vec<String>>,
}

#[async_trait]
impl crate::ports::ResultQueue for MemoryResultQueue {
    async fn send(&self, body: String) -> Result<(), StoreError> {
        self.sent
            .lock()
            .map_err(|_| StoreError::Corrupt("poisoned".into()))?
            .push(body);
        Ok(())
    }
}
