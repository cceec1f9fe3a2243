#!/usr/bin/env bash
# ember against llama.cpp on the same files, threads and test sizes, run alternately so both
# see the same machine state. The user brings their own llama.cpp build: the project never
# ships, fetches or builds it.
#
#   LLAMA_BENCH=/path/to/llama-bench bench/compare.sh [-t THREADS] [-p N] [-n N] [-r N] [-k K]
#       MODEL.gguf...
#
# Prints prompt (ppN) and generation (tgN) tokens/s of both engines and their ratio (for tgN
# also ember's weight bytes read per second and that as a % of the read bandwidth `ember bench`
# measured in the same run), and draws
# the ratios with gnuplot into bench/compare.png (bench/compare.tsv holds the numbers). -k K
# runs each test K times, the engines taking turns, and averages each engine's K results: on a
# machine whose speed drifts, one engine's run can land in a slow phase the other's missed.
set -euo pipefail
cd "$(dirname "$0")/.."
threads=$(nproc) n_prompt=512 n_gen=128 reps=3 rounds=1
usage() { sed -n '2,12p' "$0"; exit 2; }
while getopts "t:p:n:r:k:" opt; do
    case $opt in
        t) threads=$OPTARG ;; p) n_prompt=$OPTARG ;; n) n_gen=$OPTARG ;; r) reps=$OPTARG ;;
        k) rounds=$OPTARG ;; *) usage ;;
    esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || usage
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "compare.sh: -k takes a count of rounds (1 or more)" >&2; exit 2; }
[ -x "${LLAMA_BENCH:-}" ] || { echo "compare.sh: set LLAMA_BENCH to your llama-bench binary" >&2; exit 2; }
ember=build/bin/ember
[ -x "$ember" ] || { echo "compare.sh: build ember first (scripts/setup.sh)" >&2; exit 2; }

field() { grep -o "\"$1\": *[0-9.e+-]*" | head -n 1 | sed 's/.*: *//'; }
tsv=bench/compare.tsv
printf "model\ttest\tember_ts\tllama_ts\tratio\tember_gbs\tpct_bandwidth\n" > "$tsv"
printf "%-28s %-7s %12s %12s %8s %9s %6s\n" model test "ember t/s" "llama t/s" ratio "GB/s" "% bw"
for model in "$@"; do
    name=$(basename "$model" .gguf)
    for test in pp tg; do
        if [ $test = pp ]; then p=$n_prompt n=0; else p=0 n=$n_gen; fi
        [ "$p" -gt 0 ] || [ "$n" -gt 0 ] || continue
        e_sum=0 l_sum=0 f_sum=0 bw_sum=0
        for ((round = 0; round < rounds; ++round)); do
            out=$("$ember" bench -m "$model" -t "$threads" -p "$p" -n "$n" -r "$reps" -o jsonl 2>/dev/null)
            e=$(field avg_ts <<< "$out")
            f_sum=$(awk -v s="$f_sum" -v x="$(field roofline_fraction <<< "$out")" 'BEGIN { print s + x }')
            bw_sum=$(awk -v s="$bw_sum" -v x="$(field read_bandwidth_gbs <<< "$out")" 'BEGIN { print s + x }')
            l=$("$LLAMA_BENCH" -m "$model" -t "$threads" -p "$p" -n "$n" -r "$reps" -o jsonl 2>/dev/null | field avg_ts)
            e_sum=$(awk -v s="$e_sum" -v x="${e:-0}" 'BEGIN { print s + x }')
            l_sum=$(awk -v s="$l_sum" -v x="${l:-0}" 'BEGIN { print s + x }')
        done
        e=$(awk -v s="$e_sum" -v k="$rounds" 'BEGIN { print s / k }')
        l=$(awk -v s="$l_sum" -v k="$rounds" 'BEGIN { print s / k }')
        label="$test$([ $test = pp ] && echo "$p" || echo "$n")"
        ratio=$(awk -v a="$e" -v b="$l" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
        # Generation only: weight GB/s = roofline fraction x bandwidth, each averaged.
        gbs=$(awk -v f="$f_sum" -v b="$bw_sum" -v k="$rounds" 'BEGIN { printf "%.1f", f / k * b / k }')
        pct=$(awk -v f="$f_sum" -v k="$rounds" 'BEGIN { printf "%.0f", 100 * f / k }')
        [ $test = tg ] || gbs=- pct=-
        printf "%-28s %-7s %12.2f %12.2f %7sx %9s %6s\n" "$name" "$label" "$e" "$l" "$ratio" "$gbs" "$pct"
        printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$name" "$label" "$e" "$l" "$ratio" "$gbs" "$pct" >> "$tsv"
    done
done

if command -v gnuplot >/dev/null; then
    gnuplot <<PLOT
set terminal pngcairo size 900,500 noenhanced
set output "bench/compare.png"
set key autotitle columnhead
set title "ember / llama.cpp speed ratio ($threads threads)"
set style data histograms
set style fill solid 0.8
set ylabel "ratio (higher is faster)"
set xtics rotate by -30
set datafile separator "\t"
stats "$tsv" using 5 nooutput
set yrange [0:(STATS_max > 1.2 ? STATS_max * 1.1 : 1.3)]
plot "$tsv" using 5:xticlabels(stringcolumn(1)." ".stringcolumn(2)) title "ember / llama.cpp", 1 with lines lc "black" title "parity"
PLOT
    echo "plot: bench/compare.png"
fi
