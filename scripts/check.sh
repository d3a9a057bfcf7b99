#!/usr/bin/env bash
# The checked builds, beside scripts/test.sh: every test under AddressSanitizer and
# UndefinedBehaviorSanitizer, built by clang with warnings and the thread-safety analysis as
# errors; then the fuzzers for a bounded time (scripts/fuzz.sh). Any sanitizer report fails.
# Usage: scripts/check.sh [build-folder-prefix]
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${1:-build}

scripts/install-deps.sh

asan="$prefix-asan"
CC=clang CXX=clang++ cmake -S . -B "$asan" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DBUILD_TESTING=ON -DPROPBRIDGE_SANITIZE=address,undefined -DPROPBRIDGE_WERROR=ON
cmake --build "$asan" --parallel "$(nproc)"
# The package and SDK checks build their own release trees: they test packaging, not code, and
# scripts/test.sh runs them.
export ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir "$asan" --output-on-failure --parallel "$(nproc)" -E "Packaging|SdkPackage"

scripts/fuzz.sh "$prefix-fuzz"
