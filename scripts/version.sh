#!/usr/bin/env bash
# `make version-build`: bumps the build number of VERSION (`<SemVer base>+<build>`, e.g. 0.1.0+7 -> 0.1.0+8)
# and prints the new version. The SemVer base is edited by hand when a release means it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
file="$ROOT/VERSION"
current=$(tr -d '[:space:]' < "$file")
[[ $current =~ ^([0-9]+\.[0-9]+\.[0-9]+)\+([0-9]+)$ ]] ||
  die "VERSION holds ${current@Q}; expected <major>.<minor>.<patch>+<build>, such as 0.1.0+7"
next="${BASH_REMATCH[1]}+$((BASH_REMATCH[2] + 1))"
echo "$next" > "$file"
echo "$next"
