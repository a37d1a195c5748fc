#!/usr/bin/env bash
# The local AWS stack: MiniStack on 127.0.0.1:$MINISTACK_PORT (default 4566).
#   stack.sh up       start it unless one already answers; wait until it is healthy
#   stack.sh down     stop it, only if this project started it
#   stack.sh status   say what is running
#   stack.sh deploy   package template.yaml with the built zips and deploy it; write the outputs
set -euo pipefail
source "$(dirname "$0")/lib.sh"
use_local_stack
FIRST_REGION=$AWS_REGION

PIDFILE="$STATE/ministack.pid"
LOG="$STATE/ministack.log"

ours() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

port_busy() { (exec 3<>"/dev/tcp/$MINISTACK_HOST/$MINISTACK_PORT") 2>/dev/null; }

up() {
  if stack_healthy; then
    if ours; then say "MiniStack already running (pid $(cat "$PIDFILE")) at $AWS_ENDPOINT_URL";
    else say "a MiniStack not started by this project answers at $AWS_ENDPOINT_URL; using it"; fi
    return 0
  fi
  if port_busy; then
    die "port $MINISTACK_PORT on $MINISTACK_HOST is taken by something that is not MiniStack. Stop it, or use another port: MINISTACK_PORT=$((MINISTACK_PORT + 1)) make ..."
  fi
  "$(dirname "$0")/tools.sh" ministack
  mkdir -p "$STATE"
  say "starting MiniStack at $AWS_ENDPOINT_URL (log: ${LOG#$ROOT/})"
  # Lambda bootstraps run as child processes and inherit this environment: AWS_ENDPOINT_URL sends their SDK
  # calls back to the emulator. LAMBDA_EXECUTOR=local: no Docker here.
  GATEWAY_PORT=$MINISTACK_PORT BIND_HOST=$MINISTACK_HOST MINISTACK_REGION=$AWS_REGION LAMBDA_EXECUTOR=local \
    TMPDIR="$STATE" setsid nohup "$VENV/ministack/bin/ministack" >"$LOG" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  for _ in $(seq 1 120); do
    if stack_healthy; then say "MiniStack is up (pid $(cat "$PIDFILE"))"; return 0; fi
    if ! ours; then
      tail -n 20 "$LOG" >&2 || true
      rm -f "$PIDFILE"
      die "MiniStack exited during start-up; its log is above (${LOG#$ROOT/})"
    fi
    sleep 0.5
  done
  tail -n 20 "$LOG" >&2 || true
  down
  die "MiniStack did not become healthy within 60 s; its log is above"
}

down() {
  if ! ours; then
    rm -f "$PIDFILE"
    say "no MiniStack started by this project is running; nothing to stop"
    return 0
  fi
  local pid; pid=$(cat "$PIDFILE")
  say "stopping MiniStack (pid $pid)"
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$PIDFILE"
}

status() {
  if stack_healthy; then
    if ours; then echo "MiniStack running (pid $(cat "$PIDFILE"), started by this project) at $AWS_ENDPOINT_URL";
    else echo "MiniStack answering at $AWS_ENDPOINT_URL (not started by this project)"; fi
  else
    echo "no MiniStack at $AWS_ENDPOINT_URL"; return 1
  fi
}

# The second region the stack is deployed into, in the same emulator (its region is the request's): a
# test's plan may name both, and the orchestrator puts each region's calls on that region's bus, as it does
# in AWS. LOCAL_SECOND_REGION= (empty) deploys one region only.
SECOND_REGION=${LOCAL_SECOND_REGION-eu-west-1}

