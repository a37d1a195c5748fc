#!/usr/bin/env bash
# Terraform around deploy/: the state backend, init, plan and apply, per region.
#   terraform.sh backend   create the state bucket (versioned, encrypted, private) and the lock table with
#                          the AWS CLI, when they are missing; idempotent
#   terraform.sh init      terraform init with that backend (one state per prefix and region)
#   terraform.sh plan      terraform plan  (make preview)
#   terraform.sh apply     terraform apply (make deploy)
#   terraform.sh destroy   terraform destroy (make destroy; refused without CONFIRM=yes)
#   terraform.sh outputs   this region's names merged into target/aws/outputs.json (make outputs), which
#                          `volley run --outputs` reads
# Settings: AWS_REGION (the region to deploy to), HOME_REGION (the orchestrator's, default AWS_REGION),
# PREFIX (default volley), TF_STATE_BUCKET and TF_LOCK_TABLE (defaults derived from the account).
# Credentials: the standard chain (AWS_PROFILE, OIDC, roles); an endpoint left at this machine is refused
# (`use_aws` in lib.sh; REHEARSE=local rehearses against the local stack). AWS_CLI and TERRAFORM name the
# commands called.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
use_aws

region=${AWS_REGION:?set AWS_REGION to the region to deploy to}
home_region=${HOME_REGION:-$region}

account() { awscli sts get-caller-identity --query Account --output text; }
state_bucket() { echo "${TF_STATE_BUCKET:-$PREFIX-tfstate-$(account)-$region}"; }
lock_table() { echo "${TF_LOCK_TABLE:-$PREFIX-tflock}"; }

backend() {
  local bucket table
  bucket=$(state_bucket); table=$(lock_table)
  if awscli s3api head-bucket --bucket "$bucket" >/dev/null 2>&1; then
    say "state bucket $bucket exists"
  else
    say "creating state bucket $bucket"
    if [ "$region" = us-east-1 ]; then
      awscli s3api create-bucket --bucket "$bucket" >/dev/null
    else
      awscli s3api create-bucket --bucket "$bucket" --create-bucket-configuration "LocationConstraint=$region" >/dev/null
    fi
    awscli s3api put-bucket-versioning --bucket "$bucket" --versioning-configuration Status=Enabled
    awscli s3api put-bucket-encryption --bucket "$bucket" \
      --server-side-encryption-configuration '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]}'
    awscli s3api put-public-access-block --bucket "$bucket" --public-access-block-configuration \
      BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true
  fi
  if awscli dynamodb describe-table --table-name "$table" >/dev/null 2>&1; then
    say "lock table $table exists"
  else
    say "creating lock table $table"
    awscli dynamodb create-table --table-name "$table" --billing-mode PAY_PER_REQUEST \
      --attribute-definitions AttributeName=LockID,AttributeType=S --key-schema AttributeName=LockID,KeyType=HASH \
      --sse-specification Enabled=true >/dev/null
    awscli dynamodb wait table-exists --table-name "$table"
  fi
}

tf() { terraform_ -chdir="$ROOT/deploy" "$@"; }

