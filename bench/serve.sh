#!/usr/bin/env bash
# Serving throughput: `ember serve -np 8` against your own llama.cpp build's `llama-server -np 8`
# on the same file and threads, 8 concurrent streaming clients, taking turns. Prints aggregate
# generated tokens/s, time to first token, and their ratios; the time to the first token of one
# long prompt (-P words, about 2,000 tokens: what a chat user feels when they paste a document)
# on a server with one slot of 4096 positions; then one client alone against `ember bench`'s
# generation speed. The project never ships, fetches or builds llama.cpp: bring the binary.
#
#   LLAMA_SERVER=/path/to/llama-server bench/serve.sh [-m FILE] [-t THREADS] [-c CLIENTS]
#                                           [-n TOKENS] [-r ROUNDS] [-k TURNS] [-P WORDS]
#
# File: a TinyLlama-shaped Q4_0 (`ember synth --shape tinyllama-1.1b` with the Llama vocabulary
# of ../shared/vocab, written to $EMBER_BENCH_DIR, default /tmp/ember-serve-bench) unless -m
# names one. Each client streams
# -r completions (default 2) of -n tokens (default 128, ignore_eos) one after another; slots
# hold 512 positions each (llama-server: -c 512 x clients, which it divides among its slots).
# Each engine runs -k times (default 2), alternating; the best run of each counts.
set -euo pipefail
cd "$(dirname "$0")/.."
threads=$(nproc) clients=8 tokens=128 rounds=2 turns=2 model="" words=1900
while getopts "m:t:c:n:r:k:P:" opt; do
    case $opt in
        m) model=$OPTARG ;; t) threads=$OPTARG ;; c) clients=$OPTARG ;; n) tokens=$OPTARG ;;
        r) rounds=$OPTARG ;; k) turns=$OPTARG ;; P) words=$OPTARG ;;
        *) sed -n '2,19p' "$0"; exit 2 ;;
    esac
done
[ -x "${LLAMA_SERVER:-}" ] || { echo "serve.sh: set LLAMA_SERVER to your llama-server binary" >&2; exit 2; }
ember=build/bin/ember
[ -x "$ember" ] || { echo "serve.sh: build ember first (scripts/setup.sh)" >&2; exit 2; }
dir=${EMBER_BENCH_DIR:-/tmp/ember-serve-bench}
mkdir -p "$dir"
if [ -z "$model" ]; then
    model=$dir/tinyllama-1.1b-Q4_0.gguf
    [ -f "$model" ] || "$ember" synth --shape tinyllama-1.1b --type Q4_0 \
        --vocab "${EMBER_SHARED:-../shared}/vocab/ggml-vocab-llama-spm.gguf" -o "$model" > /dev/null
fi
port=$((20000 + RANDOM % 20000))

# Starts a server with SLOTS slots of POSITIONS positions each, waits for /health, runs the
# command that follows with the server's URL, stops the server. Prints the command's output.
serve() {
    local engine=$1 slots=$2 positions=$3 pid
    shift 3
    if [ "$engine" = ember ]; then
        "$ember" serve -m "$model" --port "$port" -t "$threads" -np "$slots" -c "$positions" \
            2> "$dir/server.log" &
    else
        "$LLAMA_SERVER" -m "$model" --port "$port" -t "$threads" -np "$slots" \
            -c $((positions * slots)) > "$dir/server.log" 2>&1 &
    fi
    pid=$!
    for _ in $(seq 600); do
        curl -sf "http://127.0.0.1:$port/health" > /dev/null 2>&1 && break
        sleep 0.1
    done
    "$@" "http://127.0.0.1:$port"
    kill "$pid"
    wait "$pid" 2> /dev/null || true
}
# The streaming load of N_CLIENTS clients on SLOTS slots. Prints the load's JSON.
run() {
    local engine=$1 slots=$2 n_clients=$3
    serve "$engine" "$slots" 512 load "$n_clients"
}
load() { node bench/serve_load.mjs "$2" "$1" "$rounds" "$tokens"; }
# Two long prompts (different words) on a fresh one-slot server: the JSON of the faster.
long_prompt() {
    local out=()
    for seed in 1 2; do out+=("$(node bench/serve_prompt.mjs "$1" "$words" "$seed")"); done
    best -ttft_ms "${out[@]}"
}
field() { node -e "console.log(JSON.parse(process.argv[1])['$2'])" "$1"; }
# The best of several JSON lines by a field (max, or min with -). (node -e puts the first
# argument at process.argv[1].)
best() {
    node -e "const r = process.argv.slice(1).map(JSON.parse); const s = '$1'.startsWith('-') ? -1 : 1;
             const k = '$1'.replace('-', ''); r.sort((a, b) => s * (b[k] - a[k]));
             console.log(JSON.stringify(r[0]))" "${@:2}"
}

