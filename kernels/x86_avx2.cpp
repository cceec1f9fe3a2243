// AVX2 (+FMA, F16C) dot products. Compiled with -mavx2 -mfma -mf16c; only called when the
// CPU reports those features.
//
// Quantized types: the integer work runs 32 values at a time (maddubs: u8 x i8 pairs -> i16,
// madd: x sub-block scale -> i32). For the K-quants each block's integer sum is reduced
// exactly and scaled with the same float operations, in the same order, as the scalar
// reference: bit-identical results. The 32-value types accumulate in float lanes (see below).
// Float types accumulate in double, as the reference does.
#include <immintrin.h>

#include <array>

#include "kernels/blocks.h"
#include "kernels/iq_grids.h"
#include "kernels/k_quant_scales.h"
#include "kernels/matmul_f32_tile.inl"
#include "kernels/rows_f16.inl"
#include "kernels/simd_kernels.h"
#include "kernels/x86_grid_decode.inl"
#include "kernels/x86_k_unpack.inl"

namespace ember::avx2 {
namespace {

inline int hsum_i32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}

inline double hsum_f64(__m256d v) {
    const __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

inline __m256i load32(const void* p) {
    return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

// 32 unsigned bytes (values < 128) times 32 signed bytes, summed in pairs and then in 16-bit
// pairs: eight i32 partial sums.
inline __m256i dot_u8_i8(__m256i u, __m256i s) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}
// The same with signed x (|x| <= 128): move x's sign onto y.
inline __m256i dot_i8_i8(__m256i x, __m256i y) {
    return dot_u8_i8(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}
// 32 unsigned values times 32 activations, the first 16 scaled by lo, the last 16 by hi.
inline __m256i dot_u8_i8_scaled(__m256i u, __m256i y, int lo, int hi) {
    const __m256i scales = _mm256_set_m128i(_mm_set1_epi16(static_cast<int16_t>(hi)),
                                            _mm_set1_epi16(static_cast<int16_t>(lo)));
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, y), scales);
}

using x86::bit_of_bytes;
using x86::fifth_bits;
using x86::two_bits_of_bytes;
using x86::unpack_nibbles;

}  // namespace

// ---- floats ----

namespace {
// Float weights against kRows activation rows (`stride` bytes apart): load 8 values as floats,
// accumulate products in double (two accumulators a row, the last n % 8 values one by one
// with scalar(x, y, i) as a double). The weights' conversions serve every row, and each row's
// sums are the one-row call's: a token gives the same float alone and in a batch.
template <int kRows, typename Load8, typename Scalar>
void dot_converted(int64_t n, Load8 load8, Scalar scalar, const void* x, const void* y,
                   size_t stride, float* out) {
    const void* rows[kRows];
    __m256d acc0[kRows], acc1[kRows];
    for (int r = 0; r < kRows; ++r) {
        rows[r] = static_cast<const uint8_t*>(y) + r * stride;
        acc0[r] = acc1[r] = _mm256_setzero_pd();
    }
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 va = load8(x, i);
        const __m256d a0 = _mm256_cvtps_pd(_mm256_castps256_ps128(va));
        const __m256d a1 = _mm256_cvtps_pd(_mm256_extractf128_ps(va, 1));
        for (int r = 0; r < kRows; ++r) {
            const __m256 vb = load8(rows[r], i);
            acc0[r] = _mm256_fmadd_pd(a0, _mm256_cvtps_pd(_mm256_castps256_ps128(vb)), acc0[r]);
            acc1[r] = _mm256_fmadd_pd(a1, _mm256_cvtps_pd(_mm256_extractf128_ps(vb, 1)), acc1[r]);
        }
    }
    for (int r = 0; r < kRows; ++r) {
        double sum = hsum_f64(_mm256_add_pd(acc0[r], acc1[r]));
        for (int64_t j = i; j < n; ++j) sum += scalar(x, rows[r], j);
        out[r] = static_cast<float>(sum);
    }
}

