#!/usr/bin/env bash
# `make demo`: the main job, on a fresh machine or again. Installs the pinned tools (while cargo builds),
# builds the seven functions and the demo driver (`make build`: one cargo run, the artifacts `make test`
# uses too), starts the local stack (MiniStack) and deploys template.yaml into it (in place when it is
# already there), then runs `volley-demo`: one whole load test through all seven functions,
# with progress bars, a text report and target/volley-report/index.html. Each run's run-load result is
# stored under the tag `demo`, and the next run compares with it.
#
# The stack keeps running afterwards so you can go on trying; `make stack-down` stops it.
# Extra arguments for the driver go in DEMO_ARGS (`volley-demo --help` lists them), e.g.
#   make demo DEMO_ARGS="--rate 25 --duration 60s"
set -euo pipefail
source "$(dirname "$0")/lib.sh"
use_local_stack

setup=()
# Runs a set-up step and keeps its wall time for the report.
timed() {
  local name=$1 began=$EPOCHREALTIME
  shift
  "$@"
  setup+=(--setup "$name=$(seconds_since "$began")")
}

# The tools the demo needs (MiniStack, the AWS CLI) install while cargo builds.
tools_in_background ministack tools
timed "build the functions and the demo driver (make build)" "$ROOT/scripts/build.sh"
tools_wait
# Not a phase of the report: its time overlapped the build's, and the report adds its phases up.
say "the pinned tools (make tools) were installed in ${TOOLS_SECONDS} s, beside the build"
timed "start the local stack (make stack-up)" "$ROOT/scripts/stack.sh" up
timed "deploy template.yaml (make stack-deploy)" "$ROOT/scripts/stack.sh" deploy

say "the load test"
cd "$ROOT"
# shellcheck disable=SC2086 # DEMO_ARGS is split into arguments on purpose
"$CARGO_OUT/debug/volley-demo" --outputs "$STATE/outputs.json" --out-dir "$ROOT/target/volley-report" \
  "${setup[@]}" ${DEMO_ARGS:-}

url=$(stack_output GreeterLocalUrl)
cat <<MSG

Open target/volley-report/index.html in a browser. The stack is still running; try the greeter yourself:

  curl -i -X PUT '$url/hello/alice' -H 'content-type: application/json' -d '{"dateOfBirth": "1990-01-05"}'
  curl -i '$url/hello/alice'

Run \`make demo\` again to compare with this run. Stop the stack with: make stack-down
MSG
