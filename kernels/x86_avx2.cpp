// AVX2 (+FMA, F16C) dot products. Compiled with -mavx2 -mfma -mf16c; only called when the
// CPU reports those features.
//
// Quantized types: the integer work runs 32 values at a time (maddubs: u8 x i8 pairs -> i16,
// madd: x sub-block scale -> i32). For the K-quants each block's integer sum is reduced
// exactly and scaled with the same float operations, in the same order, as the scalar
// reference: bit-identical results. The 32-value types accumulate in float lanes (see below).
// Float types accumulate in double, as the reference does.
#include <immintrin.h>

#include "kernels/blocks.h"
#include "kernels/k_quant_scales.h"
#include "kernels/simd_kernels.h"

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

// 16 bytes of nibbles -> 32 bytes: low nibbles (values 0..15), then high nibbles (16..31).
inline __m256i unpack_nibbles(const uint8_t* qs) {
    const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
    const __m256i both = _mm256_set_m128i(_mm_srli_epi16(raw, 4), raw);
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0f));
}

// The 32 bits of qh as bytes: 0x10 where bit j is set, else 0 (the fifth bit of Q5 values).
inline __m256i fifth_bits(const uint8_t qh_bytes[4]) {
    uint32_t qh;
    std::memcpy(&qh, qh_bytes, 4);
    const __m256i spread = _mm256_shuffle_epi8(
        _mm256_set1_epi32(static_cast<int>(qh)),
        _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0));
    const __m256i bit = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ull));
    const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
    return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}

// Bit b of every byte, as 0 or 1.
inline __m256i bit_of_bytes(__m256i v, int b) {
    return _mm256_and_si256(_mm256_srli_epi16(v, b), _mm256_set1_epi8(1));
}
// Bits b, b+1 of every byte, as 0..3.
inline __m256i two_bits_of_bytes(__m256i v, int b) {
    return _mm256_and_si256(_mm256_srli_epi16(v, b), _mm256_set1_epi8(3));
}

template <typename Block>
const Block* blocks_of(const void* p) {
    return static_cast<const Block*>(p);
}

}  // namespace

// ---- floats ----

float vec_dot_f32(int64_t n, const void* x, const void* y) {
    const auto* a = static_cast<const float*>(x);
    const auto* b = static_cast<const float*>(y);
    __m256d acc0 = _mm256_setzero_pd(), acc1 = _mm256_setzero_pd();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 va = _mm256_loadu_ps(a + i), vb = _mm256_loadu_ps(b + i);
        acc0 = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(va)),
                               _mm256_cvtps_pd(_mm256_castps256_ps128(vb)), acc0);
        acc1 = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(va, 1)),
                               _mm256_cvtps_pd(_mm256_extractf128_ps(vb, 1)), acc1);
    }
    double sum = hsum_f64(_mm256_add_pd(acc0, acc1));
    for (; i < n; ++i) sum += static_cast<double>(a[i]) * b[i];
    return static_cast<float>(sum);
}

namespace {
// Shared by F16 and BF16: load 8 values as floats, accumulate products in double.
template <typename Load8>
float dot_converted(int64_t n, Load8 load8, float (*scalar)(const void*, const void*, int64_t),
                    const void* x, const void* y) {
    __m256d acc0 = _mm256_setzero_pd(), acc1 = _mm256_setzero_pd();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 va = load8(x, i), vb = load8(y, i);
        acc0 = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(va)),
                               _mm256_cvtps_pd(_mm256_castps256_ps128(vb)), acc0);
        acc1 = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(va, 1)),
                               _mm256_cvtps_pd(_mm256_extractf128_ps(vb, 1)), acc1);
    }
    double sum = hsum_f64(_mm256_add_pd(acc0, acc1));
    for (; i < n; ++i) sum += static_cast<double>(scalar(x, y, i));
    return static_cast<float>(sum);
}
}  // namespace

float vec_dot_f16(int64_t n, const void* x, const void* y) {
    return dot_converted(
        n,
        [](const void* p, int64_t i) {
            return _mm256_cvtph_ps(_mm_loadu_si128(
                reinterpret_cast<const __m128i*>(static_cast<const fp16_t*>(p) + i)));
        },
        [](const void* a, const void* b, int64_t i) {
            return fp16_to_f32(static_cast<const fp16_t*>(a)[i]) *
                   fp16_to_f32(static_cast<const fp16_t*>(b)[i]);
        },
        x, y);
}

