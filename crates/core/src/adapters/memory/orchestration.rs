//! The orchestration table's twin: the orchestrator's store in a map, one lock around each operation (as
//! DynamoDB makes each one atomic).

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::model::orchestration::{RegionMark, TestState};
use crate::model::scope::TestScope;
use crate::ports::{OrchestrationStore, RegionRecorded, StopSignal, StoreError};

/// An `OrchestrationStore` in memory.
#[derive(Debug, Default)]
pub struct MemoryOrchestrationStore {
    tests: Mutex<HashMap<TestScope, TestState>>,
}

impl MemoryOrchestrationStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, HashMap<TestScope, TestState>>, StoreError> {
        self.tests
            .lock()
            .map_err(|_| StoreError::Corrupt("the in-memory orchestration lock was poisoned".into()))
    }
}

#[async_trait]
impl OrchestrationStore for MemoryOrchestrationStore {
    async fn reset(&self, state: &TestState) -> Result<(), StoreError> {
        self.lock()?.insert(state.test.clone(), state.clone());
        Ok(())
    }

    async fn get(&self, test: &TestScope) -> Result<Option<TestState>, StoreError> {
        Ok(self.lock()?.get(test).cloned())
    }

    async fn add_region(&self, test: &TestScope, mark: RegionMark, region: &str) -> Result<RegionRecorded, StoreError> {
        let mut tests = self.lock()?;
        let Some(state) = tests.get_mut(test) else {
            return Ok(RegionRecorded::UnknownTest);
        };
        if !state.required_regions.contains(region) {
            return Ok(RegionRecorded::NotRequired(state.clone()));
        }
        match mark {
            RegionMark::Ready => state.ready_regions.insert(region.to_owned()),
            RegionMark::Completed => state.completed_regions.insert(region.to_owned()),
        };
        Ok(RegionRecorded::Recorded(state.clone()))
    }

    async fn start(&self, test: &TestScope, start_at: i64) -> Result<bool, StoreError> {
        let mut tests = self.lock()?;
        match tests.get_mut(test) {
            Some(state) if !state.started => {
                state.started = true;
                state.start_at = Some(start_at);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn complete(&self, test: &TestScope, at: i64) -> Result<bool, StoreError> {
        let mut tests = self.lock()?;
        match tests.get_mut(test) {
            Some(state) if !state.completed => {
                state.completed = true;
                state.completed_at = Some(at);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn stop(&self, test: &TestScope, at: i64) -> Result<bool, StoreError> {
        let mut tests = self.lock()?;
        match tests.get_mut(test) {
            Some(state) if !state.stopped => {
                state.stopped = true;
                state.stopped_at = Some(at);
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

/// One map stands for every region's table: the home region is not told apart here.
#[async_trait]
impl StopSignal for MemoryOrchestrationStore {
    async fn stopped(&self, test: &TestScope, _home_region: Option<&str>) -> Result<bool, StoreError> {
        Ok(self.lock()?.get(test).is_some_and(|state| state.stopped))
    }
}
