#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (the whole library instrumented for coverage, with
# AddressSanitizer + UndefinedBehaviorSanitizer) and runs each for N seconds (default 60) from a
# seed corpus. Any crash, sanitizer report or failed check fails the script.
#   scripts/fuzz.sh [seconds] [target...]     targets: gguf_reader tokenizers chat_template jinja
#                                             c_api session_state grammar http
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(gguf_reader tokenizers chat_template jinja c_api session_state grammar http)
shared=${EMBER_SHARED:-../shared}

cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
    -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -DNDEBUG" \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -DNDEBUG" -DEMBER_FUZZ=ON -DEMBER_BUILD_TESTS=OFF -DEMBER_BLAS=OFF \
    -DEMBER_WERROR=ON >/dev/null
cmake --build build-fuzz --parallel "$(nproc)" --target "${targets[@]/#/fuzz_}"

# Seeds: small real files, and the start of larger ones (the fuzzer mutates from there).
seed() {
    local corpus=build-fuzz/corpus/$1
    rm -rf "$corpus" && mkdir -p "$corpus"
    case $1 in
        gguf_reader)
            cp models/stories260K.gguf "$corpus/"
            for f in "$shared"/models/mini/mini-Q4_K_M.gguf "$shared"/models/mini/mini-Q8_0.gguf \
                     "$shared"/vocab/ggml-vocab-gpt-2.gguf; do
                [ -f "$f" ] && head -c 65536 "$f" > "$corpus/head-$(basename "$f")"
            done ;;
        tokenizers)  # the first byte picks the tokenizer and the flags
            for f in "$shared"/vocab/ggml-vocab-*.gguf.inp "$shared"/text/story.txt; do
                [ -f "$f" ] || continue
                for lead in '\000' '\001' '\002'; do
                    { printf "$lead"; head -c 2048 "$f"; } > "$corpus/$(basename "$f")-${lead#\\}"
                done
            done ;;
        chat_template)  # a template, \001, then messages: a role byte and text, NUL-separated
            printf '{{ "<|im_start|>" }}\001\000You are kind\000\001Hello\000\002Hi!' > "$corpus/chatml"
            printf '[INST] <<SYS>>\001\001Tell me a story' > "$corpus/llama2" ;;
        jinja)  # the real chat templates
            cp "$shared"/templates/templates/*.jinja "$corpus/" 2>/dev/null || true
            printf '{%% for m in messages %%}{{ m.role|upper }}: {{ m.content|trim }}{%% endfor %%}' > "$corpus/loop" ;;
        c_api)
            printf '\000\100\002\100\001\000\020\001\020Once upon a time\003\010\000\000\000' \
                > "$corpus/append-generate" ;;
        session_state)  # the first byte: 0 raw bytes, 1 flips, 2 flips and a cut, 3 a tail
            printf '\001' > "$corpus/unchanged"
            printf '\001\020\000\001' > "$corpus/flip"
            printf '\002\100\000' > "$corpus/cut"
            printf '\000EMBERSES\001\000\000\000' > "$corpus/header" ;;
        grammar)  # a grammar (GBNF or a JSON Schema), \001, then text for the matcher
            printf 'root ::= "{" ws (pair ("," ws pair)*)? "}"\npair ::= [a-z]+ ":" ws [0-9]{1,3} ws\nws ::= [ \\t]*\n\001{a: 12, bb: 3}' > "$corpus/gbnf"
            printf '{"type": "object", "properties": {"n": {"type": "integer", "minimum": -5, "maximum": 300}, "s": {"type": "string", "maxLength": 4}, "e": {"enum": ["x", 1, null]}}, "required": ["n"]}\001{"n": 42, "s": "ab\\u00e9"}' > "$corpus/schema"
            printf '{"$defs": {"t": {"type": "array", "items": {"$ref": "#/$defs/t"}, "maxItems": 2}}, "$ref": "#/$defs/t"}\001[[[], [[]]]]' > "$corpus/recursive"
            printf '{"$defs": {"t": {"type": "array", "items": {"$ref": "#/$defs/t"}}}, "$ref": "#"}\001[]' > "$corpus/self-ref" ;;
        http)  # byte 0 even: raw bytes of a connection; odd: byte 1 picks a route, the rest is its body
            printf '\000GET /health HTTP/1.1\r\nHost: localhost\r\n\r\nPOST /v1/completions HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1f\r\n{"prompt":"Once","max_tokens":2}\r\n0\r\n\r\n' > "$corpus/pipelined"
            printf '\000HEAD /health HTTP/1.1\r\nHost: a\r\n\r\nHEAD /v1/models HTTP/1.1\r\nHost: a\r\n\r\n' > "$corpus/head"
            printf '\001\000{"messages":[{"role":"user","content":"Hi"}],"max_tokens":3,"stream":true}' > "$corpus/chat"
            printf '\001\001{"prompt":"Once","grammar":"root ::= [a-z]+","max_tokens":4}' > "$corpus/grammar"
            printf '\001\007{"model":"m","prompt":"Once","options":{"num_predict":3}}' > "$corpus/ollama"
            printf '\001\002{"input":["a","b"],"encoding_format":"base64"}' > "$corpus/embed" ;;
    esac
}

for target in "${targets[@]}"; do
    seed "$target"
    echo "fuzz_$target: ${seconds}s"
    log=build-fuzz/fuzz_$target.log
    if ASAN_OPTIONS=detect_leaks=1 build-fuzz/bin/fuzz_"$target" -max_total_time="$seconds" \
        -max_len=1300000 -timeout=20 -rss_limit_mb=4096 -print_final_stats=1 \
        build-fuzz/corpus/"$target" >"$log" 2>&1; then
        grep -E "^#[0-9]+[[:space:]]+DONE" "$log" | sed 's/^/  /'
        grep -E "^stat::(number_of_executed_units|new_units_added)" "$log" | sed 's/^/  /'
    else
        cat "$log"
        echo "fuzz_$target FAILED: the input that broke it is saved in the working folder (crash-*)"
        exit 1
    fi
done