// Each type's loads and last values: 8 floats from element i, and one product in double.
struct F32Dots {
    static __m256 load8(const void* p, int64_t i) {
        return _mm256_loadu_ps(static_cast<const float*>(p) + i);
    }
    static double scalar(const void* a, const void* b, int64_t i) {
        return static_cast<double>(static_cast<const float*>(a)[i]) *
               static_cast<const float*>(b)[i];
    }
};
struct F16Dots {
    static __m256 load8(const void* p, int64_t i) {
        return _mm256_cvtph_ps(
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const fp16_t*>(p) + i)));
    }
    static double scalar(const void* a, const void* b, int64_t i) {
        return static_cast<double>(fp16_to_f32(static_cast<const fp16_t*>(a)[i]) *
                                   fp16_to_f32(static_cast<const fp16_t*>(b)[i]));
    }
};
struct BF16Dots {
    static __m256 load8(const void* p, int64_t i) {
        const __m128i h =
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const bf16_t*>(p) + i));
        return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    }
    static double scalar(const void* a, const void* b, int64_t i) {
        return static_cast<double>(bf16_to_f32(static_cast<const bf16_t*>(a)[i]) *
                                   bf16_to_f32(static_cast<const bf16_t*>(b)[i]));
    }
};
template <typename T, int kRows>
void float_dots(int64_t n, const void* x, const void* y, size_t stride, float* out) {
    dot_converted<kRows>(n, T::load8, T::scalar, x, y, stride, out);
}
template <typename T>
float float_dot(int64_t n, const void* x, const void* y) {
    float out;
    float_dots<T, 1>(n, x, y, 0, &out);
    return out;
}
}  // namespace

float vec_dot_f32(int64_t n, const void* x, const void* y) {
    return float_dot<F32Dots>(n, x, y);
}
float vec_dot_f16(int64_t n, const void* x, const void* y) {
    return float_dot<F16Dots>(n, x, y);
}
float vec_dot_bf16(int64_t n, const void* x, const void* y) {
    return float_dot<BF16Dots>(n, x, y);
}

// ---- 32-value blocks ----
// A block is only 32 values, so a sequential float sum over blocks would be the bottleneck
// (one multiply-add latency per 18 bytes). These keep eight float lanes instead, as llama.cpp
// does: the result differs from the reference's in the float rounding only (tested to a
// bound, not bit for bit).

namespace {
inline float half(fp16_t h) {
    return _cvtsh_ss(h);
}  // exact, like fp16_to_f32

inline float hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// One decoded weight block: its 32 values as bytes (signed, or unsigned 0..31), scale, offset.
struct Decoded {
    __m256i q;
    float d;
    float m;  // Q4_1 / Q5_1 only
};

struct DecodeQ4_0 {
    using Block = BlockQ4_0;
    using Act = BlockQ8_0;
    static constexpr bool kSigned = true, kOffset = false;
    static Decoded decode(const Block& b) {
        return {_mm256_sub_epi8(unpack_nibbles(b.qs), _mm256_set1_epi8(8)), half(b.d), 0.0f};
    }
};
struct DecodeQ4_1 {
    using Block = BlockQ4_1;
    using Act = BlockQ8_1;
    static constexpr bool kSigned = false, kOffset = true;
    static Decoded decode(const Block& b) { return {unpack_nibbles(b.qs), half(b.d), half(b.m)}; }
};
struct DecodeQ5_0 {
    using Block = BlockQ5_0;
    using Act = BlockQ8_0;
    static constexpr bool kSigned = true, kOffset = false;
    static Decoded decode(const Block& b) {
        const __m256i u = _mm256_or_si256(unpack_nibbles(b.qs), fifth_bits(b.qh));
        return {_mm256_sub_epi8(u, _mm256_set1_epi8(16)), half(b.d), 0.0f};
    }
};
struct DecodeQ5_1 {
    using Block = BlockQ5_1;
    using Act = BlockQ8_1;
    static constexpr bool kSigned = false, kOffset = true;
    static Decoded decode(const Block& b) {
        return {_mm256_or_si256(unpack_nibbles(b.qs), fifth_bits(b.qh)), half(b.d), half(b.m)};
    }
};
// IQ4_NL: the nibbles as Q4_0's, each looked up in the 16 levels (one pshufb).
inline __m256i iq4_levels(const uint8_t* qs) {
    const __m256i table =
        _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kIq4Levels)));
    return _mm256_shuffle_epi8(table, unpack_nibbles(qs));
}
struct DecodeIQ4_NL {
    using Block = BlockIQ4_NL;
    using Act = BlockQ8_0;
    static constexpr bool kSigned = true, kOffset = false;
    static Decoded decode(const Block& b) { return {iq4_levels(b.qs), half(b.d), 0.0f}; }
};
struct DecodeQ8_0 {
    using Block = BlockQ8_0;
    using Act = BlockQ8_0;
    static constexpr bool kSigned = true, kOffset = false;
    static Decoded decode(const Block& b) { return {load32(b.qs), half(b.d), 0.0f}; }
};

