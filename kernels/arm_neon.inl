// NEON dot products for aarch64. Compiled twice (arm_neon.cpp and arm_neon_dotprod.cpp): plain
// (namespace ember::neon) and with the dot-product extension (ember::neon_dotprod, built with
// +dotprod and used only when the CPU reports it). Same structure as the AVX2 file: K-quants
// reduce each block's integer sum exactly and are bit-identical to the reference; 32-value
// types sum in float lanes; float types accumulate in double.
#include <arm_neon.h>

#include <cstring>

#include "kernels/blocks.h"
#include "kernels/k_quant_scales.h"
#include "kernels/matmul_f32_tile.inl"
#include "kernels/simd_kernels.h"

#ifndef EMBER_NEON_NAMESPACE
#define EMBER_NEON_NAMESPACE neon
#endif

namespace ember::EMBER_NEON_NAMESPACE {
namespace {

// Four i32 partial sums of a . b over 16 signed bytes, added to acc.
inline int32x4_t dot16(int32x4_t acc, int8x16_t a, int8x16_t b) {
#if defined(__ARM_FEATURE_DOTPROD)
    return vdotq_s32(acc, a, b);
#else
    const int16x8_t lo = vmull_s8(vget_low_s8(a), vget_low_s8(b));
    const int16x8_t hi = vmull_high_s8(a, b);
    return vaddq_s32(acc, vaddq_s32(vpaddlq_s16(lo), vpaddlq_s16(hi)));
#endif
}
inline int32_t dot16_sum(int8x16_t a, int8x16_t b) {
    return vaddvq_s32(dot16(vdupq_n_s32(0), a, b));
}

inline int8x16_t load16(const void* p) {
    return vld1q_s8(static_cast<const int8_t*>(p));
}
inline uint8x16_t load16u(const void* p) {
    return vld1q_u8(static_cast<const uint8_t*>(p));
}

// Bit b of every byte (0 or 1), and bits b, b+1 (0..3).
inline uint8x16_t bit_of(uint8x16_t v, int b) {
    return vandq_u8(vshlq_u8(v, vdupq_n_s8(static_cast<int8_t>(-b))), vdupq_n_u8(1));
}
inline uint8x16_t two_bits_of(uint8x16_t v, int b) {
    return vandq_u8(vshlq_u8(v, vdupq_n_s8(static_cast<int8_t>(-b))), vdupq_n_u8(3));
}

// Bits 16k .. 16k+15 of qh as bytes: 0x10 where set.
inline uint8x16_t fifth_bits16(uint32_t qh, int k) {
    const uint8_t b0 = static_cast<uint8_t>(qh >> (16 * k)),
                  b1 = static_cast<uint8_t>(qh >> (16 * k + 8));
    const uint8x16_t bytes = vcombine_u8(vdup_n_u8(b0), vdup_n_u8(b1));
    const uint8x16_t bit = vreinterpretq_u8_u64(vdupq_n_u64(0x8040201008040201ull));
    return vandq_u8(vtstq_u8(bytes, bit), vdupq_n_u8(0x10));
}

template <typename Block>
const Block* blocks_of(const void* p) {
    return static_cast<const Block*>(p);
}

// sum over blocks of d(b) * lanes(b), four float lanes.
template <typename LanesAndScale>
float accumulate_blocks(int64_t n_blocks, LanesAndScale&& block) {
    float32x4_t acc0 = vdupq_n_f32(0), acc1 = vdupq_n_f32(0);
    int64_t b = 0;
    for (; b + 2 <= n_blocks; b += 2) {
        float d0, d1;
        const int32x4_t l0 = block(b, &d0), l1 = block(b + 1, &d1);
        acc0 = vfmaq_n_f32(acc0, vcvtq_f32_s32(l0), d0);
        acc1 = vfmaq_n_f32(acc1, vcvtq_f32_s32(l1), d1);
    }
    if (b < n_blocks) {
        float d0;
        acc0 = vfmaq_n_f32(acc0, vcvtq_f32_s32(block(b, &d0)), d0);
    }
    return vaddvq_f32(vaddq_f32(acc0, acc1));
}

}  // namespace

// ---- floats: products accumulated in double ----

namespace {
inline float64x2_t fma_halves(float64x2_t acc, float32x4_t a, float32x4_t b, bool high) {
    return high ? vfmaq_f64(acc, vcvt_high_f64_f32(a), vcvt_high_f64_f32(b))
                : vfmaq_f64(acc, vcvt_f64_f32(vget_low_f32(a)), vcvt_f64_f32(vget_low_f32(b)));
}
template <typename Load4, typename Scalar>
float dot_as_double(int64_t n, Load4 load4, Scalar scalar) {
    float64x2_t acc0 = vdupq_n_f64(0), acc1 = vdupq_n_f64(0);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        float32x4_t a, b;
        load4(i, &a, &b);
        acc0 = fma_halves(acc0, a, b, false);
        acc1 = fma_halves(acc1, a, b, true);
    }
    double sum = vaddvq_f64(vaddq_f64(acc0, acc1));
    for (; i < n; ++i) sum += scalar(i);
    return static_cast<float>(sum);
}
}  // namespace

