#!/usr/bin/env bash
# Generation speed when threads outnumber the free cores, as ratios measured in one run.
#
#   [EMBER_BIN=path/to/ember] bench/threads.sh [-n TOKENS] [-r REPS] [-k ROUNDS] MODEL.gguf
#
# Two cases, each against its own baseline on the same machine, the runs taking turns:
#   oversubscribed: -t 2xCORES against -t CORES              target >= 0.5
#   one busy core:  the default thread count against the best   target >= 0.8
#                   of -t 1 and -t 2, while another program keeps one core busy
# CORES is the CPUs this process may use (nproc). The busy program is a shell loop, not pinned.
set -euo pipefail
cd "$(dirname "$0")/.."
n_gen=64 reps=3 rounds=2
usage() { sed -n '2,10p' "$0"; exit 2; }
while getopts "n:r:k:" opt; do
    case $opt in
        n) n_gen=$OPTARG ;; r) reps=$OPTARG ;; k) rounds=$OPTARG ;; *) usage ;;
    esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || usage
model=$1
ember=${EMBER_BIN:-build/bin/ember}  # EMBER_BIN: another build, for before/after
[ -x "$ember" ] || { echo "threads.sh: build ember first (scripts/setup.sh)" >&2; exit 2; }
cores=$(nproc)

# tokens/s of generation with the given thread option (empty: the default)
tg() {
    "$ember" bench -m "$model" -p 0 -n "$n_gen" -r "$reps" -o jsonl $1 2>/dev/null |
        grep -o '"avg_ts": *[0-9.]*' | sed 's/.*: *//'
}
add() { awk -v a="$1" -v b="$2" 'BEGIN { print a + b }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

over=0 base=0
for ((k = 0; k < rounds; ++k)); do
    base=$(add "$base" "$(tg "-t $cores")")
    over=$(add "$over" "$(tg "-t $((2 * cores))")")
done
printf "%-36s %10s %10s %7s\n" case "t/s" baseline ratio
printf "%-36s %10.1f %10.1f %7s  (target >= 0.5)\n" "-t $((2 * cores)) vs -t $cores" \
    "$(ratio "$over" "$rounds")" "$(ratio "$base" "$rounds")" "$(ratio "$over" "$base")"

busy_pid=
trap '[ -n "$busy_pid" ] && kill "$busy_pid" 2>/dev/null' EXIT
bash -c 'while :; do :; done' &
busy_pid=$!
one=0 two=0 default=0
for ((k = 0; k < rounds; ++k)); do
    one=$(add "$one" "$(tg "-t 1")")
    two=$(add "$two" "$(tg "-t 2")")
    default=$(add "$default" "$(tg "")")
done
best=$(awk -v a="$one" -v b="$two" 'BEGIN { print (a > b ? a : b) }')
printf "%-36s %10.1f %10.1f %7s  (target >= 0.8; -t 1 %.1f, -t 2 %.1f)\n" \
    "one busy core: default vs best" "$(ratio "$default" "$rounds")" "$(ratio "$best" "$rounds")" \
    "$(ratio "$default" "$best")" "$(ratio "$one" "$rounds")" "$(ratio "$two" "$rounds")"
