// Prompt processing with AVX-512 VNNI (256-bit registers, EVEX encoding: 32 of them): a batch
// of tokens against 8 weight rows at a time (a "panel").
//
// vpdpbusd adds to each int32 lane the products of four unsigned bytes with four signed ones:
// 32 multiply-adds in one instruction. The panel arranges the work so that one register's 8
// lanes are 8 different weight rows. The rows' block is transposed once ("packed") into 8
// vectors: vector k holds values 4k..4k+3 of row 0, then of row 1, ... A token's activations
// 4k..4k+3, broadcast to all lanes, meet vector k in one vpdpbusd; after 8 of them the lanes
// hold the block's 8 integer dot products, and one conversion and one fma with the 8 scales
// (d_row * d_token) finish the block for all 8 rows. Per block, token and 8 rows: 8 vpdpbusd
// + 3 float instructions. (llama.cpp gets the same effect by repacking Q4_0 at load time; here
// the packing is redone per panel, so the mapped file stays the only copy of the weights.)
//
// vpdpbusd needs one unsigned operand: the packed weights are unsigned (Q4_0 keeps its q in
// 0..15 with x = d (q - 8), Q5_0 its 0..31 with x = d (q - 16); Q8_0 adds 128), and the lanes
// start at -offset * sum(a) of the token's block, precomputed once per batch (Q8Batch).
// Integer lanes are exact; the float sum over blocks runs in another order than vec_dot's, so
// results agree with the reference within its rounding bound, not bit for bit.
#include <immintrin.h>

#include <atomic>
#include <cstring>
#include <vector>

#include "kernels/blocks.h"
#include "kernels/k_quant_scales.h"
#include "kernels/matmul_f32_tile.inl"
#include "kernels/rows_f16.inl"
#include "kernels/simd_kernels.h"
#include "kernels/x86_k_unpack.inl"
#include "kernels/x86_panel.inl"

