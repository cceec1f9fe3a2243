// The packed panel kernels (x86_packed.inl) with AVX-512 VNNI: the 8-row kernels of that file,
// and two consecutive groups decoded side by side into 16-row panels in 512-bit registers,
// twice the multiply-adds per vpdpbusd; for a batch of the 32-value types, two such panels
// (32 rows) share each activation load.
// GCC 12 takes the _mm512_undefined_*() sources inside some intrinsics for uninitialised
// variables (as in x86_avx512_grid.cpp); the warning is false in this file.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <immintrin.h>

#include <array>
#include <cstddef>
#include <type_traits>
#include <vector>

#include "kernels/blocks.h"
#include "kernels/simd_kernels.h"
#include "kernels/x86_packed.inl"

namespace ember::avx512 {
using namespace x86_panel;
namespace {

// Block b of two consecutive groups (low, and the one n_blocks on) as one 16-row panel.
// (Inlined: returned through memory, its 9 registers cost a store and a load each.)
template <typename Packed>
[[gnu::always_inline]] inline typename PanelOf<Packed>::Wide wide_block(const Packed* low,
                                                                        int64_t n_blocks,
                                                                        int64_t b) {
    typename PanelOf<Packed>::Narrow rows_0_7, rows_8_15;
    unpack(low[b], &rows_0_7);
    unpack(low[n_blocks + b], &rows_8_15);
    typename PanelOf<Packed>::Wide out;
    widen(rows_0_7, rows_8_15, &out);
    return out;
}

// Q4_0 and Q8_0 decoded straight into 512-bit registers: each 32-byte vector of the two
// groups' block loaded into one half, then Q4_0's nibbles split in 512 bits, where decoding
// each group on its own and joining the halves took twice the instructions (the joins' shuffles
// beside the decoding's and, on Zen 4, the 512-bit vpdpbusd's two pipes).
template <>
[[gnu::always_inline]] inline WidePanelBlock wide_block(const PackedQ4_0* low, int64_t n_blocks,
                                                        int64_t b) {
    const PackedQ4_0& lo = low[b];
    const PackedQ4_0& hi = low[n_blocks + b];
    const __m512i nibble = _mm512_set1_epi8(0x0f);
    WidePanelBlock out;
    for (int c = 0; c < 4; ++c) {
        const __m512i raw = join(load32(lo.qs[c]), load32(hi.qs[c]));
        out.q[c] = _mm512_and_si512(raw, nibble);
        out.q[c + 4] = _mm512_and_si512(_mm512_srli_epi16(raw, 4), nibble);
    }
    out.d = join(halves8(lo.d), halves8(hi.d));
    return out;
}
template <>
[[gnu::always_inline]] inline WidePanelBlock wide_block(const PackedQ8_0* low, int64_t n_blocks,
                                                        int64_t b) {
    static_assert(kVnni);  // the panel holds q + 128 as stored
    const PackedQ8_0& lo = low[b];
    const PackedQ8_0& hi = low[n_blocks + b];
    WidePanelBlock out;
    for (int k = 0; k < 8; ++k) out.q[k] = join(load32(lo.qs[k]), load32(hi.qs[k]));
    out.d = join(halves8(lo.d), halves8(hi.d));
    return out;
}
// A few tokens' pass decodes a block in fewer cycles than the hardware prefetcher, following
// two or four groups at once, brings it in: each group's block kPrefetchBlocks on is fetched
// by hand (TinyLlama Q4_0, 5 tokens: 144-173 -> 229-231 t/s with 8 blocks, 16 the same).
constexpr int64_t kPrefetchBlocks = 8;
template <typename Packed>
inline void prefetch_groups_ahead(const Packed* first, int64_t n_blocks, int groups, int64_t b) {
    for (int g = 0; g < groups; ++g) {
        const char* ahead =
            reinterpret_cast<const char*>(first + g * n_blocks + b + kPrefetchBlocks);
        for (size_t line = 0; line < sizeof(Packed); line += 64)
            _mm_prefetch(ahead + line, _MM_HINT_T0);
    }
}

template <typename Packed>
constexpr bool kDecodedWide =
    std::is_same_v<Packed, PackedQ4_0> || std::is_same_v<Packed, PackedQ8_0>;

// Two consecutive groups (16 rows) in 512-bit registers, for a batch.
template <typename Packed>
void gemm_packed_wide(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride) {
    constexpr int kOffset = kActivationOffset<Packed>;
    const int64_t n_blocks = n / kQK;
    const auto* low = static_cast<const Packed*>(packed);
    const Packed* high = low + n_blocks;  // the next group follows
    if constexpr (kDecodedWide<Packed>) {
        if (a.tiles != nullptr && a.n_tokens <= kStreamTile) {
            // A few tokens in tiles: each block of the two groups decoded once, in 512 bits.
            const auto decoded = [low, n_blocks](int64_t b) {
                prefetch_groups_ahead(low, n_blocks, 2, b);
                return wide_block(low, n_blocks, b);
            };
            for_token_tiles(a.n_tokens, [&]<int T>(int t) {
                panel_tile<Rows16, T, kOffset>(n_blocks, decoded, a, t, y, y_stride);
            });
            return;
        }
    }
    if (a.n_tokens <=
        kStreamTile) {  // a few tokens: the 8-row path on each group (decoding is cheap here)
        gemm_packed<Packed>(n, low, a, y, y_stride);
        gemm_packed<Packed>(n, high, a, y + 8, y_stride);
        return;
    }
    thread_local std::vector<typename PanelOf<Packed>::Wide> panel;
    if (panel.size() < static_cast<size_t>(n_blocks)) panel.resize(n_blocks);
    for (int64_t b = 0; b < n_blocks; ++b) panel[b] = wide_block(low, n_blocks, b);
    panel_all_tokens<Rows16, kOffset>(n_blocks, panel.data(), a, y, y_stride);
}

// Four consecutive groups (32 rows) as two 16-row panels side by side, for a batch: each
// broadcast activation meets both (panel_tokens). One token or a few: the 16-row path twice.
template <typename Packed>
void gemm_packed_wide_pair(int64_t n, const void* packed, const Q8Batch& a, float* y,
                           size_t y_stride) {
    constexpr int kOffset = kActivationOffset<Packed>;
    const int64_t n_blocks = n / kQK;
    const auto* groups = static_cast<const Packed*>(packed);
    if (a.n_tokens <= kStreamTile) {
        // One tile of tokens: the 16-row path twice, whose decoding costs less than two wide
        // panels' (pp5 on TinyLlama Q4_0 147-156 -> 173-188 t/s; pp9, one tile of 9 since
        // tiles go to 9 tokens, 250-388 against 175-215 with the wide panels).
        gemm_packed_wide<Packed>(n, groups, a, y, y_stride);
        gemm_packed_wide<Packed>(n, groups + 2 * n_blocks, a, y + 16, y_stride);
        return;
    }
    if (a.n_tokens < kStreamedBatch) {
        // A few tokens (a server's slots, speculation's check): decode each block as it
        // streams in, once per tile of tokens, instead of storing the whole panel and reading
        // it back.
        const auto pair_at = [groups, n_blocks](int64_t b) {
            if constexpr (kDecodedWide<Packed>) prefetch_groups_ahead(groups, n_blocks, 4, b);
            return std::array<typename PanelOf<Packed>::Wide, 2>{
                wide_block(groups, n_blocks, b), wide_block(groups + 2 * n_blocks, n_blocks, b)};
        };
        for_token_tiles(a.n_tokens, [&]<int T>(int t) {
            panel_tile<Rows16, T, kOffset, 1, 2>(n_blocks, pair_at, a, t, y, y_stride);
        });
        return;
    }
    thread_local std::vector<std::array<typename PanelOf<Packed>::Wide, 2>> panel;
    if (panel.size() < static_cast<size_t>(n_blocks)) panel.resize(n_blocks);
    for (int64_t b = 0; b < n_blocks; ++b) {
        panel[b] = {wide_block(groups, n_blocks, b),
                    wide_block(groups + 2 * n_blocks, n_blocks, b)};
    }
    panel_all_tokens<Rows16, kOffset, 1, 2>(n_blocks, panel.data(), a, y, y_stride);
}

}  // namespace

#include "kernels/x86_packed8_exports.inl"

// 16 rows: two consecutive groups side by side.
void gemm_packed16_q4_0(int64_t n, const void* packed, const Q8Batch& a, float* y,
                        size_t y_stride) {
    gemm_packed_wide<PackedQ4_0>(n, packed, a, y, y_stride);
}
void gemm_packed16_q5_0(int64_t n, const void* packed, const Q8Batch& a, float* y,
                        size_t y_stride) {
    gemm_packed_wide<PackedQ5_0>(n, packed, a, y, y_stride);
}
void gemm_packed16_q4_1(int64_t n, const void* packed, const Q8Batch& a, float* y,
                        size_t y_stride) {
    gemm_packed_wide<PackedQ4_1>(n, packed, a, y, y_stride);
}
void gemm_packed16_q5_1(int64_t n, const void* packed, const Q8Batch& a, float* y,
                        size_t y_stride) {
    gemm_packed_wide<PackedQ5_1>(n, packed, a, y, y_stride);
}
void gemm_packed16_q8_0(int64_t n, const void* packed, const Q8Batch& a, float* y,
                        size_t y_stride) {
    gemm_packed_wide<PackedQ8_0>(n, packed, a, y, y_stride);
}
void gemm_packed16_q2_k(int64_t n, const void* packed, const Q8Batch& a, float* y,
                        size_t y_stride) {
    gemm_k_packed_wide<PackedQ2_K>(n, packed, a, y, y_stride);
}
void gemm_packed16_q3_k(int64_t n, const void* packed, const Q8Batch& a, float* y,
                        size_t y_stride) {
    gemm_k_packed_wide<PackedQ3_K>(n, packed, a, y, y_stride);
}
void gemm_packed16_q4_k(int64_t n, const void* packed, const Q8Batch& a, float* y,
                        size_t y_stride) {
    gemm_k_packed_wide<PackedQ4_K>(n, packed, a, y, y_stride);
}
void gemm_packed16_q5_k(int64_t n, const void* packed, const Q8Batch& a, float* y,
                        size_t y_stride) {
    gemm_k_packed_wide<PackedQ5_K>(n, packed, a, y, y_stride);
}
void gemm_packed16_iq4_xs(int64_t n, const void* packed, const Q8Batch& a, float* y,
                          size_t y_stride) {
    gemm_k_packed_wide<PackedIQ4_XS>(n, packed, a, y, y_stride);
}
void gemm_packed16_q6_k(int64_t n, const void* packed, const Q8Batch& a, float* y,
                        size_t y_stride) {
    gemm_k_packed_wide<PackedQ6_K>(n, packed, a, y, y_stride);
}
void gemm_packed16_iq1_m(int64_t n, const void* packed, const Q8Batch& a, float* y,
                         size_t y_stride) {
    gemm_k_packed_wide<PackedIQ1_MCodes>(n, packed, a, y, y_stride);
}

// 32 rows for a batch of the 32-value types: two 16-row panels share each activation load.
void gemm_packed32_q4_0(int64_t n, const void* packed, const Q8Batch& a, float* y,
                        size_t y_stride) {
    gemm_packed_wide_pair<PackedQ4_0>(n, packed, a, y, y_stride);
}
void gemm_packed32_q5_0(int64_t n, const void* packed, const Q8Batch& a, float* y,
                        size_t y_stride) {
    gemm_packed_wide_pair<PackedQ5_0>(n, packed, a, y, y_stride);
}
void gemm_packed32_q4_1(int64_t n, const void* packed, const Q8Batch& a, float* y,
                        size_t y_stride) {
    gemm_packed_wide_pair<PackedQ4_1>(n, packed, a, y, y_stride);
}
void gemm_packed32_q5_1(int64_t n, const void* packed, const Q8Batch& a, float* y,
                        size_t y_stride) {
    gemm_packed_wide_pair<PackedQ5_1>(n, packed, a, y, y_stride);
}
void gemm_packed32_q8_0(int64_t n, const void* packed, const Q8Batch& a, float* y,
                        size_t y_stride) {
    gemm_packed_wide_pair<PackedQ8_0>(n, packed, a, y, y_stride);
}

// registry.cpp: the packed kernels of the set "avx512-vnni": 8 rows, and 16 and 32 at once.
void register_packed_kernels(KernelTable& t) {
    using T = TensorType;
    register_packed8(t);
    t[T::Q4_0].gemm_packed16 = gemm_packed16_q4_0;
    t[T::Q5_0].gemm_packed16 = gemm_packed16_q5_0;
    t[T::Q4_1].gemm_packed16 = gemm_packed16_q4_1;
    t[T::Q5_1].gemm_packed16 = gemm_packed16_q5_1;
    t[T::Q8_0].gemm_packed16 = gemm_packed16_q8_0;
    t[T::Q2_K].gemm_packed16 = gemm_packed16_q2_k;
    t[T::Q3_K].gemm_packed16 = gemm_packed16_q3_k;
    t[T::Q4_K].gemm_packed16 = gemm_packed16_q4_k;
    t[T::Q5_K].gemm_packed16 = gemm_packed16_q5_k;
    t[T::IQ4_XS].gemm_packed16 = gemm_packed16_iq4_xs;
    t[T::Q6_K].gemm_packed16 = gemm_packed16_q6_k;
    t[T::IQ1_M].gemm_packed16 = gemm_packed16_iq1_m;
    t[T::Q4_0].gemm_packed32 = gemm_packed32_q4_0;
    t[T::Q5_0].gemm_packed32 = gemm_packed32_q5_0;
    t[T::Q4_1].gemm_packed32 = gemm_packed32_q4_1;
    t[T::Q5_1].gemm_packed32 = gemm_packed32_q5_1;
    t[T::Q8_0].gemm_packed32 = gemm_packed32_q8_0;
}
}  // namespace ember::avx512
