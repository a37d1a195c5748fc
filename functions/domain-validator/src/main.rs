//! Composition root: telemetry, configuration, clients, then the Lambda runtime.

use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    volley_core::telemetry::init();
    let config = domain_validator::Config::from_env()?;
    let deps = domain_validator::Deps::from_aws(&volley_core::aws::sdk_config().await, &config)?;
    let deps = &deps;
    lambda_runtime::run(service_fn(move |event| domain_validator::function_handler(deps, event))).await
}