namespace ember::avx512 {
using namespace x86_panel;
namespace {

using x86::fifth_bits;
using x86::unpack_nibbles;

// The weight types, each as unsigned values q with x = d (q - kOffset).
struct Q4_0Panel {
    using Block = BlockQ4_0;
    static constexpr int kOffset = 8;
    static __m256i unsigned_values(const Block& b) { return unpack_nibbles(b.qs); }
};
struct Q5_0Panel {
    using Block = BlockQ5_0;
    static constexpr int kOffset = 16;
    static __m256i unsigned_values(const Block& b) {
        return _mm256_or_si256(unpack_nibbles(b.qs), fifth_bits(b.qh));
    }
};
struct Q8_0Panel {  // signed values made unsigned: q + 128 (an xor of the sign bit)
    using Block = BlockQ8_0;
    static constexpr int kOffset = 128;
    static __m256i unsigned_values(const Block& b) {
        return _mm256_xor_si256(load32(b.qs), _mm256_set1_epi8(static_cast<char>(0x80)));
    }
};

template <typename W>
void pack_panel(int64_t n_blocks, const void* w, size_t w_stride, PanelBlock* panel) {
    const typename W::Block* rows[8];
    for (int r = 0; r < 8; ++r)
        rows[r] = reinterpret_cast<const typename W::Block*>(static_cast<const uint8_t*>(w) +
                                                             r * w_stride);
    for (int64_t b = 0; b < n_blocks; ++b) {
        __m256i values[8];
        alignas(32) float d[8];
        for (int r = 0; r < 8; ++r) {
            values[r] = W::unsigned_values(rows[r][b]);
            d[r] = half(rows[r][b].d);
        }
        transpose8x8_epi32(values, panel[b].q);
        panel[b].d = _mm256_load_ps(d);
    }
}

template <typename W>
void gemm_panel(int64_t n, const void* w, size_t w_stride, const Q8Batch& a, float* y,
                size_t y_stride) {
    const int64_t n_blocks = n / kQK;
    thread_local std::vector<PanelBlock> panel;
    if (panel.size() < static_cast<size_t>(n_blocks)) panel.resize(n_blocks);
    pack_panel<W>(n_blocks, w, w_stride, panel.data());
    panel_all_tokens<Rows8, W::kOffset>(n_blocks, panel.data(), a, y, y_stride);
}

}  // namespace

void gemm8_q4_0_q8_0(int64_t n, const void* w, size_t w_stride, const Q8Batch& a, float* y,
                     size_t y_stride) {
    gemm_panel<Q4_0Panel>(n, w, w_stride, a, y, y_stride);
}
void gemm8_q5_0_q8_0(int64_t n, const void* w, size_t w_stride, const Q8Batch& a, float* y,
                     size_t y_stride) {
    gemm_panel<Q5_0Panel>(n, w, w_stride, a, y, y_stride);
}
void gemm8_q8_0_q8_0(int64_t n, const void* w, size_t w_stride, const Q8Batch& a, float* y,
                     size_t y_stride) {
    gemm_panel<Q8_0Panel>(n, w, w_stride, a, y, y_stride);
}

// ---- K-quants: 8-row panels of 256-value super-blocks against Q8_K ----
// The same transposition, with the K-quants' second level: the integer dot of each 16-value
// sub-block (4 vpdpbusd) is multiplied by the 8 rows' sub-block scales (vpmulld) before it
// joins the super-block sum S. The minimums (Q2_K-style "- dmin * min_j") or the offsets of
// the signed types (Q3_K's -4, Q6_K's -32, summed unsigned) come back through the activations'
// 16-value sums: C = sum_j coef_j * bsum_j (vpdpwssd, two sub-blocks per instruction). Per
// super-block and token: y += d_a * (d * S - coef_d * C).
namespace {

// One row's super-block as unsigned values (32i .. 32i+31 in q[i]) and per-sub-block numbers.
struct KRow {
    __m256i q[8];
    int16_t scale[16];  // multiplies sub-block j's dot (16 values)
    int16_t coef[16];   // multiplies bsum_j in the correction C
    float d, coef_d;
};

struct Q4_KPanel {
    using Block = BlockQ4_K;
    static constexpr bool kFifthBit = false;
};
struct Q5_KPanel {
    using Block = BlockQ5_K;
    static constexpr bool kFifthBit = true;
};

// Q4_K / Q5_K: x = d * scale * q - dmin * min per 32 values.
template <typename P>
void decode_k_row(const typename P::Block& b, KRow* row) {
    x86::unpack_q4_k_values<P::kFifthBit>(b, row->q);
    for (int j = 0; j < 8; ++j) {
        int scale, min;
        q4_k_scale_min(b.scales, j, &scale, &min);
        row->scale[2 * j] = row->scale[2 * j + 1] = static_cast<int16_t>(scale);
        row->coef[2 * j] = row->coef[2 * j + 1] = static_cast<int16_t>(min);
    }
    row->d = half(b.d);
    row->coef_d = half(b.dmin);
}

struct Q6_KPanel {
    using Block = BlockQ6_K;
};
// Q6_K: x = d * scale * (u - 32), u = 4 low bits | 2 high bits << 4, per 16 values.
template <>
void decode_k_row<Q6_KPanel>(const BlockQ6_K& b, KRow* row) {
    x86::unpack_q6_k_values(b, row->q);
    for (int j = 0; j < 16; ++j) {
        row->scale[j] = b.scales[j];
        row->coef[j] = static_cast<int16_t>(32 * b.scales[j]);
    }
    row->d = row->coef_d = half(b.d);
}

struct Q2_KPanel {
    using Block = BlockQ2_K;
};
// Q2_K: x = d * scale * q - dmin * min per 16 values, both 4-bit.
template <>
void decode_k_row<Q2_KPanel>(const BlockQ2_K& b, KRow* row) {
    x86::unpack_q2_k_values(b, row->q);
    for (int j = 0; j < 16; ++j) {
        row->scale[j] = static_cast<int16_t>(b.scales[j] & 0x0f);
        row->coef[j] = static_cast<int16_t>(b.scales[j] >> 4);
    }
    row->d = half(b.d);
    row->coef_d = half(b.dmin);
}

struct Q3_KPanel {
    using Block = BlockQ3_K;
};
// Q3_K: x = d * scale * (u - 4) per 16 values, scales 6-bit signed.
template <>
void decode_k_row<Q3_KPanel>(const BlockQ3_K& b, KRow* row) {
    x86::unpack_q3_k_values(b, row->q);
    for (int j = 0; j < 16; ++j) {
        row->scale[j] = static_cast<int16_t>(q3_k_scale(b.scales, j));
        row->coef[j] = static_cast<int16_t>(4 * row->scale[j]);
    }
    row->d = row->coef_d = half(b.d);
}

template <typename P>
void pack_k_panel(int64_t n_blocks, const void* w, size_t w_stride, KPanelBlock* panel) {
    using Block = typename P::Block;
    for (int64_t b = 0; b < n_blocks; ++b) {
        KRow rows[8];
        for (int r = 0; r < 8; ++r) {
            const auto* blocks =
                reinterpret_cast<const Block*>(static_cast<const uint8_t*>(w) + r * w_stride);
            decode_k_row<P>(blocks[b], &rows[r]);
        }
        KPanelBlock& p = panel[b];
        for (int i = 0; i < 8; ++i) {
            __m256i in[8];
            for (int r = 0; r < 8; ++r) in[r] = rows[r].q[i];
            transpose8x8_epi32(in, p.q + 8 * i);
        }
        alignas(32) int32_t lanes[8];
        alignas(32) float d[8], coef_d[8];
        for (int j = 0; j < 16; ++j) {
            for (int r = 0; r < 8; ++r) lanes[r] = rows[r].scale[j];
            p.scale[j] = _mm256_load_si256(reinterpret_cast<const __m256i*>(lanes));
        }
        for (int m = 0; m < 8; ++m) {
            for (int r = 0; r < 8; ++r) {
                lanes[r] = static_cast<int32_t>(
                    static_cast<uint16_t>(rows[r].coef[2 * m]) |
                    (static_cast<uint32_t>(static_cast<uint16_t>(rows[r].coef[2 * m + 1])) << 16));
            }
            p.coef[m] = _mm256_load_si256(reinterpret_cast<const __m256i*>(lanes));
        }
        for (int r = 0; r < 8; ++r) d[r] = rows[r].d, coef_d[r] = rows[r].coef_d;
        p.d = _mm256_load_ps(d);
        p.coef_d = _mm256_load_ps(coef_d);
    }
}

template <typename P>
void gemm_k_panel(int64_t n, const void* w, size_t w_stride, const Q8Batch& a, float* y,
                  size_t y_stride) {
    const int64_t n_blocks = n / kQK_K;
    thread_local std::vector<KPanelBlock> panel;
    if (panel.size() < static_cast<size_t>(n_blocks)) panel.resize(n_blocks);
    pack_k_panel<P>(n_blocks, w, w_stride, panel.data());
    k_panel_all_tokens<Rows8>(n_blocks, panel.data(), a, y, y_stride);
}

}  // namespace

void gemm8_q2_k_q8_k(int64_t n, const void* w, size_t w_stride, const Q8Batch& a, float* y,
                     size_t y_stride) {
    gemm_k_panel<Q2_KPanel>(n, w, w_stride, a, y, y_stride);
}
void gemm8_q3_k_q8_k(int64_t n, const void* w, size_t w_stride, const Q8Batch& a, float* y,
                     size_t y_stride) {
    gemm_k_panel<Q3_KPanel>(n, w, w_stride, a, y, y_stride);
}
void gemm8_q4_k_q8_k(int64_t n, const void* w, size_t w_stride, const Q8Batch& a, float* y,
                     size_t y_stride) {
    gemm_k_panel<Q4_KPanel>(n, w, w_stride, a, y, y_stride);
}
void gemm8_q5_k_q8_k(int64_t n, const void* w, size_t w_stride, const Q8Batch& a, float* y,
                     size_t y_stride) {
    gemm_k_panel<Q5_KPanel>(n, w, w_stride, a, y, y_stride);
}
void gemm8_q6_k_q8_k(int64_t n, const void* w, size_t w_stride, const Q8Batch& a, float* y,
                     size_t y_stride) {
    gemm_k_panel<Q6_KPanel>(n, w, w_stride, a, y, y_stride);
}

// GCC 12 takes the _mm512_undefined_*() sources inside some intrinsics (conversions,
// reductions, scalef) for uninitialised variables; the warning is false in what follows.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

// ---- Activations to Q8_0 / Q8_K, bit for bit as the reference (ref_q8.cpp) ----
namespace {
inline __m512 abs16(__m512 v) {
    return _mm512_castsi512_ps(
        _mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32(0x7fffffff)));
}
// round(x * scale) to nearest even (the MXCSR default, as nearbyint), as 16 int8.
inline __m128i round_to_int8(__m512 x, __m512 scale) {
    return _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(x, scale)));
}
}  // namespace