float vec_dot_f32(int64_t n, const void* x, const void* y) {
    const auto* a = static_cast<const float*>(x);
    const auto* b = static_cast<const float*>(y);
    return dot_as_double(
        n,
        [&](int64_t i, float32x4_t* va, float32x4_t* vb) {
            *va = vld1q_f32(a + i), *vb = vld1q_f32(b + i);
        },
        [&](int64_t i) { return static_cast<double>(a[i]) * b[i]; });
}

float vec_dot_f16(int64_t n, const void* x, const void* y) {
    const auto* a = static_cast<const fp16_t*>(x);
    const auto* b = static_cast<const fp16_t*>(y);
    return dot_as_double(
        n,
        [&](int64_t i, float32x4_t* va, float32x4_t* vb) {
            *va = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(a + i)));
            *vb = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(b + i)));
        },
        [&](int64_t i) { return static_cast<double>(fp16_to_f32(a[i])) * fp16_to_f32(b[i]); });
}

float vec_dot_bf16(int64_t n, const void* x, const void* y) {
    const auto* a = static_cast<const bf16_t*>(x);
    const auto* b = static_cast<const bf16_t*>(y);
    return dot_as_double(
        n,
        [&](int64_t i, float32x4_t* va, float32x4_t* vb) {
            *va = vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(a + i), 16));
            *vb = vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(b + i), 16));
        },
        [&](int64_t i) { return static_cast<double>(bf16_to_f32(a[i])) * bf16_to_f32(b[i]); });
}

// ---- 32-value blocks ----

namespace {
// The block's 32 nibbles as signed bytes minus `offset`: values 0..15, then 16..31.
inline void nibbles(const uint8_t* qs, int8x16_t* lo, int8x16_t* hi) {
    const uint8x16_t raw = load16u(qs);
    *lo = vreinterpretq_s8_u8(vandq_u8(raw, vdupq_n_u8(0x0f)));
    *hi = vreinterpretq_s8_u8(vshrq_n_u8(raw, 4));
}
inline int32x4_t dot32(const int8x16_t q[2], const int8_t* y) {
    return dot16(dot16(vdupq_n_s32(0), q[0], load16(y)), q[1], load16(y + 16));
}
}  // namespace

float vec_dot_q4_0_q8_0(int64_t n, const void* x, const void* y) {
    const auto* xb = blocks_of<BlockQ4_0>(x);
    const auto* yb = blocks_of<BlockQ8_0>(y);
    return accumulate_blocks(n / kQK, [&](int64_t b, float* d) {
        *d = fp16_to_f32(xb[b].d) * fp16_to_f32(yb[b].d);
        int8x16_t q[2];
        nibbles(xb[b].qs, &q[0], &q[1]);
        q[0] = vsubq_s8(q[0], vdupq_n_s8(8));
        q[1] = vsubq_s8(q[1], vdupq_n_s8(8));
        return dot32(q, yb[b].qs);
    });
}

float vec_dot_q4_1_q8_1(int64_t n, const void* x, const void* y) {
    const auto* xb = blocks_of<BlockQ4_1>(x);
    const auto* yb = blocks_of<BlockQ8_1>(y);
    float offsets = 0;
    const float scaled = accumulate_blocks(n / kQK, [&](int64_t b, float* d) {
        *d = fp16_to_f32(xb[b].d) * fp16_to_f32(yb[b].d);
        offsets += fp16_to_f32(xb[b].m) * fp16_to_f32(yb[b].s);
        int8x16_t q[2];
        nibbles(xb[b].qs, &q[0], &q[1]);
        return dot32(q, yb[b].qs);
    });
    return scaled + offsets;
}

namespace {
template <typename Block>
void five_bit_values(const Block& block, int8x16_t q[2]) {
    uint32_t qh;
    std::memcpy(&qh, block.qh, 4);
    nibbles(block.qs, &q[0], &q[1]);
    q[0] = vorrq_s8(q[0], vreinterpretq_s8_u8(fifth_bits16(qh, 0)));
    q[1] = vorrq_s8(q[1], vreinterpretq_s8_u8(fifth_bits16(qh, 1)));
}
}  // namespace