float vec_dot_bf16(int64_t n, const void* x, const void* y) {
    return dot_converted(
        n,
        [](const void* p, int64_t i) {
            const __m128i h = _mm_loadu_si128(
                reinterpret_cast<const __m128i*>(static_cast<const bf16_t*>(p) + i));
            return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
        },
        [](const void* a, const void* b, int64_t i) {
            return bf16_to_f32(static_cast<const bf16_t*>(a)[i]) *
                   bf16_to_f32(static_cast<const bf16_t*>(b)[i]);
        },
        x, y);
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

// sum over blocks of d(b) * lanes(b), with lanes(b) the eight i32 partial sums of block b.
template <typename LanesAndScale>
float accumulate_blocks(int64_t n_blocks, LanesAndScale&& block) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t b = 0;
    for (; b + 2 <= n_blocks; b += 2) {
        float d0, d1;
        const __m256i l0 = block(b, &d0), l1 = block(b + 1, &d1);
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(d0), _mm256_cvtepi32_ps(l0), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_set1_ps(d1), _mm256_cvtepi32_ps(l1), acc1);
    }
    if (b < n_blocks) {
        float d0;
        const __m256i l0 = block(b, &d0);
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(d0), _mm256_cvtepi32_ps(l0), acc0);
    }
    return hsum_ps(_mm256_add_ps(acc0, acc1));
}
}  // namespace

float vec_dot_q4_0_q8_0(int64_t n, const void* x, const void* y) {
    const auto* xb = blocks_of<BlockQ4_0>(x);
    const auto* yb = blocks_of<BlockQ8_0>(y);
    return accumulate_blocks(n / kQK, [&](int64_t b, float* d) {
        *d = half(xb[b].d) * half(yb[b].d);
        const __m256i q = _mm256_sub_epi8(unpack_nibbles(xb[b].qs), _mm256_set1_epi8(8));
        return dot_i8_i8(q, load32(yb[b].qs));
    });
}

float vec_dot_q4_1_q8_1(int64_t n, const void* x, const void* y) {
    const auto* xb = blocks_of<BlockQ4_1>(x);
    const auto* yb = blocks_of<BlockQ8_1>(y);
    float offsets = 0;  // sum of m * s: the offsets' share
    const float scaled = accumulate_blocks(n / kQK, [&](int64_t b, float* d) {
        *d = half(xb[b].d) * half(yb[b].d);
        offsets += half(xb[b].m) * half(yb[b].s);
        return dot_u8_i8(unpack_nibbles(xb[b].qs), load32(yb[b].qs));
    });
    return scaled + offsets;
}

float vec_dot_q5_0_q8_0(int64_t n, const void* x, const void* y) {
    const auto* xb = blocks_of<BlockQ5_0>(x);
    const auto* yb = blocks_of<BlockQ8_0>(y);
    return accumulate_blocks(n / kQK, [&](int64_t b, float* d) {
        *d = half(xb[b].d) * half(yb[b].d);
        const __m256i u = _mm256_or_si256(unpack_nibbles(xb[b].qs), fifth_bits(xb[b].qh));
        return dot_i8_i8(_mm256_sub_epi8(u, _mm256_set1_epi8(16)), load32(yb[b].qs));
    });
}

float vec_dot_q5_1_q8_1(int64_t n, const void* x, const void* y) {
    const auto* xb = blocks_of<BlockQ5_1>(x);
    const auto* yb = blocks_of<BlockQ8_1>(y);
    float offsets = 0;
    const float scaled = accumulate_blocks(n / kQK, [&](int64_t b, float* d) {
        *d = half(xb[b].d) * half(yb[b].d);
        offsets += half(xb[b].m) * half(yb[b].s);
        const __m256i u = _mm256_or_si256(unpack_nibbles(xb[b].qs), fifth_bits(xb[b].qh));
        return dot_u8_i8(u, load32(yb[b].qs));
    });
    return scaled + offsets;
}

float vec_dot_q8_0_q8_0(int64_t n, const void* x, const void* y) {
    const auto* xb = blocks_of<BlockQ8_0>(x);
    const auto* yb = blocks_of<BlockQ8_0>(y);
    return accumulate_blocks(n / kQK, [&](int64_t b, float* d) {
        *d = half(xb[b].d) * half(yb[b].d);
        return dot_i8_i8(load32(xb[b].qs), load32(yb[b].qs));
    });
}

// ---- K-quants: 256-value super-blocks against Q8_K ----

float vec_dot_q2_k_q8_k(int64_t n, const void* x, const void* y) {
    float sum = 0;
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const BlockQ2_K& xb = blocks_of<BlockQ2_K>(x)[i];
        const BlockQ8_K& yb = blocks_of<BlockQ8_K>(y)[i];
        __m256i acc = _mm256_setzero_si256();
        for (int half = 0; half < 2; ++half) {
            const __m256i q = load32(xb.qs + 32 * half);
            for (int k = 0; k < 4; ++k) {
                const int j = 8 * half + 2 * k;  // sub-blocks j and j + 1
                acc = _mm256_add_epi32(
                    acc, dot_u8_i8_scaled(two_bits_of_bytes(q, 2 * k),
                                          load32(yb.qs + 128 * half + 32 * k), xb.scales[j] & 0x0f,
                                          xb.scales[j + 1] & 0x0f));
            }
        }
        int mins = 0;
        for (int j = 0; j < 16; ++j) mins += (xb.scales[j] >> 4) * yb.bsums[j];
        const int scaled = hsum_i32(acc);
        sum += yb.d * fp16_to_f32(xb.d) * static_cast<float>(scaled) -
               yb.d * fp16_to_f32(xb.dmin) * static_cast<float>(mins);
    }
    return sum;
}

