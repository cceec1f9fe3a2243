#!/usr/bin/env bash
# What structured output costs per generated token, as a ratio measured in one run.
#
#   [EMBER_BIN=path/to/ember] bench/grammar.sh [-n TOKENS] [-k ROUNDS] [-t THREADS] [MODEL.gguf]
#
# The same prompt and seed through `ember run`, free and under a JSON schema (below), the runs
# taking turns; prints the median milliseconds per generated token of each and their ratio
# (target <= 1.10). Without MODEL, a TinyLlama-shaped Q4_0 file with the 32000-token
# SentencePiece vocabulary of ../shared/vocab (EMBER_SHARED) is made by `ember synth` in /tmp.
# Its weights are random, so under the schema nearly every drawn token at a structural place is
# refused and the vocabulary is masked: a harder case than a trained model, which mostly draws
# tokens the grammar allows.
set -euo pipefail
cd "$(dirname "$0")/.."
n_gen=128 rounds=7 threads=2
usage() { sed -n '2,13p' "$0"; exit 2; }
while getopts "n:k:t:" opt; do
    case $opt in
        n) n_gen=$OPTARG ;; k) rounds=$OPTARG ;; t) threads=$OPTARG ;; *) usage ;;
    esac
done
shift $((OPTIND - 1))
[ $# -le 1 ] || usage
ember=${EMBER_BIN:-build/bin/ember}
[ -x "$ember" ] || { echo "grammar.sh: build ember first (scripts/setup.sh)" >&2; exit 2; }
model=${1:-}
if [ -z "$model" ]; then
    shared=${EMBER_SHARED:-../shared}
    model=/tmp/ember-grammar-bench-tinyllama-q4_0.gguf
    [ -f "$model" ] || "$ember" synth --shape tinyllama-1.1b --type Q4_0 \
        --vocab "$shared/vocab/ggml-vocab-llama-spm.gguf" -o "$model" >/dev/null
fi
# Objects in an array: strings, integers, numbers, enums, nesting; at least 12 items, so that
# even a model that closes everything as soon as it may writes more than the tokens asked for.
schema='{"type": "object", "properties": {"items": {"type": "array", "minItems": 12,
  "items": {"type": "object", "properties": {"name": {"type": "string", "minLength": 3,
  "maxLength": 40}, "qty": {"type": "integer", "minimum": 0, "maximum": 1000},
  "price": {"type": "number"}, "kind": {"enum": ["fruit", "tool", "book"]},
  "tags": {"type": "array", "items": {"type": "string"}}},
  "required": ["name", "qty", "price", "kind"]}}}, "required": ["items"],
  "additionalProperties": false}'

# ms per generated token of one run ($@: extra options)
ms_per_token() {
    "$ember" run -m "$model" -p "Here is the inventory as JSON:" -n "$n_gen" -t "$threads" \
        --seed 7 --ignore-eos "$@" 2>&1 >/dev/null |
        sed -n 's/.*generation: \([0-9]*\) tokens in \([0-9.]*\) ms.*/\1 \2/p' |
        awk '{ printf "%.3f", ($1 > 0 ? $2 / $1 : 0) }'
}
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END {
    print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

free="" constrained=""
for ((k = 0; k < rounds; ++k)); do
    free+=" $(ms_per_token)"
    constrained+=" $(ms_per_token --json-schema "$schema")"
done
f=$(echo "$free" | median) c=$(echo "$constrained" | median)
awk -v f="$f" -v c="$c" -v r="$rounds" -v n="$n_gen" -v m="$(basename "$model")" \
    'BEGIN {
        printf "%-40s %12s %12s %7s\n", "file (" n " tokens, median of " r ")", "free ms/tok",
               "schema ms/tok", "ratio"
        printf "%-40s %12.2f %12.2f %7.3f  (target <= 1.10)\n", m, f, c, c / f
    }'
