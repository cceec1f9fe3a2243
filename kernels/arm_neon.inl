// NEON kernels for aarch64. Compiled twice (arm_neon.cpp and arm_neon_dotprod.cpp): plain
// (namespace ember::neon) and with the dot-product extension (ember::neon_dotprod, built with
// +dotprod and used only when the CPU reports it). Dot products with the structure of the AVX2
// file (K-quants reduce each block's integer sum exactly and are bit-identical to the
// reference; 32-value types and float types sum in float lanes), conversions, activation
// quantizers, e^x, and at the end the packed panels (arm_packed.inl).
#include <arm_neon.h>

#include <cmath>
#include <cstring>

#include "kernels/blocks.h"
#include "kernels/iq_grids.h"
#include "kernels/k_quant_scales.h"
#include "kernels/matmul_f32_tile.inl"
#include "kernels/rows_f16.inl"
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

// ---- floats: products summed in float lanes ----
// Generation through F16/BF16/F32 weights streams 2-4 bytes per value, so the dot product must
// keep up with memory: 16 values per step in four float accumulators, as the AVX-512 kernels
// (summing in double, as before, took 10 instructions per 4 values). Products of F16 or BF16
// values are exact in float; the sums round in float, as llama.cpp's do, within the
// reference's tested bound.

namespace {
// Float weights against kRows activation rows (`stride` bytes apart): each weight vector is
// converted once for all of them, and each row's sums are the one-row call's (the same floats
// alone and in a batch). T supplies load4(p, i) (4 values from element i as floats) and
// product(a, b, i) (one product, for the last n % 4 values).
template <typename T, int kRows>
void dots_in_floats(int64_t n, const void* x, const void* y, size_t stride, float* out) {
    const void* rows[kRows];
    float32x4_t acc[kRows][4];
    for (int r = 0; r < kRows; ++r) {
        rows[r] = static_cast<const uint8_t*>(y) + r * stride;
        for (float32x4_t& v : acc[r]) v = vdupq_n_f32(0);
    }
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        float32x4_t w[4];
        for (int k = 0; k < 4; ++k) w[k] = T::load4(x, i + 4 * k);
        for (int r = 0; r < kRows; ++r)
            for (int k = 0; k < 4; ++k)
                acc[r][k] = vfmaq_f32(acc[r][k], w[k], T::load4(rows[r], i + 4 * k));
    }
    for (; i + 4 <= n; i += 4) {
        const float32x4_t w = T::load4(x, i);
        for (int r = 0; r < kRows; ++r) acc[r][0] = vfmaq_f32(acc[r][0], w, T::load4(rows[r], i));
    }
    for (int r = 0; r < kRows; ++r) {
        float sum =
            vaddvq_f32(vaddq_f32(vaddq_f32(acc[r][0], acc[r][1]), vaddq_f32(acc[r][2], acc[r][3])));
        for (int64_t j = i; j < n; ++j) sum += T::product(x, rows[r], j);
        out[r] = sum;
    }
}
template <typename T>
float dot_in_floats(int64_t n, const void* x, const void* y) {
    float out;
    dots_in_floats<T, 1>(n, x, y, 0, &out);
    return out;
}

struct F32Values {
    static float32x4_t load4(const void* p, int64_t i) {
        return vld1q_f32(static_cast<const float*>(p) + i);
    }
    static float product(const void* a, const void* b, int64_t i) {
        return static_cast<const float*>(a)[i] * static_cast<const float*>(b)[i];
    }
};
struct F16Values {
    static float32x4_t load4(const void* p, int64_t i) {
        return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(static_cast<const fp16_t*>(p) + i)));
    }
    static float product(const void* a, const void* b, int64_t i) {
        return fp16_to_f32(static_cast<const fp16_t*>(a)[i]) *
               fp16_to_f32(static_cast<const fp16_t*>(b)[i]);
    }
};
struct BF16Values {
    static float32x4_t load4(const void* p, int64_t i) {
        return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(static_cast<const bf16_t*>(p) + i), 16));
    }
    static float product(const void* a, const void* b, int64_t i) {
        return bf16_to_f32(static_cast<const bf16_t*>(a)[i]) *
               bf16_to_f32(static_cast<const bf16_t*>(b)[i]);
    }
};
}  // namespace

float vec_dot_f32(int64_t n, const void* x, const void* y) {
    return dot_in_floats<F32Values>(n, x, y);
}
float vec_dot_f16(int64_t n, const void* x, const void* y) {
    return dot_in_floats<F16Values>(n, x, y);
}
float vec_dot_bf16(int64_t n, const void* x, const void* y) {
    return dot_in_floats<BF16Values>(n, x, y);
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

// ---- IQ4_NL, IQ4_XS: the nibbles looked up in the 16 levels (one TBL per 16 values) ----

namespace {
inline void iq4_levels(const uint8_t* qs, int8x16_t q[2]) {
    const int8x16_t table = vld1q_s8(kIq4Levels);
    int8x16_t lo, hi;
    nibbles(qs, &lo, &hi);
    q[0] = vqtbl1q_s8(table, vreinterpretq_u8_s8(lo));
    q[1] = vqtbl1q_s8(table, vreinterpretq_u8_s8(hi));
}
}  // namespace

float vec_dot_iq4_nl_q8_0(int64_t n, const void* x, const void* y) {
    const auto* xb = blocks_of<BlockIQ4_NL>(x);
    const auto* yb = blocks_of<BlockQ8_0>(y);
    return accumulate_blocks(n / kQK, [&](int64_t b, float* d) {
        *d = fp16_to_f32(xb[b].d) * fp16_to_f32(yb[b].d);
        int8x16_t q[2];
        iq4_levels(xb[b].qs, q);
        return dot32(q, yb[b].qs);
    });
}

// Exact: each sub-block's integer dot times its integer scale, one float multiply per
// super-block, as the reference.
float vec_dot_iq4_xs_q8_k(int64_t n, const void* x, const void* y) {
    float sum = 0;
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const BlockIQ4_XS& xb = blocks_of<BlockIQ4_XS>(x)[i];
        const BlockQ8_K& yb = blocks_of<BlockQ8_K>(y)[i];
        int scaled = 0;
        for (int ib = 0; ib < kQK_K / 32; ++ib) {
            int8x16_t q[2];
            iq4_levels(xb.qs + 16 * ib, q);
            scaled += (iq4_xs_scale(xb, ib) - 32) * vaddvq_s32(dot32(q, yb.qs + 32 * ib));
        }
        sum += fp16_to_f32(xb.d) * yb.d * static_cast<float>(scaled);
    }
    return sum;
}

