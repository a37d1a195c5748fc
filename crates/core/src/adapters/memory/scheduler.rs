//! Scheduler's twin: the schedules made and not deleted, by name.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::ports::{SegmentSchedules, StoreError};

/// A schedule as made: when, what it invokes, with what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub at: i64,
    pub target: String,
    pub input: String,
}

/// `SegmentSchedules` in a map (nothing fires: tests invoke what a schedule would).
#[derive(Debug, Default)]
pub struct MemorySegmentSchedules {
    pub schedules: Mutex<BTreeMap<String, Schedule>>,
}

#[async_trait]
impl SegmentSchedules for MemorySegmentSchedules {
    async fn create(&self, name: &str, at: i64, target: &str, input: &str) -> Result<(), StoreError> {
        let mut schedules = self.schedules.lock().unwrap_or_else(|e| e.into_inner());
        schedules.entry(name.to_owned()).or_insert_with(|| Schedule {
            at,
            target: target.to_owned(),
            input: input.to_owned(),
        });
        Ok(())
    }

    async fn delete(&self, name: &str) -> Result<bool, StoreError> {
        let mut schedules = self.schedules.lock().unwrap_or_else(|e| e.into_inner());
        Ok(schedules.remove(name).is_some())
    }
}
