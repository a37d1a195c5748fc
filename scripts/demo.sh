#!/usr/bin/env bash
# `make demo`: build, start the local stack, deploy the greeter into it, and talk to it through the
# emulator's API Gateway (not a local shortcut). The stack keeps running afterwards so you can go on trying;
# `make stack-down` stops it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

"$ROOT/scripts/tools.sh"
"$ROOT/scripts/build.sh"
"$ROOT/scripts/stack.sh" up
"$ROOT/scripts/stack.sh" deploy

url=$(stack_output GreeterLocalUrl)
# Zoë turns 30 today (29 February babies aside), so the greeter wishes her a happy birthday.
born=$(python3 -c 'import datetime as d; t=d.datetime.now(d.timezone.utc).date(); print(t.replace(year=t.year-30) if not (t.month==2 and t.day==29) else t.replace(year=t.year-32))')
user=Zoë
path_user=Zo%C3%AB

# Prints a command exactly as it can be pasted, then runs it.
show() {
  printf '\n\033[1m$ %s\033[0m\n' "$1"
  eval "$1"
  echo
}

say "the greeter, through the emulator's API Gateway at $url"
show "curl -sS -i -X PUT '$url/hello/$path_user' -H 'content-type: application/json' -d '{\"dateOfBirth\": \"$born\"}'"
show "curl -sS -i '$url/hello/$path_user'"
show "curl -sS -i -X PUT '$url/hello/alice' -H 'content-type: application/json' -d '{\"dateOfBirth\": \"1990-01-05\"}'"
show "curl -sS -i '$url/hello/alice'"
show "curl -sS -i -X PUT '$url/hello/alice' -H 'content-type: application/json' -d '{\"dateOfBirth\": \"2999-01-01\"}'"

cat <<MSG

The stack is still running. Keep trying it:

  curl -i -X PUT '$url/hello/alice' -H 'content-type: application/json' -d '{"dateOfBirth": "1990-01-05"}'
  curl -i '$url/hello/alice'
  curl -i '$url/hello/$path_user'   # $user

Stop it with: make stack-down
MSG
