//! The runs table's twin: run-load's `RunIndex` in a list and its `RunClaims` in a map.

use std::sync::Mutex;

use async_trait::async_trait;

use crate::ports::StoreError;

/// A `RunIndex` in a list.
#[derive(Debug, Default)]
pub struct MemoryRunIndex {
    entries: Mutex<Vec<crate::ports::RunEntry>>,
}

#[async_trait]
impl crate::ports::RunIndex for MemoryRunIndex {
    async fn add(&self, entry: &crate::ports::RunEntry) -> Result<(), StoreError> {
        let mut entries = self
            .entries
            .lock()
            .map_err(|_| StoreError::Corrupt("poisoned".into()))?;
        entries.retain(|e| {
            !(e.organisation_id == entry.organisation_id && e.tag == entry.tag && e.run_id == entry.run_id)
        });
        entries.push(entry.clone());
        Ok(())
    }

    async fn latest(
        &self,
        organisation_id: &str,
        tag: &str,
        shape: &str,
        limit: usize,
    ) -> Result<Vec<crate::ports::RunEntry>, StoreError> {
        let entries = self
            .entries
            .lock()
            .map_err(|_| StoreError::Corrupt("poisoned".into()))?;
        let mut matching: Vec<_> = entries
            .iter()
            .filter(|e| e.organisation_id == organisation_id && e.tag == tag && e.shape == shape)
            .cloned()
            .collect();
        matching.sort_by(|a, b| (b.started_at, &b.run_id).cmp(&(a.started_at, &a.run_id)));
        matching.truncate(limit);
        Ok(matching)
    }
}

/// A `RunClaims` in a map: (organisation, run id) → (fingerprint, state).
#[derive(Debug, Default)]
pub struct MemoryRunClaims {
    claims: Mutex<std::collections::HashMap<(String, String), (String, crate::ports::RunClaim)>>,
}

#[async_trait]
impl crate::ports::RunClaims for MemoryRunClaims {
    async fn claim(
        &self,
        organisation: &str,
        run_id: &str,
        request: &str,
        now: i64,
        lease_until: i64,
    ) -> Result<crate::ports::RunClaim, StoreError> {
        use crate::ports::RunClaim;
        let mut claims = self.claims.lock().map_err(|_| StoreError::Corrupt("poisoned".into()))?;
        let key = (organisation.to_owned(), run_id.to_owned());
        let Some((fingerprint, state)) = claims.get(&key).cloned() else {
            claims.insert(key, (request.to_owned(), RunClaim::Running { lease_until }));
            return Ok(RunClaim::Fresh);
        };
        if fingerprint != request {
            return Ok(RunClaim::OtherRequest);
        }
        Ok(match state {
            RunClaim::Running { lease_until: held } if held < now => {
                claims.insert(key, (fingerprint, RunClaim::Lost));
                RunClaim::Lost
            }
            other => other,
        })
    }

    async fn answered(&self, organisation: &str, run_id: &str, key: &str) -> Result<(), StoreError> {
        let mut claims = self.claims.lock().map_err(|_| StoreError::Corrupt("poisoned".into()))?;
        if let Some(claim) = claims.get_mut(&(organisation.to_owned(), run_id.to_owned())) {
            claim.1 = crate::ports::RunClaim::Answered { key: key.to_owned() };
        }
        Ok(())
    }
}
