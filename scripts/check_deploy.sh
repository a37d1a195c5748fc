#!/usr/bin/env bash
# The static checks of deploy/ (Terraform cannot init here: no provider can be downloaded):
#  1. every .tf file parses (bc-python-hcl2, checkov's HCL parser), and the parsed module and template.yaml are written as JSON to
#     target/deploy/, where each function's `tests/it/deploy.rs` holds them against the code;
#  2. checkov finds no failed check (skips are written in-line, next to the resource, with the reason).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
use_local_stack
cd "$ROOT"
mkdir -p target/deploy
say "parsing deploy/*.tf (bc-python-hcl2) and template.yaml into target/deploy/"
"$VENV/checkov/bin/python" scripts/deploy_json.py deploy template.yaml target/deploy
say "checkov over deploy/"
"$VENV/checkov/bin/checkov" -d deploy --framework terraform --quiet --compact --skip-download
