//! The results bucket's twin: a `ResultArchive` in a map.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::ports::StoreError;

/// A `ResultArchive` in a map.
#[derive(Debug, Default)]
pub struct MemoryResultArchive {
    pub objects: Mutex<HashMap<String, Vec<u8>>>,
}

#[async_trait]
impl crate::ports::ResultArchive for MemoryResultArchive {
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        self.objects
            .lock()
            .map_err(|_| StoreError::Corrupt("poisoned".into()))?
            .insert(key.to_owned(), body);
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .objects
            .lock()
            .map_err(|_| StoreError::Corrupt("poisoned".into()))?
            .get(key)
            .cloned())
    }
}
