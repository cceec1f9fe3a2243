// Attention's two products against the F16 rows of a KV cache, for any vector width (kernels.h:
// DotRowsF16Fn, MadRowsF16Fn). Each SIMD file instantiates them with its vector type
// (x86_avx2.cpp: 8 lanes, x86_avx512.cpp: 16, arm_neon.inl: 4).
//
// dot_rows_f16_simd, C (m, n) = A (m, k) @ B (n, k)^T: B's rows are a KV head's keys, one
// position per row, so a score is a dot product along a row. W rows of B at a time are converted
// to F32 once (a W x k block in the L1 cache) and serve every row of A, two rows at a time
// (dot_rows_pair); for each pair the k products are summed in the lanes (fused multiply-adds over k
// in steps of W), and one transposing tree (V::sum_lanes) turns W such accumulators into the W
// scores at once, so no element pays a horizontal sum of its own. The values past the last multiple
// of W in k are added after, one by one. An element's sum thus depends on k only, not on m, n or
// where it sits in the block: a token's scores come out the same alone and in a batch.
//
// mad_rows_f16_simd, C (m, k) += A (m, n) @ B (n, k): B's rows are the values; lanes run along k
// and every element adds its n products in order of n, as matmul_f32_tile.inl does, so from
// C = 0 both give the same floats. Up to 4 rows of A share each converted row of B.
//
// V supplies what matmul_f32_tile.inl's does, and load_f16(p) (W F16 values as floats, exact)
// and sum_lanes(acc) (the vector whose lane i is the sum of acc[i]'s W lanes).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "kernels/fp16.h"

