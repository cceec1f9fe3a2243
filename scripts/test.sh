#!/usr/bin/env bash
# The whole test suite, as CI runs it:
#   1. Release build, warnings as errors, every test through CTest (including the NEON kernels,
#      cross-compiled for aarch64 and run under qemu-user);
#   2. the same suite under AddressSanitizer + UndefinedBehaviorSanitizer;
#   3. the libFuzzer targets for 40 s each (EMBER_FUZZ_SECONDS to change; scripts/fuzz.sh 600
#      for a long run), which keeps the whole under an hour on 2 cores.
# Test data comes from ../shared (override with EMBER_SHARED).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

./scripts/install-deps.sh --test

echo "== release build and tests"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DEMBER_BUILD_TESTS=ON -DEMBER_WERROR=ON
cmake --build build --parallel "$jobs"
ctest --test-dir build --output-on-failure --parallel "$jobs" | tee "$logs/release.txt"

echo "== AddressSanitizer + UndefinedBehaviorSanitizer build and tests"
# -O1 -g1 (line tables, enough for the sanitizers' stack traces): -O2 -g took three times as long
# to compile (the AVX-512 panels alone ten minutes) for no check the sanitizers would miss. At
# -O1 GCC 12 warns about its own _mm512_undefined_* (GCC bug 105593): -Wuninitialized stays on
# in the release build above.
asan_flags="-O1 -g1 -DNDEBUG -Wno-uninitialized"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEMBER_BUILD_TESTS=ON \
    -DEMBER_WERROR=ON -DEMBER_SANITIZE=ON -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$asan_flags" \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO="$asan_flags"
cmake --build build-asan --parallel "$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure --parallel "$jobs" | tee "$logs/asan.txt"

echo "== fuzzing"
./scripts/fuzz.sh "${EMBER_FUZZ_SECONDS:-40}"

# One closing line over all of it (ctest exits non-zero above if anything failed).
total=0
for n in $(sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p' "$logs"/*.txt); do total=$((total + n)); done
echo "test.sh: release and sanitizer suites and the fuzzer all passed"
echo "$((total + 1)) passed, 0 failed"
