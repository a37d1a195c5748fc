# Shared settings for every script: sourced, never run. Paths, the emulator's address, and the standard AWS
# variables that point every SDK and CLI at it (dummy credentials; nothing project-specific).
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
# Where cargo puts what it builds: CARGO_TARGET_DIR when set, as cargo itself does.
CARGO_OUT=${CARGO_TARGET_DIR:-$ROOT/target}
STATE="$ROOT/target/local-stack"
MINISTACK_HOST=${MINISTACK_BIND:-127.0.0.1}
MINISTACK_PORT=${MINISTACK_PORT:-4566}
STACK_NAME=${STACK_NAME:-volley-local}
PREFIX=${PREFIX:-volley}
# Where the local stack's domain-validator asks DNS: a loopback port its deployed-stack test serves, derived
# from the emulator's port so that stacks on other ports (CI, another checkout) do not collide.
VALIDATOR_DNS=${VALIDATOR_DNS:-127.0.0.1:$((MINISTACK_PORT + 10000))}

export AWS_ENDPOINT_URL=${AWS_ENDPOINT_URL:-http://$MINISTACK_HOST:$MINISTACK_PORT}
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-test}
export AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-test}
export AWS_REGION=${AWS_REGION:-us-east-1}
export AWS_DEFAULT_REGION=$AWS_REGION
export AWS_PAGER=""

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Seconds from $EPOCHREALTIME $1 to $2 (default: now), with one decimal.
seconds_since() { python3 -c 'import sys; print(f"{float(sys.argv[2]) - float(sys.argv[1]):.1f}")' "$1" "${2:-$EPOCHREALTIME}"; }

# Installs the named pinned tools (scripts/tools.sh) in the background, while cargo builds: the install mostly
# waits on the network, cargo on the CPU. `tools_wait` waits for them, shows their log if they
# failed, and sets TOOLS_SECONDS to their own wall time (not the build's).
tools_in_background() {
  mkdir -p "$STATE"
  TOOLS_LOG="$STATE/tools.log" TOOLS_BEGAN=$EPOCHREALTIME
  rm -f "$STATE/tools.ended"
  ( "$ROOT/scripts/tools.sh" "$@" && echo "$EPOCHREALTIME" >"$STATE/tools.ended" ) >"$TOOLS_LOG" 2>&1 &
  TOOLS_PID=$!
}
tools_wait() {
  wait "$TOOLS_PID" || { cat "$TOOLS_LOG" >&2; die "installing the pinned tools failed (log above: ${TOOLS_LOG#$ROOT/})"; }
  TOOLS_SECONDS=$(seconds_since "$TOOLS_BEGAN" "$(cat "$STATE/tools.ended")")
}

# Runs a command with its output kept in target/local-stack/last-command.log, shown only if it fails.
quietly() {
  mkdir -p "$STATE"
  local log="$STATE/last-command.log"
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    die "failed: $*"
  fi
}

# The AWS CLI from the project's own pinned virtualenv.
awscli() { "$VENV/tools/bin/aws" "$@"; }

# One output of the deployed local stack (target/local-stack/outputs.json, written by `stack.sh deploy`).
stack_output() {
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$STATE/outputs.json" "$1" 2>/dev/null ||
    die "no output $1 in ${STATE#$ROOT/}/outputs.json: deploy the local stack first (make stack-deploy)"
}

# True when a MiniStack answers its health check at the endpoint.
stack_healthy() { curl -fsS --max-time 2 "$AWS_ENDPOINT_URL/_ministack/health" >/dev/null 2>&1; }
