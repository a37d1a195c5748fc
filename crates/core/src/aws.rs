//! The one place AWS SDK configuration is loaded.
//!
//! It follows the SDK's standard chain, so the local stack is reached with the standard `AWS_ENDPOINT_URL`
//! and dummy credentials, exactly as a real account is reached with real ones.

/// The loaded SDK configuration, named here so functions need not depend on `aws-config`.
pub use aws_config::SdkConfig;

/// Loads the shared SDK configuration once per cold start.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// `config` for `region` (the same credentials and endpoint, requests signed for that region): how a test's
/// other regions are reached.
pub fn in_region(config: &SdkConfig, region: &str) -> SdkConfig {
    config
        .to_builder()
        .region(aws_config::Region::new(region.to_owned()))
        .build()
}
