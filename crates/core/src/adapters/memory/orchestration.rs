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

    /// Sets a flag and its time unless the flag is set (or the test unknown): true when this call set it, as
    /// the DynamoDB adapter's conditional update.
    fn flip(
        &self,
        test: &TestScope,
        flag: impl FnOnce(&mut TestState) -> (&mut bool, &mut Option<i64>),
        at: i64,
    ) -> Result<bool, StoreError> {
        let mut tests = self.lock()?;
        let Some(state) = tests.get_mut(test) else {
            return Ok(false);
        };
        let (set, when) = flag(state);
        if *set {
            return Ok(false);
        }
        (*set, *when) = (true, Some(at));
        Ok(true)
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

    async fn begin(&self, state: &TestState) -> Result<Option<TestState>, StoreError> {
        let mut tests = self.lock()?;
        if let Some(existing) = tests.get(&state.test).filter(|s| s.plan.is_some()) {
            return Ok(Some(existing.clone()));
        }
        tests.insert(state.test.clone(), state.clone());
        Ok(None)
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
        self.flip(test, |state| (&mut state.started, &mut state.start_at), start_at)
    }

    async fn complete(&self, test: &TestScope, at: i64) -> Result<bool, StoreError> {
        self.flip(test, |state| (&mut state.completed, &mut state.completed_at), at)
    }

    async fn stop(&self, test: &TestScope, at: i64) -> Result<bool, StoreError> {
        self.flip(test, |state| (&mut state.stopped, &mut state.stopped_at), at)
    }
}

/// One map stands for every region's table: the home region is not told apart here.
#[async_trait]
impl StopSignal for MemoryOrchestrationStore {
    async fn stopped(&self, test: &TestScope, _home_region: Option<&str>) -> Result<bool, StoreError> {
        Ok(self.lock()?.get(test).is_some_and(|state| state.stopped))
    }

    async fn stop_because(
        &self,
        test: &TestScope,
        _home_region: Option<&str>,
        at: i64,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let stopped = self.flip(test, |s| (&mut s.stopped, &mut s.stopped_at), at)?;
        if stopped && let Some(state) = self.lock()?.get_mut(test) {
            state.stop_reason = Some(reason.to_owned());
        }
        Ok(stopped)
    }
}