// R activation rows against one weight row: each block is decoded once and used R times.
// Per row the arithmetic is the same whatever R is: even blocks into one float accumulator,
// odd blocks into another, then their sum; the offsets' m * s summed apart and added last.
template <typename D, int R>
void dot_rows(int64_t n, const void* x, const void* y, size_t y_stride, float* out) {
    const auto* xb = blocks_of<typename D::Block>(x);
    const typename D::Act* yb[R];
    for (int r = 0; r < R; ++r) {
        yb[r] =
            reinterpret_cast<const typename D::Act*>(static_cast<const uint8_t*>(y) + r * y_stride);
    }
    __m256 acc[R][2];
    float offsets[R];
    for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps(), offsets[r] = 0.0f;
    for (int64_t b = 0; b < n / kQK; ++b) {
        const Decoded w = D::decode(xb[b]);
        for (int r = 0; r < R; ++r) {
            const typename D::Act& a = yb[r][b];
            const __m256i lanes =
                D::kSigned ? dot_i8_i8(w.q, load32(a.qs)) : dot_u8_i8(w.q, load32(a.qs));
            const float d = w.d * half(a.d);
            acc[r][b % 2] =
                _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(lanes), acc[r][b % 2]);
            if constexpr (D::kOffset) offsets[r] += w.m * half(a.s);
        }
    }
    for (int r = 0; r < R; ++r) {
        out[r] = hsum_ps(_mm256_add_ps(acc[r][0], acc[r][1]));
        if constexpr (D::kOffset) out[r] += offsets[r];
    }
}

template <typename D>
float dot_one(int64_t n, const void* x, const void* y) {
    float out;
    dot_rows<D, 1>(n, x, y, 0, &out);
    return out;
}
}  // namespace

float vec_dot_q4_0_q8_0(int64_t n, const void* x, const void* y) {
    return dot_one<DecodeQ4_0>(n, x, y);
}
float vec_dot_iq4_nl_q8_0(int64_t n, const void* x, const void* y) {
    return dot_one<DecodeIQ4_NL>(n, x, y);
}
void vec_dot4_iq4_nl_q8_0(int64_t n, const void* x, const void* y, size_t s, float* out) {
    dot_rows<DecodeIQ4_NL, 4>(n, x, y, s, out);
}
float vec_dot_q4_1_q8_1(int64_t n, const void* x, const void* y) {
    return dot_one<DecodeQ4_1>(n, x, y);
}
float vec_dot_q5_0_q8_0(int64_t n, const void* x, const void* y) {
    return dot_one<DecodeQ5_0>(n, x, y);
}
float vec_dot_q5_1_q8_1(int64_t n, const void* x, const void* y) {
    return dot_one<DecodeQ5_1>(n, x, y);
}
float vec_dot_q8_0_q8_0(int64_t n, const void* x, const void* y) {
    return dot_one<DecodeQ8_0>(n, x, y);
}

void vec_dot4_q4_0_q8_0(int64_t n, const void* x, const void* y, size_t s, float* out) {
    dot_rows<DecodeQ4_0, 4>(n, x, y, s, out);
}
void vec_dot4_q4_1_q8_1(int64_t n, const void* x, const void* y, size_t s, float* out) {
    dot_rows<DecodeQ4_1, 4>(n, x, y, s, out);
}
void vec_dot4_q5_0_q8_0(int64_t n, const void* x, const void* y, size_t s, float* out) {
    dot_rows<DecodeQ5_0, 4>(n, x, y, s, out);
}
void vec_dot4_q5_1_q8_1(int64_t n, const void* x, const void* y, size_t s, float* out) {
    dot_rows<DecodeQ5_1, 4>(n, x, y, s, out);
}
void vec_dot4_q8_0_q8_0(int64_t n, const void* x, const void* y, size_t s, float* out) {
    dot_rows<DecodeQ8_0, 4>(n, x, y, s, out);
}

// ---- K-quants: 256-value super-blocks against Q8_K ----
// A block is decoded once into eight vectors of 32 unsigned values (values 32i .. 32i+31)
// with a 16-bit scale for each half of 16; each activation row then needs only multiply-adds
// and its own exact integer corrections. Per row, the float steps are the reference's.

