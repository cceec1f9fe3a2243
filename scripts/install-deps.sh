#!/usr/bin/env bash
# Installs the Debian 12 packages ember needs (apt-get), and only those:
#   scripts/install-deps.sh           what building and running take (setup.sh)
#   scripts/install-deps.sh --test    also what the test suite and benchmarks take (test.sh):
#                                     clang and its sanitizer runtimes, GoogleTest/Benchmark,
#                                     the aarch64 and Windows cross toolchains with qemu-user and
#                                     wine, nginx, chromium, node with the npm clients of tests/js
# Idempotent: when everything is present it returns without touching apt.
set -euo pipefail

build=(
    build-essential cmake ninja-build
    libopenblas-dev                # EMBER_BLAS: sgemm for large prompt batches
    libcli11-dev nlohmann-json3-dev
)
test=(
    git pkg-config
    clang libclang-rt-dev          # libFuzzer and the sanitizer runtimes for clang
    libgtest-dev libgmock-dev libbenchmark-dev
    unicode-data                   # scripts/gen-unicode-tables.sh (test: UnicodeTablesCurrent)
    nginx curl                     # tests: the load balancer in front of two ember serve, SSE
    clang-format
    gnuplot-nox                    # bench/compare.sh draws its ratios
    g++-aarch64-linux-gnu qemu-user # the NEON kernels and ember for aarch64, run under qemu
    g++-mingw-w64-x86-64-posix wine64 wine  # ember.exe for Windows, run under wine
    chromium                       # the chat page's browser test (puppeteer-core drives it)
    python3-pytest python3-venv    # the Python binding's tests, and its pip install
    default-jdk-headless kotlin    # the Java binding (javac, jni.h) and its Kotlin example
)
with_tests=false
case "${1:-}" in
    --test) with_tests=true ;;
    "") ;;
    *) echo "usage: scripts/install-deps.sh [--test]" >&2; exit 2 ;;
esac
packages=("${build[@]}")
$with_tests && packages+=("${test[@]}")

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# tests/js (ember's vectors in PGlite with pgvector, and in sqlite-vec; the openai client
# against ember serve) needs node and npm: Debian's, unless the machine already has a Node.js
# with its own npm (NodeSource's bundles it and conflicts with Debian's npm package).
if $with_tests; then
    command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "install-deps: installing ${missing[*]}" >&2
    sudo_cmd=()
    [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
    export DEBIAN_FRONTEND=noninteractive
    "${sudo_cmd[@]}" apt-get update -qq
    "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
$with_tests || exit 0

# The JavaScript test clients, exactly as tests/js/package-lock.json pins them (better-sqlite3
# compiles its addon against Debian's Node headers), and the Node binding's build headers
# (bindings/node: node-addon-api, node-api-headers). Again only when a lock file changed.
for js in "$(dirname "$0")/../tests/js" "$(dirname "$0")/../bindings/node"; do
    stamp=$js/node_modules/.installed-package-lock.json
    if ! cmp -s "$js/package-lock.json" "$stamp"; then
        echo "install-deps: npm ci in $js" >&2
        # better-sqlite3 builds its addon with node-gyp: against the installed Node's headers,
        # never headers fetched from the network.
        [ -f /usr/include/node/node.h ] && export npm_config_nodedir=/usr
        (cd "$js" && npm ci --no-audit --no-fund --loglevel=error)
        cp "$js/package-lock.json" "$stamp"
    fi
done
