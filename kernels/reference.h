// Scalar reference kernels, one set per type (kernels/ref_*.cpp). Plain loops in the order of
// the block layout: the readable definition of each format, and the truth for SIMD tests.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ember::ref {

// Floats.
void dequantize_row_f32(const void* in, float* out, int64_t n);
void quantize_row_f32(const float* in, void* out, int64_t n);
float vec_dot_f32(int64_t n, const void* x, const void* y);
// MatMulF32Fn (kernels.h), each element summed in double.
void matmul_f32(int m, int n, int k, const float* a, size_t lda, const float* b, size_t ldb,
                float* c, size_t ldc);
// ExpF32Fn (kernels.h): std::exp per value.
void exp_f32(const float* x, float* y, int64_t n);
// DotRowsF16Fn and MadRowsF16Fn (kernels.h), each element summed in double.
void dot_rows_f16(int m, int n, int k, const float* a, size_t lda, const uint16_t* b, size_t ldb,
                  float* c, size_t ldc);
void mad_rows_f16(int m, int n, int k, const float* a, size_t lda, const uint16_t* b, size_t ldb,
                  float* c, size_t ldc);
void dequantize_row_f16(const void* in, float* out, int64_t n);
void quantize_row_f16(const float* in, void* out, int64_t n);
float vec_dot_f16(int64_t n, const void* x, const void* y);
void dequantize_row_bf16(const void* in, float* out, int64_t n);
void quantize_row_bf16(const float* in, void* out, int64_t n);
float vec_dot_bf16(int64_t n, const void* x, const void* y);

// 32-value blocks.
void dequantize_row_q4_0(const void* in, float* out, int64_t n);
float vec_dot_q4_0_q8_0(int64_t n, const void* x, const void* y);
void dequantize_row_q4_1(const void* in, float* out, int64_t n);
float vec_dot_q4_1_q8_1(int64_t n, const void* x, const void* y);
void dequantize_row_q5_0(const void* in, float* out, int64_t n);
float vec_dot_q5_0_q8_0(int64_t n, const void* x, const void* y);
void dequantize_row_q5_1(const void* in, float* out, int64_t n);
float vec_dot_q5_1_q8_1(int64_t n, const void* x, const void* y);
void dequantize_row_q8_0(const void* in, float* out, int64_t n);
void quantize_row_q8_0(const float* in, void* out, int64_t n);
float vec_dot_q8_0_q8_0(int64_t n, const void* x, const void* y);
void dequantize_row_q8_1(const void* in, float* out, int64_t n);
void quantize_row_q8_1(const float* in, void* out, int64_t n);

// 256-value K-quant super-blocks.
void dequantize_row_q2_k(const void* in, float* out, int64_t n);
float vec_dot_q2_k_q8_k(int64_t n, const void* x, const void* y);
void dequantize_row_q3_k(const void* in, float* out, int64_t n);
float vec_dot_q3_k_q8_k(int64_t n, const void* x, const void* y);
void dequantize_row_q4_k(const void* in, float* out, int64_t n);
float vec_dot_q4_k_q8_k(int64_t n, const void* x, const void* y);
void dequantize_row_q5_k(const void* in, float* out, int64_t n);
float vec_dot_q5_k_q8_k(int64_t n, const void* x, const void* y);
void dequantize_row_q6_k(const void* in, float* out, int64_t n);
float vec_dot_q6_k_q8_k(int64_t n, const void* x, const void* y);
void dequantize_row_q8_k(const void* in, float* out, int64_t n);
void quantize_row_q8_k(const float* in, void* out, int64_t n);

// The i-quants and the ternary types (ref_i_quants.cpp): IQ4_NL pairs with Q8_0, the others
// with Q8_K.
void dequantize_row_iq4_nl(const void* in, float* out, int64_t n);
float vec_dot_iq4_nl_q8_0(int64_t n, const void* x, const void* y);
void dequantize_row_iq4_xs(const void* in, float* out, int64_t n);
float vec_dot_iq4_xs_q8_k(int64_t n, const void* x, const void* y);
void dequantize_row_iq3_xxs(const void* in, float* out, int64_t n);
float vec_dot_iq3_xxs_q8_k(int64_t n, const void* x, const void* y);
void dequantize_row_iq3_s(const void* in, float* out, int64_t n);
float vec_dot_iq3_s_q8_k(int64_t n, const void* x, const void* y);
void dequantize_row_iq2_xxs(const void* in, float* out, int64_t n);
float vec_dot_iq2_xxs_q8_k(int64_t n, const void* x, const void* y);
void dequantize_row_iq2_xs(const void* in, float* out, int64_t n);
float vec_dot_iq2_xs_q8_k(int64_t n, const void* x, const void* y);
void dequantize_row_iq2_s(const void* in, float* out, int64_t n);
float vec_dot_iq2_s_q8_k(int64_t n, const void* x, const void* y);
void dequantize_row_iq1_s(const void* in, float* out, int64_t n);
float vec_dot_iq1_s_q8_k(int64_t n, const void* x, const void* y);
void dequantize_row_iq1_m(const void* in, float* out, int64_t n);
float vec_dot_iq1_m_q8_k(int64_t n, const void* x, const void* y);
void dequantize_row_tq1_0(const void* in, float* out, int64_t n);
float vec_dot_tq1_0_q8_k(int64_t n, const void* x, const void* y);
void dequantize_row_tq2_0(const void* in, float* out, int64_t n);
float vec_dot_tq2_0_q8_k(int64_t n, const void* x, const void* y);