void quantize_row_q8_0(const float* in, void* out, int64_t n) {
    auto* blocks = static_cast<BlockQ8_0*>(out);
    for (int64_t b = 0; b < n / kQK; ++b, in += kQK) {
        const __m512 lo = _mm512_loadu_ps(in), hi = _mm512_loadu_ps(in + 16);
        const float amax = _mm512_reduce_max_ps(_mm512_max_ps(abs16(lo), abs16(hi)));
        const float inv_scale = amax != 0 ? 127.0f / amax : 0.0f;
        blocks[b].d = f32_to_fp16(amax / 127.0f);
        const __m512 scale = _mm512_set1_ps(inv_scale);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(blocks[b].qs), round_to_int8(lo, scale));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(blocks[b].qs + 16), round_to_int8(hi, scale));
    }
}

void quantize_row_q8_k(const float* in, void* out, int64_t n) {
    auto* blocks = static_cast<BlockQ8_K*>(out);
    for (int64_t b = 0; b < n / kQK_K; ++b, in += kQK_K) {
        BlockQ8_K& block = blocks[b];
        __m512 amax16 = _mm512_setzero_ps();
        for (int j = 0; j < kQK_K; j += 16)
            amax16 = _mm512_max_ps(amax16, abs16(_mm512_loadu_ps(in + j)));
        const float amax = _mm512_reduce_max_ps(amax16);
        if (amax == 0) {
            block = {};
            continue;
        }
        // The reference keeps the sign of the first value of largest magnitude.
        float max = amax;
        for (int j = 0; j < kQK_K; j += 16) {
            const __mmask16 at = _mm512_cmp_ps_mask(abs16(_mm512_loadu_ps(in + j)),
                                                    _mm512_set1_ps(amax), _CMP_EQ_OQ);
            if (at != 0) {
                max = in[j + __builtin_ctz(at)];
                break;
            }
        }
        const float inv_scale = -127.0f / max;
        const __m512 scale = _mm512_set1_ps(inv_scale);
        for (int j = 0; j < kQK_K; j += 16) {
            const __m512i q =
                _mm512_min_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(in + j), scale)),
                                 _mm512_set1_epi32(127));
            _mm_storeu_si128(reinterpret_cast<__m128i*>(block.qs + j), _mm512_cvtepi32_epi8(q));
            block.bsums[j / 16] = static_cast<int16_t>(_mm512_reduce_add_epi32(q));
        }
        block.d = 1 / inv_scale;
    }
}

