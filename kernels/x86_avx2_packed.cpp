// The packed panel kernels (x86_packed.h) for CPUs with AVX2 but without AVX-512: the same
// layout and decoding, 8 rows per 256-bit register, with each vpdpbusd done as vpmaddubsw +
// vpmaddwd (x86_panel.h). Compiled with the AVX2 flags only.
#include <immintrin.h>

#include <cstddef>

#include "kernels/blocks.h"
#include "kernels/simd_kernels.h"
#include "kernels/x86_packed.h"

namespace ember::avx2 {
using namespace x86_panel;

EMBER_DEFINE_PACKED8(q4_0, BlockQ4_0, kQK, PackedQ4_0, (gemm_packed<PackedQ4_0, 8>))
EMBER_DEFINE_PACKED8(q5_0, BlockQ5_0, kQK, PackedQ5_0, (gemm_packed<PackedQ5_0, 16>))
EMBER_DEFINE_PACKED8(q4_1, BlockQ4_1, kQK, PackedQ4_1, (gemm_packed<PackedQ4_1, 0>))
EMBER_DEFINE_PACKED8(q5_1, BlockQ5_1, kQK, PackedQ5_1, (gemm_packed<PackedQ5_1, 0>))
EMBER_DEFINE_PACKED8(q8_0, BlockQ8_0, kQK, PackedQ8_0, (gemm_packed<PackedQ8_0, kQ8_0Offset>))
EMBER_DEFINE_PACKED8(q2_k, BlockQ2_K, kQK_K, PackedQ2_K, gemm_k_packed<PackedQ2_K>)
EMBER_DEFINE_PACKED8(q3_k, BlockQ3_K, kQK_K, PackedQ3_K, gemm_k_packed<PackedQ3_K>)
EMBER_DEFINE_PACKED8(q4_k, BlockQ4_K, kQK_K, PackedQ4_K, gemm_k_packed<PackedQ4_K>)
EMBER_DEFINE_PACKED8(q5_k, BlockQ5_K, kQK_K, PackedQ5_K, gemm_k_packed<PackedQ5_K>)
EMBER_DEFINE_PACKED8(q6_k, BlockQ6_K, kQK_K, PackedQ6_K, gemm_k_packed<PackedQ6_K>)

}  // namespace ember::avx2