// Weight quantizers (F32 -> type) with llama.cpp's rounding (quantize_legacy.cpp).
void quantize_weights_q4_0(const float* in, void* out, int64_t n);
void quantize_weights_q4_1(const float* in, void* out, int64_t n);
void quantize_weights_q5_0(const float* in, void* out, int64_t n);
void quantize_weights_q5_1(const float* in, void* out, int64_t n);
void quantize_weights_q8_0(const float* in, void* out, int64_t n);
// ... and into the K-quants, as llama.cpp does without an importance matrix (quantize_k.cpp).
void quantize_weights_q2_k(const float* in, void* out, int64_t n);
void quantize_weights_q3_k(const float* in, void* out, int64_t n);
void quantize_weights_q4_k(const float* in, void* out, int64_t n);
void quantize_weights_q5_k(const float* in, void* out, int64_t n);
void quantize_weights_q6_k(const float* in, void* out, int64_t n);
// The same for one row of n values under an importance matrix, as llama.cpp's
// quantize_row_*_impl: `importance` holds the matrix's n column weights (after llama-quantize's
// division by ncall); null gives the plain quantizers above.
void quantize_q4_0(const float* in, void* out, int64_t n, const float* importance);
void quantize_q4_1(const float* in, void* out, int64_t n, const float* importance);
void quantize_q5_0(const float* in, void* out, int64_t n, const float* importance);
void quantize_q5_1(const float* in, void* out, int64_t n, const float* importance);
void quantize_q2_k(const float* in, void* out, int64_t n, const float* importance);
void quantize_q3_k(const float* in, void* out, int64_t n, const float* importance);
void quantize_q4_k(const float* in, void* out, int64_t n, const float* importance);
void quantize_q5_k(const float* in, void* out, int64_t n, const float* importance);
void quantize_q6_k(const float* in, void* out, int64_t n, const float* importance);
// ... and into IQ4_NL and IQ4_XS, as llama.cpp does (quantize_iq4.cpp); `importance` as above.
void quantize_iq4_nl(const float* in, void* out, int64_t n, const float* importance);
void quantize_iq4_xs(const float* in, void* out, int64_t n, const float* importance);
void quantize_weights_iq4_nl(const float* in, void* out, int64_t n);
// ... and into the lattice i-quants (quantize_iq.cpp): IQ2_XXS, IQ2_XS, IQ2_S, IQ1_S and IQ1_M
// need an importance matrix (llama-quantize refuses them without one); IQ3_XXS and IQ3_S
// weigh by x^2 without one.
void quantize_iq2_xxs(const float* in, void* out, int64_t n, const float* importance);
void quantize_iq2_xs(const float* in, void* out, int64_t n, const float* importance);
void quantize_iq2_s(const float* in, void* out, int64_t n, const float* importance);
void quantize_iq3_xxs(const float* in, void* out, int64_t n, const float* importance);
void quantize_iq3_s(const float* in, void* out, int64_t n, const float* importance);
void quantize_iq1_s(const float* in, void* out, int64_t n, const float* importance);
void quantize_iq1_m(const float* in, void* out, int64_t n, const float* importance);
// The same without an importance matrix (IQ2_XXS, IQ2_XS, IQ1_S: every column weighing the same,
// for synthetic models; a real file needs one).
void quantize_weights_iq2_xxs(const float* in, void* out, int64_t n);
void quantize_weights_iq2_xs(const float* in, void* out, int64_t n);
void quantize_weights_iq2_s(const float* in, void* out, int64_t n);
void quantize_weights_iq3_xxs(const float* in, void* out, int64_t n);
void quantize_weights_iq3_s(const float* in, void* out, int64_t n);
void quantize_weights_iq1_s(const float* in, void* out, int64_t n);
void quantize_weights_iq1_m(const float* in, void* out, int64_t n);
// ... and into the ternary types (quantize_ternary.cpp; they take no importance matrix).
void quantize_weights_tq1_0(const float* in, void* out, int64_t n);
void quantize_weights_tq2_0(const float* in, void* out, int64_t n);
void quantize_weights_iq4_xs(const float* in, void* out, int64_t n);

}  // namespace ember::ref