ember_runs=() llama_runs=()
for _ in $(seq "$turns"); do
    ember_runs+=("$(run ember "$clients" "$clients")")
    llama_runs+=("$(run llama "$clients" "$clients")")
done
e=$(best tokens_per_s "${ember_runs[@]}")
l=$(best tokens_per_s "${llama_runs[@]}")
printf "%s, %d threads, %d streaming clients x %d requests x %d tokens\n" \
    "$(basename "$model")" "$threads" "$clients" "$rounds" "$tokens"
printf "%-22s %12s %12s %8s\n" "" ember llama.cpp ratio
awk -v a="$(field "$e" tokens_per_s)" -v b="$(field "$l" tokens_per_s)" \
    'BEGIN { printf "%-22s %12.1f %12.1f %7.2fx\n", "generated tokens/s", a, b, a / b }'
awk -v a="$(field "$e" ttft_ms_mean)" -v b="$(field "$l" ttft_ms_mean)" \
    'BEGIN { printf "%-22s %12.0f %12.0f %7.2fx\n", "first token ms (mean)", a, b, b / a }'
awk -v a="$(field "$e" ttft_ms_max)" -v b="$(field "$l" ttft_ms_max)" \
    'BEGIN { printf "%-22s %12.0f %12.0f %7.2fx\n", "first token ms (max)", a, b, b / a }'
failed() { local n=0 r; for r in "$@"; do n=$((n + $(field "$r" failed))); done; echo $n; }
printf "%-22s %12s %12s   (all runs)\n" "failed requests" "$(failed "${ember_runs[@]}")" \
    "$(failed "${llama_runs[@]}")"

# One long prompt, the engines taking turns on fresh servers.
ember_prompt=() llama_prompt=()
for _ in $(seq "$turns"); do
    ember_prompt+=("$(serve ember 1 4096 long_prompt)")
    llama_prompt+=("$(serve llama 1 4096 long_prompt)")
done
e=$(best -ttft_ms "${ember_prompt[@]}")
l=$(best -ttft_ms "${llama_prompt[@]}")
awk -v a="$(field "$e" ttft_ms)" -v b="$(field "$l" ttft_ms)" -v n="$(field "$e" prompt_tokens)" \
    -v m="$(field "$l" prompt_tokens)" 'BEGIN {
        printf "%-22s %12.0f %12.0f %7.2fx   (%d / %d prompt tokens)\n",
               "first token, long (ms)", a, b, b / a, n, m }'

# One client alone: the server's stream rate against ember bench's generation (tg), taking turns.
tg() {
    "$ember" bench -m "$model" -t "$threads" -p 0 -n "$tokens" -r 1 -o jsonl 2> /dev/null |
        node -e "let t = ''; process.stdin.on('data', d => t += d).on('end', () => {
                 const r = t.trim().split('\n').map(JSON.parse).find(x => x.n_gen > 0);
                 console.log(r.avg_ts) })"
}
single=() bench=()
for _ in $(seq "$turns"); do
    single+=("$(run ember 1 1)")
    bench+=("$(tg)")
done
s=$(best stream_rate "${single[@]}")
b=$(printf "%s\n" "${bench[@]}" | sort -g | tail -n 1)
awk -v a="$(field "$s" stream_rate)" -v b="$b" -v n="$tokens" \
    'BEGIN { printf "one client: %.1f tokens/s streamed; ember bench tg%d: %.1f; %.1f%%\n", a, n, b, 100 * a / b }'
