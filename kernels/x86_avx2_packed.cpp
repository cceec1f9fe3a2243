// The packed panel kernels (x86_packed.inl) for CPUs with AVX2 but without AVX-512 or AVX-VNNI:
// the same layout and decoding, 8 rows per 256-bit register, with each vpdpbusd done as
// vpmaddubsw + vpmaddwd (x86_panel.inl). Compiled with the AVX2 flags only.
#include "kernels/simd_kernels.h"
#include "kernels/x86_packed.inl"

namespace ember::avx2 {
using namespace x86_panel;
#include "kernels/x86_packed8_exports.inl"

// registry.cpp: the packed kernels of the set "avx2".
void register_packed_kernels(KernelTable& t) {
    register_packed8(t);
}
}  // namespace ember::avx2
