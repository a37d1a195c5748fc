//! Composition root: telemetry, configuration, clients, then either the Lambda runtime or a local server.

use std::net::SocketAddr;
use std::sync::Arc;

use clap::Parser;
use lambda_runtime::{Error, service_fn};

/// The birthday API. Without `--listen` it runs as an AWS Lambda function behind API Gateway.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Serve plain HTTP on this address instead of running inside Lambda (e.g. 127.0.0.1:3000).
    #[arg(long)]
    listen: Option<SocketAddr>,
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    volley_core::telemetry::init();
    let args = Args::parse();
    let config = greeter::Config::from_env()?;
    let deps = greeter::Deps::from_aws(&volley_core::aws::sdk_config().await, &config);
    if let Some(address) = args.listen {
        let listener = tokio::net::TcpListener::bind(address).await?;
        tracing::info!(%address, table = %config.birthdays_table, "greeter listening");
        greeter::local::serve(Arc::new(deps), listener).await?;
        return Ok(());
    }
    let deps = &deps;
    lambda_runtime::run(service_fn(move |event| greeter::function_handler(deps, event))).await
}
