#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang under AddressSanitizer and
# UndefinedBehaviorSanitizer, then runs each for a bounded time, one after the other, on a copy of
# its seed corpus (fuzz/corpus/<name>/) in the build folder: what the fuzzers add never lands in
# the tree. Fails on any crash, leak, time-out, memory blow-up or sanitizer report, and prints
# the input that shows it; add that input to the corpus once the bug is fixed.
# The build folder may be scripts/check.sh's checked tree, whose other settings it keeps.
# Usage: scripts/fuzz.sh [build-folder] [seconds-per-target]   (defaults: build-fuzz, 30)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-fuzz}
seconds=${2:-30}
[[ $build = /* ]] || build="$PWD/$build"

scripts/install-deps.sh
CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DPROPBRIDGE_SANITIZE=address,undefined -DPROPBRIDGE_FUZZ=ON >/dev/null
cmake --build "$build" --target propbridge_fuzzers --parallel "$(nproc)"

export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
runs="$build/fuzz-runs"
failed=()
for corpus in fuzz/corpus/*/; do
  name=$(basename "$corpus")
  run="$runs/$name"
  rm -rf "$run"
  mkdir -p "$run/corpus" "$run/found"
  cp -R "$corpus". "$run/corpus/"
  options=(-max_total_time="$seconds" -rss_limit_mb=1024 -timeout=10
           -artifact_prefix="$run/found/" -print_final_stats=1)
  [ -f "fuzz/$name.dict" ] && options+=(-dict="fuzz/$name.dict")
  start=$SECONDS
  if "$build/fuzz/${name}_fuzz" "${options[@]}" "$run/corpus" >"$run/log" 2>&1; then
    stats=$(grep -E '^#[0-9]+.*DONE' "$run/log" | tail -n 1 | sed -E 's/^#([0-9]+).*(cov: [0-9]+).*(exec\/s: [0-9]+).*/\1 runs, \2, \3/')
    echo "$name: passed, $((SECONDS - start)) s: $stats"
  else
    failed+=("$name")
    echo "$name: FAILED after $((SECONDS - start)) s; the fuzzer's log ($run/log) ends:"
    tail -n 60 "$run/log" | sed 's/^/  /'
    for input in "$run/found"/*; do
      [ -e "$input" ] && echo "  reproduce: $build/fuzz/${name}_fuzz $input"
    done
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzzing found problems in: ${failed[*]}"
  exit 1
fi
echo "fuzzing found nothing in ${seconds} s per target"
