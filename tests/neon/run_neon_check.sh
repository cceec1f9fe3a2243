#!/usr/bin/env bash
# Cross-compiles the kernels and tests/neon/neon_check.cpp for aarch64 (Debian's
# g++-aarch64-linux-gnu), then runs the check under qemu-user four times: on a CPU without the
# dot-product extension (Cortex-A53: the plain NEON path), on one with it (Cortex-A76: the SDOT
# path), on qemu's most capable CPU (max: SMMLA, i8mm), and with the plain path forced there.
# Usage: run_neon_check.sh SOURCE_DIR WORK_DIR
set -euo pipefail
src=$1 work=$2
cxx=aarch64-linux-gnu-g++
for tool in "$cxx" qemu-aarch64; do
    command -v "$tool" >/dev/null || { echo "missing $tool: run scripts/install-deps.sh"; exit 1; }
done
mkdir -p "$work"
flags=(-std=c++20 -O2 -Wall -Wextra -Werror -Wno-unused-parameter -ffp-contract=off -I"$src")
objects=()
for f in "$src"/kernels/*.cpp "$src"/platform/*.cpp "$src/tests/kernel_check.cpp" "$src/tests/neon/neon_check.cpp"; do
    case $(basename "$f") in x86_*) continue ;; esac
    extra=()
    [ "$(basename "$f")" = arm_neon_dotprod.cpp ] && extra=(-march=armv8.2-a+dotprod)
    [ "$(basename "$f")" = arm_neon_i8mm.cpp ] && extra=(-march=armv8.2-a+dotprod+i8mm)
    obj="$work/$(basename "$f" .cpp).o"
    "$cxx" "${flags[@]}" "${extra[@]}" -c "$f" -o "$obj"
    objects+=("$obj")
done
"$cxx" -static "${objects[@]}" -o "$work/neon_check"
echo "== plain NEON (qemu -cpu cortex-a53)"
qemu-aarch64 -cpu cortex-a53 "$work/neon_check" neon
echo "== NEON with the dot-product extension (qemu -cpu cortex-a76)"
qemu-aarch64 -cpu cortex-a76 "$work/neon_check" neon-dotprod
echo "== NEON with the dot product and i8mm (qemu -cpu max)"
qemu-aarch64 -cpu max "$work/neon_check" neon-i8mm
echo "== plain NEON forced on a CPU with more (EMBER_KERNELS=neon, qemu -cpu max)"
EMBER_KERNELS=neon qemu-aarch64 -cpu max "$work/neon_check" neon