float vec_dot_q5_0_q8_0(int64_t n, const void* x, const void* y) {
    const auto* xb = blocks_of<BlockQ5_0>(x);
    const auto* yb = blocks_of<BlockQ8_0>(y);
    return accumulate_blocks(n / kQK, [&](int64_t b, float* d) {
        *d = fp16_to_f32(xb[b].d) * fp16_to_f32(yb[b].d);
        int8x16_t q[2];
        five_bit_values(xb[b], q);
        q[0] = vsubq_s8(q[0], vdupq_n_s8(16));
        q[1] = vsubq_s8(q[1], vdupq_n_s8(16));
        return dot32(q, yb[b].qs);
    });
}

float vec_dot_q5_1_q8_1(int64_t n, const void* x, const void* y) {
    const auto* xb = blocks_of<BlockQ5_1>(x);
    const auto* yb = blocks_of<BlockQ8_1>(y);
    float offsets = 0;
    const float scaled = accumulate_blocks(n / kQK, [&](int64_t b, float* d) {
        *d = fp16_to_f32(xb[b].d) * fp16_to_f32(yb[b].d);
        offsets += fp16_to_f32(xb[b].m) * fp16_to_f32(yb[b].s);
        int8x16_t q[2];
        five_bit_values(xb[b], q);
        return dot32(q, yb[b].qs);
    });
    return scaled + offsets;
}

float vec_dot_q8_0_q8_0(int64_t n, const void* x, const void* y) {
    const auto* xb = blocks_of<BlockQ8_0>(x);
    const auto* yb = blocks_of<BlockQ8_0>(y);
    return accumulate_blocks(n / kQK, [&](int64_t b, float* d) {
        *d = fp16_to_f32(xb[b].d) * fp16_to_f32(yb[b].d);
        const int8x16_t q[2] = {load16(xb[b].qs), load16(xb[b].qs + 16)};
        return dot32(q, yb[b].qs);
    });
}

// ---- K-quants: exact integer sums per block, the reference's float steps ----

float vec_dot_q2_k_q8_k(int64_t n, const void* x, const void* y) {
    float sum = 0;
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const BlockQ2_K& xb = blocks_of<BlockQ2_K>(x)[i];
        const BlockQ8_K& yb = blocks_of<BlockQ8_K>(y)[i];
        int scaled = 0, mins = 0;
        for (int half = 0; half < 2; ++half) {
            for (int part = 0; part < 2; ++part) {  // bytes 0..15 and 16..31 of the half's 32
                const uint8x16_t q = load16u(xb.qs + 32 * half + 16 * part);
                for (int k = 0; k < 4; ++k) {
                    const int j = 8 * half + 2 * k + part;  // the sub-block of these 16 values
                    const int dot = dot16_sum(vreinterpretq_s8_u8(two_bits_of(q, 2 * k)),
                                              load16(yb.qs + 128 * half + 32 * k + 16 * part));
                    scaled += (xb.scales[j] & 0x0f) * dot;
                }
            }
        }
        for (int j = 0; j < 16; ++j) mins += (xb.scales[j] >> 4) * yb.bsums[j];
        sum += yb.d * fp16_to_f32(xb.d) * static_cast<float>(scaled) -
               yb.d * fp16_to_f32(xb.dmin) * static_cast<float>(mins);
    }
    return sum;
}

float vec_dot_q3_k_q8_k(int64_t n, const void* x, const void* y) {
    float sum = 0;
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const BlockQ3_K& xb = blocks_of<BlockQ3_K>(x)[i];
        const BlockQ8_K& yb = blocks_of<BlockQ8_K>(y)[i];
        int scaled = 0;
        for (int half = 0; half < 2; ++half) {
            for (int part = 0; part < 2; ++part) {
                const uint8x16_t q = load16u(xb.qs + 32 * half + 16 * part);
                const uint8x16_t hm = load16u(xb.hmask + 16 * part);
                for (int k = 0; k < 4; ++k) {
                    const int j = 8 * half + 2 * k + part;
                    // q = two bits - 4 unless the high bit is set
                    const uint8x16_t u =
                        vorrq_u8(two_bits_of(q, 2 * k), vshlq_n_u8(bit_of(hm, 4 * half + k), 2));
                    const int8x16_t v = vsubq_s8(vreinterpretq_s8_u8(u), vdupq_n_s8(4));
                    scaled += q3_k_scale(xb.scales, j) *
                              dot16_sum(v, load16(yb.qs + 128 * half + 32 * k + 16 * part));
                }
            }
        }
        sum += fp16_to_f32(xb.d) * yb.d * static_cast<float>(scaled);
    }
    return sum;
}

