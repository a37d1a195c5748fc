//! SSM Parameter Store's twin: secrets in a map.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::ports::{SecretStore, StoreError};

/// A `SecretStore` in a map of path to value.
#[derive(Debug, Default)]
pub struct MemorySecretStore {
    values: Mutex<HashMap<String, String>>,
}

impl MemorySecretStore {
    /// A store holding `secrets` (path, value).
    pub fn with<'a>(secrets: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self {
            values: Mutex::new(
                secrets
                    .into_iter()
                    .map(|(path, value)| (path.to_owned(), value.to_owned()))
                    .collect(),
            ),
        }
    }
}

#[async_trait]
impl SecretStore for MemorySecretStore {
    async fn get(&self, path: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .values
            .lock()
            .map_err(|_| StoreError::Corrupt("poisoned".into()))?
            .get(path)
            .cloned())
    }
}