namespace {

struct KDecoded {
    __m256i q[8];
    alignas(32) int16_t scale[16];  // sub-block scale of values 16j .. 16j+15
    alignas(32) int16_t min[16];    // Q2_K: per 16 values; Q4_K / Q5_K: per 32 (twice); else 0
    float d, dmin;
};

// The scaled integer sum of one decoded block against one Q8_K block.
inline int scaled_sum(const KDecoded& w, const BlockQ8_K& a) {
    __m256i acc = _mm256_setzero_si256();
    for (int i = 0; i < 8; ++i) {
        acc = _mm256_add_epi32(acc, dot_u8_i8_scaled(w.q[i], load32(a.qs + 32 * i), w.scale[2 * i],
                                                     w.scale[2 * i + 1]));
    }
    return hsum_i32(acc);
}
// sum over j of v[j] * bsums[j]: sixteen i16 products, exact in i32.
inline int dot_with_bsums(const int16_t* v, const BlockQ8_K& a) {
    const __m256i values = _mm256_load_si256(reinterpret_cast<const __m256i*>(v));
    const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.bsums));
    return hsum_i32(_mm256_madd_epi16(values, bsums));
}

struct DecodeQ2_K {
    using Block = BlockQ2_K;
    static void decode(const Block& b, KDecoded* w) {
        x86::unpack_q2_k_values(b, w->q);
        for (int j = 0; j < 16; ++j) {
            w->scale[j] = static_cast<int16_t>(b.scales[j] & 0x0f);
            w->min[j] = static_cast<int16_t>(b.scales[j] >> 4);
        }
        w->d = fp16_to_f32(b.d), w->dmin = fp16_to_f32(b.dmin);
    }
    static float finish(const KDecoded& w, const BlockQ8_K& a, int scaled) {
        const int mins = dot_with_bsums(w.min, a);
        return a.d * w.d * static_cast<float>(scaled) - a.d * w.dmin * static_cast<float>(mins);
    }
};

// q = two bits - 4 + 4 * high bit; summed as u = two bits + 4 * high bit (0..7), the -4 comes
// back through the activations' block sums.
struct DecodeQ3_K {
    using Block = BlockQ3_K;
    static void decode(const Block& b, KDecoded* w) {
        x86::unpack_q3_k_values(b, w->q);
        for (int j = 0; j < 16; ++j) w->scale[j] = static_cast<int16_t>(q3_k_scale(b.scales, j));
        w->d = fp16_to_f32(b.d);
    }
    static float finish(const KDecoded& w, const BlockQ8_K& a, int scaled) {
        scaled -= 4 * dot_with_bsums(w.scale, a);
        return w.d * a.d * static_cast<float>(scaled);
    }
};

template <typename Block, bool kFifthBit>
struct DecodeQ4_K_like {
    using Type = Block;
    static void decode(const Block& b, KDecoded* w) {
        x86::unpack_q4_k_values<kFifthBit>(b, w->q);
        for (int j = 0; j < 8; ++j) {
            int scale, min;
            q4_k_scale_min(b.scales, j, &scale, &min);
            w->scale[2 * j] = w->scale[2 * j + 1] = static_cast<int16_t>(scale);
            w->min[2 * j] = w->min[2 * j + 1] = static_cast<int16_t>(min);
        }
        w->d = fp16_to_f32(b.d), w->dmin = fp16_to_f32(b.dmin);
    }
    static float finish(const KDecoded& w, const BlockQ8_K& a, int scaled) {
        const int mins = dot_with_bsums(w.min, a);  // each min twice: its two 16-value sums
        return w.d * a.d * static_cast<float>(scaled) - w.dmin * a.d * static_cast<float>(mins);
    }
};
struct DecodeQ4_K : DecodeQ4_K_like<BlockQ4_K, false> {
    using Block = BlockQ4_K;
};
struct DecodeQ5_K : DecodeQ4_K_like<BlockQ5_K, true> {
    using Block = BlockQ5_K;
};

// q = (4 low bits | 2 high bits << 4) - 32; summed unsigned, the -32 comes back through bsums.
struct DecodeQ6_K {
    using Block = BlockQ6_K;
    static void decode(const Block& b, KDecoded* w) {
        x86::unpack_q6_k_values(b, w->q);
        for (int j = 0; j < 16; ++j) w->scale[j] = b.scales[j];
        w->d = fp16_to_f32(b.d);
    }
    static float finish(const KDecoded& w, const BlockQ8_K& a, int scaled) {
        scaled -= 32 * dot_with_bsums(w.scale, a);
        return w.d * a.d * static_cast<float>(scaled);
    }
};

