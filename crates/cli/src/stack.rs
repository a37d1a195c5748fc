//! Which deployed stack `volley run` and its sister commands drive, and how they reach it: its names from an
//! outputs file (what `make stack-deploy` writes for the local stack and `make outputs` for AWS: each output
//! by name, another region's as `<Name>@<region>`), or derived the way deploy/ names them
//! (`--stack aws --region R --prefix P`, [`deployed_name`]), and a client per region through the standard
//! SDK configuration: nothing here knows whether an emulator answers.

use std::collections::BTreeMap;

use volley_core::adapters::driver::{self, FunctionError, Functions};
use volley_core::adapters::dynamodb::tests::DynamoResultLedger;
use volley_core::adapters::s3::S3ResultArchive;
use volley_core::ports::StoreError;

use crate::{CliError, OutputsArgs, StackArgs};

pub(crate) fn usage(message: impl Into<String>) -> CliError {
    CliError::Usage(message.into())
}

pub(crate) fn stack_error(what: &str) -> impl FnOnce(StoreError) -> CliError + '_ {
    move |e| CliError::Stack(format!("{what}: {}", volley_core::error_chain(&e)))
}

/// The outputs `--stack aws` derives, named as the stacks' own outputs (template.yaml's, and deploy/'s
/// `stack_outputs`), which every other command reads.
pub const DERIVED_OUTPUTS: &[&str] = &[
    "Prefix",
    "StackRegion",
    "OrchestratorFunctionName",
    "WorkerFunctionName",
    "ArchiverFunctionName",
    "ResultsBucketName",
    "CallsTableName",
    "TestsTableName",
    "DomainsTableName",
    "OrchestrationTableName",
    "EventBusName",
];

/// The name deploy/ gives `output` of the stack deployed with `prefix` in `region` of `account`: the
/// functions `<prefix>-<function>`, the tables `<prefix>-<table>`, the bus `<prefix>`, the results bucket
/// `<prefix>-results-<account>-<region>` (template.yaml names them the same way). None for another output.
pub fn deployed_name(prefix: &str, account: &str, region: &str, output: &str) -> Option<String> {
    Some(match output {
        "Prefix" | "EventBusName" => prefix.to_owned(),
        "StackRegion" => region.to_owned(),
        "OrchestratorFunctionName" => format!("{prefix}-orchestrator"),
        "WorkerFunctionName" => format!("{prefix}-worker"),
        "ArchiverFunctionName" => format!("{prefix}-archiver"),
        "ResultsBucketName" => format!("{prefix}-results-{account}-{region}"),
        "CallsTableName" => format!("{prefix}-calls"),
        "TestsTableName" => format!("{prefix}-tests"),
        "DomainsTableName" => format!("{prefix}-domains"),
        "OrchestrationTableName" => format!("{prefix}-orchestration"),
        _ => return None,
    })
}

/// Where a stack's names come from.
#[derive(Debug, Clone)]
enum Names {
    /// Its outputs file.
    Outputs(BTreeMap<String, serde_json::Value>),
    /// deploy/'s naming, with the stack's home region.
    Derived {
        prefix: String,
        account: String,
        home: String,
    },
}

/// A deployed stack: its names, and how to reach each region.
#[derive(Debug, Clone)]
pub struct Stack {
    names: Names,
    config: volley_core::aws::SdkConfig,
}

impl Stack {
    pub async fn open(args: &StackArgs) -> Result<Self, CliError> {
        let config = volley_core::aws::sdk_config().await;
        let names = match (&args.outputs, &args.stack, &args.region) {
            (Some(path), None, _) => {
                let text =
                    std::fs::read_to_string(path).map_err(|e| usage(format!("--outputs {}: {e}", path.display())))?;
                Names::Outputs(
                    serde_json::from_str(&text)
                        .map_err(|e| usage(format!("--outputs {}: not a stack's outputs: {e}", path.display())))?,
                )
            }
            (None, Some(_), Some(home)) => {
                let prefix = &args.prefix;
                let valid = prefix.len() >= 2
                    && prefix.len() <= 21
                    && prefix.starts_with(|c: char| c.is_ascii_lowercase())
                    && prefix
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
                if !valid {
                    return Err(usage(format!(
                        "--prefix {prefix:?}: deploy/'s prefixes are 2 to 21 lower-case letters, digits or hyphens, starting with a letter"
                    )));
                }
                let account = driver::account_id(&volley_core::aws::in_region(&config, home))
                    .await
                    .map_err(stack_error("asking STS which account the credentials belong to"))?;
                Names::Derived {
                    prefix: prefix.clone(),
                    account,
                    home: home.clone(),
                }
            }
            _ => {
                return Err(usage(
                    "name the stack: --outputs FILE, or --stack aws --region R [--prefix P]",
                ));
            }
        };
        Ok(Self { names, config })
    }