namespace {
template <typename Block, bool kFifthBit>
float dot_q4_k_like(int64_t n, const void* x, const void* y) {
    float sum = 0;
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const Block& xb = blocks_of<Block>(x)[i];
        const BlockQ8_K& yb = blocks_of<BlockQ8_K>(y)[i];
        int scaled = 0, mins = 0;
        for (int c = 0; c < 4; ++c) {
            int scale_lo, min_lo, scale_hi, min_hi;
            q4_k_scale_min(xb.scales, 2 * c, &scale_lo, &min_lo);
            q4_k_scale_min(xb.scales, 2 * c + 1, &scale_hi, &min_hi);
            int dot_lo = 0, dot_hi = 0;
            for (int part = 0; part < 2; ++part) {
                const uint8x16_t raw = load16u(xb.qs + 32 * c + 16 * part);
                uint8x16_t lo = vandq_u8(raw, vdupq_n_u8(0x0f)), hi = vshrq_n_u8(raw, 4);
                if constexpr (kFifthBit) {
                    const uint8x16_t qh = load16u(xb.qh + 16 * part);
                    lo = vorrq_u8(lo, vshlq_n_u8(bit_of(qh, 2 * c), 4));
                    hi = vorrq_u8(hi, vshlq_n_u8(bit_of(qh, 2 * c + 1), 4));
                }
                dot_lo += dot16_sum(vreinterpretq_s8_u8(lo), load16(yb.qs + 64 * c + 16 * part));
                dot_hi +=
                    dot16_sum(vreinterpretq_s8_u8(hi), load16(yb.qs + 64 * c + 32 + 16 * part));
            }
            scaled += scale_lo * dot_lo + scale_hi * dot_hi;
            mins += min_lo * (yb.bsums[4 * c] + yb.bsums[4 * c + 1]) +
                    min_hi * (yb.bsums[4 * c + 2] + yb.bsums[4 * c + 3]);
        }
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

float vec_dot_q6_k_q8_k(int64_t n, const void* x, const void* y) {
    float sum = 0;
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const BlockQ6_K& xb = blocks_of<BlockQ6_K>(x)[i];
        const BlockQ8_K& yb = blocks_of<BlockQ8_K>(y)[i];
        int scaled = 0;
        for (int half = 0; half < 2; ++half) {
            for (int part = 0; part < 2; ++part) {
                const uint8x16_t ql0 = load16u(xb.ql + 64 * half + 16 * part);
                const uint8x16_t ql1 = load16u(xb.ql + 64 * half + 32 + 16 * part);
                const uint8x16_t qh = load16u(xb.qh + 32 * half + 16 * part);
                const uint8x16_t low_mask = vdupq_n_u8(0x0f);
                const uint8x16_t q[4] = {
                    vorrq_u8(vandq_u8(ql0, low_mask), vshlq_n_u8(two_bits_of(qh, 0), 4)),
                    vorrq_u8(vandq_u8(ql1, low_mask), vshlq_n_u8(two_bits_of(qh, 2), 4)),
                    vorrq_u8(vshrq_n_u8(ql0, 4), vshlq_n_u8(two_bits_of(qh, 4), 4)),
                    vorrq_u8(vshrq_n_u8(ql1, 4), vshlq_n_u8(two_bits_of(qh, 6), 4)),
                };
                for (int k = 0; k < 4; ++k) {
                    const int j = 8 * half + 2 * k + part;
                    const int8x16_t v = vsubq_s8(vreinterpretq_s8_u8(q[k]), vdupq_n_s8(32));
                    scaled += xb.scales[j] *
                              dot16_sum(v, load16(yb.qs + 128 * half + 32 * k + 16 * part));
                }
            }
        }
        sum += fp16_to_f32(xb.d) * yb.d * static_cast<float>(scaled);
    }
    return sum;
}

namespace {
struct Q128 {
    using type = float32x4_t;
    static constexpr int kLanes = 4;
    static type zero() { return vdupq_n_f32(0.0f); }
    static type load(const float* p) { return vld1q_f32(p); }
    static void store(float* p, type v) { vst1q_f32(p, v); }
    static type splat(float x) { return vdupq_n_f32(x); }
    static type fma(type a, type b, type c) { return vfmaq_f32(c, a, b); }
};
}  // namespace

void matmul_f32(int m, int n, int k, const float* a, size_t lda, const float* b, size_t ldb,
                float* c, size_t ldc) {
    matmul_f32_simd<Q128>(m, n, k, a, lda, b, ldb, c, ldc);
}

}  // namespace ember::EMBER_NEON_NAMESPACE

#include "kernels/arm_packed.inl"  // the packed panel kernels, in the same namespace