deploy() {
  stack_healthy || die "no MiniStack at $AWS_ENDPOINT_URL: run \`make stack-up\` first"
  "$(dirname "$0")/tools.sh" tools
  for zip in "$ROOT"/dist/*.zip; do [ -f "$zip" ] || die "no packages in dist/: run \`make build\` first"; done
  mkdir -p "$STATE"
  deploy_to "$AWS_REGION" "$PREFIX-deploy-artifacts" "$STATE/template.packaged.yaml"
  if [ -n "$SECOND_REGION" ] && [ "$SECOND_REGION" != "$AWS_REGION" ]; then
    deploy_to "$SECOND_REGION" "$PREFIX-deploy-artifacts-$SECOND_REGION" "$STATE/template.$SECOND_REGION.yaml"
  fi
  write_outputs
}

# Packages template.yaml into a bucket of the region (the emulator's buckets are regional, as AWS's are)
# and deploys it there.
deploy_to() {
  local region=$1 bucket=$2 packaged=$3
  export AWS_REGION=$region AWS_DEFAULT_REGION=$region
  awscli s3api head-bucket --bucket "$bucket" >/dev/null 2>&1 || awscli s3 mb "s3://$bucket" >/dev/null
  say "packaging template.yaml ($region)"
  (cd "$ROOT" && quietly awscli cloudformation package --template-file template.yaml --s3-bucket "$bucket" \
     --output-template-file "$packaged")
  say "deploying stack $STACK_NAME in $region"
  quietly awscli cloudformation deploy --template-file "$packaged" --stack-name "$STACK_NAME" \
    --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND --no-fail-on-empty-changeset \
    --parameter-overrides "Prefix=$PREFIX" "Architecture=$(local_architecture)" "AllowedTargets=$MINISTACK_HOST:$MINISTACK_PORT,$(test_target)" \
      "DomainValidationSchedule=rate(1 minute)" "ValidatorDnsServers=$VALIDATOR_DNS" \
      "MetricsIngestionDelaySeconds=2"
  export AWS_REGION=$FIRST_REGION AWS_DEFAULT_REGION=$FIRST_REGION
}

# The address a test's counting target listens on, allowed like the emulator's own: the fleet's tests count
# every request there (the greeter, behind the emulated API Gateway, holds only about 70 a second).
test_target() {
  echo "127.0.0.1:${TEST_TARGET_PORT:-$((MINISTACK_PORT + 33))}"
}

local_architecture() {
  case "$(uname -m)" in aarch64|arm64) echo arm64 ;; *) echo x86_64 ;; esac
}

# target/local-stack/outputs.json: the stack's outputs, plus GreeterLocalUrl (the API through the emulator),
# TestTargetAddress (test_target), StackRegion, and with a second region, SecondRegion and that region's
# outputs as <OutputKey>@<region>.
write_outputs() {
  local out="$STATE/outputs.json" second="{}"
  if [ -n "$SECOND_REGION" ] && [ "$SECOND_REGION" != "$AWS_REGION" ]; then
    second=$(AWS_REGION=$SECOND_REGION AWS_DEFAULT_REGION=$SECOND_REGION awscli cloudformation describe-stacks \
      --stack-name "$STACK_NAME" --query 'Stacks[0].Outputs' --output json)
  fi
  awscli cloudformation describe-stacks --stack-name "$STACK_NAME" --query 'Stacks[0].Outputs' --output json |
    python3 -c '
import json, sys
outputs = {o["OutputKey"]: o["OutputValue"] for o in json.load(sys.stdin) or []}
endpoint = sys.argv[1].rstrip("/")
api = outputs.get("GreeterApiId")
if api:
    outputs["GreeterLocalUrl"] = endpoint + "/_aws/execute-api/" + api
outputs["TestTargetAddress"] = sys.argv[2]
outputs["StackRegion"] = sys.argv[3]
second = json.loads(sys.argv[5]) or []
if second:
    outputs["SecondRegion"] = sys.argv[4]
    outputs.update({o["OutputKey"] + "@" + sys.argv[4]: o["OutputValue"] for o in second})
json.dump(outputs, sys.stdout, indent=2, sort_keys=True)
print()' "$AWS_ENDPOINT_URL" "$(test_target)" "$AWS_REGION" "$SECOND_REGION" "$second" >"$out"
  say "stack outputs in ${out#$ROOT/}"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  deploy) deploy ;;
  *) die "usage: stack.sh up|down|status|deploy" ;;
esac
