//! The AWS verbs aim at AWS and the local verbs at the local stack. Each verb runs through `make` with fake
//! `aws` and `terraform` commands (the scripts' `AWS_CLI` and `TERRAFORM` seams) that record every call
//! and the AWS settings it saw, so what a real deploy would send is read back, with no account needed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A folder of its own with the fakes and the log they write.
struct Fakes {
    dir: PathBuf,
}

impl Fakes {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("volley-verbs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        // Each call: one line of the command, its arguments and the AWS settings it saw. `sts
        // get-caller-identity` answers an account; a head or describe of what does not exist fails, so the
        // backend is created; everything else succeeds.
        let script = |command: &str| {
            format!(
                "#!/usr/bin/env bash\n\
                 echo \"{command} $* | endpoint=${{AWS_ENDPOINT_URL:-}} endpoint_s3=${{AWS_ENDPOINT_URL_S3:-}} \
                 profile=${{AWS_PROFILE:-}} key=${{AWS_ACCESS_KEY_ID:-}} region=${{AWS_REGION:-}}\" >> {log}\n\
                 case \"$*\" in\n\
                   *get-caller-identity*) echo 123456789012 ;;\n\
                   *get-account-settings*) echo 1000 ;;\n\
                   *head-bucket*|*describe-table*) exit 1 ;;\n\
                   *'show -json'*) cat {plan} 2>/dev/null || echo '{{}}' ;;\n\
                   *'output -json'*) echo \"{{\\\"home_region\\\": {{\\\"value\\\": \\\"eu-west-1\\\"}}, \
                     \\\"stack_outputs\\\": {{\\\"value\\\": {{\\\"Prefix\\\": \\\"volley\\\", \
                     \\\"StackRegion\\\": \\\"${{STATE_REGION:-$AWS_REGION}}\\\", \
                     \\\"ResultsBucketName\\\": \\\"volley-results-123456789012-$AWS_REGION\\\"}}}}}}\" ;;\n\
                 esac\n",
                log = dir.join("calls.log").display(),
                plan = dir.join("plan.json").display()
            )
        };
        for command in ["aws", "terraform"] {
            let path = dir.join(command);
            std::fs::write(&path, script(command)).unwrap_or_else(|e| panic!("{e}"));
            make_executable(&path);
        }
        Self { dir }
    }

    /// `make <verb>` with only the given AWS settings (every other AWS_* variable of this process removed).
    fn make(&self, verb: &str, settings: &[(&str, &str)]) -> Output {
        self.make_with(verb, settings, true)
    }

    /// The same, with the real AWS CLI (the project's) when `fake_aws` is false.
    fn make_with(&self, verb: &str, settings: &[(&str, &str)], fake_aws: bool) -> Output {
        let mut command = Command::new("make");
        command.arg("-s").arg(verb).current_dir(root());
        for (name, _) in std::env::vars() {
            if name.starts_with("AWS_") || name == "REHEARSE" {
                command.env_remove(name);
            }
        }
        if fake_aws {
            command.env("AWS_CLI", self.dir.join("aws"));
        } else {
            command.env_remove("AWS_CLI");
        }
        command
            .env("TERRAFORM", self.dir.join("terraform"))
            .envs(settings.iter().copied());
        command.output().unwrap_or_else(|e| panic!("make {verb}: {e}"))
    }