// ---- The lattice i-quants: grid entries (8 or 4 magnitudes, IQ1: signed values) looked
// up by index, signs applied as +-1 bytes (one multiply), each sub-block's integer dot times its
// integer scale, one float multiply per super-block: the reference's sums, exactly ----

// Two 64-bit words as one vector of 16 bytes, lo first.
inline int8x16_t bytes_of(uint64_t lo, uint64_t hi) {
    return vreinterpretq_s8_u64(vcombine_u64(vcreate_u64(lo), vcreate_u64(hi)));
}
// An 8-byte entry of a table as a vector half (loaded straight into the register).
inline int8x8_t entry8(const uint64_t* table, uint64_t i) {
    return vld1_s8(reinterpret_cast<const int8_t*>(table + i));
}
// Two groups of 4 (IQ3) side by side as one of 8.
inline uint64_t pair_of(uint32_t lo, uint32_t hi) {
    return static_cast<uint64_t>(lo) | static_cast<uint64_t>(hi) << 32;
}
// IQ2/IQ3's 7 stored sign bits as 8 bytes of +1 or -1, the 8th sign from their parity
// (iq_signs): one table load instead of a popcount and a compare per group, and a group's
// magnitudes times these are its values.
struct SignUnits {
    uint64_t units[128];
    constexpr SignUnits() : units() {
        for (uint32_t i = 0; i < 128; ++i) {
            const uint8_t s = iq_signs(i);
            for (int j = 0; j < 8; ++j)
                units[i] |= uint64_t{(s >> j) & 1 ? 0xffu : 0x01u} << (8 * j);
        }
    }
};
inline constexpr SignUnits kSignUnits;

// IQ2_XS's 8 groups of 16 bits (a 9-bit index, 7 sign bits) -> the groups' 8 sign bits as
// bytes (the 8th the parity of the 7: iq_signs) ...
inline uint8x16_t seven_bit_sign_bytes(const uint16_t* groups) {
    const uint8x8_t seven = vmovn_u16(vshrq_n_u16(vld1q_u16(groups), 9));
    return vcombine_u8(vsli_n_u8(seven, vcnt_u8(seven), 7), vdup_n_u8(0));
}
// ... and groups 2j and 2j + 1 of them as a mask of 16 values, 0xff where negative: each byte
// spread over its 8 values (TBL), bit b % 8 of value b tested (CMTST).
inline int8x16_t negative_pair(uint8x16_t sign_bytes, int j) {
    const uint8x16_t pick = vcombine_u8(vdup_n_u8(2 * j), vdup_n_u8(2 * j + 1));
    const uint8x16_t bits = vreinterpretq_u8_u64(vdupq_n_u64(0x8040201008040201ull));
    return vreinterpretq_s8_u8(vtstq_u8(vqtbl1q_u8(sign_bytes, pick), bits));
}

// IQ2_XS's 16 scales 2 s + 1 (s: the nibbles of scales[], low first, one per 16 values), four
// sub-blocks to a vector: scale4[q] lane l is sub-block 4q + l's.
inline void iq2_xs_scales(const BlockIQ2_XS& b, int32x4_t scale4[4]) {
    const uint8x8_t bytes = vld1_u8(b.scales);
    const uint8x8x2_t nibbles = vzip_u8(vand_u8(bytes, vdup_n_u8(0xf)), vshr_n_u8(bytes, 4));
    const uint8x16_t s = vcombine_u8(nibbles.val[0], nibbles.val[1]);
    const uint8x16_t odd = vorrq_u8(vshlq_n_u8(s, 1), vdupq_n_u8(1));
    const uint16x8_t lo = vmovl_u8(vget_low_u8(odd)), hi = vmovl_high_u8(odd);
    scale4[0] = vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(lo)));
    scale4[1] = vreinterpretq_s32_u32(vmovl_high_u16(lo));
    scale4[2] = vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(hi)));
    scale4[3] = vreinterpretq_s32_u32(vmovl_high_u16(hi));
}

