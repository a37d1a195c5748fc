#!/usr/bin/env bash
# `make bench`: the criterion micro-benchmarks, the domain-validator's sweep (in MiniStack, started if needed),
# then Volley's engine against wrk, hey and oha on one loopback nginx (scripts/bench.py). Installs what it
# needs: wrk, hey and nginx from Debian, oha (pinned) from crates.io into target/bench-tools. Extra arguments
# go to bench.py (--quick, --soak SECONDS, --only SECTIONS: with --only, the criterion and sweep runs are skipped).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
use_local_stack
cd "$ROOT"
# An idle MiniStack takes CPU from the runs measured: refused rather than measured beside.
stack_healthy && die "a local stack is running: stop it first (make stack-down); the benchmarks need the machine to themselves"

OHA_VERSION=1.16.0
missing=()
for tool in wrk hey nginx taskset; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]} from Debian"
  packages=(); for t in "${missing[@]}"; do case $t in nginx) packages+=(nginx-light) ;; taskset) packages+=(util-linux) ;; *) packages+=("$t") ;; esac; done
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" time >/dev/null
fi
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
oha="$ROOT/target/bench-tools/bin/oha"
if ! "$oha" --version 2>/dev/null | grep -q "$OHA_VERSION"; then
  say "installing oha $OHA_VERSION from crates.io (a few minutes, once)"
  CARGO_TARGET_DIR="$ROOT/target/bench-tools/build" cargo install --quiet --locked oha --version "$OHA_VERSION" --root "$ROOT/target/bench-tools"
fi

only=no
for a in "$@"; do [ "$a" = --only ] && only=yes; done

if [ "$only" = no ]; then
  say "criterion: days until the next birthday"
  # The whole output goes to a file: filtered through a pipe, a build error would vanish behind grep's exit code.
  criterion_log="$ROOT/target/bench/criterion.log"
  mkdir -p "$(dirname "$criterion_log")"
  cargo bench --quiet -p volley-core --bench birthday >"$criterion_log" 2>&1 || { cat "$criterion_log" >&2; die "cargo bench failed"; }
  grep -E "^days_until|time:" "$criterion_log"

  say "domain-validator: one sweep of 1,000 pending domains (MiniStack, loopback DNS server)"
  stack_started=no
  if ! stack_healthy; then "$ROOT/scripts/stack.sh" up; stack_started=yes; fi
  sweep_status=0
  cargo run --release --locked --quiet -p domain-validator --example sweep_bench -- 1000 3 || sweep_status=$?
  if [ "$stack_started" = yes ]; then "$ROOT/scripts/stack.sh" down; fi
  [ "$sweep_status" -eq 0 ] || die "the sweep benchmark failed"
fi

say "building volley and the stall and capacity targets (release)"
cargo build --release --locked -p volley --bin volley --example stall_target --example capacity_target
ulimit -n 65536 2>/dev/null || true
command -v wrk2 >/dev/null || [ -n "${WRK2:-}" ] || say "no wrk2 on PATH (giltene/wrk2 builds with make; put it there as wrk2 or set WRK2): the open loop runs without it"
OHA="$oha" python3 "$ROOT/scripts/bench.py" "$@"
