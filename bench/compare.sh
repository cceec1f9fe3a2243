#!/usr/bin/env bash
# ember against llama.cpp on the same files, threads and test sizes, run alternately so both
# see the same machine state. The user brings their own llama.cpp build: the project never
# ships, fetches or builds it.
#
#   LLAMA_BENCH=/path/to/llama-bench [LLAMA_BENCH_2=/path/to/another/llama-bench]
#       bench/compare.sh [-t THREADS] [-p N] [-n N] [-d DEPTH] [-r N] [-k K] [-b] MODEL.gguf...
#
# Prints prompt (ppN) and generation (tgN) tokens/s of ember and each llama.cpp build with
# ember's ratio to each (for tgN also ember's weight bytes read per second and that as a % of the
# read bandwidth `ember bench` measured in the same run), and draws the ratios with gnuplot into
# bench/compare.png (bench/compare.tsv holds the numbers). -k K runs each test K times, the
# engines taking turns, and averages each engine's K results: on a machine whose speed drifts,
# one engine's run can land in a slow phase the other's missed. -d DEPTH: every test with DEPTH
# tokens already in the KV cache (llama-bench's -d; a build without it shows "-"). -b: a busy
# loop at nice 19 runs beside the tests (a phone's or desktop's background work): threads that
# wait for work must not lose their core to it.
set -euo pipefail
cd "$(dirname "$0")/.."
threads=$(nproc) n_prompt=512 n_gen=128 depth=0 reps=3 rounds=1 background=0
usage() { sed -n '2,17p' "$0"; exit 2; }
while getopts "t:p:n:d:r:k:b" opt; do
    case $opt in
        t) threads=$OPTARG ;; p) n_prompt=$OPTARG ;; n) n_gen=$OPTARG ;; d) depth=$OPTARG ;;
        r) reps=$OPTARG ;; k) rounds=$OPTARG ;; b) background=1 ;; *) usage ;;
    esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || usage
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "compare.sh: -k takes a count of rounds (1 or more)" >&2; exit 2; }
[[ $depth =~ ^[0-9]+$ ]] || { echo "compare.sh: -d takes a count of tokens (0 or more)" >&2; exit 2; }
[ -x "${LLAMA_BENCH:-}" ] || { echo "compare.sh: set LLAMA_BENCH to your llama-bench binary" >&2; exit 2; }
if [ -n "${LLAMA_BENCH_2:-}" ] && [ ! -x "$LLAMA_BENCH_2" ]; then
    echo "compare.sh: LLAMA_BENCH_2 is not an executable: $LLAMA_BENCH_2" >&2; exit 2
fi
ember=build/bin/ember
[ -x "$ember" ] || { echo "compare.sh: build ember first (scripts/setup.sh)" >&2; exit 2; }

if [ "$background" = 1 ]; then
    nice -n 19 bash -c 'while :; do :; done' &
    busy=$!
    trap 'kill "$busy" 2>/dev/null' EXIT
fi

field() { grep -o "\"$1\": *[0-9.e+-]*" | head -n 1 | sed 's/.*: *//'; }
add() { awk -v s="$1" -v x="${2:-0}" 'BEGIN { print s + x }'; }
# One llama-bench run's tokens/s, or nothing when that build cannot run the test.
llama_ts() {
    local args=(-m "$2" -t "$threads" -p "$3" -n "$4" -r "$reps" -o jsonl)
    [ "$depth" -gt 0 ] && args+=(-d "$depth")
    "$1" "${args[@]}" 2>/dev/null | field avg_ts || true
}
ratio_of() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else printf "-" }'; }
ts_of() { awk -v s="$1" -v k="$2" 'BEGIN { if (k > 0) printf "%.2f", s / k; else printf "-" }'; }

tsv=bench/compare.tsv
printf "model\ttest\tember_ts\tllama_ts\tratio\tllama2_ts\tratio2\tember_gbs\tpct_bandwidth\n" > "$tsv"
printf "%-28s %-12s %10s %10s %7s" model test "ember t/s" "llama t/s" ratio
[ -n "${LLAMA_BENCH_2:-}" ] && printf " %10s %7s" "llama2 t/s" ratio2
printf " %7s %5s\n" "GB/s" "% bw"
for model in "$@"; do
    name=$(basename "$model" .gguf)
    for test in pp tg; do
        if [ $test = pp ]; then p=$n_prompt n=0; else p=0 n=$n_gen; fi
        [ "$p" -gt 0 ] || [ "$n" -gt 0 ] || continue
        e_sum=0 l_sum=0 l_count=0 m_sum=0 m_count=0 f_sum=0 bw_sum=0
        for ((round = 0; round < rounds; ++round)); do
            out=$("$ember" bench -m "$model" -t "$threads" -p "$p" -n "$n" -d "$depth" -r "$reps" -o jsonl 2>/dev/null)
            e_sum=$(add "$e_sum" "$(field avg_ts <<< "$out")")
            f_sum=$(add "$f_sum" "$(field roofline_fraction <<< "$out")")
            bw_sum=$(add "$bw_sum" "$(field read_bandwidth_gbs <<< "$out")")
            l=$(llama_ts "$LLAMA_BENCH" "$model" "$p" "$n")
            [ -n "$l" ] && l_sum=$(add "$l_sum" "$l") l_count=$((l_count + 1))
            if [ -n "${LLAMA_BENCH_2:-}" ]; then
                m=$(llama_ts "$LLAMA_BENCH_2" "$model" "$p" "$n")
                [ -n "$m" ] && m_sum=$(add "$m_sum" "$m") m_count=$((m_count + 1))
            fi
        done
        e=$(ts_of "$e_sum" "$rounds")
        l=$(ts_of "$l_sum" "$l_count")
        m=$(ts_of "$m_sum" "$m_count")
        label="$test$([ $test = pp ] && echo "$p" || echo "$n")$([ "$depth" -gt 0 ] && echo "@d$depth" || true)"
        ratio=$(ratio_of "$e" "$l")
        ratio2=$(ratio_of "$e" "$m")
        # Generation only: weight GB/s = roofline fraction x bandwidth, each averaged.
        gbs=$(awk -v f="$f_sum" -v b="$bw_sum" -v k="$rounds" 'BEGIN { printf "%.1f", f / k * b / k }')
        pct=$(awk -v f="$f_sum" -v k="$rounds" 'BEGIN { printf "%.0f", 100 * f / k }')
        [ $test = tg ] || gbs=- pct=-
        printf "%-28s %-12s %10s %10s %7s" "$name" "$label" "$e" "$l" "$ratio"
        [ -n "${LLAMA_BENCH_2:-}" ] && printf " %10s %7s" "$m" "$ratio2"
        printf " %7s %5s\n" "$gbs" "$pct"
        printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$name" "$label" "$e" "$l" "${ratio%x}" \
            "$m" "${ratio2%x}" "$gbs" "$pct" >> "$tsv"
    done
done

if command -v gnuplot >/dev/null; then
    second=""
    [ -n "${LLAMA_BENCH_2:-}" ] && second=', "" using 7 title "ember / llama.cpp (LLAMA_BENCH_2)"'
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
set datafile missing "-"
stats "$tsv" using 5 nooutput
set yrange [0:(STATS_max > 1.2 ? STATS_max * 1.1 : 1.3)]
plot "$tsv" using 5:xticlabels(stringcolumn(1)." ".stringcolumn(2)) title "ember / llama.cpp (LLAMA_BENCH)"$second, 1 with lines lc "black" title "parity"
PLOT
    echo "plot: bench/compare.png"
fi