template <typename D, int R>
void k_dot_rows(int64_t n, const void* x, const void* y, size_t y_stride, float* out) {
    const auto* xb = blocks_of<typename D::Block>(x);
    float sum[R] = {};
    KDecoded w;
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        D::decode(xb[i], &w);
        for (int r = 0; r < R; ++r) {
            const BlockQ8_K& a =
                blocks_of<BlockQ8_K>(static_cast<const uint8_t*>(y) + r * y_stride)[i];
            sum[r] += D::finish(w, a, scaled_sum(w, a));
        }
    }
    for (int r = 0; r < R; ++r) out[r] = sum[r];
}

template <typename D>
float k_dot_one(int64_t n, const void* x, const void* y) {
    float out;
    k_dot_rows<D, 1>(n, x, y, 0, &out);
    return out;
}

}  // namespace

namespace {
// One activation row, Q4_K or Q5_K: decoding straight into the multiply-adds keeps everything
// in registers, about twice as fast as going through KDecoded for a single row. Same
// integer sums and float steps, so the same bits as the four-row path and the reference.
template <typename Block, bool kFifthBit>
float dot_q4_k_like_one_row(int64_t n, const void* x, const void* y) {
    float sum = 0;
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const Block& xb = blocks_of<Block>(x)[i];
        const BlockQ8_K& yb = blocks_of<BlockQ8_K>(y)[i];
        int scales[8], mins_of[8];
        for (int j = 0; j < 8; ++j) q4_k_scale_min(xb.scales, j, &scales[j], &mins_of[j]);
        __m256i acc = _mm256_setzero_si256();
        __m256i qh = _mm256_setzero_si256();
        if constexpr (kFifthBit) qh = load32(xb.qh);
        for (int c = 0; c < 4; ++c) {  // 64 values: sub-blocks 2c (low nibbles) and 2c + 1 (high)
            const __m256i raw = load32(xb.qs + 32 * c);
            __m256i lo = _mm256_and_si256(raw, _mm256_set1_epi8(0x0f));
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), _mm256_set1_epi8(0x0f));
            if constexpr (kFifthBit) {
                lo = _mm256_or_si256(lo, _mm256_slli_epi16(bit_of_bytes(qh, 2 * c), 4));
                hi = _mm256_or_si256(hi, _mm256_slli_epi16(bit_of_bytes(qh, 2 * c + 1), 4));
            }
            acc = _mm256_add_epi32(
                acc, dot_u8_i8_scaled(lo, load32(yb.qs + 64 * c), scales[2 * c], scales[2 * c]));
            acc = _mm256_add_epi32(acc, dot_u8_i8_scaled(hi, load32(yb.qs + 64 * c + 32),
                                                         scales[2 * c + 1], scales[2 * c + 1]));
        }
        int mins = 0;
        for (int j = 0; j < 8; ++j) mins += mins_of[j] * (yb.bsums[2 * j] + yb.bsums[2 * j + 1]);
        const int scaled = hsum_i32(acc);
        sum += fp16_to_f32(xb.d) * yb.d * static_cast<float>(scaled) -
               fp16_to_f32(xb.dmin) * yb.d * static_cast<float>(mins);
    }
    return sum;
}
}  // namespace

float vec_dot_q2_k_q8_k(int64_t n, const void* x, const void* y) {
    return k_dot_one<DecodeQ2_K>(n, x, y);
}
float vec_dot_q3_k_q8_k(int64_t n, const void* x, const void* y) {
    return k_dot_one<DecodeQ3_K>(n, x, y);
}
float vec_dot_q4_k_q8_k(int64_t n, const void* x, const void* y) {
    return dot_q4_k_like_one_row<BlockQ4_K, false>(n, x, y);
}
float vec_dot_q5_k_q8_k(int64_t n, const void* x, const void* y) {
    return dot_q4_k_like_one_row<BlockQ5_K, true>(n, x, y);
}
float vec_dot_q6_k_q8_k(int64_t n, const void* x, const void* y) {
    return k_dot_one<DecodeQ6_K>(n, x, y);
}

void vec_dot4_q2_k_q8_k(int64_t n, const void* x, const void* y, size_t s, float* out) {
    k_dot_rows<DecodeQ2_K, 4>(n, x, y, s, out);
}
void vec_dot4_q3_k_q8_k(int64_t n, const void* x, const void* y, size_t s, float* out) {
    k_dot_rows<DecodeQ3_K, 4>(n, x, y, s, out);
}
void vec_dot4_q4_k_q8_k(int64_t n, const void* x, const void* y, size_t s, float* out) {
    k_dot_rows<DecodeQ4_K, 4>(n, x, y, s, out);
}
void vec_dot4_q5_k_q8_k(int64_t n, const void* x, const void* y, size_t s, float* out) {
    k_dot_rows<DecodeQ5_K, 4>(n, x, y, s, out);
}
void vec_dot4_q6_k_q8_k(int64_t n, const void* x, const void* y, size_t s, float* out) {
    k_dot_rows<DecodeQ6_K, 4>(n, x, y, s, out);
}

