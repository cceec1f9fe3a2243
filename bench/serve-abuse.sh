#!/usr/bin/env bash
# ember serve under attack: 8 normal streaming clients alone for S seconds, then beside a
# bounded hostile mix for S seconds (bench/serve_abuse.mjs: slowloris and idle connections,
# deep JSON, bad UTF-8, oversized bodies of every framing, two million header lines, exponential
# grammars, clients that leave, a foreign web page). Prints the normal clients' success rate
# (target 100%) and p99 time to first token (target: within 2x of the run without the mix),
# resident memory before and after (within 10%), and whether the server is alive.
#
#   bench/serve-abuse.sh [-s SECONDS] [-m FILE] [-t THREADS]
#
# Default: 120 s per phase, a TinyLlama-shaped Q4_0 (`ember synth` with the Llama vocabulary of
# ../shared/vocab, in $EMBER_BENCH_DIR, default /tmp/ember-serve-bench), -np 12 (the 8 clients
# and the hostile requests that reach a slot), threads = cores. The attacker runs at nice 19,
# as if from another machine: its own CPU time is not the server's to lose.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=120 threads=$(nproc) model=""
while getopts "s:m:t:" opt; do
    case $opt in
        s) seconds=$OPTARG ;; m) model=$OPTARG ;; t) threads=$OPTARG ;;
        *) sed -n '2,14p' "$0"; exit 2 ;;
    esac
done
ember=${EMBER_BIN:-build/bin/ember}
[ -x "$ember" ] || { echo "serve-abuse.sh: build ember first (scripts/setup.sh)" >&2; exit 2; }
if [ -z "$model" ]; then
    dir=${EMBER_BENCH_DIR:-/tmp/ember-serve-bench}
    mkdir -p "$dir"
    model=$dir/tinyllama-1.1b-Q4_0.gguf
    [ -f "$model" ] || "$ember" synth --shape tinyllama-1.1b --type Q4_0 \
        --vocab "${EMBER_SHARED:-../shared}/vocab/ggml-vocab-llama-spm.gguf" -o "$model" > /dev/null
fi
log=$(mktemp)
"$ember" serve -m "$model" --port 0 -np 12 -c 512 -t "$threads" --timeout 10 2>"$log" &
pid=$!
trap 'kill $pid 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 100); do grep -q "listening on http" "$log" && break; sleep 0.1; done
url=$(sed -n 's/.*listening on \(http:[^ ]*\) .*/\1/p' "$log" | head -1)
[ -n "$url" ] || { cat "$log"; exit 1; }
echo "serve-abuse: $model, $seconds s alone, then $seconds s beside the hostile mix ($url)"
rss() { awk '/VmRSS/ { print int($2 / 1024) }' /proc/$pid/status; }
node bench/serve_abuse.mjs normal "$url" 10 > /dev/null  # warm-up: slots, caches, allocator
sleep 1
rss_before=$(rss)
baseline=$(node bench/serve_abuse.mjs normal "$url" "$seconds")
nice -n 19 node bench/serve_abuse.mjs hostile "$url" "$seconds" &
attacker=$!
hostile=$(node bench/serve_abuse.mjs normal "$url" "$seconds")
wait $attacker || true
sleep 3
alive=false
kill -0 $pid 2>/dev/null && curl -sf "$url/health" > /dev/null && alive=true
rss_after=$(rss 2>/dev/null || echo 0)
result="{\"baseline\":$baseline,\"hostile\":$hostile,\"rss_before_mb\":$rss_before,\"rss_after_mb\":$rss_after,\"alive\":$alive}"
echo "$result"
node -e '
const r = JSON.parse(process.argv[1]);
const ratio = r.hostile.p99_ttft_ms / Math.max(1, r.baseline.p99_ttft_ms);
const rss = r.rss_after_mb / r.rss_before_mb;
const row = (name, value, ok) => console.log(`${name.padEnd(34)} ${String(value).padEnd(22)} ${ok ? "ok" : "MISSED"}`);
row("normal clients, success", `${(100 * r.hostile.success_rate).toFixed(1)}% of ${r.hostile.requests}`, r.hostile.success_rate === 1);
row("p99 time to first token", `${r.hostile.p99_ttft_ms} / ${r.baseline.p99_ttft_ms} ms = ${ratio.toFixed(2)}x`, ratio <= 2);
row("resident memory after / before", `${r.rss_after_mb} / ${r.rss_before_mb} MB = ${rss.toFixed(2)}x`, rss <= 1.1);
row("server alive", r.alive, r.alive);
' "$result"
