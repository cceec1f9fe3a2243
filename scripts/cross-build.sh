#!/usr/bin/env bash
# Builds ember for another platform from this Debian machine and runs the result there through
# an emulator: the bundled model's greedy story, which must be llama.cpp's (and for aarch64 the
# perplexity of the quantized ember-stories-5M files on each NEON kernel set).
#
#   scripts/cross-build.sh aarch64   # g++-aarch64-linux-gnu, a static binary (build-aarch64/):
#                                    # runs under qemu-aarch64 as on a Raspberry Pi 4/5 or phone
#   scripts/cross-build.sh windows   # mingw-w64, a static ember.exe (build-windows/): runs
#                                    # under wine
#
# Both leave out ember serve (EMBER_SERVE=OFF: POSIX sockets) and OpenBLAS. With
# EMBER_SHARED (or ../shared) present the story is compared with llama.cpp's reference and a
# difference fails; the tests (CTest CrossBuildAarch64, CrossBuildWindows) rely on that.
# BUILD_DIR overrides the build folder.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:-}
case $target in
aarch64)
    toolchain=cmake/toolchain-aarch64-linux.cmake
    tools=(aarch64-linux-gnu-g++ qemu-aarch64)
    run=(qemu-aarch64 -cpu cortex-a76)
    exe=ember
    ;;
windows)
    toolchain=cmake/toolchain-mingw64.cmake
    tools=(x86_64-w64-mingw32-g++-posix wine)
    run=(wine)
    exe=ember.exe
    ;;
*)
    echo "usage: scripts/cross-build.sh aarch64|windows" >&2
    exit 2
    ;;
esac
for tool in "${tools[@]}"; do
    command -v "$tool" >/dev/null || {
        echo "cross-build: $tool is missing (scripts/install-deps.sh --test installs it)" >&2
        exit 1
    }
done
build=${BUILD_DIR:-build-$target}
mkdir -p "$build"
build=$(cd "$build" && pwd)
jobs=$(nproc 2>/dev/null || echo 2)
# aarch64 also builds the Java binding's JNI library (libember_jni.so, what an Android app
# or a JVM on an ARM board loads): EMBER_SHARED makes every object position-independent.
shared_libs=OFF
[ "$target" = aarch64 ] && shared_libs=ON
cmake --no-warn-unused-cli -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_TOOLCHAIN_FILE="$toolchain" \
    -DEMBER_BUILD_TESTS=OFF -DEMBER_SERVE=OFF -DEMBER_BLAS=OFF -DEMBER_WERROR=ON \
    -DEMBER_SHARED=$shared_libs -DCMAKE_EXE_LINKER_FLAGS=-static >/dev/null
cmake --build "$build" --parallel "$jobs"
binary=$build/bin/$exe
echo "cross-build: $binary ($(du -h "$binary" | cut -f1))"
if [ "$target" = aarch64 ]; then
    jni=$build/bindings/jvm/libember_jni.so
    [ -f "$jni" ] || { echo "cross-build: $jni was not built (no JDK headers?)" >&2; exit 1; }
    aarch64-linux-gnu-readelf -h "$jni" | grep -q AArch64 || { echo "cross-build: $jni is not aarch64" >&2; exit 1; }
    exported=$(aarch64-linux-gnu-nm -D --defined-only "$jni" | awk '$2 == "T"' | grep -vc " Java_dev_ember_" || true)
    [ "$exported" -eq 0 ] || { echo "cross-build: $jni exports more than its JNI functions" >&2; exit 1; }
    echo "cross-build: $jni ($(du -h "$jni" | cut -f1)), JNI functions only"
fi

export WINEDEBUG=-all WINEPREFIX=${WINEPREFIX:-$build/wine}  # wine's own noise and state
story=$("${run[@]}" "$binary" run -m models/stories260K.gguf -p "Once upon a time" -n 200 \
    --temp 0 -t 2 2>"$build/run.log") || {
    cat "$build/run.log" >&2
    exit 1
}
printf '%s\n' "$story"
shared=${EMBER_SHARED:-${EMBER_DEFAULT_SHARED:-../shared}}
reference=$shared/reference/stories260K/stories260K-once.txt
if [ -f "$reference" ]; then
    if [ "$story" = "$(cat "$reference")" ]; then
        echo "cross-build: $target: the story equals llama.cpp's"
    else
        echo "cross-build: $target: the story differs from llama.cpp's ($reference)" >&2
        exit 1
    fi
fi

# aarch64: the packed NEON kernels end to end. Perplexity of the trained ember-stories-5M (every
# matrix packs) on story.txt must stay within 0.3% of llama.cpp's (ember's x86 kernels are
# within 0.1%), on each kernel set: plain NEON (Cortex-A53), dot product (Cortex-A76), i8mm (max),
# and F16 through the float dot products and the float GEMM; the i-quants people put on phones
# (IQ4_XS in the K panels, IQ4_NL in the 32-value ones, IQ2_XS's row kernels) on the dot product.
ppl_reference=$shared/reference/ember-stories-5M/perplexity.txt
ppl_reference_iq=$shared/reference/ember-stories-5M/perplexity-iq.txt
if [ "$target" = aarch64 ] && [ -f "$ppl_reference" ]; then
    check_ppl() {  # check_ppl CPU TYPE
        local file=$shared/models/ember-stories-5M/ember-stories-5M-$2.gguf got want
        got=$(qemu-aarch64 -cpu "$1" "$binary" perplexity -m "$file" -f "$shared/text/story.txt" \
            -c 128 -t 2 2>&1 | sed -n 's/^PPL = \([0-9.]*\).*/\1/p')
        want=$(cat "$ppl_reference" "$ppl_reference_iq" 2>/dev/null | grep -o "$2 [0-9.]*" |
            head -1 | cut -d' ' -f2)
        if [ -z "$got" ] || ! awk -v a="$got" -v b="$want" 'BEGIN { d = a / b - 1; exit !(d < 0.003 && d > -0.003) }'; then
            echo "cross-build: aarch64 -cpu $1 $2: perplexity ${got:-none}, llama.cpp's $want" >&2
            exit 1
        fi
        echo "cross-build: aarch64 -cpu $1 $2: perplexity $got (llama.cpp $want)"
    }
    for cpu in cortex-a53 cortex-a76 max; do
        for type in Q4_0 Q4_K_M; do check_ppl "$cpu" "$type"; done
    done
    for type in F16 Q8_0 Q6_K Q5_K_M Q3_K_M Q2_K; do check_ppl cortex-a76 "$type"; done
    if [ -f "$ppl_reference_iq" ]; then
        for type in IQ4_XS IQ4_NL IQ2_XS; do check_ppl cortex-a76 "$type"; done
    fi
fi
