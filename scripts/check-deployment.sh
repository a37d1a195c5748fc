#!/usr/bin/env bash
# Hits the deployed greeter with Volley's own engine while a deployment runs, and prints a report in
# vegeta's shape for each: PUT /hello/<user> and GET /hello/<user>, each at 5 requests per second for 60 s
# (RATE and DURATION override). Any downtime shows as non-2xx statuses or errors in the report.
#   scripts/check-deployment.sh https://<api-id>.execute-api.<region>.amazonaws.com
# The host is validated for the run by name (--validated); ALLOW adds address:port pairs for local stacks.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

base=${1:?usage: check-deployment.sh <greeter base URL>}
base=${base%/}
rate=${RATE:-5}
duration=${DURATION:-60s}
host=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.urlsplit(sys.argv[1]).hostname or "")' "$base")
[ -n "$host" ] || die "$base is not a URL"

volley="$CARGO_OUT/release/volley"
[ -x "$volley" ] || cargo build --release --locked -p volley --manifest-path "$ROOT/Cargo.toml"

user=Canary$(LC_ALL=C tr -dc 'a-z' < /dev/urandom | head -c 8 || true)
guard=(--validated "$host")
[ -n "${ALLOW:-}" ] && guard+=(--allow "$ALLOW")

say "PUT and GET $base/hello/$user at $rate rps each for $duration"
put_report=$(mktemp); get_report=$(mktemp)
trap 'rm -f "$put_report" "$get_report"' EXIT
"$volley" attack "$base/hello/$user" -X PUT -H 'content-type: application/json' \
  --body '{"dateOfBirth": "1990-05-17"}' --rate "$rate" --duration "$duration" "${guard[@]}" >"$put_report" &
put=$!
"$volley" attack "$base/hello/$user" --rate "$rate" --duration "$duration" "${guard[@]}" >"$get_report" &
get=$!
status=0
wait "$put" || status=$?
wait "$get" || status=$?
echo "== PUT /hello/{username}"; cat "$put_report"
echo; echo "== GET /hello/{username} (404 until the first PUT lands)"; cat "$get_report"
exit "$status"
