//! `volley-demo`: what `make demo` runs once the local stack is deployed (see the crate's documentation).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use volley_demo::{Options, Stack, StackOutputs, phases::Phases};

/// One whole load test through the seven functions in the local stack, with text and HTML reports.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Requests per second from each region (the plan's rate is all regions together).
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u32).range(1..=200))]
    rate: u32,
    /// How long the workers load the greeter.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// The regions, comma-separated, the home region (the stack's own) first; default: the regions the
    /// local stack is deployed in.
    #[arg(long, value_delimiter = ',')]
    regions: Vec<String>,
    /// The organisation the demo registers.
    #[arg(long, default_value = "volley-demo")]
    organisation: String,
    /// run-load: simulated users, spawned per second, and how long all of them run.
    #[arg(long, default_value_t = 4)]
    users: u32,
    #[arg(long, default_value_t = 4)]
    spawn_rate: u32,
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    runtime: Duration,
    /// run-load stores its run under this tag and compares with the previous run under it.
    #[arg(long, default_value = "demo")]
    tag: String,
    /// Where index.html and outcome.json go.
    #[arg(long, default_value = "target/volley-report")]
    out_dir: PathBuf,
    /// The stack's outputs, written by `make stack-deploy`.
    #[arg(long, default_value = "target/local-stack/outputs.json")]
    outputs: PathBuf,
    /// A phase timed before this program ran, as name=seconds (scripts/demo.sh passes build and deploy).
    #[arg(long = "setup", value_parser = setup_phase)]
    setup: Vec<(String, Duration)>,
}

fn setup_phase(text: &str) -> Result<(String, Duration), String> {
    let (name, seconds) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not name=seconds"))?;
    let seconds: f64 = seconds
        .parse()
        .map_err(|e| format!("{seconds:?} is not a number of seconds: {e}"))?;
    Duration::try_from_secs_f64(seconds)
        .map(|d| (name.to_owned(), d))
        .map_err(|e| format!("{seconds}: {e}"))
}

/// The error and every cause under it, so a failure of the local stack says what failed.
fn report(error: &dyn std::error::Error) -> ExitCode {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        text.push_str(&format!(": {e}"));
        cause = e.source();
    }
    eprintln!("volley-demo: {text}");
    ExitCode::FAILURE
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let options = Options {
        rate: args.rate,
        duration: args.duration,
        regions: args.regions,
        organisation: args.organisation,
        users: args.users,
        spawn_rate: args.spawn_rate,
        runtime: args.runtime,
        tag: args.tag,
        out_dir: args.out_dir,
        setup: args.setup,
        ..Options::default()
    };
    let outputs = match StackOutputs::load(&args.outputs) {
        Ok(outputs) => outputs,
        Err(e) => return report(&e),
    };
    let stack = Stack::connect(outputs).await;
    let phases = Phases::new();
    let outcome = match volley_demo::run(&options, &stack, &phases).await {
        Ok(outcome) => outcome,
        Err(e) => return report(&e),
    };
    println!("{}", volley_demo::text::render(&outcome));
    match volley_demo::write_reports(&outcome, &options.out_dir) {
        Ok(page) => {
            println!("HTML report: {}", page.display());
            ExitCode::SUCCESS
        }
        Err(e) => report(&e),
    }
}
