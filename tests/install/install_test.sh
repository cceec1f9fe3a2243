#!/usr/bin/env bash
# Installs the built tree into a temporary prefix, then builds examples/embed/ against the
# installed copy, with find_package(ember) (C and C++) and with pkg-config (C), and runs them
# from the repository root so they stream a story from models/stories260K.gguf.
# Usage: install_test.sh BUILD_DIR SRC_DIR
set -euo pipefail
build_dir=$1 src_dir=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
for f in lib/libember.a include/ember.h include/ember.hpp lib/pkgconfig/ember.pc \
         lib/cmake/ember/emberConfig.cmake bin/ember; do
    test -e "$work/prefix/$f" || { echo "not installed: $f"; exit 1; }
done

for lang in c cpp; do
    cmake -S "$src_dir/examples/embed/$lang" -B "$work/build-$lang" -G Ninja \
        -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
    cmake --build "$work/build-$lang" >/dev/null
done
export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig"
cc "$src_dir/examples/embed/c/story.c" -o "$work/story_pc" $(pkg-config --cflags --libs ember)
if [ -e "$work/prefix/lib/libember.so" ]; then
    # libember.so (EMBER_SHARED): pkg-config links it; its soname carries the major version
    # and it exports the C API alone.
    export LD_LIBRARY_PATH="$work/prefix/lib"
    # (grep reads all of ldd's output: with pipefail, grep -q's early exit can fail the pipe.)
    ldd "$work/story_pc" | grep "libember.so.0 => $work/prefix/lib" > /dev/null ||
        { echo "story_pc does not load the installed libember.so.0"; exit 1; }
    others=$(nm -D --defined-only "$work/prefix/lib/libember.so" | awk '$2 == "T" && $3 !~ /^ember_/')
    [ -z "$others" ] || { echo "libember.so exports more than the C API: $others"; exit 1; }
    # ... and pkg-config --static still links the archive alone.
    cc "$src_dir/examples/embed/c/story.c" -o "$work/story_static" \
        $(pkg-config --cflags ember) "$work/prefix/lib/libember.a" \
        $(pkg-config --static --libs-only-l ember | sed 's/-lember//')
    ! ldd "$work/story_static" | grep libember > /dev/null ||
        { echo "story_static loads libember.so"; exit 1; }
fi

cd "$src_dir"
programs=("$work/build-c/story_c" "$work/build-cpp/story_cpp" "$work/story_pc")
[ -e "$work/story_static" ] && programs+=("$work/story_static")
for program in "${programs[@]}"; do
    out=$("$program" 2>/dev/null)
    words=$(echo "$out" | wc -w)
    echo "$(basename "$program"): $words words: ${out:0:80}..."
    [ "$words" -ge 40 ] || { echo "$program printed too little"; exit 1; }
done
# The embeddings example: one line per document with its similarity to the query.
ranked=$("$work/build-c/search_c" models/stories260K.gguf)
echo "$ranked"
[ "$(echo "$ranked" | grep -cE '^-?[0-9]\.[0-9]{4}  ')" -eq 4 ] || { echo "search_c ranked nothing"; exit 1; }
echo "install test: the examples built against the installed library, streamed stories and ranked documents"