// kRows activation rows (y_stride bytes apart) against one IQ2_XS row: each group of 16 values
// decoded once for all of them (a prompt's 8 or 4 tokens per pass: vec_dot8, vec_dot4). A 16-value
// sub-block is two grid entries (loaded straight into the vector's halves) times their signs as
// +-1; four sub-blocks' dot products are folded by pairwise adds into one vector of their sums and
// scaled at once.
template <int kRows>
void iq2_xs_dots(int64_t n, const void* x, const void* y, size_t y_stride, float* out) {
    float sum[kRows] = {};
    const uint64_t* grid = kIq2xsGrid.data();
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const BlockIQ2_XS& xb = blocks_of<BlockIQ2_XS>(x)[i];
        const BlockQ8_K* yb[kRows];
        int32x4_t block[kRows];
        for (int r = 0; r < kRows; ++r) {
            yb[r] = &blocks_of<BlockQ8_K>(static_cast<const uint8_t*>(y) + r * y_stride)[i];
            block[r] = vdupq_n_s32(0);
        }
        int32x4_t scale4[4];
        iq2_xs_scales(xb, scale4);
        for (int q = 0; q < 4; ++q) {  // sub-blocks 4q .. 4q + 3
            int8x16_t v[4];            // their values
            uint64_t four[2];          // entries 8q .. 8q + 7, 16 bits each: a 9-bit index, 7 signs
            std::memcpy(four, xb.qs + 8 * q, sizeof(four));
            // The 8 entries' sign bytes, for one token (below).
            const uint8x16_t sign_bytes = seven_bit_sign_bytes(xb.qs + 8 * q);
            for (int j = 0; j < 4; ++j) {
                const uint64_t e = four[j / 2] >> (32 * (j % 2));  // entries 8q + 2j, + 1
                const int8x16_t magnitudes =
                    vcombine_s8(entry8(grid, e & 511), entry8(grid, (e >> 16) & 511));
                if constexpr (kRows == 1) {
                    // One token: the signs as a mask made in vectors (fewer instructions than
                    // the table's loads: docs/optimizations.md); for 4 or 8 the decoding is
                    // shared by the tokens, and the table keeps the registers free for them.
                    const int8x16_t negative = negative_pair(sign_bytes, j);
                    v[j] = vsubq_s8(veorq_s8(magnitudes, negative), negative);
                } else {
                    v[j] = vmulq_s8(magnitudes,
                                    vcombine_s8(entry8(kSignUnits.units, (e >> 9) & 127),
                                                entry8(kSignUnits.units, (e >> 25) & 127)));
                }
            }
            // Each token's four sub-block sums, one a lane, at once (few registers live: 8
            // tokens fit beside the values).
            for (int r = 0; r < kRows; ++r) {
                const int8_t* a = yb[r]->qs + 64 * q;
                const int32x4_t zero = vdupq_n_s32(0);
                const int32x4_t s01 =
                    vpaddq_s32(dot16(zero, v[0], load16(a)), dot16(zero, v[1], load16(a + 16)));
                const int32x4_t s23 = vpaddq_s32(dot16(zero, v[2], load16(a + 32)),
                                                 dot16(zero, v[3], load16(a + 48)));
                block[r] = vmlaq_s32(block[r], vpaddq_s32(s01, s23), scale4[q]);
            }
        }
        for (int r = 0; r < kRows; ++r)
            sum[r] += fp16_to_f32(xb.d) * yb[r]->d * static_cast<float>(vaddvq_s32(block[r]));
    }
    for (int r = 0; r < kRows; ++r) out[r] = 0.125f * sum[r];
}
float vec_dot_iq2_xs_q8_k(int64_t n, const void* x, const void* y) {
    float out;
    iq2_xs_dots<1>(n, x, y, 0, &out);
    return out;
}
void vec_dot4_iq2_xs_q8_k(int64_t n, const void* x, const void* y, size_t y_stride, float* out) {
    iq2_xs_dots<4>(n, x, y, y_stride, out);
}
void vec_dot8_iq2_xs_q8_k(int64_t n, const void* x, const void* y, size_t y_stride, float* out) {
    iq2_xs_dots<8>(n, x, y, y_stride, out);
}

// IQ3_S's explicit sign bytes as 8 bytes of +1 or -1 (bit j set: byte j is -1).
struct SignUnits8 {
    uint64_t units[256];
    constexpr SignUnits8() : units() {
        for (uint32_t i = 0; i < 256; ++i) {
            for (int j = 0; j < 8; ++j)
                units[i] |= uint64_t{(i >> j) & 1 ? 0xffu : 0x01u} << (8 * j);
        }
    }
};
inline constexpr SignUnits8 kSignUnits8;

// IQ3_S sub-block ib's 8 grid indices: qs[8 ib + k] | (bit k of qh[ib]) << 8, in a vector.
inline void iq3_s_indices(const BlockIQ3_S& b, int ib, uint16_t index[8]) {
    const uint8x8_t ninth =
        vand_u8(vtst_u8(vdup_n_u8(b.qh[ib]), vcreate_u8(0x8040201008040201ull)), vdup_n_u8(1));
    vst1q_u16(index, vorrq_u16(vmovl_u8(vld1_u8(b.qs + 8 * ib)), vshlq_n_u16(vmovl_u8(ninth), 8)));
}
// Values 16 l .. 16 l + 15 (l = 0, 1) of IQ3_S sub-block ib, its indices given: four grid
// entries times their signs as +-1 bytes.
inline int8x16_t iq3_s_values(const BlockIQ3_S& b, int ib, const uint16_t index[8], int l) {
    const uint16_t* e = index + 4 * l;
    const uint8_t* signs = b.signs + 4 * ib + 2 * l;  // a byte per 8 values
    return vmulq_s8(bytes_of(pair_of(kIq3sGrid[e[0]], kIq3sGrid[e[1]]),
                             pair_of(kIq3sGrid[e[2]], kIq3sGrid[e[3]])),
                    bytes_of(kSignUnits8.units[signs[0]], kSignUnits8.units[signs[1]]));
}
// Sub-block ib's scale, 2 s + 1.
inline int32_t iq3_s_scale(const BlockIQ3_S& b, int ib) {
    return 2 * ((b.scales[ib / 2] >> (4 * (ib % 2))) & 0xf) + 1;
}

// The other lattice types' decoders for lattice_dot / lattice_dots: values(b, ib, v) gives
// sub-block ib's 32 values as two vectors of 16, scale(b, ib, half) the integer scale of
// v[half] (the same for both halves where a type has one per 32 values: kScalePer16 false),
// kFactor the constant the reference multiplies the super-block sums by at the end.

