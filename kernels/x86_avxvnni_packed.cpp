// The packed panel kernels (x86_packed.inl) for CPUs with AVX2 and AVX-VNNI but without AVX-512
// (Intel's since Alder Lake): 8 rows per 256-bit register with the VEX-encoded vpdpbusd, the
// arithmetic of the AVX-512 8-row kernels. Compiled with the AVX2 and AVX-VNNI flags.
#include "kernels/simd_kernels.h"
#include "kernels/x86_packed.inl"

namespace ember::avxvnni {
using namespace x86_panel;
#include "kernels/x86_packed8_exports.inl"

// registry.cpp: the packed kernels of the set "avx2-vnni".
void register_packed_kernels(KernelTable& t) {
    register_packed8(t);
}
}  // namespace ember::avxvnni
