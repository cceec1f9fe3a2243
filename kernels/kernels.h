// The kernels of one tensor type behind one table, as the engine uses them.
//
// A matrix product W (rows, n) @ x (n) -> y (rows) runs as: convert x once into the weight
// type's activation type (Q8_0 for the 32-value types, Q8_1 for Q4_1/Q5_1, Q8_K for the
// K-quants, F16 for F16, BF16 for BF16, F32 for F32, as llama.cpp pairs them), then one
// vec_dot per row. Rows are independent, so threads split them freely.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/tensor_type.h"

namespace ember {

// Dequantize n values (n a multiple of the block size) from blocks into floats.
using DequantizeRowFn = void (*)(const void* blocks, float* out, int64_t n);
// Quantize n floats into blocks of a type.
using QuantizeRowFn = void (*)(const float* in, void* blocks, int64_t n);
// Dot product of n values: a weight row (its own type) and an activation row (its activation
// type).
using VecDotFn = float (*)(int64_t n, const void* weights, const void* activations);

// The same dot product for 4 (or, vec_dot8, 8) activation rows (y, y + y_stride, ...) against
// one weight row, decoding the weights once: out[r] equals vec_dot(n, weights, row r) bit for
// bit. Used when a batch of tokens goes through a matrix (prompt processing).
using VecDot4Fn = void (*)(int64_t n, const void* weights, const void* activations,
                           size_t activation_stride, float* out);

// A batch of activation rows (Q8_0, or Q8_K for the K-quants), with what the Q8_0 panel GEMM
// needs per block precomputed.
struct Q8Batch {
    const uint8_t* rows;  // n_tokens rows of activation blocks
    size_t row_stride;
    const float* scales;  // Q8_0 only, [n_tokens][n / 32]: each block's d as a float
    const int32_t* sums;  // Q8_0 only, [n_tokens][n / 32]: the sum of each block's 32 quants
    int n_tokens;
    // Q8_1 only (with `scales`), [n_tokens][n / 32]: each block's s = d * sum of its quants,
    // the term the weights' minimum multiplies (Q4_1 / Q5_1: x = d q + m).
    const float* block_s = nullptr;
    // Q8_0 only, optional, for 2..kTiledTokensMax tokens: the same activations in tiles
    // (q8_0_token_tiles), which the panel kernels that decode the weights as they stream in
    // read with one pointer instead of three per token.
    const uint8_t* tiles = nullptr;
};
// Fills a Q8Batch's per-block arrays for one row of n values in Q8_0.
void q8_0_scales_and_sums(const void* row, int64_t n, float* scales, int32_t* sums);

// A few tokens are taken in tiles of at most kTokenTile, as even as they can be (9: one tile
// of 9; 10: 5 and 5; 15: 8 and 7), each tile one pass over the weights: f(first token, size)
// for each tile in order. 9 lets a speculative check of 8 guesses read the weights once
// (docs/optimizations.md: 6 before).
constexpr int kTokenTile = 9;
template <typename F>
inline void for_each_token_tile(int n_tokens, F&& f) {
    const int tiles = (n_tokens + kTokenTile - 1) / kTokenTile;
    for (int tile = 0, t = 0; tile < tiles; ++tile) {
        const int size = (n_tokens - t) / (tiles - tile);  // the rest, shared out evenly
        f(t, size);
        t += size;
    }
}
// Q8_0 activations of 2..kTiledTokensMax tokens in their tiles (for_each_token_tile), each
// token of each block in kTiledBlockBytes: the tile of tokens t0 .. t0 + T - 1 starts at byte
// t0 * (n / 32) * kTiledBlockBytes and holds block b at b * T * kTiledBlockBytes from there:
// the quants as int32 [k][i] (k = 0..7: quants 4k..4k+3 of token t0 + i), then the T scales
// (float), then the T negated sums of the quants (int32). Filled from a Q8Batch's rows, scales
// and sums; q8_0_token_tiles_bytes(n_tokens, n) bytes.
constexpr int kTiledTokensMax = 15;
constexpr size_t kTiledBlockBytes = 40;
size_t q8_0_token_tiles_bytes(int n_tokens, int64_t n);
void q8_0_token_tiles(const Q8Batch& batch, int64_t n, uint8_t* out);
// The same for Q8_1: each block's d and s as floats.
void q8_1_scales_and_s(const void* row, int64_t n, float* scales, float* block_s);

// 8 weight rows (w, w + w_stride, ...) against every token of the batch:
// y[t * y_stride + r] = dot(row r, token t), r < 8. Equals vec_dot to the float rounding bound.
using Gemm8Fn = void (*)(int64_t n, const void* weights, size_t weight_stride, const Q8Batch& a,
                         float* y, size_t y_stride);

// Weights packed once at load time for the panel kernels: a group of 8 rows (w, w + w_stride,
// ...) rewritten block by block into a layout of the type's own (packed_layout.h), 8 *
// row_bytes long (packed_group_bytes: one type unpacks into more), so the kernels find each
// block's 8 rows side by side and decode them without transposing. The mapped file stays the
// source of truth: packing is a pure function of it.
using Pack8Fn = void (*)(int64_t n, const void* w, size_t w_stride, void* packed);
// A packed group against every token of the batch: as Gemm8Fn, from the packed bytes.
using GemmPacked8Fn = void (*)(int64_t n, const void* packed, const Q8Batch& a, float* y,
                               size_t y_stride);

struct TypeKernels {
    TensorType type;
    TensorType activation_type;      // what activations are converted to for vec_dot
    DequantizeRowFn dequantize_row;  // this type -> F32
    QuantizeRowFn quantize_row;  // F32 -> this type, for activations; null for weight-only types
    VecDotFn vec_dot;            // this type . activation_type
    // F32 -> this type as llama.cpp's quantizer rounds; null where ember has none yet.
    QuantizeRowFn quantize_weights;
    VecDot4Fn vec_dot4 = nullptr;  // 4 activation rows at once; null where there is none
    VecDot4Fn vec_dot8 = nullptr;  // 8 at once (8 floats out); null where there is none
    Gemm8Fn gemm8 = nullptr;       // 8 weight rows x a Q8_0 batch; null where there is none
    Pack8Fn pack8 = nullptr;       // with gemm_packed8: packed groups of 8 rows, or both null
    GemmPacked8Fn gemm_packed8 = nullptr;
    // Two consecutive packed groups (16 rows, y gets 16 floats per token) against a batch of
    // tokens, in wider registers; null where there is none.
    GemmPacked8Fn gemm_packed16 = nullptr;
    // Four consecutive packed groups (32 rows, y gets 32 floats per token) against a batch, as
    // two 16-row panels side by side; null where there is none.
    GemmPacked8Fn gemm_packed32 = nullptr;
    // The bytes of a packed group's block where packing unpacks the values into more than the
    // 8 rows' own (IQ1_M on x86: its grid lookups done at load); 0: the 8 rows' bytes.
    uint32_t packed_block_bytes = 0;
};

// The bytes of one packed group of 8 rows of n values, each row_bytes long in the file.
inline size_t packed_group_bytes(const TypeKernels& k, int64_t n, size_t row_bytes) {
    if (k.packed_block_bytes == 0) return 8 * row_bytes;
    return static_cast<size_t>(n / tensor_type_info(k.type).block_size) * k.packed_block_bytes;
}

// C (m, n) = A (m, k) @ B (k, n) in F32, row-major, with leading dimensions lda, ldb, ldc counted
// in floats. The engine's attention runs its two small products (scores = Q K^T, output = P V)
// through it.
using MatMulF32Fn = void (*)(int m, int n, int k, const float* a, size_t lda, const float* b,
                             size_t ldb, float* c, size_t ldc);
// y[i] = e^x[i] for n floats (y may be x), within 2 ulp of the exact value; e^x overflows to
// +inf above 88.72 and underflows to 0 below about -103.97. For softmax and SiLU.
using ExpF32Fn = void (*)(const float* x, float* y, int64_t n);

// C (m, n) = A (m, k) @ B (n, k)^T with B's rows in F16, leading dimensions in elements: the
// scores of m query rows against n positions of a KV head's keys, read where the cache holds
// them (no conversion, no transpose). Every element of C is the same sum whatever m and n (its
// k products in a fixed order: lanes over k, then a fixed tree across the lanes), so a token's
// scores do not depend on the batch around it.
using DotRowsF16Fn = void (*)(int m, int n, int k, const float* a, size_t lda, const uint16_t* b,
                              size_t ldb, float* c, size_t ldc);
// C (m, k) += A (m, n) @ B (n, k) with B's rows in F16: m rows of probabilities times a KV head's
// values. Each element of C adds its n products one after the other in order of n, as
// MatMulF32Fn does (so from C = 0 the two give the same floats).
using MadRowsF16Fn = void (*)(int m, int n, int k, const float* a, size_t lda, const uint16_t* b,
                              size_t ldb, float* c, size_t ldc);

// Kernels on F32 arrays (and the F16 rows of a KV cache), not tied to a tensor type.
struct FloatKernels {
    MatMulF32Fn matmul;
    ExpF32Fn exp;
    DotRowsF16Fn dot_rows_f16;
    MadRowsF16Fn mad_rows_f16;
};
// The fastest this CPU supports (the reference: ref::matmul_f32, ref::exp_f32,
// ref::dot_rows_f16, ref::mad_rows_f16).
const FloatKernels& float_kernels();

// The scalar reference kernels of a type, or nullptr if ember cannot compute with it. The
// reference is the truth every faster path is tested against.
const TypeKernels* reference_kernels(TensorType type);

// The kernels ember runs for a type: the fastest this CPU supports, chosen once.
const TypeKernels* kernels_for(TensorType type);

// Every type's kernels and the float kernels of one kernel set: the reference, with what each
// instruction set of the set registered over it, in order (registry.cpp). Each SIMD file
// registers its own kernels at its end (register_kernels in simd_kernels.h), so a kernel is
// written, named and registered in one place.
struct KernelTable {
    std::string name;                // "reference", "avx2", "avx512-vnni", "neon-dotprod", ...
    std::vector<TypeKernels> types;  // one per type ember can compute with
    FloatKernels floats;
    TypeKernels& operator[](TensorType type);        // the type's entry; the type must have one
    const TypeKernels* find(TensorType type) const;  // nullptr where there is none
};

// The kernel sets of this build, from the reference up ("reference", "avx2", "avx2-vnni",
// "avx512-vnni" on x86-64; "reference", "neon", "neon-dotprod", "neon-i8mm" on aarch64), and
// the table of one of them if this CPU can run it (tests check every kernel of every set).
std::vector<std::string> kernel_set_names();
std::optional<KernelTable> kernel_table(std::string_view set);

}  // namespace ember
