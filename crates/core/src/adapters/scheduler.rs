//! EventBridge Scheduler: one-time `at()` schedules that invoke a Lambda function once with a fixed input
//! and delete themselves (`ActionAfterCompletion: DELETE`), assuming the role Scheduler is given for it.

use async_trait::async_trait;
use aws_sdk_scheduler::Client;
use aws_sdk_scheduler::error::ProvideErrorMetadata;
use aws_sdk_scheduler::types::{ActionAfterCompletion, FlexibleTimeWindow, FlexibleTimeWindowMode, Target};

use crate::ports::{SegmentSchedules, StoreError};

/// The IAM actions `SchedulerSegmentSchedules` calls: `create` passes Scheduler its role.
pub const SEGMENT_SCHEDULES_ACTIONS: &[&str] =
    &["scheduler:CreateSchedule", "scheduler:DeleteSchedule", "iam:PassRole"];

fn unavailable<E: std::error::Error + Send + Sync + 'static>(e: E) -> StoreError {
    StoreError::Unavailable(Box::new(e))
}

/// Schedules in the `default` group, invoking their target as `role_arn`.
#[derive(Debug, Clone)]
pub struct SchedulerSegmentSchedules {
    client: Client,
    role_arn: String,
}

impl SchedulerSegmentSchedules {
    pub fn new(sdk_config: &aws_config::SdkConfig, role_arn: impl Into<String>) -> Self {
        Self {
            client: Client::new(sdk_config),
            role_arn: role_arn.into(),
        }
    }
}

/// `at(yyyy-mm-ddThh:mm:ss)` in UTC, Scheduler's one-time expression.
fn at_expression(at: i64) -> Result<String, StoreError> {
    chrono::DateTime::from_timestamp(at, 0)
        .map(|t| format!("at({})", t.format("%Y-%m-%dT%H:%M:%S")))
        .ok_or_else(|| StoreError::Corrupt(format!("{at} is not a time a schedule can be at")))
}

#[async_trait]
impl SegmentSchedules for SchedulerSegmentSchedules {
    async fn create(&self, name: &str, at: i64, target: &str, input: &str) -> Result<(), StoreError> {
        let target = Target::builder()
            .arn(target)
            .role_arn(&self.role_arn)
            .input(input)
            .build()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let window = FlexibleTimeWindow::builder()
            .mode(FlexibleTimeWindowMode::Off)
            .build()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        // scheduler:CreateSchedule (and iam:PassRole for its role)
        let created = self
            .client
            .create_schedule()
            .name(name)
            .schedule_expression(at_expression(at)?)
            .schedule_expression_timezone("UTC")
            .flexible_time_window(window)
            .action_after_completion(ActionAfterCompletion::Delete)
            .target(target)
            .send()
            .await;
        match created {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conflict_exception()) => Ok(()),
            Err(e) => Err(unavailable(e.into_service_error())),
        }
    }

    async fn delete(&self, name: &str) -> Result<bool, StoreError> {
        // scheduler:DeleteSchedule
        match self.client.delete_schedule().name(name).send().await {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                Ok(false)
            }
            Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(false),
            Err(e) => Err(unavailable(e.into_service_error())),
        }
    }
}