// IQ2_XXS: per 32 values four 8-bit indices into 256 entries of 8 magnitudes, four 7-bit sign
// groups, a scale 2 s + 1.
struct Iq2xxsDecode {
    using Block = BlockIQ2_XXS;
    static constexpr bool kScalePer16 = false;
    static constexpr float kFactor = 0.125f;
    static float d(const Block& b) { return fp16_to_f32(b.d); }
    static void values(const Block& b, int ib, int8x16_t v[2]) {
        uint32_t indices, rest;
        iq2_xxs_words(b, ib, indices, rest);
        for (int l = 0; l < 2; ++l) {
            const uint32_t e = indices >> (16 * l), s = rest >> (14 * l);
            v[l] = vmulq_s8(vcombine_s8(entry8(kIq2xxsGrid.data(), e & 0xff),
                                        entry8(kIq2xxsGrid.data(), (e >> 8) & 0xff)),
                            vcombine_s8(entry8(kSignUnits.units, s & 127),
                                        entry8(kSignUnits.units, (s >> 7) & 127)));
        }
    }
    static int32_t scale(const Block& b, int ib, int /*half*/) {
        uint32_t indices, rest;
        iq2_xxs_words(b, ib, indices, rest);
        return static_cast<int32_t>(2 * (rest >> 28) + 1);
    }
};
// IQ2_S: 10-bit indices into 1024 entries, an explicit sign byte per 8 values, a scale per 16.
struct Iq2sDecode {
    using Block = BlockIQ2_S;
    static constexpr bool kScalePer16 = true;
    static constexpr float kFactor = 0.125f;
    static float d(const Block& b) { return fp16_to_f32(b.d); }
    static void values(const Block& b, int ib, int8x16_t v[2]) {
        const uint8_t* signs = b.qs + kQK_K / 8 + 4 * ib;
        for (int l = 0; l < 2; ++l) {
            v[l] = vmulq_s8(vcombine_s8(entry8(kIq2sGrid.data(), iq2_s_index(b, ib, 2 * l)),
                                        entry8(kIq2sGrid.data(), iq2_s_index(b, ib, 2 * l + 1))),
                            vcombine_s8(entry8(kSignUnits8.units, signs[2 * l]),
                                        entry8(kSignUnits8.units, signs[2 * l + 1])));
        }
    }
    static int32_t scale(const Block& b, int ib, int half) {
        return 1 + 2 * ((b.scales[ib] >> (4 * half)) & 0xf);
    }
};
// IQ3_XXS: 8-bit indices into 256 entries of 4 magnitudes, then per 32 values four 7-bit sign
// groups and a scale 2 s + 1.
struct Iq3xxsDecode {
    using Block = BlockIQ3_XXS;
    static constexpr bool kScalePer16 = false;
    static constexpr float kFactor = 0.25f;
    static float d(const Block& b) { return fp16_to_f32(b.d); }
    static uint32_t word(const Block& b, int ib) {
        uint32_t w;
        std::memcpy(&w, b.qs + kQK_K / 4 + 4 * ib, 4);
        return w;
    }
    static void values(const Block& b, int ib, int8x16_t v[2]) {
        const uint8_t* qs = b.qs + 8 * ib;
        const uint32_t w = word(b, ib);
        for (int l = 0; l < 2; ++l) {
            const uint8_t* e = qs + 4 * l;
            const uint32_t s = w >> (14 * l);
            v[l] = vmulq_s8(bytes_of(pair_of(kIq3xxsGrid[e[0]], kIq3xxsGrid[e[1]]),
                                     pair_of(kIq3xxsGrid[e[2]], kIq3xxsGrid[e[3]])),
                            vcombine_s8(entry8(kSignUnits.units, s & 127),
                                        entry8(kSignUnits.units, (s >> 7) & 127)));
        }
    }
    static int32_t scale(const Block& b, int ib, int /*half*/) {
        return static_cast<int32_t>(2 * (word(b, ib) >> 28) + 1);
    }
};
// IQ3_S: 9-bit indices into 512 entries of 4 magnitudes, explicit sign bytes, a scale per 32.
struct Iq3sDecode {
    using Block = BlockIQ3_S;
    static constexpr bool kScalePer16 = false;
    static constexpr float kFactor = 1.0f;
    static float d(const Block& b) { return fp16_to_f32(b.d); }
    static void values(const Block& b, int ib, int8x16_t v[2]) {
        uint16_t index[8];
        iq3_s_indices(b, ib, index);
        v[0] = iq3_s_values(b, ib, index, 0);
        v[1] = iq3_s_values(b, ib, index, 1);
    }
    static int32_t scale(const Block& b, int ib, int /*half*/) { return iq3_s_scale(b, ib); }
};

// IQ1: grid bytes are the signed values g (-1, 0, 1) themselves, with a shift of +-1/8 per 32
// values (IQ1_S) or per 8 (IQ1_M). The reference sums grid and shift apart (the shift through
// the activations' sums); here a value is 8 g +- 1 (at most 9: a byte), one dot for both, and
// kFactor 1/8 scales the super-block sums: the same float result, as every integer sum stays
// below 2^24 (8 sub-blocks x 32 values x 9 x 127 x a scale of 15 < 2^23) and scaling by 1/8 is
// exact.
struct Iq1sDecode {
    using Block = BlockIQ1_S;
    static constexpr bool kScalePer16 = false;
    static constexpr float kFactor = 0.125f;
    static float d(const Block& b) { return fp16_to_f32(b.d); }
    static void values(const Block& b, int ib, int8x16_t v[2]) {
        const int8x16_t shift = vdupq_n_s8(b.qh[ib] & 0x8000 ? -1 : 1);
        for (int l = 0; l < 2; ++l) {
            const int8x16_t g =
                vcombine_s8(entry8(kIq1sGrid.data(), iq1_s_index(b, ib, 2 * l)),
                            entry8(kIq1sGrid.data(), iq1_s_index(b, ib, 2 * l + 1)));
            v[l] = vmlaq_s8(shift, g, vdupq_n_s8(8));
        }
    }
    static int32_t scale(const Block& b, int ib, int /*half*/) {
        return 2 * ((b.qh[ib] >> 12) & 7) + 1;
    }
};
// IQ1_M's shifts of two groups of 8 (bit 0: the first negative, bit 1: the second) as bytes.
struct Iq1mShifts {
    int8_t bytes[4][16];
    constexpr Iq1mShifts() : bytes() {
        for (int i = 0; i < 4; ++i)
            for (int j = 0; j < 16; ++j) bytes[i][j] = (i >> (j / 8)) & 1 ? -1 : 1;
    }
};
inline constexpr Iq1mShifts kIq1mShifts;
struct Iq1mDecode {
    using Block = BlockIQ1_M;
    static constexpr bool kScalePer16 = true;
    static constexpr float kFactor = 0.125f;
    static float d(const Block& b) {
        uint16_t sc[4];
        float d;
        iq1_m_scales(b, sc, d);
        return d;
    }
    static void values(const Block& b, int ib, int8x16_t v[2]) {
        for (int l = 0; l < 2; ++l) {
            const uint8_t qh = b.qh[2 * ib + l];  // groups 2l (bit 3: its shift) and 2l + 1 (bit 7)
            const int8x16_t g =
                vcombine_s8(entry8(kIq1sGrid.data(), iq1_m_index(b, ib, 2 * l)),
                            entry8(kIq1sGrid.data(), iq1_m_index(b, ib, 2 * l + 1)));
            const int8x16_t shift = vld1q_s8(kIq1mShifts.bytes[((qh >> 3) & 1) | ((qh >> 6) & 2)]);
            v[l] = vmlaq_s8(shift, g, vdupq_n_s8(8));
        }
    }
    static int32_t scale(const Block& b, int ib, int half) {
        uint16_t word;
        std::memcpy(&word, b.scales + 2 * (ib / 2), 2);
        return 2 * ((word >> (6 * (ib % 2) + 3 * half)) & 7) + 1;
    }
};