    /// The plan `terraform show -json` answers: one function per (name, reserved concurrency).
    fn plan(&self, reservations: &[(&str, i64)]) {
        let resources: Vec<String> = reservations
            .iter()
            .map(|(name, n)| {
                format!(
                    r#"{{"type": "aws_lambda_function", "name": "function", "index": "{name}", "values": {{"reserved_concurrent_executions": {n}}}}}"#
                )
            })
            .collect();
        let json = format!(
            r#"{{"planned_values": {{"root_module": {{"resources": [{}]}}}}}}"#,
            resources.join(", ")
        );
        std::fs::write(self.dir.join("plan.json"), json).unwrap_or_else(|e| panic!("{e}"));
    }

    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("calls.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Fakes {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(unix)]
fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap_or_else(|e| panic!("{e}"));
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_aws_verbs_call_with_the_profile_and_no_emulator_endpoint() {
    let fakes = Fakes::new("aws");
    let profile = [("AWS_PROFILE", "prod"), ("AWS_REGION", "eu-west-1")];
    for verb in ["terraform-backend", "preview"] {
        let out = fakes.make(verb, &profile);
        assert!(out.status.success(), "make {verb}: {}", text(&out.stderr));
    }
    let calls = fakes.calls();
    assert!(
        calls
            .iter()
            .any(|c| c.starts_with("aws s3api create-bucket --bucket volley-tfstate-123456789012-eu-west-1"))
            && calls
                .iter()
                .any(|c| c.starts_with("terraform -chdir=") && c.contains(" plan ")),
        "the backend was created and the plan made: {calls:#?}"
    );
    for call in &calls {
        assert!(
            call.ends_with("| endpoint= endpoint_s3= profile=prod key= region=eu-west-1"),
            "every call with the profile, no endpoint and no dummy key: {call}"
        );
    }
}

#[test]
fn an_endpoint_left_at_this_machine_is_refused_naming_the_variable_unless_rehearsing() {
    let fakes = Fakes::new("refused");
    for (name, value) in [
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"),
        ("AWS_ENDPOINT_URL_S3", "http://localhost:4566"),
    ] {
        let out = fakes.make("preview", &[("AWS_REGION", "eu-west-1"), (name, value)]);
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "{name}: refused");
        assert!(
            stderr.contains(&format!("{name}={value} points at this machine")) && stderr.contains("REHEARSE=local"),
            "{stderr}"
        );
    }
    assert_eq!(fakes.calls(), Vec::<String>::new(), "nothing was called");

    // Asked to rehearse, the verb goes to the local stack with its dummy credentials.
    let out = fakes.make("terraform-backend", &[("REHEARSE", "local")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let calls = fakes.calls();
    assert!(!calls.is_empty());
    for call in &calls {
        assert!(
            call.contains("| endpoint=http://127.0.0.1:") && call.contains(" key=test "),
            "{call}"
        );
    }
}

#[test]
fn the_local_verbs_still_point_at_the_local_stack() {
    let fakes = Fakes::new("local");
    let out = fakes.make("env", &[]);
    let exports = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for line in [
        "export AWS_ENDPOINT_URL=http://127.0.0.1:",
        "export AWS_ACCESS_KEY_ID=test",
        "export AWS_REGION=us-east-1",
    ] {
        assert!(exports.contains(line), "{exports}");
    }
}

#[test]
fn preview_prints_what_the_stack_reserves_and_stops_beyond_the_quota_less_100() {
    let fakes = Fakes::new("quota");
    let region = [("AWS_PROFILE", "prod"), ("AWS_REGION", "eu-west-1")];
    fakes.plan(&[("worker", 200), ("greeter", 97), ("archiver", -1)]);
    let out = fakes.make("preview", &region);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("the stack reserves 297 concurrent executions of the account's 1000"),
        "{stderr}"
    );

    fakes.plan(&[("worker", 800), ("greeter", 101)]);
    let out = fakes.make("preview", &region);
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "901 of 1000 is beyond the quota less 100");
    assert!(
        stderr.contains("the reservations (901) exceed the account's quota less the 100 AWS keeps unreserved (900)"),
        "{stderr}"
    );
    assert!(
        fakes
            .calls()
            .iter()
            .any(|c| c.starts_with("aws lambda get-account-settings")),
        "the quota was asked of the account"
    );
}

/// The same stop, with the account's quota asked of the local stack (MiniStack answers GetAccountSettings)
/// through the project's real AWS CLI: `REHEARSE=local make preview`.
#[test]
fn preview_asks_the_quota_of_the_local_stack_when_rehearsing() {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| {
        panic!("AWS_ENDPOINT_URL is not set: this test asks the local stack. Run it through `make test`.")
    });
    let fakes = Fakes::new("rehearsed-quota");
    let local = [
        ("REHEARSE", "local"),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
    ];
    fakes.plan(&[("worker", 100_000)]);
    let out = fakes.make_with("preview", &local, false);
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("the stack reserves 100000 concurrent executions of the account's")
            && stderr.contains("exceed the account's quota less the 100 AWS keeps unreserved"),
        "{stderr}"
    );
    fakes.plan(&[("worker", 1)]);
    let out = fakes.make_with("preview", &local, false);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn destroy_is_refused_without_confirmation_and_aims_at_aws_with_it() {
    let fakes = Fakes::new("destroy");
    let region = [("AWS_PROFILE", "prod"), ("AWS_REGION", "eu-west-1")];
    let out = fakes.make("destroy", &region);
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "refused without CONFIRM=yes");
    assert!(
        stderr.contains("run it again with CONFIRM=yes") && stderr.contains("the state bucket stays"),
        "{stderr}"
    );
    assert_eq!(fakes.calls(), Vec::<String>::new(), "nothing was called");

    let out = fakes.make("destroy", &[region[0], region[1], ("CONFIRM", "yes")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let calls = fakes.calls();
    assert!(
        calls.iter().any(|c| c.starts_with("terraform -chdir=")
            && c.contains(" destroy -input=false -auto-approve ")
            && c.ends_with("| endpoint= endpoint_s3= profile=prod key= region=eu-west-1")),
        "{calls:#?}"
    );
}

/// `make outputs`, once per region: each region's `stack_outputs` (Terraform) merged into one file, the home
/// region's (the state's `home_region`) by name and the other's as `<Name>@<region>`, as `volley run
/// --outputs` reads them; a state of another region than AWS_REGION's is refused.
#[test]
fn outputs_merges_each_regions_names_into_one_file() {
    let fakes = Fakes::new("outputs");
    let file = fakes.dir.join("outputs.json");
    let file_text = file.to_string_lossy().into_owned();
    // HOME_REGION is not set: the home region is the state's own.
    for region in ["eu-west-1", "us-east-1"] {
        let out = fakes.make(
            "outputs",
            &[
                ("AWS_PROFILE", "prod"),
                ("AWS_REGION", region),
                ("OUTPUTS", file_text.as_str()),
            ],
        );
        assert!(out.status.success(), "{region}: {}", text(&out.stderr));
    }
    // Written by json.dump(indent=2, sort_keys=True): one `"name": "value"` a line.
    let merged = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{e}"));
    let mut lines: Vec<&str> = merged.lines().map(|l| l.trim().trim_end_matches(',')).collect();
    lines.sort_unstable();
    assert_eq!(
        lines,
        [
            r#""Prefix": "volley""#,
            r#""Prefix@us-east-1": "volley""#,
            r#""ResultsBucketName": "volley-results-123456789012-eu-west-1""#,
            r#""ResultsBucketName@us-east-1": "volley-results-123456789012-us-east-1""#,
            r#""StackRegion": "eu-west-1""#,
            r#""StackRegion@us-east-1": "us-east-1""#,
            "{",
            "}",
        ],
        "{merged}"
    );
    assert!(
        fakes
            .calls()
            .iter()
            .all(|c| c.contains(" output -json |") && c.contains("profile=prod")),
        "{:#?}",
        fakes.calls()
    );

    // A state of another region than AWS_REGION's (the last infra-init was for it): refused, naming both.
    let out = fakes.make(
        "outputs",
        &[
            ("AWS_PROFILE", "prod"),
            ("AWS_REGION", "ap-south-1"),
            ("STATE_REGION", "us-east-1"),
            ("OUTPUTS", file_text.as_str()),
        ],
    );
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("the Terraform state read is the stack in us-east-1, not ap-south-1"),
        "{stderr}"
    );
    assert!(
        !std::fs::read_to_string(&file)
            .unwrap_or_default()
            .contains("ap-south-1"),
        "nothing written"
    );
}
