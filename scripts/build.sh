#!/usr/bin/env bash
# Builds every function's Lambda package, one executable `bootstrap` per zip:
#   make build              dist/<function>.zip for this machine's architecture: what the local stack runs.
#                           One cargo run, in the dev profile (the one `cargo test` uses), builds every
#                           binary of the workspace (the bootstraps, `volley`, the demo driver) with the
#                           features the tests use too (volley-core names the few that differ), so `make
#                           build`, `make demo` and `make test` share every artifact and the AWS SDK compiles
#                           once (docs/benchmarks.md, "The build budget"). PROFILE=release builds only the
#                           functions, optimised.
#   make build ARCH=arm64   dist/arm64/<function>.zip for AWS (Graviton), release, cross-built with
#                           cargo-zigbuild and zig (PyPI's ziglang, pinned in requirements/zig.txt)
# The zips are reproducible: fixed order, timestamps and modes, so an unchanged function keeps its hash and
# Terraform does not redeploy it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
use_local_stack

host=$(uname -m)
case "${ARCH:-$host}" in
  x86_64 | amd64) arch=x86_64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) die "ARCH=${ARCH} is not arm64 or x86_64" ;;
esac
case "$host" in aarch64) host=arm64 ;; esac

if [ "$arch" != "$host" ]; then
  [ "$arch" = arm64 ] || die "cross-building is set up for arm64 only (from $host)"
  target=aarch64-unknown-linux-gnu
  rustup target list --installed | grep -qx "$target" || {
    say "adding the Rust standard library for $target"
    rustup target add "$target"
  }
  "$ROOT/scripts/tools.sh" zig
  command -v cargo-zigbuild >/dev/null || {
    say "installing cargo-zigbuild (pinned)"
    cargo install --locked cargo-zigbuild@0.24.1
  }
  functions=()
  for dir in "$ROOT"/functions/*/; do functions+=("$(basename "$dir")"); done
  packages=(); for f in "${functions[@]}"; do packages+=(-p "$f"); done
  say "cross-building ${functions[*]} for arm64 (release, glibc 2.34 as on provided.al2023)"
  PATH="$VENV/zig/bin:$PATH" cargo zigbuild --release --locked --target "$target.2.34" "${packages[@]}" \
    --manifest-path "$ROOT/Cargo.toml"
  mkdir -p "$ROOT/dist/arm64"
  for f in "${functions[@]}"; do
    python3 "$ROOT/scripts/zip_bootstrap.py" "$CARGO_OUT/$target/release/$f" "$ROOT/dist/arm64/$f.zip"
    say "dist/arm64/$f.zip  $(sha256sum "$ROOT/dist/arm64/$f.zip" | cut -c1-16)"
  done
  exit 0
fi

functions=()
for dir in "$ROOT"/functions/*/; do functions+=("$(basename "$dir")"); done

case "${PROFILE:-dev}" in
  dev)
    say "building the seven functions, volley and the demo driver (dev profile, one cargo run)"
    cargo build --locked --workspace --bins --all-features --manifest-path "$ROOT/Cargo.toml"
    out="$CARGO_OUT/debug" zip_args=(--fast)
    ;;
  release)
    say "building ${functions[*]} (release)"
    packages=(); for f in "${functions[@]}"; do packages+=(-p "$f"); done
    cargo build --release --locked "${packages[@]}" --manifest-path "$ROOT/Cargo.toml"
    out="$CARGO_OUT/release" zip_args=()
    ;;
  *) die "PROFILE=${PROFILE} is not dev or release" ;;
esac

mkdir -p "$ROOT/dist"
printf '%s\n' "${functions[@]}" |
  xargs -P 2 -I{} python3 "$ROOT/scripts/zip_bootstrap.py" "${zip_args[@]}" "$out/{}" "$ROOT/dist/{}.zip"
for f in "${functions[@]}"; do say "dist/$f.zip  $(sha256sum "$ROOT/dist/$f.zip" | cut -c1-16)"; done
