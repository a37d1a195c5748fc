//! The deploy consistency checks, run by each function's `tests/it/deploy.rs`: the function has its Lambda in
//! deploy/ (Terraform) and in template.yaml (the local stack); each sets every variable its `Config`
//! requires, and none it never reads; and every AWS action its adapters call
//! (the `*_ACTIONS` lists next to the adapter methods) is allowed by its IAM policy in both.
//!
//! Terraform cannot run here, so `scripts/check_deploy.sh` (in `make test`) parses deploy/*.tf with
//! python-hcl2 and template.yaml into target/deploy/*.json first; these checks read those.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use volley_core::config::{ConfigError, EnvReader};

fn load(name: &str) -> Value {
    let path = format!("{}/../../target/deploy/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("{path}: {e}. Run scripts/check_deploy.sh (part of `make test`) to parse deploy/ and template.yaml")
    });
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// python-hcl2 wraps blocks and object expressions in one-element lists.
fn unwrap(value: &Value) -> &Value {
    match value {
        Value::Array(items) if items.len() == 1 => unwrap(&items[0]),
        other => other,
    }
}

fn strings(value: &Value) -> Vec<String> {
    match unwrap(value) {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

/// What one source (Terraform or the template) gives a function.
#[derive(Debug, Default)]
struct Deployed {
    environment: BTreeMap<String, String>,
    actions: BTreeSet<String>,
}

fn from_terraform(function: &str) -> Option<Deployed> {
    let module = load("terraform.json");
    let locals = module["locals"].as_array()?;
    let definition = locals
        .iter()
        .map(|block| unwrap(&block["functions"]))
        .find_map(|functions| functions.get(function))?;
    let definition = unwrap(definition);
    let environment = unwrap(&definition["environment"])
        .as_object()
        .map(|vars| vars.iter().map(|(k, v)| (k.clone(), strings(v).join(","))).collect())
        .unwrap_or_default();
    let actions = definition["statements"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|statement| strings(&unwrap(statement)["actions"]))
        .collect();
    Some(Deployed { environment, actions })
}

fn from_template(function: &str) -> Option<Deployed> {
    let template = load("template.json");
    let resources = template["Resources"].as_object()?;
    let wanted = format!("${{Prefix}}-{function}");
    let properties = resources.values().find_map(|resource| {
        let properties = &resource["Properties"];
        let name = &properties["FunctionName"];
        let matches = resource["Type"] == "AWS::Serverless::Function" && name["Sub"].as_str() == Some(wanted.as_str());
        matches.then_some(properties)
    })?;
    let environment = properties["Environment"]["Variables"]
        .as_object()
        .map(|vars| {
            vars.iter()
                .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
                .collect()
        })
        .unwrap_or_default();
    let actions = properties["Policies"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|policy| policy["Statement"].as_array().cloned().unwrap_or_default())
        .flat_map(|statement| strings(&statement["Action"]))
        .collect();
    Some(Deployed { environment, actions })
}

/// Holds deploy/ and template.yaml to `function`: `read_config` is its `Config::from_reader`, `actions`
/// every action list of the adapter methods it uses.
pub fn holds(function: &str, actions: &[&[&str]], read_config: impl Fn(&mut EnvReader) -> Result<(), ConfigError>) {
    // The names the Config reads, and which it requires: read from an empty environment (which it refuses,
    // naming what is missing; values are the code's business, names are the deployment's).
    let mut env = EnvReader::from_map(BTreeMap::new());
    let _ = read_config(&mut env);
    let asked: BTreeSet<String> = env.asked().iter().map(|(name, _)| name.clone()).collect();
    let required: BTreeSet<String> = env
        .asked()
        .iter()
        .filter(|(_, required)| *required)
        .map(|(name, _)| name.clone())
        .collect();
    assert!(
        !asked.is_empty(),
        "{function}'s Config reads no variable: is read_config its Config::from_reader?"
    );
    let mut problems = Vec::new();
    for (source, deployed) in [
        ("deploy/ (Terraform)", from_terraform(function)),
        ("template.yaml", from_template(function)),
    ] {
        let Some(deployed) = deployed else {
            problems.push(format!("{source} has no Lambda for {function}"));
            continue;
        };
        for name in &required {
            if !deployed.environment.contains_key(name) {
                problems.push(format!(
                    "{source} does not set {name}, which {function}'s Config requires"
                ));
            }
        }
        for name in deployed.environment.keys() {
            if !asked.contains(name) {
                problems.push(format!(
                    "{source} sets {name} for {function}, which its Config never reads"
                ));
            }
        }
        for action in actions.iter().flat_map(|list| list.iter()) {
            if !deployed.actions.contains(*action) {
                problems.push(format!(
                    "{source}: {function}'s IAM policy does not allow {action}, which its adapters call"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
