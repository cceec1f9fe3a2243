// The SIMD dot products, one namespace per instruction set, each in its own file compiled
// with its own flags (kernels/CMakeLists.txt). Same signatures and same results as the scalar
// reference (reference.h); the registry swaps them in when the CPU has the instructions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/kernels.h"

namespace ember {

// Every kernel is declared by name, one namespace per instruction set, so that grep finds it.
namespace avx2 {
float vec_dot_f32(int64_t n, const void* x, const void* y);
float vec_dot_f16(int64_t n, const void* x, const void* y);
float vec_dot_bf16(int64_t n, const void* x, const void* y);
float vec_dot_q4_0_q8_0(int64_t n, const void* x, const void* y);
float vec_dot_q4_1_q8_1(int64_t n, const void* x, const void* y);
float vec_dot_q5_0_q8_0(int64_t n, const void* x, const void* y);
float vec_dot_q5_1_q8_1(int64_t n, const void* x, const void* y);
float vec_dot_q8_0_q8_0(int64_t n, const void* x, const void* y);
float vec_dot_q2_k_q8_k(int64_t n, const void* x, const void* y);
float vec_dot_q3_k_q8_k(int64_t n, const void* x, const void* y);
float vec_dot_q4_k_q8_k(int64_t n, const void* x, const void* y);
float vec_dot_q5_k_q8_k(int64_t n, const void* x, const void* y);
float vec_dot_q6_k_q8_k(int64_t n, const void* x, const void* y);
void matmul_f32(int m, int n, int k, const float* a, size_t lda, const float* b, size_t ldb,
                float* c, size_t ldc);
void dequantize_row_f16(const void* in, float* out, int64_t n);
void dequantize_row_q8_0(const void* in, float* out, int64_t n);  // a quantized KV cache's
void dequantize_row_q4_0(const void* in, float* out, int64_t n);  // reads: exact as the reference
void quantize_row_f16(const float* in, void* out, int64_t n);
void vec_dot4_q4_0_q8_0(int64_t n, const void* x, const void* y, size_t y_stride, float* out);
void vec_dot4_q4_1_q8_1(int64_t n, const void* x, const void* y, size_t y_stride, float* out);
void vec_dot4_q5_0_q8_0(int64_t n, const void* x, const void* y, size_t y_stride, float* out);
void vec_dot4_q5_1_q8_1(int64_t n, const void* x, const void* y, size_t y_stride, float* out);
void vec_dot4_q8_0_q8_0(int64_t n, const void* x, const void* y, size_t y_stride, float* out);
void vec_dot4_q2_k_q8_k(int64_t n, const void* x, const void* y, size_t y_stride, float* out);
void vec_dot4_q3_k_q8_k(int64_t n, const void* x, const void* y, size_t y_stride, float* out);
void vec_dot4_q4_k_q8_k(int64_t n, const void* x, const void* y, size_t y_stride, float* out);
void vec_dot4_q5_k_q8_k(int64_t n, const void* x, const void* y, size_t y_stride, float* out);
void vec_dot4_q6_k_q8_k(int64_t n, const void* x, const void* y, size_t y_stride, float* out);
// Packed groups of 8 rows, as avx512's below without the 16-row kernels (x86_avx2_packed.cpp).
void pack8_q4_0(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q4_0(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q5_0(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q5_0(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q4_1(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q4_1(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q5_1(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q5_1(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q8_0(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q8_0(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q2_k(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q2_k(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q3_k(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q3_k(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q4_k(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q4_k(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q5_k(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q5_k(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q6_k(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q6_k(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
}  // namespace avx2
namespace avxvnni {  // AVX2 with AVX-VNNI (x86_avxvnni_packed.cpp)
void pack8_q4_0(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q4_0(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q5_0(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q5_0(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q4_1(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q4_1(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q5_1(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q5_1(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q8_0(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q8_0(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q2_k(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q2_k(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q3_k(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q3_k(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q4_k(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q4_k(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q5_k(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q5_k(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q6_k(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q6_k(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
}  // namespace avxvnni
namespace avx512 {  // with VNNI: prompt GEMM on 8-row panels (kernels.h, Gemm8Fn)
void exp_f32(const float* x, float* y, int64_t n);
float vec_dot_f32(int64_t n, const void* x, const void* y);  // float sums, not double
float vec_dot_f16(int64_t n, const void* x, const void* y);
float vec_dot_bf16(int64_t n, const void* x, const void* y);
void dequantize_row_f16(const void* in, float* out, int64_t n);
void quantize_row_q8_0(const float* in, void* out, int64_t n);  // activations, as the reference
void quantize_row_q8_k(const float* in, void* out, int64_t n);
void matmul_f32(int m, int n, int k, const float* a, size_t lda, const float* b, size_t ldb,
                float* c, size_t ldc);
void gemm8_q4_0_q8_0(int64_t n, const void* w, size_t w_stride, const Q8Batch& a, float* y,
                     size_t y_stride);
void gemm8_q5_0_q8_0(int64_t n, const void* w, size_t w_stride, const Q8Batch& a, float* y,
                     size_t y_stride);
void gemm8_q8_0_q8_0(int64_t n, const void* w, size_t w_stride, const Q8Batch& a, float* y,
                     size_t y_stride);
void gemm8_q2_k_q8_k(int64_t n, const void* w, size_t w_stride, const Q8Batch& a, float* y,
                     size_t y_stride);
void gemm8_q3_k_q8_k(int64_t n, const void* w, size_t w_stride, const Q8Batch& a, float* y,
                     size_t y_stride);
void gemm8_q4_k_q8_k(int64_t n, const void* w, size_t w_stride, const Q8Batch& a, float* y,
                     size_t y_stride);
void gemm8_q5_k_q8_k(int64_t n, const void* w, size_t w_stride, const Q8Batch& a, float* y,
                     size_t y_stride);
void gemm8_q6_k_q8_k(int64_t n, const void* w, size_t w_stride, const Q8Batch& a, float* y,
                     size_t y_stride);
// Packed groups of 8 rows (kernels.h, Pack8Fn and GemmPacked8Fn; x86_packed.h).
void pack8_q4_0(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q4_0(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q5_0(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q5_0(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q4_1(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q4_1(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q5_1(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q5_1(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q8_0(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q8_0(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q2_k(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q2_k(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q3_k(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q3_k(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q4_k(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q4_k(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q5_k(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q5_k(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q6_k(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q6_k(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void gemm_packed16_q4_0(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void gemm_packed16_q5_0(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void gemm_packed16_q4_1(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void gemm_packed16_q5_1(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void gemm_packed16_q8_0(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void gemm_packed16_q2_k(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void gemm_packed16_q3_k(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void gemm_packed16_q4_k(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void gemm_packed16_q5_k(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void gemm_packed16_q6_k(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
// 32 rows for a batch: the 32-value types (the K-quants' panels have no registers to spare).
void gemm_packed32_q4_0(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void gemm_packed32_q5_0(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void gemm_packed32_q4_1(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void gemm_packed32_q5_1(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void gemm_packed32_q8_0(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
}  // namespace avx512
namespace neon {  // arm_neon.cpp
float vec_dot_f32(int64_t n, const void* x, const void* y);
float vec_dot_f16(int64_t n, const void* x, const void* y);
float vec_dot_bf16(int64_t n, const void* x, const void* y);
float vec_dot_q4_0_q8_0(int64_t n, const void* x, const void* y);
float vec_dot_q4_1_q8_1(int64_t n, const void* x, const void* y);
float vec_dot_q5_0_q8_0(int64_t n, const void* x, const void* y);
float vec_dot_q5_1_q8_1(int64_t n, const void* x, const void* y);
float vec_dot_q8_0_q8_0(int64_t n, const void* x, const void* y);
float vec_dot_q2_k_q8_k(int64_t n, const void* x, const void* y);
float vec_dot_q3_k_q8_k(int64_t n, const void* x, const void* y);
float vec_dot_q4_k_q8_k(int64_t n, const void* x, const void* y);
float vec_dot_q5_k_q8_k(int64_t n, const void* x, const void* y);
float vec_dot_q6_k_q8_k(int64_t n, const void* x, const void* y);
void dequantize_row_f16(const void* in, float* out, int64_t n);
void quantize_row_f16(const float* in, void* out, int64_t n);
void dequantize_row_q8_0(const void* in, float* out, int64_t n);  // a quantized KV cache's
void dequantize_row_q4_0(const void* in, float* out, int64_t n);  // reads: exact as the reference
void quantize_row_q8_0(const float* in, void* out, int64_t n);    // activations, exact as the
void quantize_row_q8_k(const float* in, void* out, int64_t n);    // reference
void exp_f32(const float* x, float* y, int64_t n);
void matmul_f32(int m, int n, int k, const float* a, size_t lda, const float* b, size_t ldb,
                float* c, size_t ldc);
// Packed groups of 8 rows (arm_packed.inl): SDOT by element on the 16-byte halves of the
// packed layout (without +dotprod, widening multiplies giving the same lanes).
void pack8_q4_0(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q4_0(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q5_0(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q5_0(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q4_1(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q4_1(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q5_1(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q5_1(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q8_0(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q8_0(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q2_k(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q2_k(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q3_k(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q3_k(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q4_k(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q4_k(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q5_k(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q5_k(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q6_k(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q6_k(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
}  // namespace neon
namespace neon_dotprod {  // arm_neon_dotprod.cpp: the same, built with +dotprod
float vec_dot_f32(int64_t n, const void* x, const void* y);
float vec_dot_f16(int64_t n, const void* x, const void* y);
float vec_dot_bf16(int64_t n, const void* x, const void* y);
float vec_dot_q4_0_q8_0(int64_t n, const void* x, const void* y);
float vec_dot_q4_1_q8_1(int64_t n, const void* x, const void* y);
float vec_dot_q5_0_q8_0(int64_t n, const void* x, const void* y);
float vec_dot_q5_1_q8_1(int64_t n, const void* x, const void* y);
float vec_dot_q8_0_q8_0(int64_t n, const void* x, const void* y);
float vec_dot_q2_k_q8_k(int64_t n, const void* x, const void* y);
float vec_dot_q3_k_q8_k(int64_t n, const void* x, const void* y);
float vec_dot_q4_k_q8_k(int64_t n, const void* x, const void* y);
float vec_dot_q5_k_q8_k(int64_t n, const void* x, const void* y);
float vec_dot_q6_k_q8_k(int64_t n, const void* x, const void* y);
void dequantize_row_f16(const void* in, float* out, int64_t n);
void quantize_row_f16(const float* in, void* out, int64_t n);
void dequantize_row_q8_0(const void* in, float* out, int64_t n);  // a quantized KV cache's
void dequantize_row_q4_0(const void* in, float* out, int64_t n);  // reads: exact as the reference
void quantize_row_q8_0(const float* in, void* out, int64_t n);    // activations, exact as the
void quantize_row_q8_k(const float* in, void* out, int64_t n);    // reference
void exp_f32(const float* x, float* y, int64_t n);
void matmul_f32(int m, int n, int k, const float* a, size_t lda, const float* b, size_t ldb,
                float* c, size_t ldc);
// Packed groups of 8 rows: SDOT by element.
void pack8_q4_0(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q4_0(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q5_0(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q5_0(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q4_1(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q4_1(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q5_1(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q5_1(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q8_0(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q8_0(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q2_k(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q2_k(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q3_k(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q3_k(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q4_k(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q4_k(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q5_k(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q5_k(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q6_k(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q6_k(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
}  // namespace neon_dotprod
namespace neon_i8mm {  // arm_neon_i8mm.cpp: packed groups of 8 rows, batches through SMMLA
void pack8_q4_0(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q4_0(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q5_0(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q5_0(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q4_1(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q4_1(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q5_1(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q5_1(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q8_0(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q8_0(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q2_k(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q2_k(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q3_k(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q3_k(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q4_k(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q4_k(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q5_k(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q5_k(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
void pack8_q6_k(int64_t n, const void* w, size_t w_stride, void* packed);
void gemm_packed8_q6_k(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride);
}  // namespace neon_i8mm

}  // namespace ember
