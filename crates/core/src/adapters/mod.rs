//! Adapters: the ports implemented over AWS services, and in memory for handler tests.
//! The only module that imports `aws_sdk_*` (ARCHITECTURE.md, invariant 1).

pub mod cloudwatch;
#[cfg(feature = "driver")]
pub mod driver;
pub mod dynamodb;
pub mod eventbridge;
pub mod memory;
pub mod s3;
pub mod scheduler;
pub mod sqs;
pub mod ssm;

/// An SDK client per region, made when a region is first asked for and kept: the adapters that reach a
/// test's other regions (its home region's stop, each region's bus). `None` is the configuration's own
/// region.
#[derive(Debug)]
pub(crate) struct PerRegion<C> {
    sdk_config: aws_config::SdkConfig,
    make: fn(&aws_config::SdkConfig) -> C,
    clients: std::sync::Mutex<std::collections::HashMap<Option<String>, C>>,
}

impl<C: Clone> PerRegion<C> {
    pub(crate) fn new(sdk_config: &aws_config::SdkConfig, make: fn(&aws_config::SdkConfig) -> C) -> Self {
        Self {
            sdk_config: sdk_config.clone(),
            make,
            clients: std::sync::Mutex::default(),
        }
    }

    pub(crate) fn client(&self, region: Option<&str>) -> C {
        let mut clients = self.clients.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        clients
            .entry(region.map(str::to_owned))
            .or_insert_with(|| match region {
                None => (self.make)(&self.sdk_config),
                Some(region) => (self.make)(&crate::aws::in_region(&self.sdk_config, region)),
            })
            .clone()
    }
}