// One token: a sub-block at a time, one horizontal add each (a batch's four sub-blocks at once
// counted more instructions at one token: IQ3_S 794M against 585M a token on a 4-layer
// TinyLlama shape, cortex-a76); the reference's integer sums and float steps.
template <typename D>
float lattice_dot(int64_t n, const void* x, const void* y) {
    float sum = 0;
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const typename D::Block& xb = blocks_of<typename D::Block>(x)[i];
        const BlockQ8_K& yb = blocks_of<BlockQ8_K>(y)[i];
        int32_t block = 0;
        for (int ib = 0; ib < kQK_K / 32; ++ib) {
            int8x16_t v[2];
            D::values(xb, ib, v);
            const int8_t* a = yb.qs + 32 * ib;
            const int32x4_t zero = vdupq_n_s32(0);
            if constexpr (D::kScalePer16) {
                block += vaddvq_s32(dot16(zero, v[0], load16(a))) * D::scale(xb, ib, 0) +
                         vaddvq_s32(dot16(zero, v[1], load16(a + 16))) * D::scale(xb, ib, 1);
            } else {
                block += vaddvq_s32(dot16(dot16(zero, v[0], load16(a)), v[1], load16(a + 16))) *
                         D::scale(xb, ib, 0);
            }
        }
        sum += D::d(xb) * yb.d * static_cast<float>(block);
    }
    return D::kFactor * sum;
}

// kRows activation rows (4 or 8: a prompt's) against one row, as iq2_xs_dots: four 32-value
// sub-blocks decoded at once (8 vectors), then each token's sums folded by pairwise adds into
// one vector (a lane a sub-block, or a 16-value half) and scaled at once. Bit for bit
// lattice_dot's results.
template <typename D, int kRows>
void lattice_dots(int64_t n, const void* x, const void* y, size_t y_stride, float* out) {
    float sum[kRows] = {};
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const typename D::Block& xb = blocks_of<typename D::Block>(x)[i];
        const BlockQ8_K* yb[kRows];
        int32x4_t block[kRows];
        for (int r = 0; r < kRows; ++r) {
            yb[r] = &blocks_of<BlockQ8_K>(static_cast<const uint8_t*>(y) + r * y_stride)[i];
            block[r] = vdupq_n_s32(0);
        }
        for (int q = 0; q < 2; ++q) {  // sub-blocks 4q .. 4q + 3
            int8x16_t v[8];            // half j % 2 of sub-block 4q + j / 2
            int32_t odd[8];            // their scales: per sub-block, or per half (kScalePer16)
            for (int k = 0; k < 4; ++k) {
                D::values(xb, 4 * q + k, v + 2 * k);
                if constexpr (D::kScalePer16) {
                    odd[2 * k] = D::scale(xb, 4 * q + k, 0);
                    odd[2 * k + 1] = D::scale(xb, 4 * q + k, 1);
                } else {
                    odd[k] = D::scale(xb, 4 * q + k, 0);
                }
            }
            int32x4_t scales[2];
            scales[0] = vld1q_s32(odd);
            if constexpr (D::kScalePer16) scales[1] = vld1q_s32(odd + 4);
            for (int r = 0; r < kRows; ++r) {
                const int8_t* a = yb[r]->qs + 128 * q;
                const int32x4_t zero = vdupq_n_s32(0);
                if constexpr (D::kScalePer16) {
                    for (int p = 0; p < 2; ++p) {  // halves 4p .. 4p + 3
                        int32x4_t s[4];
                        for (int k = 0; k < 4; ++k)
                            s[k] = dot16(zero, v[4 * p + k], load16(a + 64 * p + 16 * k));
                        block[r] = vmlaq_s32(
                            block[r], vpaddq_s32(vpaddq_s32(s[0], s[1]), vpaddq_s32(s[2], s[3])),
                            scales[p]);
                    }
                } else {
                    int32x4_t s[4];
                    for (int k = 0; k < 4; ++k) {
                        s[k] = dot16(dot16(zero, v[2 * k], load16(a + 32 * k)), v[2 * k + 1],
                                     load16(a + 32 * k + 16));
                    }
                    block[r] = vmlaq_s32(block[r],
                                         vpaddq_s32(vpaddq_s32(s[0], s[1]), vpaddq_s32(s[2], s[3])),
                                         scales[0]);
                }
            }
        }
        for (int r = 0; r < kRows; ++r)
            sum[r] += D::d(xb) * yb[r]->d * static_cast<float>(vaddvq_s32(block[r]));
    }
    for (int r = 0; r < kRows; ++r) out[r] = D::kFactor * sum[r];
}