// ---- The i-quants with 256-value super-blocks, against Q8_K ----
// Each sub-block of 32 becomes 32 signed bytes: IQ4_XS's nibbles looked up in the 16 levels
// (one pshufb), the grid types', IQ1's and the ternary types' as x86_grid_decode.inl decodes
// them. Then, per activation row, the activation's magnitude takes pmaddubsw's unsigned slot
// (up to Q8_K's 128) and the weight its sign (weights are -127..113: no negation overflows, no
// pair leaves 16 bits), and pmaddwd widens the pairs against the sub-block's scales. The
// integer sums are the reference's, so the results are its bits.

namespace {

using namespace x86_grid;

// The first 16 values' scale lo, the last 16's hi, as pmaddwd's int16 operand.
inline __m256i half_scales(int lo, int hi) {
    return _mm256_set_m128i(_mm_set1_epi16(static_cast<int16_t>(hi)),
                            _mm_set1_epi16(static_cast<int16_t>(lo)));
}

// IQ4_XS in the decoders' shape (x86_grid_decode.inl).
struct DecodeIQ4_XS {
    using Block = BlockIQ4_XS;
    static constexpr float kFactor = 1.0f;
    static float scale(const Block& b) { return half(b.d); }
    static __m256i values(const Block& b, int ib) { return iq4_levels(b.qs + 16 * ib); }
    static void scales(const Block& b, int ib, int& lo, int& hi) {
        lo = hi = iq4_xs_scale(b, ib) - 32;
    }
};

// R activation rows against one weight row of a grid type, each super-block decoded once.
template <typename D, int R>
void grid_rows(int64_t n, const void* x, const void* y, size_t y_stride, float* out) {
    float sum[R] = {};
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const auto& xb = blocks_of<typename D::Block>(x)[i];
        __m256i w[8], scales[8];
        for (int ib = 0; ib < 8; ++ib) {
            int lo, hi;
            w[ib] = D::values(xb, ib);
            D::scales(xb, ib, lo, hi);
            scales[ib] = half_scales(lo, hi);
        }
        const float d = D::scale(xb);
        for (int r = 0; r < R; ++r) {
            const BlockQ8_K& a =
                blocks_of<BlockQ8_K>(static_cast<const uint8_t*>(y) + r * y_stride)[i];
            __m256i acc = _mm256_setzero_si256();
            for (int ib = 0; ib < 8; ++ib) {
                const __m256i act = load32(a.qs + 32 * ib);
                const __m256i pairs =
                    _mm256_maddubs_epi16(_mm256_sign_epi8(act, act), _mm256_sign_epi8(w[ib], act));
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, scales[ib]));
            }
            sum[r] += d * a.d * static_cast<float>(hsum_i32(acc));
        }
    }
    for (int r = 0; r < R; ++r) out[r] = D::kFactor * sum[r];
}
template <typename D>
float grid_dot(int64_t n, const void* x, const void* y) {
    float out;
    grid_rows<D, 1>(n, x, y, 0, &out);
    return out;
}
template <typename D>
void grid_dot4(int64_t n, const void* x, const void* y, size_t s, float* out) {
    grid_rows<D, 4>(n, x, y, s, out);
}

}  // namespace

