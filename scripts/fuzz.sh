#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for N seconds (default 60) on a seed
# corpus made from the shared models. Any crash or sanitizer report fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shared=${EMBER_SHARED:-../shared}

cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
    -DCMAKE_CXX_COMPILER=clang++ -DEMBER_FUZZ=ON -DEMBER_BUILD_TESTS=OFF -DEMBER_BLAS=OFF \
    -DEMBER_WERROR=ON
cmake --build build-fuzz --parallel "$(nproc)" --target fuzz_gguf_reader

# Seeds: small real files, and the start of larger ones (the fuzzer mutates from there).
corpus=build-fuzz/corpus/gguf
rm -rf "$corpus" && mkdir -p "$corpus"
cp models/stories260K.gguf "$corpus/"
for f in "$shared"/models/mini/mini-Q4_K_M.gguf "$shared"/models/mini/mini-Q8_0.gguf \
         "$shared"/vocab/ggml-vocab-gpt-2.gguf; do
    [ -f "$f" ] && head -c 65536 "$f" > "$corpus/head-$(basename "$f")"
done

echo "fuzz_gguf_reader: ${seconds}s"
log=build-fuzz/fuzz_gguf_reader.log
if ASAN_OPTIONS=detect_leaks=1 build-fuzz/bin/fuzz_gguf_reader -max_total_time="$seconds" \
    -max_len=1300000 -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 "$corpus" >"$log" 2>&1; then
    grep -E "^(Done|stat::number_of_executed_units|stat::new_units_added)" "$log"
else
    cat "$log"
    echo "fuzz_gguf_reader FAILED: the input that broke it is saved in the working folder (crash-*)"
    exit 1
fi