// ---- e^x, 16 values at a time ----
// e^x = 2^k e^r with k = round(x / ln 2) and r = x - k ln 2, |r| <= ln2 / 2 (ln 2 split in a
// high part exact in float and a low correction, so r carries no cancellation error). e^r is
// its Taylor series to r^7 (truncation error |r|^8 / 8! < 6e-9, a tenth of an ulp), in
// Horner form; vscalefps multiplies by 2^k and saturates to inf or 0 outside float's range.
// (The standard reduction, e.g. J.-M. Muller, "Elementary Functions", ch. 11.)
void exp_f32(const float* x, float* y, int64_t n) {
    const __m512 log2e = _mm512_set1_ps(1.44269504088896341f);
    const __m512 ln2_hi =
        _mm512_set1_ps(0.693145751953125f);  // 14 significant bits: k ln2_hi exact
    const __m512 ln2_lo = _mm512_set1_ps(1.4286068202862268e-6f);  // ln 2 - ln2_hi
    // Beyond these e^x is 0 or inf anyway; clamping keeps -inf and +inf from making inf - inf.
    // (max and min return their second operand for a NaN, so NaN stays NaN.)
    const __m512 lowest = _mm512_set1_ps(-110.0f), highest = _mm512_set1_ps(89.0f);
    const float inverse_factorials[8] = {1.0f,      1.0f,       1.0f / 2,   1.0f / 6,
                                         1.0f / 24, 1.0f / 120, 1.0f / 720, 1.0f / 5040};
    int64_t i = 0;
    for (; i < n; i += 16) {
        const __mmask16 lanes = n - i >= 16 ? 0xffff : static_cast<__mmask16>((1u << (n - i)) - 1);
        const __m512 v =
            _mm512_min_ps(highest, _mm512_max_ps(lowest, _mm512_maskz_loadu_ps(lanes, x + i)));
        const __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(v, log2e),
                                              _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        __m512 r = _mm512_fnmadd_ps(k, ln2_hi, v);
        r = _mm512_fnmadd_ps(k, ln2_lo, r);
        __m512 p = _mm512_set1_ps(inverse_factorials[7]);
        for (int j = 6; j >= 0; --j)
            p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(inverse_factorials[j]));
        _mm512_mask_storeu_ps(y + i, lanes, _mm512_scalef_ps(p, k));
    }
}

