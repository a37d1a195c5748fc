//! The birthdays table's twin: the greeter's `BirthdayStore` in a map.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::NaiveDate;

use crate::model::birthday::Username;
use crate::ports::{BirthdayStore, StoreError};

/// A `BirthdayStore` in a map.
#[derive(Debug, Default)]
pub struct MemoryBirthdayStore {
    dates: Mutex<HashMap<Username, NaiveDate>>,
}

impl MemoryBirthdayStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, HashMap<Username, NaiveDate>>, StoreError> {
        self.dates
            .lock()
            .map_err(|_| StoreError::Corrupt("the in-memory store's lock was poisoned".into()))
    }
}

#[async_trait]
impl BirthdayStore for MemoryBirthdayStore {
    async fn put(&self, user: &Username, born: NaiveDate) -> Result<(), StoreError> {
        self.lock()?.insert(user.clone(), born);
        Ok(())
    }

    async fn get(&self, user: &Username) -> Result<Option<NaiveDate>, StoreError> {
        Ok(self.lock()?.get(user).copied())
    }
}