namespace ember {

// The sums of one row of A against W consecutive rows of B (F16 rows, or F32 ones already
// converted), `stride` elements apart: lane i of the result is row i's sum over the first k_vec
// values. The pointer walks down the rows, so no array of row addresses is kept.
template <typename V, typename Elem>
inline typename V::type dot_rows_group(const float* ar, const Elem* rows, size_t stride,
                                       int k_vec) {
    constexpr int W = V::kLanes;
    typename V::type acc[W];
    for (auto& v : acc) v = V::zero();
    for (int l = 0; l < k_vec; l += W) {
        const typename V::type x = V::load(ar + l);
        const Elem* p = rows + l;
        for (int i = 0; i < W; ++i, p += stride) {
            if constexpr (sizeof(Elem) == 2) {
                acc[i] = V::fma(x, V::load_f16(p), acc[i]);
            } else {
                acc[i] = V::fma(x, V::load(p), acc[i]);
            }
        }
    }
    return V::sum_lanes(acc);
}

// Two rows of A (a0, a1) against the W converted rows of B in `block` (row i at i * k), half of
// them per call (rows half * W / 2 ..): lanes 0 .. W/2 - 1 of the result are a0's sums, the
// rest a1's. Each is summed as dot_rows_group sums it (the same fused multiply-adds in the same
// order, and V::sum_lanes treats every accumulator alike), while each block vector, loaded once,
// serves both rows: the loads, not the multiply-adds, set dot_rows_group's pace.
template <typename V>
inline typename V::type dot_rows_pair(const float* a0, const float* a1, const float* block, int k,
                                      int k_vec, int half) {
    constexpr int W = V::kLanes, H = W / 2;
    typename V::type acc[W];
    for (auto& v : acc) v = V::zero();
    for (int l = 0; l < k_vec; l += W) {
        const typename V::type x0 = V::load(a0 + l), x1 = V::load(a1 + l);
        const float* p = block + static_cast<size_t>(half * H) * k + l;
        for (int i = 0; i < H; ++i, p += k) {
            const typename V::type b = V::load(p);
            acc[i] = V::fma(x0, b, acc[i]);
            acc[H + i] = V::fma(x1, b, acc[H + i]);
        }
    }
    return V::sum_lanes(acc);
}

// Past this many rows of A, dot_rows_f16_simd converts each W rows of B to F32 once (a block on
// the stack, for head sizes up to kRowsF16BlockK) instead of converting them again for each
// row of A. The conversion is exact, so both give the same floats.
inline constexpr int kRowsF16BlockK = 256;
inline constexpr int kRowsF16ConvertOnceRows = 4;

template <typename V>
void dot_rows_f16_simd(int m, int n, int k, const float* a, size_t lda, const uint16_t* b,
                       size_t ldb, float* c, size_t ldc) {
    constexpr int W = V::kLanes;
    const int k_vec = k / W * W;
    const bool convert_once = m > kRowsF16ConvertOnceRows && k <= kRowsF16BlockK;
    alignas(64) float block[W * kRowsF16BlockK];    // W rows of B in F32, row i at i * k
    alignas(64) uint16_t tail[W * kRowsF16BlockK];  // the last rows, repeated to W
    for (int j0 = 0; j0 < n; j0 += W) {
        const int rows = std::min(W, n - j0);
        const uint16_t* group = b + static_cast<size_t>(j0) * ldb;
        size_t stride = ldb;
        if (rows < W && k <= kRowsF16BlockK) {  // past n: the last row again, not stored
            for (int i = 0; i < W; ++i)
                std::copy_n(group + static_cast<size_t>(std::min(i, rows - 1)) * ldb, k,
                            tail + i * k);
            group = tail, stride = k;
        }
        // The group after next on its way from memory: one W-row group takes too little time
        // for the hardware prefetchers to run far enough ahead of a single stream.
        if (j0 + 3 * W <= n) {
            const char* ahead =
                reinterpret_cast<const char*>(b + static_cast<size_t>(j0 + 2 * W) * ldb);
            const size_t bytes = static_cast<size_t>(W) * ldb * sizeof(uint16_t);
            for (size_t at = 0; at < bytes; at += 64) __builtin_prefetch(ahead + at);
        }
        if (convert_once) {
            for (int i = 0; i < W; ++i)
                for (int l = 0; l < k_vec; l += W)
                    V::store(block + i * k + l, V::load_f16(group + i * stride + l));
        }
        // The values past k_vec, one by one, after the vector sums.
        const auto add_tail = [&](const float* ar, float* cr) {
            for (int i = 0; i < rows; ++i) {
                const uint16_t* row = group + i * stride;
                for (int l = k_vec; l < k; ++l) cr[i] = std::fma(ar[l], fp16_to_f32(row[l]), cr[i]);
            }
        };
        for (int r = 0; r < m; ++r) {
            const float* ar = a + static_cast<size_t>(r) * lda;
            float* cr = c + static_cast<size_t>(r) * ldc + j0;
            float sums[W];
            if (convert_once && r + 1 < m && W % 2 == 0) {  // rows r and r + 1 together
                float* cr1 = cr + ldc;
                for (int half = 0; half < 2; ++half) {
                    V::store(sums, dot_rows_pair<V>(ar, ar + lda, block, k, k_vec, half));
                    for (int i = 0; i < W / 2 && half * (W / 2) + i < rows; ++i) {
                        cr[half * (W / 2) + i] = sums[i];
                        cr1[half * (W / 2) + i] = sums[W / 2 + i];
                    }
                }
                add_tail(ar, cr);
                add_tail(ar + lda, cr1);
                ++r;
                continue;
            }
            if (rows < W && k > kRowsF16BlockK) {  // a long row's last group: one row at a time
                for (int i = 0; i < rows; ++i) {
                    V::store(sums, dot_rows_group<V>(ar, group + i * stride, 0, k_vec));
                    // every lane the same row: lane i is row i's sum as in a full group
                    cr[i] = sums[i];
                }
            } else {
                V::store(sums, convert_once ? dot_rows_group<V>(ar, block, k, k_vec)
                                            : dot_rows_group<V>(ar, group, stride, k_vec));
                for (int i = 0; i < rows; ++i) cr[i] = sums[i];
            }
            add_tail(ar, cr);
        }
    }
}

inline constexpr int kMadAhead = 24;  // rows

// Rows [0, kRows) of A against columns [l, l + kVectors * W) of C.
template <typename V, int kRows, int kVectors>
inline void mad_rows_f16_tile(int n, int l, const float* a, size_t lda, const uint16_t* b,
                              size_t ldb, float* c, size_t ldc) {
    constexpr int W = V::kLanes;
    typename V::type acc[kRows][kVectors];
    for (int r = 0; r < kRows; ++r)
        for (int v = 0; v < kVectors; ++v) acc[r][v] = V::load(c + r * ldc + l + v * W);
    for (int j = 0; j < n; ++j) {
        if (j + kMadAhead < n) {  // as in dot_rows_f16_simd: a row well ahead, on its way
            const char* ahead = reinterpret_cast<const char*>(b + (j + kMadAhead) * ldb + l);
            for (int at = 0; at < kVectors * W * 2; at += 64) __builtin_prefetch(ahead + at);
        }
        typename V::type bj[kVectors];
        for (int v = 0; v < kVectors; ++v) bj[v] = V::load_f16(b + j * ldb + l + v * W);
        for (int r = 0; r < kRows; ++r) {
            const typename V::type x = V::splat(a[r * lda + j]);
            for (int v = 0; v < kVectors; ++v) acc[r][v] = V::fma(x, bj[v], acc[r][v]);
        }
    }
    for (int r = 0; r < kRows; ++r)
        for (int v = 0; v < kVectors; ++v) V::store(c + r * ldc + l + v * W, acc[r][v]);
}

// Rows [0, kRows) of A against all of C's columns: tiles of kWide vectors, then of one.
template <typename V, int kRows, int kWide>
inline void mad_rows_f16_rows(int n, int k, const float* a, size_t lda, const uint16_t* b,
                              size_t ldb, float* c, size_t ldc) {
    constexpr int W = V::kLanes;
    int l = 0;
    for (; l + kWide * W <= k; l += kWide * W)
        mad_rows_f16_tile<V, kRows, kWide>(n, l, a, lda, b, ldb, c, ldc);
    for (; l + W <= k; l += W) mad_rows_f16_tile<V, kRows, 1>(n, l, a, lda, b, ldb, c, ldc);
    for (; l < k; ++l) {  // the last k % W columns
        for (int r = 0; r < kRows; ++r) {
            float sum = c[r * ldc + l];
            for (int j = 0; j < n; ++j)
                sum = std::fma(a[r * lda + j], fp16_to_f32(b[j * ldb + l]), sum);
            c[r * ldc + l] = sum;
        }
    }
}

template <typename V>
void mad_rows_f16_simd(int m, int n, int k, const float* a, size_t lda, const uint16_t* b,
                       size_t ldb, float* c, size_t ldc) {
    // 8 accumulators a tile (4 rows x 2 vectors, 2 x 4, 1 x 4) or 16: each converted row of B
    // serves as many rows of A as there are, and the fewer the rows, the wider the tile, so
    // generation's 1 or 2 rows pass over B twice or less.
    // With 16 lanes (AVX-512's 32 registers) the 1- and 2-row tiles are 8 vectors wide, all of a
    // 128-value head in one pass.
    constexpr int kWide = V::kLanes >= 16 ? 8 : 4;
    int i = 0;
    for (; i + 4 <= m; i += 4)
        mad_rows_f16_rows<V, 4, 2>(n, k, a + i * lda, lda, b, ldb, c + i * ldc, ldc);
    for (; i + 2 <= m; i += 2)
        mad_rows_f16_rows<V, 2, kWide>(n, k, a + i * lda, lda, b, ldb, c + i * ldc, ldc);
    for (; i < m; ++i)
        mad_rows_f16_rows<V, 1, kWide>(n, k, a + i * lda, lda, b, ldb, c + i * ldc, ldc);
}

}  // namespace ember