// TQ1_0: a byte holds 5 base-3 digits as a fixed-point fraction; digit n of byte q is the top
// byte of 3 x (q x 3^n mod 256) (kernels/ref_i_quants.cpp: tq1_digit), 16 bytes at a time.
inline uint8x16_t tq1_digits(uint8x16_t q, uint8x16_t pow3) {
    const uint8x16_t shifted = vmulq_u8(q, pow3);  // mod 256
    const uint8x16_t three = vdupq_n_u8(3);
    return vcombine_u8(vshrn_n_u16(vmull_u8(vget_low_u8(shifted), vget_low_u8(three)), 8),
                       vshrn_n_u16(vmull_high_u8(shifted, three), 8));
}
inline int8x16_t minus_one(uint8x16_t digits) {
    return vsubq_s8(vreinterpretq_s8_u8(digits), vdupq_n_s8(1));
}

float vec_dot_tq1_0_q8_k(int64_t n, const void* x, const void* y) {
    static constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};
    // qh's 4 bytes, each repeated for digits 0..3: lane 4n + j is digit n of qh[j].
    static constexpr uint8_t kQhPow3[16] = {1, 1, 1, 1, 3, 3, 3, 3, 9, 9, 9, 9, 27, 27, 27, 27};
    float sum = 0;
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const BlockTQ1_0& xb = blocks_of<BlockTQ1_0>(x)[i];
        const BlockQ8_K& yb = blocks_of<BlockQ8_K>(y)[i];
        const uint8x16_t a0 = load16u(xb.qs), a1 = load16u(xb.qs + 16), b = load16u(xb.qs + 32);
        int32x4_t acc = vdupq_n_s32(0);
        for (int d = 0; d < 5; ++d) {  // values 32d + m (bytes 0..31), 160 + 16d + m (32..47)
            const uint8x16_t pow3 = vdupq_n_u8(kPow3[d]);
            acc = dot16(acc, minus_one(tq1_digits(a0, pow3)), load16(yb.qs + 32 * d));
            acc = dot16(acc, minus_one(tq1_digits(a1, pow3)), load16(yb.qs + 32 * d + 16));
            acc = dot16(acc, minus_one(tq1_digits(b, pow3)), load16(yb.qs + 160 + 16 * d));
        }
        uint32_t qh;
        std::memcpy(&qh, xb.qh, 4);
        const uint8x16_t h = vreinterpretq_u8_u32(vdupq_n_u32(qh));  // qh[j] at lanes 4n + j
        acc = dot16(acc, minus_one(tq1_digits(h, vld1q_u8(kQhPow3))), load16(yb.qs + 240));
        sum += static_cast<float>(vaddvq_s32(acc)) * (fp16_to_f32(xb.d) * yb.d);
    }
    return sum;
}

// TQ2_0: four 2-bit fields a byte, (t - 1) against the activations; exact integer sums.
float vec_dot_tq2_0_q8_k(int64_t n, const void* x, const void* y) {
    float sum = 0;
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const BlockTQ2_0& xb = blocks_of<BlockTQ2_0>(x)[i];
        const BlockQ8_K& yb = blocks_of<BlockQ8_K>(y)[i];
        int32x4_t acc = vdupq_n_s32(0);
        for (int half = 0; half < 2; ++half) {  // bytes 32 half .. +31: values 128 half ..
            for (int part = 0; part < 2; ++part) {
                const uint8x16_t q = load16u(xb.qs + 32 * half + 16 * part);
                for (int l = 0; l < 4; ++l) {
                    const int8x16_t t =
                        vsubq_s8(vreinterpretq_s8_u8(two_bits_of(q, 2 * l)), vdupq_n_s8(1));
                    acc = dot16(acc, t, load16(yb.qs + 128 * half + 32 * l + 16 * part));
                }
            }
        }
        sum += static_cast<float>(vaddvq_s32(acc)) * (fp16_to_f32(xb.d) * yb.d);
    }
    return sum;
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

// ---- conversions: F16 rows, a quantized KV cache's blocks, activations ----
// Bit for bit as the reference (ref_float.cpp, ref_q8.cpp): FCVTL/FCVTN round to nearest
// even like fp16.h, and the quantizers do the reference's float operations in its order.

void dequantize_row_f16(const void* in, float* out, int64_t n) {
    const auto* h = static_cast<const fp16_t*>(in);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const float16x8_t v = vreinterpretq_f16_u16(vld1q_u16(h + i));
        vst1q_f32(out + i, vcvt_f32_f16(vget_low_f16(v)));
        vst1q_f32(out + i + 4, vcvt_high_f32_f16(v));
    }
    for (; i < n; ++i) out[i] = fp16_to_f32(h[i]);
}

void quantize_row_f16(const float* in, void* out, int64_t n) {
    auto* h = static_cast<fp16_t*>(out);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const float16x8_t v =
            vcvt_high_f16_f32(vcvt_f16_f32(vld1q_f32(in + i)), vld1q_f32(in + i + 4));
        vst1q_u16(h + i, vreinterpretq_u16_f16(v));
    }
    for (; i < n; ++i) h[i] = f32_to_fp16(in[i]);
}

namespace {
// 16 int8 values times d as floats, to out[0..15].
inline void scale_bytes(int8x16_t q, float d, float* out) {
    const int16x8_t lo = vmovl_s8(vget_low_s8(q)), hi = vmovl_high_s8(q);
    vst1q_f32(out, vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(lo))), d));
    vst1q_f32(out + 4, vmulq_n_f32(vcvtq_f32_s32(vmovl_high_s16(lo)), d));
    vst1q_f32(out + 8, vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(hi))), d));
    vst1q_f32(out + 12, vmulq_n_f32(vcvtq_f32_s32(vmovl_high_s16(hi)), d));
}
}  // namespace

