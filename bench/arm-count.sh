#!/usr/bin/env bash
# Instructions per token on an ARM core, ember against llama.cpp, counted under qemu-user.
#
#   [LLAMA_BENCH_A64=/path/to/aarch64/llama-bench] bench/arm-count.sh [-c CPUS] [-s SHAPE]
#       [-l LAYERS] [-x] [TYPE...]
#
# Cross-builds ember for aarch64 (scripts/cross-build.sh aarch64; EMBER_A64=path skips that),
# writes random-weight files of one shape (ember synth, default smollm-135m) and runs both
# engines single-threaded under qemu-aarch64 with a small TCG plugin (arm_count_plugin.c) that
# counts every executed guest instruction. Per token, by differencing two runs of the same
# program so that loading, packing and exit cancel out:
#   generation: (count(-n 12) - count(-n 4)) / tokens    prompt: (count(-p 24) - count(-p 8)) / tokens
# (both benches warm up: ember repeats the whole test once, llama-bench repeats a prompt and
# generates one token, and the division accounts for it).
# Prints instructions per generated and per prompt token, and ember / llama.cpp.
#
# -c CPUS    qemu CPU models, comma-separated (default cortex-a76,max: NEON + dot product like
#            a Pixel 6 or a Raspberry Pi 5; max adds i8mm). cortex-a53 is the plain NEON path.
# -s SHAPE   an `ember synth` shape (default smollm-135m)   -l LAYERS  fewer layers (0: all)
# -x         also count ember --no-repack (row dot products from the mapped file)
# TYPE       Q4_0 Q4_K_M Q8_0 Q6_K ... (default: Q4_0 Q4_K_M Q8_0 Q6_K)
#
# LLAMA_BENCH_A64 is your own static aarch64 build of llama.cpp's llama-bench (for example
# cmake -DGGML_CPU_ARM_ARCH=armv8.2-a+dotprod -DBUILD_SHARED_LIBS=OFF with an aarch64
# toolchain); the project never builds or downloads it. Without it only ember is counted.
# Instruction counts are not time: see docs/performance.md for what they predict.
set -euo pipefail
cd "$(dirname "$0")/.."
cpus=cortex-a76,max shape=smollm-135m layers=0 no_repack=0
usage() { sed -n '2,27p' "$0"; exit 2; }
while getopts "c:s:l:xh" opt; do
    case $opt in
        c) cpus=$OPTARG ;; s) shape=$OPTARG ;; l) layers=$OPTARG ;; x) no_repack=1 ;; *) usage ;;
    esac
