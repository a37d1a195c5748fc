//! Resolving secret references (`model::secrets`) through the `SecretStore`: the worker's and run-load's
//! one way to turn `{{ssm:...}}` in a header value into the value to send.

use thiserror::Error;

use crate::model::secrets::{ReferenceError, check_path, references};
use crate::ports::{SecretStore, StoreError};

/// Why a header value's references cannot be resolved. Messages name the path, never a value.
#[derive(Debug, Error)]
pub enum SecretError {
    /// The reference may not name that path (another organisation's, or not a path at all).
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    #[error(
        "{{{{ssm:{path}}}}} does not exist (put it with: aws ssm put-parameter --type SecureString --name {path} ...)"
    )]
    Missing { path: String },
    #[error("reading {{{{ssm:{path}}}}} failed")]
    Store {
        path: String,
        #[source]
        source: StoreError,
    },
}

/// Where an organisation's references may point: the deployment's root folder (`SECRETS_ROOT`, `/volley`)
/// and the store.
#[derive(Debug, Clone)]
pub struct Secrets {
    pub store: std::sync::Arc<dyn SecretStore>,
    pub root: String,
}

impl Secrets {
    /// `text` with every reference replaced by its parameter's value; every path is checked against
    /// `organisation`'s folder before anything is read. Text without references comes back as it is.
    pub async fn resolve(&self, text: &str, organisation: &str) -> Result<String, SecretError> {
        let found = references(text);
        for (_, path) in &found {
            check_path(path, &self.root, organisation)?;
        }
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for (range, path) in found {
            let value = self
                .store
                .get(path)
                .await
                .map_err(|source| SecretError::Store {
                    path: path.to_owned(),
                    source,
                })?
                .ok_or_else(|| SecretError::Missing { path: path.to_owned() })?;
            out.push_str(&text[last..range.start]);
            out.push_str(&value);
            last = range.end;
        }
        out.push_str(&text[last..]);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use async_trait::async_trait;

    use super::*;

    /// Two organisations' secrets in a map (the adapters' twin is a layer above this module).
    #[derive(Debug)]
    struct Two(HashMap<&'static str, &'static str>);

    #[async_trait]
    impl SecretStore for Two {
        async fn get(&self, path: &str) -> Result<Option<String>, StoreError> {
            Ok(self.0.get(path).map(|v| (*v).to_owned()))
        }
    }

    fn secrets() -> Secrets {
        Secrets {
            store: Arc::new(Two(HashMap::from([
                ("/volley/acme/token", "s3cr3t"),
                ("/volley/globex/token", "theirs"),
            ]))),
            root: "/volley".into(),
        }
    }

    #[tokio::test]
    async fn references_resolve_inside_a_value_for_their_own_organisation() {
        let resolved = secrets().resolve("Bearer {{ssm:/volley/acme/token}}!", "acme").await;
        assert_eq!(resolved.ok().as_deref(), Some("Bearer s3cr3t!"));
        assert_eq!(
            secrets().resolve("no reference", "acme").await.ok().as_deref(),
            Some("no reference")
        );
    }

    #[tokio::test]
    async fn another_organisations_reference_is_refused_before_it_is_read_and_no_value_is_shown() {
        let error = secrets()
            .resolve("Bearer {{ssm:/volley/globex/token}}", "acme")
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("outside /volley/acme/"), "{error}");
        assert!(!error.contains("theirs"), "{error}");
        let missing = secrets()
            .resolve("{{ssm:/volley/acme/none}}", "acme")
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(missing.contains("does not exist"), "{missing}");
    }
}