// ---- float weights: dot products for generation ----
// Generation through F16/BF16/F32 weights streams 2-4 bytes per value, so the dot product
// must keep up with memory: 64 values per step in four 16-lane float accumulators (the AVX2
// path sums in double, 8 values per step, and ran at half the read bandwidth). Products of
// F16 or BF16 values are exact in float; the sums round in float, as llama.cpp's do, within
// the reference's tested bound.
namespace {
struct F32Values {
    using Elem = float;
    static __m512 load(const float* p) { return _mm512_loadu_ps(p); }
    static __m512 load(const float* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
};
struct F16Values {
    using Elem = fp16_t;
    static __m512 load(const fp16_t* p) {
        return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    }
    static __m512 load(const fp16_t* p, __mmask16 m) {
        return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
    }
};
struct BF16Values {  // a bfloat16 is the top half of a float
    using Elem = bf16_t;
    static __m512 widen(__m256i h) {
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
    static __m512 load(const bf16_t* p) {
        return widen(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    }
    static __m512 load(const bf16_t* p, __mmask16 m) {
        return widen(_mm256_maskz_loadu_epi16(m, p));
    }
};

// kRows activation rows (`stride` bytes apart) against one weight row, each weight vector
// loaded once for all of them: a small batch (a short prompt, a speculative check) reads the
// row once instead of once per token. Every row's sums run in the same order whatever kRows
// (16 accumulators and the 4 weight vectors fill 20 of the 32 registers at 4 rows), so a
// token gives the same float alone and in a batch.
template <typename T, int kRows>
void dot_floats(int64_t n, const void* x, const void* y, size_t stride, float* out) {
    const auto* a = static_cast<const typename T::Elem*>(x);
    const typename T::Elem* b[kRows];
    for (int t = 0; t < kRows; ++t)
        b[t] =
            reinterpret_cast<const typename T::Elem*>(static_cast<const uint8_t*>(y) + t * stride);
    __m512 acc[kRows][4];
    for (auto& token : acc)
        for (__m512& v : token) v = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m512 w[4];
        for (int k = 0; k < 4; ++k) w[k] = T::load(a + i + 16 * k);
        for (int t = 0; t < kRows; ++t)
            for (int k = 0; k < 4; ++k)
                acc[t][k] = _mm512_fmadd_ps(w[k], T::load(b[t] + i + 16 * k), acc[t][k]);
    }
    for (; i < n; i += 16) {  // the last n % 64 values, masked past the end
        const __mmask16 m = n - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - i)) - 1);
        const __m512 w = T::load(a + i, m);
        for (int t = 0; t < kRows; ++t)
            acc[t][0] = _mm512_fmadd_ps(w, T::load(b[t] + i, m), acc[t][0]);
    }
    for (int t = 0; t < kRows; ++t) {
        out[t] = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[t][0], acc[t][1]),
                                                    _mm512_add_ps(acc[t][2], acc[t][3])));
    }
}
template <typename T>
float dot_floats(int64_t n, const void* x, const void* y) {
    float out;
    dot_floats<T, 1>(n, x, y, 0, &out);
    return out;
}
}  // namespace

