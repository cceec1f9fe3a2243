#!/usr/bin/env bash
# Speculative decoding (engine/generate/draft.h), measured in one run on this machine:
#
#   bench/speculative.sh [-t THREADS] [-k ROUNDS] [-n TOKENS] [VERIFY_MODEL.gguf...]
#
# 1. Verify cost: for each VERIFY_MODEL (the TinyLlama-shaped Q4_0 and Q4_K_M files of
#    `ember synth`), the time of one forward pass over 1 + k tokens (k = 4, 8: `ember bench
#    -p 1+k`) against one generated token (`-n`), as a ratio: what checking k guesses costs.
# 2. Real pairs from ../shared/models: ember-stories-5M F32 and Q8_0 as targets, drafted by
#    their own Q4_0 and Q2_K files and by stories260K (same vocabulary, another model), greedy,
#    each run taking turns with plain generation; tokens/s of both, the speed-up, the guesses
#    taken, and whether the text is the same (it must be).
# 3. Lookup decoding (--lookup 8, 16) on a prompt that the reply copies: the model's own story
#    told twice, then its opening again.
# -k runs each pair K times in turns and keeps each one's best.
set -euo pipefail
cd "$(dirname "$0")/.."
threads=2 rounds=3 n_gen=256
usage() { sed -n '2,17p' "$0"; exit 2; }
while getopts "t:k:n:" opt; do
    case $opt in
        t) threads=$OPTARG ;; k) rounds=$OPTARG ;; n) n_gen=$OPTARG ;; *) usage ;;
    esac
done
shift $((OPTIND - 1))
ember=build/bin/ember
[ -x "$ember" ] || { echo "speculative.sh: build ember first (scripts/setup.sh)" >&2; exit 2; }
shared=${EMBER_SHARED:-../shared}
stories=$shared/models/ember-stories-5M/ember-stories-5M
[ -f "$stories-F32.gguf" ] || { echo "speculative.sh: no $stories-F32.gguf (set EMBER_SHARED)" >&2; exit 2; }

field() { grep -o "\"$1\": *[0-9.e+-]*" | head -n 1 | sed 's/.*: *//'; }
best() { awk -v a="$1" -v b="$2" 'BEGIN { print (a > b ? a : b) }'; }

if [ $# -gt 0 ]; then
    echo "## verify cost: one pass over 1 + k tokens / one generated token ($threads threads)"
    printf "%-32s %10s %14s %14s\n" model "tg t/s" "1+4 / 1 token" "1+8 / 1 token"
    for model in "$@"; do
        tg=0 p5=0 p9=0
        for ((r = 0; r < rounds; ++r)); do
            tg=$(best "$tg" "$("$ember" bench -m "$model" -t "$threads" -p 0 -n 64 -r 3 --no-roofline -o jsonl 2>/dev/null | field avg_ts)")
            p5=$(best "$p5" "$("$ember" bench -m "$model" -t "$threads" -p 5 -n 0 -r 10 --no-roofline -o jsonl 2>/dev/null | field avg_ts)")
            p9=$(best "$p9" "$("$ember" bench -m "$model" -t "$threads" -p 9 -n 0 -r 10 --no-roofline -o jsonl 2>/dev/null | field avg_ts)")
        done
        # A pass over n tokens takes n / (its t/s); one token 1 / tg.
        awk -v name="$(basename "$model" .gguf)" -v tg="$tg" -v p5="$p5" -v p9="$p9" \
            'BEGIN { printf "%-32s %10.1f %13.2fx %13.2fx\n", name, tg, 5 / p5 * tg, 9 / p9 * tg }'
    done
    echo
fi

# One `ember run`: its generated text and "tokens/s drafted accepted" from its stderr.
run() {
    local out err
    err=$(mktemp)
    out=$("$ember" run -t "$threads" --temp 0 -n "$n_gen" --ignore-eos "$@" 2>"$err")
    local tps drafted accepted
    tps=$(sed -n 's/.*generation: [0-9]* tokens in [0-9.]* ms (\([0-9.]*\) tokens\/s).*/\1/p' "$err")
    drafted=$(sed -n 's/^draft: \([0-9]*\) drafted, \([0-9]*\) accepted.*/\1/p' "$err")
    accepted=$(sed -n 's/^draft: \([0-9]*\) drafted, \([0-9]*\) accepted.*/\2/p' "$err")
    rm -f "$err"
    printf "%s\t%s\t%s\t%s" "${tps:-0}" "${drafted:-0}" "${accepted:-0}" "$(printf "%s" "$out" | md5sum | cut -c1-12)"
}

compare() {  # label, target, prompt, speculation options...
    local label=$1 target=$2 prompt=$3
    shift 3
    local plain=0 fast=0 line plain_sum fast_sum drafted accepted
    for ((r = 0; r < rounds; ++r)); do
        line=$(run -m "$target" -p "$prompt")
        plain=$(best "$plain" "$(cut -f1 <<< "$line")")
        plain_sum=$(cut -f4 <<< "$line")
        line=$(run -m "$target" -p "$prompt" "$@")
        fast=$(best "$fast" "$(cut -f1 <<< "$line")")
        drafted=$(cut -f2 <<< "$line") accepted=$(cut -f3 <<< "$line") fast_sum=$(cut -f4 <<< "$line")
    done
    awk -v l="$label" -v p="$plain" -v f="$fast" -v d="$drafted" -v a="$accepted" \
        -v same="$([ "$plain_sum" = "$fast_sum" ] && echo yes || echo NO)" \
        'BEGIN { printf "%-44s %9.1f %9.1f %7.2fx %9d %9d %6.0f%% %5s\n", l, p, f, f / p, d, a, (d > 0 ? 100 * a / d : 0), same }'
}

echo "## speculative decoding, greedy, $n_gen tokens ($threads threads, best of $rounds in turns)"
printf "%-44s %9s %9s %8s %9s %9s %7s %5s\n" "target <- draft" "plain" "spec" ratio drafted accepted rate same
story_prompt="Once upon a time"
for target in F32 Q8_0; do
    for draft in "$stories-Q4_0.gguf" "$stories-Q2_K.gguf" "$shared/models/stories260K.gguf"; do
        for k in 4 8; do
            compare "stories-5M $target <- $(basename "$draft" .gguf) k=$k" "$stories-$target.gguf" \
                "$story_prompt" --draft-model "$draft" --draft-max "$k" --draft-p-min 0.5
        done
    done
done
# Within the model's 256 positions: its own greedy story of 50 tokens told twice, then its
# opening again, and 100 tokens of reply (which copies the story as far as the model can).
opening="Once upon a time"
story=$("$ember" run -m "$stories-F32.gguf" -p "$opening" -n 50 --temp 0 2>/dev/null)
copy_prompt="$opening$story $opening$story $opening"
n_gen=100
for target in F32 Q8_0; do
    for k in 8 16; do
        compare "stories-5M $target, lookup $k, copying" "$stories-$target.gguf" "$copy_prompt" --lookup "$k"
    done
done