    /// The stack's home region: where its orchestrator runs.
    pub(crate) fn home(&self) -> Result<String, CliError> {
        match &self.names {
            Names::Derived { home, .. } => Ok(home.clone()),
            Names::Outputs(_) => self.output("StackRegion", None),
        }
    }

    /// The output `name` of `region`'s stack (None: the home region's).
    pub fn output(&self, name: &str, region: Option<&str>) -> Result<String, CliError> {
        match &self.names {
            Names::Derived { prefix, account, home } => deployed_name(prefix, account, region.unwrap_or(home), name)
                .ok_or_else(|| usage(format!("--stack aws derives no {name}"))),
            Names::Outputs(outputs) => {
                let own = outputs.get("StackRegion").and_then(|v| v.as_str());
                let key = match region {
                    Some(region) if Some(region) != own => format!("{name}@{region}"),
                    _ => name.to_owned(),
                };
                outputs
                    .get(&key)
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
                    .ok_or_else(|| usage(format!("--outputs has no {key}: is the stack deployed in that region?")))
            }
        }
    }

    pub(crate) fn in_region(&self, region: &str) -> volley_core::aws::SdkConfig {
        volley_core::aws::in_region(&self.config, region)
    }

    /// Invokes the orchestrator in the home region with `request`.
    pub async fn orchestrate(&self, request: serde_json::Value) -> Result<serde_json::Value, CliError> {
        let function = self.output("OrchestratorFunctionName", None)?;
        match Functions::new(&self.in_region(&self.home()?))
            .invoke(&function, &request)
            .await
            .map_err(stack_error("the orchestrator could not be invoked"))?
        {
            Ok(answer) => Ok(answer),
            Err(FunctionError {
                error_type, message, ..
            }) if error_type == "BadRequest" => Err(usage(message)),
            Err(e) => Err(CliError::Stack(format!("the orchestrator answered {e}"))),
        }
    }

    pub(crate) fn archive(&self, region: &str) -> Result<S3ResultArchive, CliError> {
        Ok(S3ResultArchive::new(
            &self.in_region(region),
            self.output("ResultsBucketName", Some(region))?,
        ))
    }

    pub(crate) fn ledger(&self, region: &str) -> Result<DynamoResultLedger, CliError> {
        Ok(DynamoResultLedger::new(
            &self.in_region(region),
            self.output("CallsTableName", Some(region))?,
            self.output("TestsTableName", Some(region))?,
        ))
    }

    /// Every output this command uses, the home region's by name and each of `regions`' as `<Name>@<region>`:
    /// an outputs file for `--outputs`.
    pub fn outputs(&self, regions: &[String]) -> Result<BTreeMap<String, String>, CliError> {
        let home = self.home()?;
        let mut outputs = BTreeMap::new();
        for name in DERIVED_OUTPUTS {
            outputs.insert((*name).to_owned(), self.output(name, None)?);
            for region in regions.iter().filter(|r| **r != home) {
                outputs.insert(format!("{name}@{region}"), self.output(name, Some(region))?);
            }
        }
        Ok(outputs)
    }
}

/// `volley outputs`: the names the stack commands will use.
pub async fn outputs(args: &OutputsArgs) -> Result<BTreeMap<String, String>, CliError> {
    Stack::open(&args.stack).await?.outputs(&args.regions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deploy_names_are_derived_from_the_prefix_the_account_and_the_region() {
        let name = |output| deployed_name("acme", "123456789012", "eu-west-1", output);
        assert_eq!(name("OrchestratorFunctionName").as_deref(), Some("acme-orchestrator"));
        assert_eq!(
            name("ResultsBucketName").as_deref(),
            Some("acme-results-123456789012-eu-west-1")
        );
        assert_eq!(name("EventBusName").as_deref(), Some("acme"));
        assert_eq!(name("GreeterApiUrl"), None);
        for output in DERIVED_OUTPUTS {
            assert!(name(output).is_some(), "{output}");
        }
    }
}
