// C (m, n) = A (m, k) @ B (k, n) in F32, register-tiled, for any vector width. Each SIMD file
// instantiates it with its own vector type (x86_avx2.cpp: 8 lanes, x86_avx512.cpp: 16,
// arm_neon.cpp: 4); the engine's attention runs its two small products through it (kernels.h,
// MatMulF32Fn).
//
// The tile is the "outer product" form: 4 rows of A (8 with AVX-512's 32 registers) times 2
// vectors of columns of B. For each l < k, row l of B is loaded once (two vectors) and every
// one of the rows adds a[r][l] * that row, so 8 (16) accumulators stay in registers for the
// whole k loop and each B load serves 4 (8) fused multiply-adds. Every element of C sums its k
// products in the same order whatever the tile, so the results do not depend on it. Nothing is
// reduced across lanes: lanes are columns of C. Columns past the last full vector pair and rows
// past the last multiple of 4 take smaller tiles and, for the final n % W columns, a scalar loop
// with the same fma order.
//
// V supplies: type, kLanes, zero(), load(p), store(p, v), splat(x), fma(a, b, c) = a * b + c.
#pragma once

#include <cmath>
#include <cstddef>

namespace ember {

template <typename V, int kRows, int kVectors>
inline void matmul_f32_tile(int k, const float* a, size_t lda, const float* b, size_t ldb, float* c,
                            size_t ldc) {
    typename V::type acc[kRows][kVectors];
    for (auto& row : acc)
        for (auto& v : row) v = V::zero();
    for (int l = 0; l < k; ++l) {
        typename V::type bl[kVectors];
        for (int v = 0; v < kVectors; ++v) bl[v] = V::load(b + l * ldb + v * V::kLanes);
        for (int r = 0; r < kRows; ++r) {
            const typename V::type ar = V::splat(a[r * lda + l]);
            for (int v = 0; v < kVectors; ++v) acc[r][v] = V::fma(ar, bl[v], acc[r][v]);
        }
    }
    for (int r = 0; r < kRows; ++r)
        for (int v = 0; v < kVectors; ++v) V::store(c + r * ldc + v * V::kLanes, acc[r][v]);
}

template <typename V, int kRows>
inline void matmul_f32_rows(int n, int k, const float* a, size_t lda, const float* b, size_t ldb,
                            float* c, size_t ldc) {
    constexpr int W = V::kLanes;
    int j = 0;
    for (; j + 2 * W <= n; j += 2 * W)
        matmul_f32_tile<V, kRows, 2>(k, a, lda, b + j, ldb, c + j, ldc);
    for (; j + W <= n; j += W) matmul_f32_tile<V, kRows, 1>(k, a, lda, b + j, ldb, c + j, ldc);
    for (; j < n; ++j) {  // the last n % W columns
        for (int r = 0; r < kRows; ++r) {
            float sum = 0.0f;
            for (int l = 0; l < k; ++l) sum = std::fma(a[r * lda + l], b[l * ldb + j], sum);
            c[r * ldc + j] = sum;
        }
    }
}

// kTallRows: 8 where the ISA has 32 vector registers (AVX-512: 16 accumulators, 2 loads of B and
// the broadcasts fit; each B load then serves 16 fused multiply-adds), else 4.
template <typename V, int kTallRows = 4>
void matmul_f32_simd(int m, int n, int k, const float* a, size_t lda, const float* b, size_t ldb,
                     float* c, size_t ldc) {
    int i = 0;
    if constexpr (kTallRows == 8) {
        for (; i + 8 <= m; i += 8)
            matmul_f32_rows<V, 8>(n, k, a + i * lda, lda, b, ldb, c + i * ldc, ldc);
    }
    for (; i + 4 <= m; i += 4)
        matmul_f32_rows<V, 4>(n, k, a + i * lda, lda, b, ldb, c + i * ldc, ldc);
    for (; i < m; ++i) matmul_f32_rows<V, 1>(n, k, a + i * lda, lda, b, ldb, c + i * ldc, ldc);
}

}  // namespace ember
