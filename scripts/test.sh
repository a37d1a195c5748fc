#!/usr/bin/env bash
# `make test`: everything, from a fresh machine. Installs the pinned tools while cargo builds, starts MiniStack
# unless one is already running (after the build: an idle MiniStack takes CPU the compiler wants), deploys the
# local stack, runs the static checks of deploy/, runs every test (unit, handler, over the wire, the deployed
# stack and its API against its OpenAPI document, the demo), stops only the MiniStack it started, and ends
# with each phase's wall time (the build budget in docs/benchmarks.md).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
use_local_stack
cd "$ROOT"

phases=()
began_all=$EPOCHREALTIME
current=""
# Runs a phase and keeps its wall time for the table at the end (a failed phase is shown too, as failed).
phase() {
  current=$1 current_began=$EPOCHREALTIME
  shift
  "$@"
  phases+=("$current|$(seconds_since "$current_began")")
  current=""
}

started=no
finish() {
  local status=$?
  [ -z "$current" ] || phases+=("$current|$(seconds_since "$current_began") (failed)")
  if [ "$started" = yes ]; then "$ROOT/scripts/stack.sh" down || true; fi
  if [ ${#phases[@]} -gt 0 ]; then
    printf '\nmake test, wall time per phase (the build budget: docs/benchmarks.md)\n' >&2
    for p in "${phases[@]}"; do printf '  %-66s %s s\n' "${p%%|*}" "${p#*|}" >&2; done
    printf '  %-66s %s s%s\n' "total" "$(seconds_since "$began_all")" "$([ "$status" -eq 0 ] || echo ' (failed)')" >&2
  fi
}
trap finish EXIT

# The pinned Python tools and cargo-nextest install while cargo builds.
tools_in_background ministack tools checkov provider-schema nextest
# Everything in one cargo run (the bootstraps, volley, the demo driver and the tests), before MiniStack starts:
# the tests' crates then compile beside the bootstraps' last ones, where two runs left a core idle (a cold
# build took 55 s longer). make build's own cargo run then finds its binaries fresh and packages them, and
# nextest finds the tests fresh.
build() {
  say "building the functions, volley, the demo driver and the tests (dev profile, one cargo run)"
  cargo test --workspace --all-features --locked --no-run
  "$ROOT/scripts/build.sh"
}
phase "build (the tests with make build)" build
tools_wait
phases=("tools (make tools, beside the build)|$TOOLS_SECONDS" "${phases[@]}")

stack() {
  if ! stack_healthy; then
    "$ROOT/scripts/stack.sh" up
    started=yes
  fi
  "$ROOT/scripts/stack.sh" deploy
}
phase "stack (start MiniStack, deploy template.yaml)" stack

# deploy/ cannot be planned here (no provider downloads): parse it, run checkov, hold it to the AWS provider's
# schema, and write it as JSON for the consistency tests (each function's tests/it/deploy.rs).
phase "static checks (parse deploy/ and template.yaml, checkov, provider schema)" "$ROOT/scripts/check_deploy.sh"

# Every test: unit, handler, over the wire, the deployed stack (schemathesis over the greeter's OpenAPI
# document among them), the demo.
nextest() {
  say "running the tests (cargo nextest)"
  cargo nextest run --workspace --locked --no-fail-fast --all-features
}
phase "tests (cargo nextest, schemathesis among them)" nextest