// Q8_0 and Q4_0 blocks to floats (how attention reads a quantized KV cache): d x q per value,
// one rounding, as the reference computes it.
void dequantize_row_q8_0(const void* in, float* out, int64_t n) {
    const auto* blocks = static_cast<const BlockQ8_0*>(in);
    for (int64_t b = 0; b < n / kQK; ++b, out += kQK) {
        const __m256 d = _mm256_set1_ps(fp16_to_f32(blocks[b].d));
        for (int j = 0; j < kQK; j += 8) {
            const __m128i q8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(blocks[b].qs + j));
            _mm256_storeu_ps(out + j,
                             _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q8))));
        }
    }
}
void dequantize_row_q4_0(const void* in, float* out, int64_t n) {
    const auto* blocks = static_cast<const BlockQ4_0*>(in);
    const __m128i low4 = _mm_set1_epi8(0x0f);
    const __m256i eight = _mm256_set1_epi32(8);
    const auto store8 = [&](float* to, __m128i nibbles, __m256 d) {  // the 8 low bytes
        const __m256i q = _mm256_sub_epi32(_mm256_cvtepu8_epi32(nibbles), eight);
        _mm256_storeu_ps(to, _mm256_mul_ps(_mm256_cvtepi32_ps(q), d));
    };
    for (int64_t b = 0; b < n / kQK; ++b, out += kQK) {
        const __m256 d = _mm256_set1_ps(fp16_to_f32(blocks[b].d));
        const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blocks[b].qs));
        const __m128i lo = _mm_and_si128(bytes, low4);                     // values 0..15
        const __m128i hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), low4);  // values 16..31
        store8(out, lo, d);
        store8(out + 8, _mm_srli_si128(lo, 8), d);
        store8(out + 16, hi, d);
        store8(out + 24, _mm_srli_si128(hi, 8), d);
    }
}

// F16 rows with F16C: vcvtph2ps is exact, vcvtps2ph rounds to nearest even as f32_to_fp16 does.
void dequantize_row_f16(const void* in, float* out, int64_t n) {
    const auto* h = static_cast<const fp16_t*>(in);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i,
                         _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i))));
    for (; i < n; ++i) out[i] = fp16_to_f32(h[i]);
}
void quantize_row_f16(const float* in, void* out, int64_t n) {
    auto* h = static_cast<fp16_t*>(out);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(h + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT));
    }
    for (; i < n; ++i) h[i] = f32_to_fp16(in[i]);
}

namespace {
struct Ymm {
    using type = __m256;
    static constexpr int kLanes = 8;
    static type zero() { return _mm256_setzero_ps(); }
    static type load(const float* p) { return _mm256_loadu_ps(p); }
    static void store(float* p, type v) { _mm256_storeu_ps(p, v); }
    static type splat(float x) { return _mm256_set1_ps(x); }
    static type fma(type a, type b, type c) { return _mm256_fmadd_ps(a, b, c); }
    static type load_f16(const uint16_t* p) {
        return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    }
    // Lane i = the sum of acc[i]'s lanes: pairs within 128-bit halves (unpack), then quads
    // (shuffle), then across the two halves.
    static type sum_lanes(const type* acc) {
        __m256 quads[2];
        for (int q = 0; q < 2; ++q) {
            __m256 pairs[2];
            for (int p = 0; p < 2; ++p) {
                const __m256 x = acc[4 * q + 2 * p], y = acc[4 * q + 2 * p + 1];
                pairs[p] = _mm256_add_ps(_mm256_unpacklo_ps(x, y), _mm256_unpackhi_ps(x, y));
            }
            quads[q] = _mm256_add_ps(_mm256_shuffle_ps(pairs[0], pairs[1], 0x44),
                                     _mm256_shuffle_ps(pairs[0], pairs[1], 0xEE));
        }
        return _mm256_add_ps(_mm256_permute2f128_ps(quads[0], quads[1], 0x20),
                             _mm256_permute2f128_ps(quads[0], quads[1], 0x31));
    }
};
}  // namespace

void matmul_f32(int m, int n, int k, const float* a, size_t lda, const float* b, size_t ldb,
                float* c, size_t ldc) {
    matmul_f32_simd<Ymm>(m, n, k, a, lda, b, ldb, c, ldc);
}
void dot_rows_f16(int m, int n, int k, const float* a, size_t lda, const uint16_t* b, size_t ldb,
                  float* c, size_t ldc) {
    dot_rows_f16_simd<Ymm>(m, n, k, a, lda, b, ldb, c, ldc);
}
void mad_rows_f16(int m, int n, int k, const float* a, size_t lda, const uint16_t* b, size_t ldb,
                  float* c, size_t ldc) {
    mad_rows_f16_simd<Ymm>(m, n, k, a, lda, b, ldb, c, ldc);
}

