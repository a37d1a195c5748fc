#!/usr/bin/env bash
# Builds every function's Lambda package: dist/<function>.zip holding one executable `bootstrap`, for this
# machine's architecture (what the local stack runs). The zips are reproducible: fixed order, timestamps and
# modes, so an unchanged function keeps its hash.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

functions=()
for dir in "$ROOT"/functions/*/; do functions+=("$(basename "$dir")"); done

say "building ${functions[*]} (release)"
packages=(); for f in "${functions[@]}"; do packages+=(-p "$f"); done
cargo build --release --locked "${packages[@]}" --manifest-path "$ROOT/Cargo.toml"

mkdir -p "$ROOT/dist"
for f in "${functions[@]}"; do
  python3 "$ROOT/scripts/zip_bootstrap.py" "$ROOT/target/release/$f" "$ROOT/dist/$f.zip"
  say "dist/$f.zip  $(sha256sum "$ROOT/dist/$f.zip" | cut -c1-16)"
done
