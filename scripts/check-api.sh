#!/usr/bin/env bash
# Checks the public API in proto/ with Buf: the lint rules in proto/buf.yaml, and no breaking
# change against the API clients already have. Buf comes from the npm registry and is kept
# in <build-folder>/buf. Usage: scripts/check-api.sh [build-folder]
#
# What the API is compared with, the first that applies:
#   1. $PROPBRIDGE_API_BASELINE, any git revision;
#   2. the latest release tag (v1.2.3) reachable from HEAD;
#   3. HEAD, when proto/ has changes not committed yet;
#   4. the parent of the last commit that changed a .proto file, so that a clean checkout
#      checks the latest API change, whichever commit is on top.
# With none of these (no git history, or the API's first commit), only lint runs.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
buf_version=1.75.0
buf_dir="$(mkdir -p "$build" && cd "$build" && pwd)/buf"
buf="$buf_dir/node_modules/.bin/buf"

if [ ! -x "$buf" ] || [ "$("$buf" --version 2>/dev/null)" != "$buf_version" ]; then
  if ! command -v npm >/dev/null; then
    as_root=()
    [ "$(id -u)" -eq 0 ] || as_root=(sudo)
    echo "Installing: nodejs npm"
    export DEBIAN_FRONTEND=noninteractive
    "${as_root[@]}" apt-get update -qq
    "${as_root[@]}" apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  fi
  echo "Installing Buf $buf_version into $buf_dir"
  npm install --prefix "$buf_dir" --no-audit --no-fund --loglevel=error \
    "@bufbuild/buf@$buf_version" >/dev/null
fi

echo "buf lint proto"
"$buf" lint proto
echo "lint: ok"

baseline=
reason=
if [ -n "${PROPBRIDGE_API_BASELINE:-}" ]; then
  baseline=$PROPBRIDGE_API_BASELINE
  reason="PROPBRIDGE_API_BASELINE"
elif ! git rev-parse --verify -q HEAD >/dev/null 2>&1; then
  echo "breaking: skipped, no git history to compare with"
  exit 0
elif tag=$(git describe --tags --abbrev=0 --match 'v[0-9]*' 2>/dev/null); then
  baseline=$tag
  reason="the latest release"
elif [ -n "$(git status --porcelain -- proto)" ]; then
  baseline=HEAD
  reason="the last commit, as proto/ has uncommitted changes"
else
  last=$(git log -1 --format=%H -- ':(glob)proto/**/*.proto')
  if [ -z "$last" ] || ! git rev-parse --verify -q "$last^" >/dev/null; then
    echo "breaking: skipped, no earlier version of the API to compare with"
    exit 0
  fi
  baseline="$last^"
  reason="the API before its last change, $(git log -1 --format='%h "%s"' "$last")"
fi

against=$(mktemp -d)
trap 'rm -rf "$against"' EXIT
git archive "$baseline" -- proto | tar -x -C "$against"
if [ -z "$(find "$against/proto" -name '*.proto' 2>/dev/null)" ]; then
  echo "breaking: skipped, $baseline has no API to compare with"
  exit 0
fi
echo "buf breaking proto --against $baseline ($reason)"
"$buf" breaking proto --against "$against/proto"
echo "breaking: ok"