float vec_dot_f32(int64_t n, const void* x, const void* y) {
    return dot_floats<F32Values>(n, x, y);
}
float vec_dot_f16(int64_t n, const void* x, const void* y) {
    return dot_floats<F16Values>(n, x, y);
}
float vec_dot_bf16(int64_t n, const void* x, const void* y) {
    return dot_floats<BF16Values>(n, x, y);
}
void vec_dot4_f32(int64_t n, const void* x, const void* y, size_t stride, float* out) {
    dot_floats<F32Values, 4>(n, x, y, stride, out);
}
void vec_dot4_f16(int64_t n, const void* x, const void* y, size_t stride, float* out) {
    dot_floats<F16Values, 4>(n, x, y, stride, out);
}
void vec_dot4_bf16(int64_t n, const void* x, const void* y, size_t stride, float* out) {
    dot_floats<BF16Values, 4>(n, x, y, stride, out);
}

void dequantize_row_f16(const void* in, float* out, int64_t n) {
    const auto* h = static_cast<const fp16_t*>(in);
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = n - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(out + i, m, F16Values::load(h + i, m));
    }
}

// ---- F32 products (attention) on 16-lane registers ----
namespace {
struct Zmm {
    using type = __m512;
    static constexpr int kLanes = 16;
    static type zero() { return _mm512_setzero_ps(); }
    static type load(const float* p) { return _mm512_loadu_ps(p); }
    static void store(float* p, type v) { _mm512_storeu_ps(p, v); }
    static type splat(float x) { return _mm512_set1_ps(x); }
    static type fma(type a, type b, type c) { return _mm512_fmadd_ps(a, b, c); }
    static type load_f16(const uint16_t* p) {
        return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    }
    // Lane i = the sum of acc[i]'s lanes: pairs within 128-bit blocks (unpack), then quads
    // (shuffle), then across the four blocks.
    static type sum_lanes(const type* acc) {
        __m512 quads[4];
        for (int q = 0; q < 4; ++q) {
            __m512 pairs[2];
            for (int p = 0; p < 2; ++p) {
                const __m512 x = acc[4 * q + 2 * p], y = acc[4 * q + 2 * p + 1];
                pairs[p] = _mm512_add_ps(_mm512_unpacklo_ps(x, y), _mm512_unpackhi_ps(x, y));
            }
            quads[q] = _mm512_add_ps(_mm512_shuffle_ps(pairs[0], pairs[1], 0x44),
                                     _mm512_shuffle_ps(pairs[0], pairs[1], 0xEE));
        }
        const __m512 h01 = _mm512_add_ps(_mm512_shuffle_f32x4(quads[0], quads[1], 0x44),
                                         _mm512_shuffle_f32x4(quads[0], quads[1], 0xEE));
        const __m512 h23 = _mm512_add_ps(_mm512_shuffle_f32x4(quads[2], quads[3], 0x44),
                                         _mm512_shuffle_f32x4(quads[2], quads[3], 0xEE));
        return _mm512_add_ps(_mm512_shuffle_f32x4(h01, h23, 0x88),
                             _mm512_shuffle_f32x4(h01, h23, 0xDD));
    }
};
}  // namespace