# What the plan reserves (the sum of its functions' reserved concurrency; -1 is unreserved) against the
# account's concurrency quota (lambda:GetAccountSettings). AWS keeps 100 executions unreserved, so a plan
# reserving more than the quota less 100 would fail at apply: it stops here, and its plan file is removed so
# `make deploy` cannot apply it.
check_quota() {
  local plan=$1 reserved quota
  mkdir -p "$ROOT/target"
  reserved=$(tf show -json "$plan" | python3 -c '
import json, sys
plan = json.load(sys.stdin)
def resources(module):
    yield from module.get("resources", [])
    for child in module.get("child_modules", []):
        yield from resources(child)
print(sum(max(r.get("values", {}).get("reserved_concurrent_executions") or 0, 0)
          for r in resources(plan.get("planned_values", {}).get("root_module", {}))
          if r.get("type") == "aws_lambda_function"))') || die "reading the plan ($plan) failed"
  quota=$(awscli lambda get-account-settings --query AccountLimit.ConcurrentExecutions --output text) ||
    die "asking the account's concurrency quota (lambda:GetAccountSettings) failed"
  say "the stack reserves $reserved concurrent executions of the account's $quota (AWS keeps 100 unreserved)"
  if [ "$reserved" -gt $((quota - 100)) ]; then
    rm -f "$plan"
    die "the reservations ($reserved) exceed the account's quota less the 100 AWS keeps unreserved ($((quota - 100))): lower reserved_concurrency, or ask AWS to raise the quota (Service Quotas, Lambda concurrent executions); the plan was removed"
  fi
}
vars() { echo -var "region=$region" -var "home_region=$home_region" -var "prefix=$PREFIX"; }

case "${1:-}" in
  backend) backend ;;
  init)
    tf init -input=false -reconfigure \
      -backend-config="bucket=$(state_bucket)" -backend-config="key=$PREFIX/$region/terraform.tfstate" \
      -backend-config="region=$region" -backend-config="dynamodb_table=$(lock_table)"
    ;;
  plan)
    tf plan -input=false $(vars) -out="$ROOT/target/terraform-$region.plan"
    check_quota "$ROOT/target/terraform-$region.plan"
    ;;
  apply)
    if [ -f "$ROOT/target/terraform-$region.plan" ] && [ "${FRESH_PLAN:-no}" = no ]; then
      tf apply -input=false "$ROOT/target/terraform-$region.plan"
    else
      tf apply -input=false -auto-approve $(vars)
    fi
    ;;
  destroy)
    # Everything of the stack in this region goes: functions, tables (and their data), queues, the results
    # bucket. Terraform refuses to delete a bucket that still holds objects (no force_destroy): empty it
    # first (`aws s3 rm s3://<bucket> --recursive`) to keep nothing, or keep it by leaving it. The state
    # bucket and lock table were made by `terraform.sh backend`, not by Terraform, and stay.
    [ "${CONFIRM:-}" = yes ] || die "make destroy removes every resource of the $PREFIX stack in $region (functions, tables and their data, queues; the results bucket only once empty; the state bucket stays): run it again with CONFIRM=yes"
    tf destroy -input=false -auto-approve $(vars)
    ;;
  outputs)
    # The stack_outputs of the state `make infra-init` set up, merged into OUTPUTS (default
    # target/aws/outputs.json): the home region's by name, another region's as <Name>@<region>, so one file
    # names the stack in every region for `volley run --outputs`. Keyed by the regions the state itself
    # names (its stack's region, its home_region), and refused when that is not AWS_REGION's: run it once
    # per region, after `make infra-init deploy` there.
    file=${OUTPUTS:-$ROOT/target/aws/outputs.json}
    mkdir -p "$(dirname "$file")"
    tf output -json | python3 -c '
import json, os, sys
path, region = sys.argv[1:3]
try:
    state = json.load(sys.stdin)
    outputs, home = state["stack_outputs"]["value"], state["home_region"]["value"]
except (ValueError, KeyError, TypeError) as error:
    sys.exit(f"terraform output -json has no stack_outputs and home_region ({error!r}): is deploy/ applied in {region}?")
state_region = outputs.get("StackRegion")
if state_region != region:
    sys.exit(f"the Terraform state read is the stack in {state_region}, not {region}: run make infra-init with AWS_REGION={region} first")
merged = {}
if os.path.exists(path):
    with open(path) as handle:
        merged = json.load(handle)
for name, value in outputs.items():
    merged[name if region == home else f"{name}@{region}"] = value
with open(path, "w") as handle:
    json.dump(merged, handle, indent=2, sort_keys=True)
' "$file" "$region" || die "merging $region's outputs into $file failed"
    say "$region's outputs are in $file (volley run --outputs $file)"
    ;;
  *) die "usage: terraform.sh backend|init|plan|apply|destroy|outputs" ;;
esac
