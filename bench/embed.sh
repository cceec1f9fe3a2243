#!/usr/bin/env bash
# Sentence-embedding throughput: ember embed against your own llama.cpp build's llama-embedding
# on the same files, threads and texts, taking turns, and their ratio in texts/s. The project
# never ships, fetches or builds llama.cpp: bring the binary.
#
#   LLAMA_EMBEDDING=/path/to/llama-embedding bench/embed.sh [-t THREADS] [-n TEXTS] [-k ROUNDS]
#
# Files: ember synth writes the all-MiniLM-L6-v2 and bge-small shapes (random weights, the
# WordPiece vocabulary of ../shared/vocab/ggml-vocab-bert-bge.gguf) in F16 and Q8_0 into
# $EMBER_BENCH_DIR (default /tmp/ember-embed-bench). Texts: the lines of ../shared/text/story.txt
# split at sentence ends, repeated to -n texts (default 2000). Each engine reads all the texts
# in one run, model loading included; both print every vector (JSON) to /dev/null. Time: the
# best of -k runs (default 3) per engine.
set -euo pipefail
cd "$(dirname "$0")/.."
threads=$(nproc) n_texts=2000 rounds=3
while getopts "t:n:k:" opt; do
    case $opt in
        t) threads=$OPTARG ;; n) n_texts=$OPTARG ;; k) rounds=$OPTARG ;;
        *) sed -n '2,13p' "$0"; exit 2 ;;
    esac
done
[ -x "${LLAMA_EMBEDDING:-}" ] || { echo "embed.sh: set LLAMA_EMBEDDING to your llama-embedding binary" >&2; exit 2; }
ember=build/bin/ember
[ -x "$ember" ] || { echo "embed.sh: build ember first (scripts/setup.sh)" >&2; exit 2; }
shared=${EMBER_SHARED:-../shared}
dir=${EMBER_BENCH_DIR:-/tmp/ember-embed-bench}
mkdir -p "$dir"

texts=$dir/texts.txt
: > "$texts"
tr '\n' ' ' < "$shared/text/story.txt" | sed 's/\([.!?]\) /\1\n/g' | grep -v '^ *$' > "$dir/sentences.txt"
while [ "$(wc -l < "$texts" 2>/dev/null || echo 0)" -lt "$n_texts" ]; do cat "$dir/sentences.txt" >> "$texts"; done
head -n "$n_texts" "$texts" > "$texts.tmp" && mv "$texts.tmp" "$texts"

seconds() { local start end; start=$(date +%s.%N); "$@" > /dev/null 2>&1; end=$(date +%s.%N); awk -v a="$start" -v b="$end" 'BEGIN { print b - a }'; }
best() { sort -g | head -n 1; }

printf "%-16s %12s %12s %8s   (%d texts, %d threads)\n" file "ember t/s" "llama t/s" ratio "$n_texts" "$threads"
for shape in minilm-l6 bge-small; do
    for type in F16 Q8_0; do
        model=$dir/$shape-$type.gguf
        [ -f "$model" ] || "$ember" synth --shape "$shape" --type "$type" \
            --vocab "$shared/vocab/ggml-vocab-bert-bge.gguf" -o "$model" 2>/dev/null
        e_times=() l_times=()
        for ((round = 0; round < rounds; ++round)); do
            e_times+=("$(seconds "$ember" embed -m "$model" -t "$threads" -f "$texts" --format json)")
            l_times+=("$(seconds "$LLAMA_EMBEDDING" -m "$model" -t "$threads" -f "$texts" -c 512 \
                -b 512 -ub 512 --pooling mean --embd-normalize 2 --embd-output-format json)")
        done
        e=$(printf "%s\n" "${e_times[@]}" | best) l=$(printf "%s\n" "${l_times[@]}" | best)
        awk -v f="$shape-$type" -v n="$n_texts" -v e="$e" -v l="$l" \
            'BEGIN { printf "%-16s %12.1f %12.1f %7.2fx\n", f, n / e, n / l, l / e }'
    done
done