void matmul_f32(int m, int n, int k, const float* a, size_t lda, const float* b, size_t ldb,
                float* c, size_t ldc) {
    matmul_f32_simd<Zmm, 8>(m, n, k, a, lda, b, ldb, c, ldc);
}
// Heads narrower than 16 values (stories260K's 8) would leave every value to the kernels'
// scalar tails in 16-lane vectors: they keep the 8-lane kernels of the set below (avx2), set
// by register_kernels (atomics: tables may be built on several threads, all storing the same
// pointers). The choice depends on k alone, so a token's attention is still the same alone
// and in a batch.
namespace {
std::atomic<DotRowsF16Fn> narrow_dot_rows_f16{nullptr};
std::atomic<MadRowsF16Fn> narrow_mad_rows_f16{nullptr};
}  // namespace
void dot_rows_f16(int m, int n, int k, const float* a, size_t lda, const uint16_t* b, size_t ldb,
                  float* c, size_t ldc) {
    const DotRowsF16Fn narrow = narrow_dot_rows_f16.load(std::memory_order_relaxed);
    if (k < 16 && narrow != nullptr) {
        narrow(m, n, k, a, lda, b, ldb, c, ldc);
        return;
    }
    dot_rows_f16_simd<Zmm>(m, n, k, a, lda, b, ldb, c, ldc);
}
void mad_rows_f16(int m, int n, int k, const float* a, size_t lda, const uint16_t* b, size_t ldb,
                  float* c, size_t ldc) {
    const MadRowsF16Fn narrow = narrow_mad_rows_f16.load(std::memory_order_relaxed);
    if (k < 16 && narrow != nullptr) {
        narrow(m, n, k, a, lda, b, ldb, c, ldc);
        return;
    }
    mad_rows_f16_simd<Zmm>(m, n, k, a, lda, b, ldb, c, ldc);
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

// This file's kernels, over the avx2 set's (registry.cpp: the set "avx512-vnni"; the packed
// ones are x86_avx512_packed.cpp's).
void register_kernels(KernelTable& t) {
    using T = TensorType;
    t.floats.matmul = matmul_f32;
    t.floats.exp = exp_f32;
    if (t.floats.dot_rows_f16 != dot_rows_f16) narrow_dot_rows_f16.store(t.floats.dot_rows_f16);
    if (t.floats.mad_rows_f16 != mad_rows_f16) narrow_mad_rows_f16.store(t.floats.mad_rows_f16);
    t.floats.dot_rows_f16 = dot_rows_f16;
    t.floats.mad_rows_f16 = mad_rows_f16;
    t[T::F32].vec_dot = vec_dot_f32;
    t[T::F16].vec_dot = vec_dot_f16;
    t[T::BF16].vec_dot = vec_dot_bf16;
    t[T::F32].vec_dot4 = vec_dot4_f32;
    t[T::F16].vec_dot4 = vec_dot4_f16;
    t[T::BF16].vec_dot4 = vec_dot4_bf16;
    t[T::F16].dequantize_row = dequantize_row_f16;
    t[T::Q8_0].quantize_row = quantize_row_q8_0;  // activations
    t[T::Q8_K].quantize_row = quantize_row_q8_k;
    t[T::Q4_0].gemm8 = gemm8_q4_0_q8_0;
    t[T::Q5_0].gemm8 = gemm8_q5_0_q8_0;
    t[T::Q8_0].gemm8 = gemm8_q8_0_q8_0;
    t[T::Q2_K].gemm8 = gemm8_q2_k_q8_k;
    t[T::Q3_K].gemm8 = gemm8_q3_k_q8_k;
    t[T::Q4_K].gemm8 = gemm8_q4_k_q8_k;
    t[T::Q5_K].gemm8 = gemm8_q5_k_q8_k;
    t[T::Q6_K].gemm8 = gemm8_q6_k_q8_k;
}

}  // namespace ember::avx512
