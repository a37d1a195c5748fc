#!/usr/bin/env bash
# `make test`: everything, from a fresh machine. Installs the pinned tools, starts MiniStack unless one is
# already running, builds and deploys the local stack, runs every test (unit, handler, over the wire, the
# deployed smoke test), and stops only the MiniStack it started.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

"$ROOT/scripts/tools.sh"
started=no
if ! stack_healthy; then
  "$ROOT/scripts/stack.sh" up
  started=yes
fi
cleanup() { if [ "$started" = yes ]; then "$ROOT/scripts/stack.sh" down; fi; }
trap cleanup EXIT

"$ROOT/scripts/build.sh"
"$ROOT/scripts/stack.sh" deploy

say "running the tests"
cd "$ROOT"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast --all-features
else
  cargo test --workspace --locked --no-fail-fast --all-features
fi
