#!/usr/bin/env bash
# Installs the pinned Python tools into git-ignored virtualenvs: .venv/ministack (the local AWS emulator),
# .venv/tools (AWS CLI v1, cfn-lint, schemathesis) and .venv/checkov (checkov, python-hcl2). Idempotent: a
# virtualenv whose requirements file has not changed since it was installed is left alone.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

install() {
  local name=$1 requirements="$ROOT/requirements/$1.txt" dir="$VENV/$1"
  local stamp="$dir/.installed-from"
  if [ -f "$stamp" ] && cmp -s "$stamp" "$requirements"; then return 0; fi
  say "installing $name into .venv/$name (pinned in requirements/$name.txt)"
  command -v python3 >/dev/null || die "python3 is needed to install $name"
  rm -rf "$dir"
  python3 -m venv "$dir"
  "$dir/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$stamp"
}

for name in "${@:-ministack tools checkov}"; do
  for n in $name; do install "$n"; done
done
