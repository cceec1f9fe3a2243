// The 8-row panels of the AVX-512 VNNI prompt GEMM (x86_avx512.cpp explains them), shared by
// the kernels that build panels from mapped rows (x86_avx512.cpp) and from weights packed at
// load time (x86_avx512_packed.cpp). Only those two files, both built with the AVX-512 flags,
// include it; everything is in an anonymous namespace, so each keeps its own copy.
#pragma once

#include <immintrin.h>

#include <cstring>

#include "kernels/blocks.h"
#include "kernels/kernels.h"

namespace ember::avx512 {
namespace {

inline float half(fp16_t h) {
    return _cvtsh_ss(h);
}

inline __m256i load32(const void* p) {
    return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

struct PanelBlock {
    __m256i q[8];  // q[k]: dword j = values 4k..4k+3 of row j, unsigned
    __m256 d;      // the 8 rows' scales
};

// 8 x 8 transpose of dwords: out[k] dword j = in[j] dword k.
inline void transpose8x8_epi32(const __m256i in[8], __m256i out[8]) {
    __m256i t[8], u[8];
    for (int i = 0; i < 4; ++i) {
        t[2 * i] = _mm256_unpacklo_epi32(in[2 * i], in[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_epi32(in[2 * i], in[2 * i + 1]);
    }
    for (int i = 0; i < 2; ++i) {
        u[4 * i + 0] = _mm256_unpacklo_epi64(t[4 * i + 0], t[4 * i + 2]);
        u[4 * i + 1] = _mm256_unpackhi_epi64(t[4 * i + 0], t[4 * i + 2]);
        u[4 * i + 2] = _mm256_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        u[4 * i + 3] = _mm256_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    // u[m] (m < 4) holds dword m of rows 0-3 in its low half and dword m + 4 in its high half;
    // u[m + 4] the same for rows 4-7.
    for (int m = 0; m < 4; ++m) {
        out[m] = _mm256_permute2x128_si256(u[m], u[m + 4], 0x20);
        out[m + 4] = _mm256_permute2x128_si256(u[m], u[m + 4], 0x31);
    }
}

// Tokens [t, t + T) against a panel whose block b is block_at(b) (a stored panel, or one
// decoded on the fly from packed weights); y gets 8 consecutive floats per token.
template <int T, int kOffset, typename BlockAt>
void panel_tokens(int64_t n_blocks, BlockAt block_at, const Q8Batch& a, int t, float* y,
                  size_t y_stride) {
    const BlockQ8_0* act[T];
    const float* scales[T];
    const int32_t* sums[T];
    for (int i = 0; i < T; ++i) {
        act[i] = reinterpret_cast<const BlockQ8_0*>(a.rows + (t + i) * a.row_stride);
        scales[i] = a.scales + (t + i) * n_blocks;
        sums[i] = a.sums + (t + i) * n_blocks;
    }
    __m256 acc[T];
    for (__m256& v : acc) v = _mm256_setzero_ps();
    for (int64_t b = 0; b < n_blocks; ++b) {
        const PanelBlock& p = block_at(b);
        for (int i = 0; i < T; ++i) {
            const int8_t* qs = act[i][b].qs;
            __m256i lanes = _mm256_set1_epi32(-kOffset * sums[i][b]);
            for (int k = 0; k < 8; ++k) {
                int32_t four;
                std::memcpy(&four, qs + 4 * k, 4);
                lanes = _mm256_dpbusd_epi32(lanes, p.q[k], _mm256_set1_epi32(four));
            }
            acc[i] = _mm256_fmadd_ps(_mm256_mul_ps(p.d, _mm256_set1_ps(scales[i][b])),
                                     _mm256_cvtepi32_ps(lanes), acc[i]);
        }
    }
    for (int i = 0; i < T; ++i) _mm256_storeu_ps(y + (t + i) * y_stride, acc[i]);
}

// Every token of the batch against a whole panel, four tokens per pass.
template <int kOffset>
void panel_all_tokens(int64_t n_blocks, const PanelBlock* panel, const Q8Batch& a, float* y,
                      size_t y_stride) {
    const auto block_at = [panel](int64_t b) -> const PanelBlock& { return panel[b]; };
    int t = 0;
    for (; t + 4 <= a.n_tokens; t += 4)
        panel_tokens<4, kOffset>(n_blocks, block_at, a, t, y, y_stride);
    for (; t < a.n_tokens; ++t) panel_tokens<1, kOffset>(n_blocks, block_at, a, t, y, y_stride);
}

// ---- K-quants: the same with 256-value super-blocks against Q8_K (x86_avx512.cpp) ----

struct KPanelBlock {
    __m256i q[64];      // q[8i + k]: dword j = values 32i + 4k .. +3 of row j
    __m256i scale[16];  // int32 lanes: the rows' scale of sub-block j
    __m256i coef[8];    // int16 pairs: the rows' (coef_2m, coef_2m+1)
    __m256 d, coef_d;
};

// One super-block of the 8 rows against one token's Q8_K block: returns
// acc + d_a * (d * S - coef_d * C). group_values(g, q) gives the values 32g..32g+31 of the rows
// (q[k]: values 32g + 4k..+3, row j in dword j); `s` has the scales (KPanelBlock's fields
// scale, coef, d, coef_d).
template <typename GroupValues, typename Scales>
inline __m256 k_block_token(GroupValues group_values, const Scales& s, const BlockQ8_K& ab,
                            __m256 acc) {
    __m256i sum = _mm256_setzero_si256();
    for (int g = 0; g < 8; ++g) {
        __m256i q[8];
        group_values(g, q);
        for (int h = 0; h < 2; ++h) {  // sub-block j = 2g + h: values 32g + 16h ..
            const int j = 2 * g + h;
            __m256i part = _mm256_setzero_si256();
            for (int m = 0; m < 4; ++m) {
                int32_t four;
                std::memcpy(&four, ab.qs + 16 * j + 4 * m, 4);
                part = _mm256_dpbusd_epi32(part, q[4 * h + m], _mm256_set1_epi32(four));
            }
            sum = _mm256_add_epi32(sum, _mm256_mullo_epi32(part, s.scale[j]));
        }
    }
    __m256i corr = _mm256_setzero_si256();
    for (int m = 0; m < 8; ++m) {
        int32_t pair;
        std::memcpy(&pair, ab.bsums + 2 * m, 4);
        corr = _mm256_dpwssd_epi32(corr, s.coef[m], _mm256_set1_epi32(pair));
    }
    const __m256 da = _mm256_set1_ps(ab.d);
    acc = _mm256_fmadd_ps(_mm256_mul_ps(s.d, da), _mm256_cvtepi32_ps(sum), acc);
    return _mm256_fnmadd_ps(_mm256_mul_ps(s.coef_d, da), _mm256_cvtepi32_ps(corr), acc);
}

template <int T>
void k_panel_tokens(int64_t n_blocks, const KPanelBlock* panel, const uint8_t* a, size_t a_stride,
                    int t, float* y, size_t y_stride) {
    const BlockQ8_K* act[T];
    for (int i = 0; i < T; ++i) act[i] = reinterpret_cast<const BlockQ8_K*>(a + (t + i) * a_stride);
    __m256 acc[T];
    for (__m256& v : acc) v = _mm256_setzero_ps();
    for (int64_t b = 0; b < n_blocks; ++b) {
        const KPanelBlock& p = panel[b];
        const auto group_values = [&p](int g, __m256i q[8]) {
            for (int k = 0; k < 8; ++k) q[k] = p.q[8 * g + k];
        };
        for (int i = 0; i < T; ++i) acc[i] = k_block_token(group_values, p, act[i][b], acc[i]);
    }
    for (int i = 0; i < T; ++i) _mm256_storeu_ps(y + (t + i) * y_stride, acc[i]);
}

inline void k_panel_all_tokens(int64_t n_blocks, const KPanelBlock* panel, const Q8Batch& a,
                               float* y, size_t y_stride) {
    int t = 0;
    for (; t + 4 <= a.n_tokens; t += 4)
        k_panel_tokens<4>(n_blocks, panel, a.rows, a.row_stride, t, y, y_stride);
    for (; t < a.n_tokens; ++t)
        k_panel_tokens<1>(n_blocks, panel, a.rows, a.row_stride, t, y, y_stride);
}

}  // namespace
}  // namespace ember::avx512
