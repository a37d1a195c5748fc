# Shared settings for every script: sourced, never run. Paths, the emulator's address, and two ways to aim
# the AWS CLI and SDKs: `use_local_stack` (the local verbs: stack-*, demo, test, bench, env) points them at
# the emulator with dummy credentials; `use_aws` (the AWS verbs: terraform-backend, infra-init, preview,
# deploy, check-deployment) leaves the standard credential chain untouched and refuses an endpoint left
# pointing at this machine. Nothing is exported by sourcing this file alone.
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

export AWS_PAGER=""

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The local verbs: the standard AWS variables point every SDK and CLI at the emulator (dummy credentials;
# nothing project-specific). What the caller set already wins.
use_local_stack() {
  export AWS_ENDPOINT_URL=${AWS_ENDPOINT_URL:-http://$MINISTACK_HOST:$MINISTACK_PORT}
  export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-test}
  export AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-test}
  export AWS_REGION=${AWS_REGION:-us-east-1}
  export AWS_DEFAULT_REGION=$AWS_REGION
}

# The AWS verbs: the standard credential chain (AWS_PROFILE, OIDC web identity, instance roles), untouched.
# An AWS_ENDPOINT_URL* left pointing at this machine (the local stack's exports from `make env`) would send
# a real deploy to the emulator: refused, naming the variable, unless REHEARSE=local asks to rehearse the
# verb against the local stack.
use_aws() {
  if [ "${REHEARSE:-}" = local ]; then
    use_local_stack
    say "rehearsing against the local stack at $AWS_ENDPOINT_URL (REHEARSE=local)"
    return
  fi
  local name value
  for name in $(compgen -e | grep '^AWS_ENDPOINT_URL' || true); do
    value=${!name}
    case "$value" in
      *://127.* | *://localhost* | *://\[::1\]* | *://0.0.0.0*)
        die "$name=$value points at this machine (the local stack's setting): unset it to aim at AWS, or set REHEARSE=local to rehearse against the local stack" ;;
    esac
  done
  return 0
}

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

# The seams: the AWS CLI and terraform every verb calls. AWS_CLI, when set, wins (a test's recording fake);
# else the project's own pinned CLI when installed, else `aws` on PATH. TERRAFORM likewise, else
# `terraform` on PATH.
awscli() {
  if [ -n "${AWS_CLI:-}" ]; then "$AWS_CLI" "$@"
  elif [ -x "$VENV/tools/bin/aws" ]; then "$VENV/tools/bin/aws" "$@"
  else aws "$@"; fi
}
terraform_() { "${TERRAFORM:-terraform}" "$@"; }

# One output of the deployed local stack (target/local-stack/outputs.json, written by `stack.sh deploy`).
stack_output() {
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$STATE/outputs.json" "$1" 2>/dev/null ||
    die "no output $1 in ${STATE#$ROOT/}/outputs.json: deploy the local stack first (make stack-deploy)"
}

# True when a MiniStack answers its health check at the endpoint.
stack_healthy() { curl -fsS --max-time 2 "$AWS_ENDPOINT_URL/_ministack/health" >/dev/null 2>&1; }
