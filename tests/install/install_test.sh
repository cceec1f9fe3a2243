#!/usr/bin/env bash
# Installs the built tree into a temporary prefix, then builds programs against the installed
# copy twice: with find_package(ember) and with pkg-config. Usage: install_test.sh BUILD_DIR SRC_DIR
set -euo pipefail
build_dir=$1 src_dir=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
test -f "$work/prefix/lib/libember.a"
test -f "$work/prefix/include/ember.h"
test -f "$work/prefix/include/ember.hpp"

cmake -S "$src_dir/tests/install/consumer" -B "$work/build" -G Ninja \
    -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/build" >/dev/null
"$work/build/consumer_c"
"$work/build/consumer_cpp"

export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig"
cc "$src_dir/tests/install/consumer/main.c" -o "$work/consumer_pc" $(pkg-config --cflags --libs ember)
"$work/consumer_pc"
echo "install test: find_package and pkg-config consumers built and ran"
