#!/usr/bin/env bash
# The deployment canary: hits the deployed greeter with Volley's own engine and fails when it misbehaves.
# One PUT /hello/<user> first (so the GETs find the user), then PUT and GET /hello/<user> together, each at
# 5 requests per second for 60 s (RATE and DURATION override), each printed as a report in vegeta's shape
# and held to thresholds (`volley attack --fail-if`): success at least MIN_SUCCESS (99%) and p99 under
# MAX_P99 (2s). Exit 0 when all held, 3 when a threshold failed, anything else when the check could not run.
# HTML_DIR, when set, gets each attack's page (`volley attack --html`): put.html and get.html.
#   scripts/check-deployment.sh https://<api-id>.execute-api.<region>.amazonaws.com
# The host is validated for the run by name (--validated); ALLOW adds address:port pairs for local stacks.
# VOLLEY names the binary to run (default: target/release/volley, built when missing).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

base=${1:?usage: check-deployment.sh <greeter base URL>}
base=${base%/}
rate=${RATE:-5}
duration=${DURATION:-60s}
host=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.urlsplit(sys.argv[1]).hostname or "")' "$base")
[ -n "$host" ] || die "$base is not a URL"

volley=${VOLLEY:-$CARGO_OUT/release/volley}
[ -x "$volley" ] || cargo build --release --locked -p volley --manifest-path "$ROOT/Cargo.toml"

user=Canary$(LC_ALL=C tr -dc 'a-z' < /dev/urandom | head -c 8 || true)
guard=()
# A name is validated for the run; an address literal can only be allowed (ALLOW).
python3 -c 'import ipaddress, sys; ipaddress.ip_address(sys.argv[1].strip("[]"))' "$host" 2>/dev/null ||
  guard+=(--validated "$host")
[ -n "${ALLOW:-}" ] && guard+=(--allow "$ALLOW")
thresholds=(--fail-if "success>=${MIN_SUCCESS:-99}%" --fail-if "p99<${MAX_P99:-2s}")

say "PUT $base/hello/$user once, so the GETs find the user"
"$volley" attack "$base/hello/$user" -X PUT -H 'content-type: application/json' \
  --body '{"dateOfBirth": "1990-05-17"}' --rate 1 --duration 1s "${guard[@]}" --fail-if 'success>=100%' >/dev/null ||
  die "the first PUT to $base/hello/$user did not succeed (exit $?): the greeter is not answering"

say "PUT and GET $base/hello/$user at $rate rps each for $duration"
put_report=$(mktemp); get_report=$(mktemp)
put_page=(); get_page=()
if [ -n "${HTML_DIR:-}" ]; then
  mkdir -p "$HTML_DIR"
  put_page=(--html "$HTML_DIR/put.html"); get_page=(--html "$HTML_DIR/get.html")
fi
trap 'rm -f "$put_report" "$get_report"' EXIT
"$volley" attack "$base/hello/$user" -X PUT -H 'content-type: application/json' \
  --body '{"dateOfBirth": "1990-05-17"}' --rate "$rate" --duration "$duration" "${guard[@]}" "${thresholds[@]}" \
  "${put_page[@]}" >"$put_report" &
put=$!
"$volley" attack "$base/hello/$user" --rate "$rate" --duration "$duration" "${guard[@]}" "${thresholds[@]}" \
  "${get_page[@]}" >"$get_report" &
get=$!
status=0
wait "$put" || status=$?
wait "$get" || status=$?
echo "== PUT /hello/{username}"; cat "$put_report"
echo; echo "== GET /hello/{username}"; cat "$get_report"
[ -z "${HTML_DIR:-}" ] || say "the pages: $HTML_DIR/put.html, $HTML_DIR/get.html"
[ "$status" = 0 ] || say "the canary failed (exit $status): see the thresholds above"
exit "$status"
