#!/usr/bin/env bash
# The checked builds, beside scripts/test.sh; CI runs both. Any sanitizer report fails.
#   1. clang with AddressSanitizer and UndefinedBehaviorSanitizer, warnings and the
#      thread-safety analysis as errors, and the fuzz targets: every test (which replays each
#      fuzz corpus too), then each fuzzer for a bounded time (scripts/fuzz.sh).
#   2. clang with ThreadSanitizer: the tests of the code that runs many threads around one
#      writer (the pipeline, the store's writer and readers, the change feed and the watches
#      that follow it, the scan queue, the plugin supervisor, the plugin host runner and its
#      channel), without suppressions; tests/CMakeLists.txt says which tests these are, and
#      why those that run gRPC in process are not among them.
# Usage: scripts/check.sh [build-folder-prefix] [fuzz-seconds-per-target]
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${1:-build}
fuzz_seconds=${2:-30}

scripts/install-deps.sh

# The package and SDK checks build release trees of their own: they test packaging, not code,
# and scripts/test.sh runs them.
not_code="Packaging|SdkPackage"

asan="$prefix-asan"
CC=clang CXX=clang++ cmake -S . -B "$asan" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DBUILD_TESTING=ON -DPROPBRIDGE_SANITIZE=address,undefined -DPROPBRIDGE_FUZZ=ON \
  -DPROPBRIDGE_WERROR=ON
cmake --build "$asan" --parallel "$(nproc)"
ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir "$asan" --output-on-failure --parallel "$(nproc)" -E "$not_code"
scripts/fuzz.sh "$asan" "$fuzz_seconds"

tsan="$prefix-tsan"
CC=clang CXX=clang++ cmake -S . -B "$tsan" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DBUILD_TESTING=ON -DPROPBRIDGE_SANITIZE=thread
cmake --build "$tsan" --parallel "$(nproc)" --target propbridge_thread_tests
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
  ctest --test-dir "$tsan" --output-on-failure --parallel "$(nproc)" -L threads