// This file's kernels, over the reference (registry.cpp: the set "avx2").
void register_kernels(KernelTable& t) {
    using T = TensorType;
    t.floats.matmul = matmul_f32;
    t.floats.dot_rows_f16 = dot_rows_f16;
    t.floats.mad_rows_f16 = mad_rows_f16;
    t[T::F16].dequantize_row = dequantize_row_f16;
    t[T::F16].quantize_row = quantize_row_f16;
    t[T::Q8_0].dequantize_row = dequantize_row_q8_0;  // a quantized KV cache's reads
    t[T::Q4_0].dequantize_row = dequantize_row_q4_0;
    t[T::F32].vec_dot = vec_dot_f32;
    t[T::F16].vec_dot = vec_dot_f16;
    t[T::BF16].vec_dot = vec_dot_bf16;
    t[T::F32].vec_dot4 = float_dots<F32Dots, 4>;
    t[T::F16].vec_dot4 = float_dots<F16Dots, 4>;
    t[T::BF16].vec_dot4 = float_dots<BF16Dots, 4>;
    t[T::Q4_0].vec_dot = vec_dot_q4_0_q8_0;
    t[T::Q4_1].vec_dot = vec_dot_q4_1_q8_1;
    t[T::Q5_0].vec_dot = vec_dot_q5_0_q8_0;
    t[T::Q5_1].vec_dot = vec_dot_q5_1_q8_1;
    t[T::Q8_0].vec_dot = vec_dot_q8_0_q8_0;
    t[T::Q2_K].vec_dot = vec_dot_q2_k_q8_k;
    t[T::Q3_K].vec_dot = vec_dot_q3_k_q8_k;
    t[T::Q4_K].vec_dot = vec_dot_q4_k_q8_k;
    t[T::Q5_K].vec_dot = vec_dot_q5_k_q8_k;
    t[T::Q6_K].vec_dot = vec_dot_q6_k_q8_k;
    t[T::Q4_0].vec_dot4 = vec_dot4_q4_0_q8_0;
    t[T::Q4_1].vec_dot4 = vec_dot4_q4_1_q8_1;
    t[T::Q5_0].vec_dot4 = vec_dot4_q5_0_q8_0;
    t[T::Q5_1].vec_dot4 = vec_dot4_q5_1_q8_1;
    t[T::Q8_0].vec_dot4 = vec_dot4_q8_0_q8_0;
    t[T::Q2_K].vec_dot4 = vec_dot4_q2_k_q8_k;
    t[T::Q3_K].vec_dot4 = vec_dot4_q3_k_q8_k;
    t[T::Q4_K].vec_dot4 = vec_dot4_q4_k_q8_k;
    t[T::Q5_K].vec_dot4 = vec_dot4_q5_k_q8_k;
    t[T::Q6_K].vec_dot4 = vec_dot4_q6_k_q8_k;
    t[T::IQ4_NL].vec_dot = vec_dot_iq4_nl_q8_0;
    t[T::IQ4_NL].vec_dot4 = vec_dot4_iq4_nl_q8_0;
    t[T::IQ4_XS].vec_dot = grid_dot<DecodeIQ4_XS>;
    t[T::IQ4_XS].vec_dot4 = grid_dot4<DecodeIQ4_XS>;
    t[T::IQ2_XXS].vec_dot = grid_dot<DecodeIQ2_XXS>;
    t[T::IQ2_XXS].vec_dot4 = grid_dot4<DecodeIQ2_XXS>;
    t[T::IQ2_XS].vec_dot = grid_dot<DecodeIQ2_XS>;
    t[T::IQ2_XS].vec_dot4 = grid_dot4<DecodeIQ2_XS>;
    t[T::IQ2_S].vec_dot = grid_dot<DecodeIQ2_S>;
    t[T::IQ2_S].vec_dot4 = grid_dot4<DecodeIQ2_S>;
    t[T::IQ3_XXS].vec_dot = grid_dot<DecodeIQ3_XXS>;
    t[T::IQ3_XXS].vec_dot4 = grid_dot4<DecodeIQ3_XXS>;
    t[T::IQ3_S].vec_dot = grid_dot<DecodeIQ3_S>;
    t[T::IQ3_S].vec_dot4 = grid_dot4<DecodeIQ3_S>;
    t[T::IQ1_S].vec_dot = grid_dot<DecodeIQ1_S>;
    t[T::IQ1_S].vec_dot4 = grid_dot4<DecodeIQ1_S>;
    t[T::IQ1_M].vec_dot = grid_dot<DecodeIQ1_M>;
    t[T::IQ1_M].vec_dot4 = grid_dot4<DecodeIQ1_M>;
    t[T::TQ1_0].vec_dot = grid_dot<DecodeTQ1_0>;
    t[T::TQ1_0].vec_dot4 = grid_dot4<DecodeTQ1_0>;
    t[T::TQ2_0].vec_dot = grid_dot<DecodeTQ2_0>;
    t[T::TQ2_0].vec_dot4 = grid_dot4<DecodeTQ2_0>;
}

}  // namespace ember::avx2
