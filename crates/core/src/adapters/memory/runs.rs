//! The runs table's twin: run-load's `RunIndex` in a list.

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
