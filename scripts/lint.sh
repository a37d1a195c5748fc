#!/usr/bin/env bash
# `make lint`: formatting (Rust and Terraform), clippy with warnings as errors, the house's layers, cfn-lint over
# template.yaml (also SAM-expanded), and the CI workflow (zizmor, check-jsonschema).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
use_local_stack
cd "$ROOT"
"$ROOT/scripts/tools.sh"
say "cargo fmt --check"
cargo fmt --all -- --check
say "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings
say "no unit tests where a crate builds no unit-test harness ([lib] test = false)"
for manifest in crates/*/Cargo.toml functions/*/Cargo.toml; do
  grep -Pzq '\[lib\][^[]*\ntest = false' "$manifest" || continue
  dir=$(dirname "$manifest")
  if grep -rlE '#\[(cfg\(test\)|test|tokio::test)\]' "$dir/src"; then
    die "$dir has unit tests in src/ but its [lib] says test = false: they would never run (remove test = false)"
  fi
done
say "one feature set for the bootstraps and the tests (docs/benchmarks.md, the build budget)"
features() { cargo tree --workspace --all-features --locked --prefix none -f '{p} [{f}]' -e "$1" | sort -u; }
normal=$(features normal,build)
with_dev=$(features normal,build,dev)
differ=$(comm -23 <(printf '%s\n' "$normal") <(printf '%s\n' "$with_dev"))
if [ -n "$differ" ]; then
  printf '%s\n' "$differ" >&2
  die "the tests' dev-dependencies change the features of the crates above: make build and make test would each build them (and what depends on them, often the AWS SDK); name the missing features in the feature-unification block of Cargo.toml"
fi
say "the house: no import circle, no import against ARCHITECTURE.md's layer order"
python3 scripts/layers.py
say "the engine, the guard, their tests and volley attack/vet link no AWS SDK"
for package in "volley-engine" "volley-testkit" "volley-localdns" "volley --no-default-features"; do
  # shellcheck disable=SC2086 # the package and its flags are words
  sdk=$(cargo tree -p $package --locked -e normal,build,dev --prefix none -f '{p}' | sort -u |
    grep -E '^aws-(config|sdk-|smithy-|types|sigv4|credential-types|runtime)' || true)
  [ -z "$sdk" ] || die "cargo tree -p $package shows AWS SDK crates: $(echo $sdk | tr '\n' ' ')"
done
say "terraform fmt -check deploy/"
if command -v terraform >/dev/null; then
  terraform fmt -check -recursive deploy
else
  die "terraform is not installed: make lint checks deploy/'s formatting with terraform fmt"
fi
say "cfn-lint template.yaml, as written and with its SAM resources expanded"
mkdir -p target/lint
"$VENV/ministack/bin/python" scripts/sam_translate.py template.yaml target/lint/template.expanded.json
"$VENV/tools/bin/cfn-lint" template.yaml target/lint/template.expanded.json
say "the CI workflow: zizmor (offline, every audit) and check-jsonschema's GitHub workflow schema"
"$VENV/tools/bin/zizmor" --offline --persona=auditor .github/workflows
"$VENV/tools/bin/check-jsonschema" --builtin-schema vendor.github-workflows .github/workflows/*.yml
