// Comparing a dot-product kernel with the scalar reference on random rows and edge cases (all
// zero bits, all one bits, large scales; zero and saturated activations; odd lengths for the
// float types). Plain C++ without GoogleTest, so the cross-compiled NEON check can use it too.
#pragma once

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "kernels/kernels.h"

namespace ember::test {

// A weight row of n values of `type`: random bits with the scale fields set to small finite
// values (random bits would give NaN and 1e30 scales); float types get normal values.
std::vector<uint8_t> random_weight_row(TensorType type, int64_t n, std::mt19937& rng);

// Empty if `dot` agrees with the reference kernel of `type` on every case: bit for bit when
// `exact`, else within the float rounding bound (kernels_reference_test.cpp explains it).
// Otherwise a description of the first disagreement.
using DotUnderTest = std::function<float(int64_t n, const void* weights, const void* activations)>;
std::string check_dot_against_reference(TensorType type, const DotUnderTest& dot, bool exact);

// One of the rows x tokens dot products of a panel GEMM (a different one on every call; the
// other rows and tokens hold other random data), as a DotUnderTest for
// check_dot_against_reference. `run` computes the panel: run(k, n, weights (rows x w_bytes),
// w_bytes, batch, y (tokens x rows)). *call counts the calls (rows x tokens of them cover every
// row and token).
using PanelRun = std::function<void(const TypeKernels& k, int64_t n, const uint8_t* weights,
                                    size_t w_bytes, const Q8Batch& batch, float* y)>;
DotUnderTest panel_as_dot(TensorType type, int tokens, PanelRun run, int* call, int rows = 8);

// Empty if an instruction set's packer and a packed kernel (Pack8Fn + GemmPacked8Fn) agree with
// the reference of `type` on every row and token of batches of `tokens` tokens, within the
// rounding bound; else the first disagreement. rows: what one call of the kernel covers, 8
// (gemm_packed8), 16 (gemm_packed16: two groups side by side) or 32 (gemm_packed32: four).
// packed_block_bytes: the set's TypeKernels field (0: the packed groups are the rows' size).
std::string check_packed_against_reference(TensorType type, Pack8Fn pack, GemmPacked8Fn gemm,
                                           int tokens, int rows = 8,
                                           uint32_t packed_block_bytes = 0);

// Empty if `matmul` agrees with ref::matmul_f32 on random and edge-case matrices of many
// shapes (rows and columns that are and are not multiples of the tiles, strided rows, zeros,
// large and tiny values) within the float rounding bound; else the first disagreement.
std::string check_matmul_f32_against_reference(MatMulF32Fn matmul);

// Empty if `dot` and `mad` (a KV cache's F16 rows: kernels.h) agree with ref::dot_rows_f16 and
// ref::mad_rows_f16 within the float rounding bound on many shapes (head sizes past the
// kernels' stack block, tails of every width, strided rows, zeros, large and tiny values), give
// every score the same float whatever the shape of the call around it, and give mad's sums from
// zero the floats `matmul` gives on the converted rows; else the first disagreement.
std::string check_rows_f16_against_reference(DotRowsF16Fn dot, MadRowsF16Fn mad,
                                             MatMulF32Fn matmul);

// Empty if `quantize` turns activation rows into blocks of `type` (Q8_0, Q8_K) byte for byte
// as the reference does: random rows, all zero, one value, ties of the rounding, the largest
// magnitude negative or repeated with both signs.
std::string check_activation_quantizer(TensorType type, QuantizeRowFn quantize);

// Empty if `exp` is within 2 ulp of e^x (computed in double) on a sweep of [-110, 90], random
// values, lengths that leave vector tails, in place, and at -inf, +inf, NaN, 0.
std::string check_exp_f32(ExpF32Fn exp);

// A dequantizer of whole blocks (Q8_0, Q4_0) against the reference's, bit for bit, on random
// block bytes (every quantized value, scales of every magnitude, subnormal and infinite ones
// included). "" when they agree, else the first difference.
std::string check_block_dequantize(TensorType type, DequantizeRowFn dequantize);

// Empty if the F16 row conversions equal the reference's bit for bit on every finite half and
// on floats that round to ties, subnormals, overflow and signed zeros (NaN must stay NaN).
std::string check_f16_conversions(DequantizeRowFn dequantize, QuantizeRowFn quantize);

}  // namespace ember::test