void dequantize_row_q8_0(const void* in, float* out, int64_t n) {
    const auto* blocks = static_cast<const BlockQ8_0*>(in);
    for (int64_t b = 0; b < n / kQK; ++b, out += kQK) {
        const float d = fp16_to_f32(blocks[b].d);
        scale_bytes(load16(blocks[b].qs), d, out);
        scale_bytes(load16(blocks[b].qs + 16), d, out + 16);
    }
}

void dequantize_row_q4_0(const void* in, float* out, int64_t n) {
    const auto* blocks = static_cast<const BlockQ4_0*>(in);
    for (int64_t b = 0; b < n / kQK; ++b, out += kQK) {
        const float d = fp16_to_f32(blocks[b].d);
        int8x16_t lo, hi;
        nibbles(blocks[b].qs, &lo, &hi);
        scale_bytes(vsubq_s8(lo, vdupq_n_s8(8)), d, out);
        scale_bytes(vsubq_s8(hi, vdupq_n_s8(8)), d, out + 16);
    }
}

namespace {
inline float32x4_t load4(const float* p) {
    return vld1q_f32(p);
}
// round(x * scale) to nearest even (FCVTNS, as nearbyint in the default rounding mode), as int32.
inline int32x4_t round_scaled(float32x4_t x, float scale) {
    return vcvtnq_s32_f32(vmulq_n_f32(x, scale));
}
// Four int32x4 of values within int8 as 16 bytes.
inline int8x16_t narrow_to_bytes(int32x4_t a, int32x4_t b, int32x4_t c, int32x4_t d) {
    const int16x8_t ab = vcombine_s16(vqmovn_s32(a), vqmovn_s32(b));
    const int16x8_t cd = vcombine_s16(vqmovn_s32(c), vqmovn_s32(d));
    return vcombine_s8(vqmovn_s16(ab), vqmovn_s16(cd));
}
}  // namespace

void quantize_row_q8_0(const float* in, void* out, int64_t n) {
    auto* blocks = static_cast<BlockQ8_0*>(out);
    for (int64_t b = 0; b < n / kQK; ++b, in += kQK) {
        float32x4_t v[8], amax4 = vdupq_n_f32(0.0f);
        for (int j = 0; j < 8; ++j) {
            v[j] = load4(in + 4 * j);
            amax4 = vmaxq_f32(amax4, vabsq_f32(v[j]));
        }
        const float amax = vmaxvq_f32(amax4);
        const float inv_scale = amax != 0 ? 127.0f / amax : 0.0f;
        blocks[b].d = f32_to_fp16(amax / 127.0f);
        for (int half = 0; half < 2; ++half) {
            const float32x4_t* w = v + 4 * half;
            vst1q_s8(blocks[b].qs + 16 * half,
                     narrow_to_bytes(round_scaled(w[0], inv_scale), round_scaled(w[1], inv_scale),
                                     round_scaled(w[2], inv_scale), round_scaled(w[3], inv_scale)));
        }
    }
}

void quantize_row_q8_k(const float* in, void* out, int64_t n) {
    auto* blocks = static_cast<BlockQ8_K*>(out);
    for (int64_t b = 0; b < n / kQK_K; ++b, in += kQK_K) {
        BlockQ8_K& block = blocks[b];
        float32x4_t amax4 = vdupq_n_f32(0.0f);
        for (int j = 0; j < kQK_K; j += 4) amax4 = vmaxq_f32(amax4, vabsq_f32(load4(in + j)));
        const float amax = vmaxvq_f32(amax4);
        if (amax == 0) {
            block = {};
            continue;
        }
        float max = amax;  // the reference keeps the sign of the first value of largest magnitude
        for (int j = 0; j < kQK_K; ++j) {
            if (std::fabs(in[j]) == amax) {
                max = in[j];
                break;
            }
        }
        const float inv_scale = -127.0f / max;
        const int32x4_t top = vdupq_n_s32(127);
        for (int j = 0; j < kQK_K; j += 16) {
            int32x4_t q[4];
            for (int k = 0; k < 4; ++k)
                q[k] = vminq_s32(round_scaled(load4(in + j + 4 * k), inv_scale), top);
            vst1q_s8(block.qs + j, narrow_to_bytes(q[0], q[1], q[2], q[3]));
            block.bsums[j / 16] = static_cast<int16_t>(
                vaddvq_s32(vaddq_s32(vaddq_s32(q[0], q[1]), vaddq_s32(q[2], q[3]))));
        }
        block.d = 1 / inv_scale;
    }
}