done
shift $((OPTIND - 1))
types=("$@")
[ ${#types[@]} -gt 0 ] || types=(Q4_0 Q4_K_M Q8_0 Q6_K)
for tool in qemu-aarch64 cc; do
    command -v "$tool" >/dev/null || { echo "arm-count: $tool is missing (scripts/install-deps.sh)" >&2; exit 1; }
done
work=${EMBER_BENCH_DIR:-/tmp/ember-arm-count}
mkdir -p "$work"

# The counting plugin, built for the host. qemu must be the dynamic /usr/bin one (a static
# qemu cannot load plugins).
plugin=$work/libarmcount.so
cc -O2 -shared -fPIC -o "$plugin" bench/arm_count_plugin.c

ember=${EMBER_A64:-}
if [ -z "$ember" ]; then
    echo "arm-count: cross-building ember (scripts/cross-build.sh aarch64)" >&2
    scripts/cross-build.sh aarch64 >/dev/null
    ember=build-aarch64/bin/ember
fi
llama=${LLAMA_BENCH_A64:-}
[ -z "$llama" ] || [ -x "$llama" ] || { echo "arm-count: LLAMA_BENCH_A64=$llama is not executable" >&2; exit 2; }
# `ember synth` natively when there is a native build (faster), else under qemu.
synth=(build/bin/ember)
[ -x "${synth[0]}" ] || synth=(qemu-aarch64 "$ember")

# instructions executed by one run: count CPU COMMAND... (fails if the program does)
count() {
    local cpu=$1
    shift
    qemu-aarch64 -cpu "$cpu" -plugin "$plugin,out=$work/count.txt" "$@" >"$work/run.log" 2>&1 || {
        echo "arm-count: failed under qemu -cpu $cpu: $*" >&2
        tail -3 "$work/run.log" >&2
        return 1
    }
    cat "$work/count.txt"
}
# per-token difference: per A B TOKENS
per() { echo $((($2 - $1) / $3)); }
millions() { awk -v x="$1" 'BEGIN { printf "%.1fM", x / 1e6 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else printf "-" }'; }

# ember's per-token counts: ember_counts CPU FILE [EXTRA...] -> "GEN PROMPT"
ember_counts() {
    local cpu=$1 file=$2
    shift 2
    local bench=("$ember" bench -m "$file" -t 1 -r 1 --no-roofline "$@")
    local g4 g12 p8 p24
    g4=$(count "$cpu" "${bench[@]}" -p 0 -n 4) && g12=$(count "$cpu" "${bench[@]}" -p 0 -n 12) &&
        p8=$(count "$cpu" "${bench[@]}" -p 8 -n 0) && p24=$(count "$cpu" "${bench[@]}" -p 24 -n 0) ||
        exit 1
    echo "$(per "$g4" "$g12" 16) $(per "$p8" "$p24" 32)"  # the warm-up repeats each test
}
llama_counts() {
    local cpu=$1 file=$2
    local bench=("$llama" -m "$file" -t 1 -r 1)
    local g4 g12 p8 p24
    # A llama-bench built for the dot product cannot run on -cpu cortex-a53: "-" in the table.
    g4=$(count "$cpu" "${bench[@]}" -p 0 -n 4) && g12=$(count "$cpu" "${bench[@]}" -p 0 -n 12) &&
        p8=$(count "$cpu" "${bench[@]}" -p 8 -n 0) && p24=$(count "$cpu" "${bench[@]}" -p 24 -n 0) || {
        echo "0 0"
        return
    }
    echo "$(per "$g4" "$g12" 8) $(per "$p8" "$p24" 32)"  # warm-up: one token; the whole prompt
}

echo "instructions per token, one thread, $shape-shaped files (qemu-aarch64 TCG plugin count)"
header="| cpu | type | ember gen | llama.cpp gen | ratio | ember prompt | llama.cpp prompt | ratio |"
[ "$no_repack" = 1 ] && header="$header --no-repack gen | --no-repack prompt |"
echo "$header"
echo "$header" | sed 's/[^|]/-/g; s/-|/ |/g; s/|-/| /g'
IFS=, read -r -a cpu_list <<<"$cpus"
for type in "${types[@]}"; do
    file=$work/$shape-$type-l$layers.gguf
    if [ ! -s "$file" ]; then
        "${synth[@]}" synth --shape "$shape" --type "$type" --layers "$layers" -o "$file" >/dev/null 2>&1 || {
            echo "arm-count: ember synth cannot write $type; skipped" >&2
            continue
        }
    fi
    for cpu in "${cpu_list[@]}"; do
        counts=$(ember_counts "$cpu" "$file") || exit 1
        read -r eg ep <<<"$counts"
        lg=0 lp=0
        [ -z "$llama" ] || read -r lg lp <<<"$(llama_counts "$cpu" "$file")"
        row="| $cpu | $type | $(millions "$eg") | $( [ "$lg" -gt 0 ] && millions "$lg" || echo -) | $(ratio "$eg" "$lg") |"
        row="$row $(millions "$ep") | $( [ "$lp" -gt 0 ] && millions "$lp" || echo -) | $(ratio "$ep" "$lp") |"
        if [ "$no_repack" = 1 ]; then
            counts=$(ember_counts "$cpu" "$file" --no-repack) || exit 1
            read -r ng np <<<"$counts"
            row="$row $(millions "$ng") | $(millions "$np") |"
        fi
        echo "$row"
    done
done
