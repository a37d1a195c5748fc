//! A plan as `volley run` is given it: a TOML file of the test plan's fields plus `thresholds` and
//! `responseBytes`, with flags replacing its fields, or the quick form's URL and flags. Every refusal names
//! the key or the flag.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use volley_core::model::plan::{TestPlan, ValidPlan};
use volley_engine::load::threshold::Threshold;

use crate::stack::usage;
use crate::{CliError, RunArgs};

/// A plan as `volley run` was given it: the plan, the thresholds it is held to, and the bytes each answer
/// is expected to carry (for the estimate only).
#[derive(Debug, Clone)]
pub struct RunPlan {
    pub plan: ValidPlan,
    pub written: serde_json::Value,
    pub thresholds: Vec<Threshold>,
    pub response_bytes: Option<u64>,
}

/// Reads the plan file or the quick form's flags into a checked plan; every refusal names the key or flag.
pub fn read_plan(args: &RunArgs) -> Result<RunPlan, CliError> {
    let path = Path::new(&args.plan);
    let mut response_bytes = args.response_bytes;
    let (written, mut thresholds) = if path.is_file() {
        let text = std::fs::read_to_string(path).map_err(|e| usage(format!("{}: {e}", args.plan)))?;
        let mut table: toml::Table = toml::from_str(&text).map_err(|e| usage(format!("{}: {e}", args.plan)))?;
        match table.remove("responseBytes") {
            None => {}
            Some(toml::Value::Integer(n)) if n >= 0 => response_bytes = response_bytes.or(Some(n as u64)),
            Some(other) => {
                return Err(usage(format!(
                    "{}: responseBytes: {other:?} is not a number of bytes",
                    args.plan
                )));
            }
        }
        let thresholds = match table.remove("thresholds") {
            None => Vec::new(),
            Some(toml::Value::Array(items)) => items
                .into_iter()
                .map(|item| match item {
                    toml::Value::String(s) => Ok(s),
                    other => Err(usage(format!("{}: thresholds: {other:?} is not a string", args.plan))),
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(other) => return Err(usage(format!("{}: thresholds: {other:?} is not a list", args.plan))),
        };
        override_plan(&mut table, args)?;
        let written = serde_json::to_value(&table).map_err(|e| usage(format!("{}: {e}", args.plan)))?;
        (written, thresholds)
    } else if args.plan.starts_with("http://") || args.plan.starts_with("https://") {
        if args.url.is_some() {
            return Err(usage("--url: the quick form's target is its URL already"));
        }
        (quick_plan(args)?, Vec::new())
    } else {
        return Err(usage(format!("{}: neither a plan file nor an http(s) URL", args.plan)));
    };
    thresholds.extend(args.fail_if.iter().cloned());
    let plan = TestPlan::from_json(&written)
        .and_then(TestPlan::validate)
        .map_err(|e| usage(format!("{}: {}", args.plan, e)))?;
    let thresholds = thresholds
        .iter()
        .map(|t| Threshold::parse(t).map_err(|e| usage(format!("thresholds: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RunPlan {
        plan,
        written,
        thresholds,
        response_bytes,
    })
}

/// The flags that replace a plan file's fields: `--org`, `--test-id`, `--rate`, `--duration`, `--regions`
/// (equal shares, the first the home region) and `--url`. A flag that cannot replace what the plan says
/// (a rate over a plan of stages, a URL over several requests) is refused naming both.
fn override_plan(table: &mut toml::Table, args: &RunArgs) -> Result<(), CliError> {
    let text = |s: &str| toml::Value::String(s.to_owned());
    if let Some(org) = &args.org {
        table.insert("organisationId".into(), text(org));
    }
    if let Some(test_id) = &args.test_id {
        table.insert("testId".into(), text(test_id));
    }
    if let Some(rate) = args.rate {
        if let Some(shape) = ["ramp", "stages"].into_iter().find(|k| table.contains_key(*k)) {
            return Err(usage(format!("--rate: the plan's load is its {shape}, not a rate")));
        }
        table.insert("rate".into(), toml::Value::Float(rate));
    }
    if let Some(duration) = &args.duration {
        if table.contains_key("stages") {
            return Err(usage("--duration: the plan's stages set its duration"));
        }
        table.insert("duration".into(), text(duration));
    }
    if let Some(home) = args.regions.first() {
        table.insert("homeRegion".into(), text(home));
        let regions = args
            .regions
            .iter()
            .map(|region| {
                let mut entry = toml::Table::new();
                entry.insert("region".into(), text(region));
                entry.insert("share".into(), toml::Value::Integer(1));
                toml::Value::Table(entry)
            })
            .collect();
        table.insert("regions".into(), toml::Value::Array(regions));
    }
    if let Some(url) = &args.url {
        match table.get_mut("request") {
            Some(toml::Value::Table(request)) => {
                request.insert("url".into(), text(url));
            }
            _ => {
                return Err(usage(
                    "--url: the plan has no one `request` to aim elsewhere (several `requests` name their own)",
                ));
            }
        }
    }
    Ok(())
}

/// The quick form's plan: the URL, the rate over the duration, the regions in equal shares (the first the
/// home region), a test id `run-<unix seconds>` unless `--test-id` names one.
fn quick_plan(args: &RunArgs) -> Result<serde_json::Value, CliError> {
    if args.org.is_none() {
        return Err(usage("--org: the organisation is needed"));
    }
    if args.rate.is_none() {
        return Err(usage("--rate: requests per second are needed"));
    }
    if args.duration.is_none() {
        return Err(usage("--duration is needed"));
    }
    if args.regions.is_empty() {
        return Err(usage("--regions: name at least one region"));
    }
    // The URL and a test id of its own; the flags fill in the rest, as they replace a plan file's fields.
    let mut table = toml::Table::new();
    let mut request = toml::Table::new();
    request.insert("url".into(), toml::Value::String(args.plan.clone()));
    table.insert("request".into(), toml::Value::Table(request));
    let seconds = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    table.insert("testId".into(), toml::Value::String(format!("run-{seconds}")));
    override_plan(&mut table, args)?;
    serde_json::to_value(&table).map_err(|e| usage(format!("{}: {e}", args.plan)))
}

#[cfg(test)]
pub(crate) mod tests {
    use std::time::Duration;

    use super::*;

    pub(crate) fn plan(json: serde_json::Value) -> ValidPlan {
        TestPlan::from_json(&json)
            .and_then(TestPlan::validate)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    pub(crate) fn two_regions(rate: u64, duration: &str, extra: serde_json::Value) -> ValidPlan {
        let mut json = serde_json::json!({
            "organisationId": "acme", "testId": "t1", "homeRegion": "eu-west-1",
            "request": {"url": "http://example.com/"},
            "rate": rate, "duration": duration, "maxWorkerRate": 10,
            "regions": [{"region": "eu-west-1", "share": 3}, {"region": "us-east-1", "share": 1}]
        });
        if let (Some(json), Some(extra)) = (json.as_object_mut(), extra.as_object()) {
            json.extend(extra.clone());
        }
        plan(json)
    }

    fn run_args(args: &[&str]) -> RunArgs {
        use clap::Parser as _;
        let cli = crate::Cli::try_parse_from([&["volley", "run"], args, &["--outputs", "outputs.json"]].concat())
            .unwrap_or_else(|e| panic!("{e}"));
        match cli.command {
            crate::Command::Run(args) => *args,
            other => panic!("{other:?}"),
        }
    }

    /// Flags replace a plan file's fields (the same plan run again, elsewhere), and one that cannot is
    /// refused naming why.
    #[test]
    fn flags_replace_a_plan_files_fields() {
        let dir = std::env::temp_dir().join(format!("volley-override-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let path = dir.join("plan.toml");
        std::fs::write(
            &path,
            "organisationId = \"acme\"\ntestId = \"t1\"\nhomeRegion = \"eu-west-1\"\nrate = 10\nduration = \"30s\"\n\
             [request]\nurl = \"https://api.acme.example/\"\n[[regions]]\nregion = \"eu-west-1\"\nshare = 3\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let plan = path.to_string_lossy().into_owned();
        let given = read_plan(&run_args(&[
            &plan,
            "--org",
            "beta",
            "--test-id",
            "t2",
            "--rate",
            "40",
            "--duration",
            "1m",
            "--regions",
            "us-east-1,ap-south-1",
            "--url",
            "https://staging.acme.example/",
        ]))
        .unwrap_or_else(|e| panic!("{e}"));
        let p = &given.plan.plan;
        assert_eq!((p.organisation_id.as_str(), p.test_id.as_str()), ("beta", "t2"));
        assert_eq!(p.home_region, "us-east-1");
        assert_eq!(
            p.regions
                .iter()
                .map(|r| (r.region.as_str(), r.share))
                .collect::<Vec<_>>(),
            [("us-east-1", 1), ("ap-south-1", 1)]
        );
        assert_eq!(given.plan.schedule.peak_rate(), 40.0);
        assert_eq!(given.plan.schedule.duration(), Duration::from_secs(60));
        assert_eq!(given.plan.requests[0].1.url, "https://staging.acme.example/");
        let untouched = read_plan(&run_args(&[&plan])).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(untouched.plan.plan.regions[0].share, 3);

        std::fs::write(
            &path,
            "organisationId = \"acme\"\ntestId = \"t1\"\nhomeRegion = \"eu-west-1\"\n\
             stages = [{duration = \"10s\", rate = 5}]\n[request]\nurl = \"https://api.acme.example/\"\n\
             [[regions]]\nregion = \"eu-west-1\"\nshare = 1\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let refused = read_plan(&run_args(&[&plan, "--rate", "5"]));
        assert!(
            matches!(&refused, Err(CliError::Usage(m)) if m.contains("--rate") && m.contains("stages")),
            "{refused:?}"
        );
        // The quick form: the URL and the flags, the regions in equal shares, a test id of its own.
        let quick = read_plan(&run_args(&[
            "https://api.acme.example/health",
            "--org",
            "acme",
            "--rate",
            "20",
            "--duration",
            "30s",
            "--regions",
            "eu-west-1,us-east-1",
        ]))
        .unwrap_or_else(|e| panic!("{e}"));
        let q = &quick.plan.plan;
        assert_eq!(
            (q.organisation_id.as_str(), q.home_region.as_str()),
            ("acme", "eu-west-1")
        );
        assert!(q.test_id.starts_with("run-"), "{}", q.test_id);
        assert_eq!(q.regions.iter().map(|r| r.share).collect::<Vec<_>>(), [1, 1]);
        assert_eq!(quick.plan.requests[0].1.url, "https://api.acme.example/health");
        assert_eq!(quick.plan.schedule.peak_rate(), 20.0);
        let refused = read_plan(&run_args(&["https://api.acme.example/", "--rate", "5"]));
        assert!(
            matches!(&refused, Err(CliError::Usage(m)) if m.contains("--org")),
            "{refused:?}"
        );
        let refused = read_plan(&run_args(&["https://api.acme.example/", "--url", "https://x.example/"]));
        assert!(
            matches!(&refused, Err(CliError::Usage(m)) if m.contains("--url")),
            "{refused:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