// q = two_bits - 4 + 4 * high_bit; summed as u = two_bits + 4 * high_bit (0..7), then the
// -4 comes back through the activations' block sums.
float vec_dot_q3_k_q8_k(int64_t n, const void* x, const void* y) {
    float sum = 0;
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const BlockQ3_K& xb = blocks_of<BlockQ3_K>(x)[i];
        const BlockQ8_K& yb = blocks_of<BlockQ8_K>(y)[i];
        int scales[16];
        for (int j = 0; j < 16; ++j) scales[j] = q3_k_scale(xb.scales, j);
        const __m256i hmask = load32(xb.hmask);
        __m256i acc = _mm256_setzero_si256();
        for (int half = 0; half < 2; ++half) {
            const __m256i q = load32(xb.qs + 32 * half);
            for (int k = 0; k < 4; ++k) {
                const int j = 8 * half + 2 * k;
                const __m256i high = _mm256_slli_epi16(bit_of_bytes(hmask, 4 * half + k), 2);
                const __m256i u = _mm256_or_si256(two_bits_of_bytes(q, 2 * k), high);
                acc = _mm256_add_epi32(acc, dot_u8_i8_scaled(u, load32(yb.qs + 128 * half + 32 * k),
                                                             scales[j], scales[j + 1]));
            }
        }
        int offset = 0;
        for (int j = 0; j < 16; ++j) offset += scales[j] * yb.bsums[j];
        const int scaled = hsum_i32(acc) - 4 * offset;
        sum += fp16_to_f32(xb.d) * yb.d * static_cast<float>(scaled);
    }
    return sum;
}

namespace {
// Q4_K and Q5_K share everything but the fifth bit.
template <typename Block, bool kFifthBit>
float dot_q4_k_like(int64_t n, const void* x, const void* y) {
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

float vec_dot_q4_k_q8_k(int64_t n, const void* x, const void* y) {
    return dot_q4_k_like<BlockQ4_K, false>(n, x, y);
}
float vec_dot_q5_k_q8_k(int64_t n, const void* x, const void* y) {
    return dot_q4_k_like<BlockQ5_K, true>(n, x, y);
}

// q = (4 low bits | 2 high bits << 4) - 32; summed unsigned, the -32 comes back through bsums.
float vec_dot_q6_k_q8_k(int64_t n, const void* x, const void* y) {
    float sum = 0;
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const BlockQ6_K& xb = blocks_of<BlockQ6_K>(x)[i];
        const BlockQ8_K& yb = blocks_of<BlockQ8_K>(y)[i];
        const __m256i low_mask = _mm256_set1_epi8(0x0f);
        __m256i acc = _mm256_setzero_si256();
        for (int half = 0; half < 2; ++half) {
            const __m256i ql0 = load32(xb.ql + 64 * half), ql1 = load32(xb.ql + 64 * half + 32);
            const __m256i qh = load32(xb.qh + 32 * half);
            const __m256i q[4] = {
                _mm256_or_si256(_mm256_and_si256(ql0, low_mask),
                                _mm256_slli_epi16(two_bits_of_bytes(qh, 0), 4)),
                _mm256_or_si256(_mm256_and_si256(ql1, low_mask),
                                _mm256_slli_epi16(two_bits_of_bytes(qh, 2), 4)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low_mask),
                                _mm256_slli_epi16(two_bits_of_bytes(qh, 4), 4)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low_mask),
                                _mm256_slli_epi16(two_bits_of_bytes(qh, 6), 4)),
            };
            for (int k = 0; k < 4; ++k) {
                const int j = 8 * half + 2 * k;
                acc = _mm256_add_epi32(
                    acc, dot_u8_i8_scaled(q[k], load32(yb.qs + 128 * half + 32 * k), xb.scales[j],
                                          xb.scales[j + 1]));
            }
        }
        int offset = 0;
        for (int j = 0; j < 16; ++j) offset += xb.scales[j] * yb.bsums[j];
        const int scaled = hsum_i32(acc) - 32 * offset;
        sum += fp16_to_f32(xb.d) * yb.d * static_cast<float>(scaled);
    }
    return sum;
}

}  // namespace ember::avx2
