//! Composition root: parse the command line, run the command, print, and exit with its status.

use std::process::ExitCode;

use clap::Parser;
use volley::{Cli, CliError, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match cli.runtime() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("volley: could not start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(&cli))
}

async fn run(cli: &Cli) -> ExitCode {
    let result = match &cli.command {
        Command::Vet(args) => volley::vet(args).await.and_then(|verdict| {
            if args.json {
                println!("{}", serde_json::to_string_pretty(&verdict)?);
            } else if verdict.allowed {
                println!("allowed: {}", verdict.reason);
                for address in &verdict.addresses {
                    println!("  {address}");
                }
            }
            if verdict.allowed {
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("{}", verdict.reason);
                Ok(ExitCode::from(1))
            }
        }),
        #[cfg(feature = "stack")]
        Command::Run(..) | Command::Stop(..) | Command::Status(..) | Command::Report(..) | Command::Outputs(..) => {
            stack(&cli.command).await
        }
        Command::Attack(args) if args.find_max => volley::knee::find_max(args).await.and_then(|found| {
            if args.json {
                println!("{}", serde_json::to_string_pretty(&found)?);
            } else {
                print!("{}", volley::knee::text(&found));
            }
            volley::knee::write(args, &found)?;
            Ok(if found.highest_held.is_some() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(3)
            })
        }),
        Command::Attack(args) => volley::attack(args).await.and_then(|output| {
            if args.json {
                println!("{}", serde_json::to_string_pretty(&output)?);
            } else {
                print!("{}", volley::report::text(&output));
            }
            // After the report is out: a page that cannot be written loses nothing already printed.
            volley::html::write(args, &output)?;
            if output.passed() {
                Ok(ExitCode::SUCCESS)
            } else {
                for verdict in output.thresholds.iter().filter(|v| !v.passed) {
                    eprintln!("volley: threshold failed: {}", verdict.line());
                }
                Ok(ExitCode::from(3))
            }
        }),
    };
    result.unwrap_or_else(|error: CliError| {
        eprintln!("volley: {error}");
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            eprintln!("  caused by: {cause}");
            source = cause.source();
        }
        ExitCode::from(error.exit_code())
    })
}

/// The commands that drive a deployed stack.
#[cfg(feature = "stack")]
async fn stack(command: &Command) -> Result<ExitCode, CliError> {
    use volley::run;
    let verdict = |output: &run::RunOutput, json: bool, url: &str, html: Option<&std::path::Path>| {
        if json {
            println!("{}", serde_json::to_string_pretty(output)?);
        } else {
            print!("{}", run::text(output, url));
        }
        // After the report is out: a page that cannot be written loses nothing already printed.
        volley::page::write(html, output, url)?;
        if output.passed() {
            return Ok(ExitCode::SUCCESS);
        }
        for verdict in output.thresholds.iter().filter(|v| !v.passed) {
            eprintln!("volley: threshold failed: {}", verdict.line());
        }
        Ok::<_, CliError>(ExitCode::from(3))
    };
    match command {
        Command::Run(args) => {
            let output = run::run(args).await?;
            verdict(&output, args.json, &args.plan, args.html.as_deref())
        }
        Command::Report(args) => {
            let output = run::report_of(args).await?;
            verdict(&output, args.json, &args.test_id, args.html.as_deref())
        }
        Command::Outputs(args) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&volley::stack::outputs(args).await?)?
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Stop(args) | Command::Status(args) => {
            let answer = if matches!(command, Command::Stop(..)) {
                run::stop(args).await?
            } else {
                run::status(args).await?
            };
            println!("{}", serde_json::to_string_pretty(&answer)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Attack(..) | Command::Vet(..) => Ok(ExitCode::FAILURE),
    }
}