// ---- e^x, 4 values at a time ----
// e^x = 2^k e^r with k = round(x / ln 2) and r = x - k ln 2, |r| <= ln2 / 2 (ln 2 split in a
// high part exact in float and a low correction, so r carries no cancellation error). e^r is
// its Taylor series to r^7 (truncation error |r|^8 / 8! < 6e-9, a tenth of an ulp), in Horner
// form. 2^k is applied as two exact powers of two, 2^(k - k/2) and 2^(k/2), each a normal
// float, so the result overflows to inf and underflows through the subnormals to 0 as e^x
// does. (The standard reduction, e.g. J.-M. Muller, "Elementary Functions", ch. 11; the same
// as the AVX-512 kernel.)
void exp_f32(const float* x, float* y, int64_t n) {
    const float32x4_t log2e = vdupq_n_f32(1.44269504088896341f);
    const float32x4_t ln2_hi = vdupq_n_f32(0.693145751953125f);      // 14 significant bits
    const float32x4_t ln2_lo = vdupq_n_f32(1.4286068202862268e-6f);  // ln 2 - ln2_hi
    // Beyond these e^x is 0 or inf anyway; clamping keeps -inf and +inf from making inf - inf.
    // (FMAXNM/FMINNM would drop a NaN; FMAX/FMIN keep it, so NaN stays NaN.)
    const float32x4_t lowest = vdupq_n_f32(-110.0f), highest = vdupq_n_f32(89.0f);
    const float inverse_factorials[8] = {1.0f,      1.0f,       1.0f / 2,   1.0f / 6,
                                         1.0f / 24, 1.0f / 120, 1.0f / 720, 1.0f / 5040};
    const auto exp4 = [&](float32x4_t v) {
        v = vminq_f32(highest, vmaxq_f32(lowest, v));
        const float32x4_t k = vrndnq_f32(vmulq_f32(v, log2e));
        float32x4_t r = vfmsq_f32(v, k, ln2_hi);
        r = vfmsq_f32(r, k, ln2_lo);
        float32x4_t p = vdupq_n_f32(inverse_factorials[7]);
        for (int j = 6; j >= 0; --j) p = vfmaq_f32(vdupq_n_f32(inverse_factorials[j]), p, r);
        const int32x4_t ki = vcvtq_s32_f32(k);  // exact: k is an integer in -159..129
        const int32x4_t half = vshrq_n_s32(ki, 1), rest = vsubq_s32(ki, half);
        const auto power = [](int32x4_t e) {  // 2^e for e in -80..65: a normal float
            return vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(e, vdupq_n_s32(127)), 23));
        };
        return vmulq_f32(vmulq_f32(p, power(rest)), power(half));
    };
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, exp4(vld1q_f32(x + i)));
    if (i < n) {
        float tail[4] = {0, 0, 0, 0};
        std::memcpy(tail, x + i, (n - i) * sizeof(float));
        const float32x4_t e = exp4(vld1q_f32(tail));
        vst1q_f32(tail, e);
        std::memcpy(y + i, tail, (n - i) * sizeof(float));
    }
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
    static type load_f16(const uint16_t* p) {
        return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p)));
    }
    // Lane i = the sum of acc[i]'s lanes: two rounds of pairwise adds.
    static type sum_lanes(const type* acc) {
        return vpaddq_f32(vpaddq_f32(acc[0], acc[1]), vpaddq_f32(acc[2], acc[3]));
    }
};
}  // namespace

void matmul_f32(int m, int n, int k, const float* a, size_t lda, const float* b, size_t ldb,
                float* c, size_t ldc) {
    matmul_f32_simd<Q128>(m, n, k, a, lda, b, ldb, c, ldc);
}
void dot_rows_f16(int m, int n, int k, const float* a, size_t lda, const uint16_t* b, size_t ldb,
                  float* c, size_t ldc) {
    dot_rows_f16_simd<Q128>(m, n, k, a, lda, b, ldb, c, ldc);
}
void mad_rows_f16(int m, int n, int k, const float* a, size_t lda, const uint16_t* b, size_t ldb,
                  float* c, size_t ldc) {
    mad_rows_f16_simd<Q128>(m, n, k, a, lda, b, ldb, c, ldc);
}

// This file's kernels and the packed ones (arm_packed.inl), over the reference (registry.cpp:
// the sets "neon" and "neon-dotprod", one per compilation of this file).
// A lattice type's one-token and four- and eight-token row kernels.
template <typename D>
void lattice_kernels(TypeKernels& k) {
    k.vec_dot = lattice_dot<D>;
    k.vec_dot4 = lattice_dots<D, 4>;
    k.vec_dot8 = lattice_dots<D, 8>;
}

void register_kernels(KernelTable& t) {
    using T = TensorType;
    t.floats.matmul = matmul_f32;
    t.floats.exp = exp_f32;
    t.floats.dot_rows_f16 = dot_rows_f16;
    t.floats.mad_rows_f16 = mad_rows_f16;
    t[T::F16].dequantize_row = dequantize_row_f16;
    t[T::F16].quantize_row = quantize_row_f16;
    t[T::Q8_0].dequantize_row = dequantize_row_q8_0;  // a quantized KV cache's reads
    t[T::Q8_0].quantize_row = quantize_row_q8_0;      // activations
    t[T::Q4_0].dequantize_row = dequantize_row_q4_0;
    t[T::Q8_K].quantize_row = quantize_row_q8_k;
    t[T::F32].vec_dot = vec_dot_f32;
    t[T::F16].vec_dot = vec_dot_f16;
    t[T::BF16].vec_dot = vec_dot_bf16;
    t[T::F32].vec_dot4 = dots_in_floats<F32Values, 4>;
    t[T::F16].vec_dot4 = dots_in_floats<F16Values, 4>;
    t[T::BF16].vec_dot4 = dots_in_floats<BF16Values, 4>;
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
    t[T::IQ4_NL].vec_dot = vec_dot_iq4_nl_q8_0;
    t[T::IQ4_XS].vec_dot = vec_dot_iq4_xs_q8_k;
    t[T::IQ2_XS].vec_dot = vec_dot_iq2_xs_q8_k;
    t[T::IQ2_XS].vec_dot4 = vec_dot4_iq2_xs_q8_k;
    t[T::IQ2_XS].vec_dot8 = vec_dot8_iq2_xs_q8_k;
    lattice_kernels<Iq2xxsDecode>(t[T::IQ2_XXS]);
    lattice_kernels<Iq2sDecode>(t[T::IQ2_S]);
    lattice_kernels<Iq3xxsDecode>(t[T::IQ3_XXS]);
    lattice_kernels<Iq3sDecode>(t[T::IQ3_S]);
    lattice_kernels<Iq1sDecode>(t[T::IQ1_S]);
    lattice_kernels<Iq1mDecode>(t[T::IQ1_M]);
    t[T::TQ1_0].vec_dot = vec_dot_tq1_0_q8_k;
    t[T::TQ2_0].vec_dot = vec_dot_tq2_0_q8_k;
    register_packed_kernels(t);
}

}  // namespace ember::EMBER_NEON_NAMESPACE

#include "kernels/arm_packed.inl"  // the packed panel kernels, in the same namespace
