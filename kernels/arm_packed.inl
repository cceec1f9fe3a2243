// Packed panel kernels for NEON: groups of 8 weight rows packed once at load time
// (packed_layout.h: the x86 byte layout, with Q8_0 kept signed, Q4_0 stored as q ^ 0x88 and
// Q5_0 / Q5_1's fifth bits by byte) against one token
// (generation) or a batch of them (prompts). Compiled once per NEON kernel set, in its
// namespace: plain (arm_neon.cpp: Cortex-A53/A72), +dotprod (arm_neon_dotprod.cpp: Cortex-A55/
// A76 and later, Apple M1 and later) and +dotprod+i8mm (arm_neon_i8mm.cpp, where batches go
// through SMMLA: Cortex-A510/A710/X2 and later, Apple M2 and later).
//
// The layout's 16-byte halves are what SDOT "by element" takes. 32 bytes of a packed value
// array hold, for rows 0-7, four values each (row j at bytes 4j..4j+3): the first 16 bytes are
// rows 0-3, the next 16 rows 4-7. Those four values of every row meet the same four
// activations, one 32-bit lane L of an activation vector, so
//     vdotq_laneq_s32(acc, w, a, L):  acc[r] += w[4r..4r+3] . a[4L..4L+3]   (r = 0..3)
// is 4 rows x 4 values in one instruction, the row sums landing in their own lanes with no
// transposition or horizontal add. Without the dot-product extension the same lanes come from
// widening multiplies, pairwise accumulation and one final pairwise add per block (pair_lane).
// Both are exact integer sums, so the plain and the +dotprod kernels give identical results.
//
// Integer bounds. Products of a weight value (at most 6 bits unsigned, or Q8_0's -128..127)
// and an activation (-128..127) are at most 2^14 in magnitude, exact in int16 (the plain path
// forms them there) and summed in int32: a block of 32 values at most 2^19, a K-quant's
// super-block scaled sum at most 16 * 127 * 16 * 63 * 128 < 2^28.
//
// The float steps follow the x86 panels: 32-value blocks add d_w * d_a * (integer sum) per
// block; K-quants add d_a * (d * sum_j scale_j dot_j - coef_d * sum_j coef_j bsum_j) per
// super-block, the second term carrying the minimums (Q4_K, Q5_K, Q2_K) or the value offsets
// (Q6_K: 32, Q3_K: 4) with the activations' block sums. Equal to vec_dot within the float
// rounding bound.
//
// Generation meets each weight once per token: the blocks are decoded as they stream in, both
// halves of the rows at once. A batch decodes one half of the rows at a time (8 registers) and
// takes 8 tokens per pass over it (then 4, then single ones), so each decoded vector serves 8
// tokens and the accumulators fit the 32 vector registers.
#include <arm_neon.h>

#include <type_traits>
#include <utility>
#include <vector>

#include "kernels/blocks.h"
#include "kernels/iq_grids.h"
#include "kernels/kernels.h"
#include "kernels/packed_layout.h"
#include "kernels/simd_kernels.h"

namespace ember::EMBER_NEON_NAMESPACE {
namespace {

using namespace ember::packed;

#if defined(__ARM_FEATURE_DOTPROD)
// acc[r] += bytes 4r..4r+3 of w (row r's four values) . bytes 4L..4L+3 of a, r = 0..3.
template <int L>
inline int32x4_t dot_lane(int32x4_t acc, int8x16_t w, int8x16_t a) {
    return vdotq_laneq_s32(acc, w, a, L);
}
#endif

#if !defined(__ARM_FEATURE_DOTPROD)
// Without SDOT, a run of dot_lane steps keeps its partial sums as int32 pairs (rows 0, 1 and
// rows 2, 3: vpadalq adds each pair of int16 products) and folds them into per-row lanes once
// at the end, instead of once per step.
template <int L>
inline void pair_lane(int8x16_t w, int8x16_t a, int32x4_t* rows01, int32x4_t* rows23) {
    const int8x16_t b = vreinterpretq_s8_s32(vdupq_laneq_s32(vreinterpretq_s32_s8(a), L));
    *rows01 = vpadalq_s16(*rows01, vmull_s8(vget_low_s8(w), vget_low_s8(b)));
    *rows23 = vpadalq_s16(*rows23, vmull_high_s8(w, b));
}
inline void pair_lanes16(const int8x16_t q[4], int8x16_t x, int32x4_t* rows01, int32x4_t* rows23) {
    pair_lane<0>(q[0], x, rows01, rows23);
    pair_lane<1>(q[1], x, rows01, rows23);
    pair_lane<2>(q[2], x, rows01, rows23);
    pair_lane<3>(q[3], x, rows01, rows23);
}
#endif

// Four rows' sums built up lane by lane (the one-token K kernels): add<L>(w, a) adds, to row r,
// bytes 4r..4r+3 of w . bytes 4L..4L+3 of a; sums() gives the four rows. With the dot product
// one SDOT each; without, pair_lane's int32 pairs folded once at the end: the same integers.
struct RowDots {
#if defined(__ARM_FEATURE_DOTPROD)
    int32x4_t v = vdupq_n_s32(0);
    template <int L>
    void add(int8x16_t w, int8x16_t a) {
        v = dot_lane<L>(v, w, a);
    }
    int32x4_t sums() const {
        return v;
    }
#else
    int32x4_t rows01 = vdupq_n_s32(0), rows23 = vdupq_n_s32(0);
    template <int L>
    void add(int8x16_t w, int8x16_t a) {
        pair_lane<L>(w, a, &rows01, &rows23);
    }
    int32x4_t sums() const {
        return vpaddq_s32(rows01, rows23);
    }
#endif
};

// acc[r] += values 0..15 of row r (q[0..3]: values 4k.. of rows 0-3) . 16 activations x.
inline int32x4_t dot16(const int8x16_t q[4], int8x16_t x, int32x4_t acc) {
#if defined(__ARM_FEATURE_DOTPROD)
    acc = dot_lane<0>(acc, q[0], x);
    acc = dot_lane<1>(acc, q[1], x);
    acc = dot_lane<2>(acc, q[2], x);
    return dot_lane<3>(acc, q[3], x);
#else
    int32x4_t rows01 = vdupq_n_s32(0), rows23 = vdupq_n_s32(0);
    pair_lanes16(q, x, &rows01, &rows23);
    return vaddq_s32(acc, vpaddq_s32(rows01, rows23));
#endif
}
// The same over 32 values (q[0..7]) and activations x0 (values 0..15), x1 (16..31).
inline int32x4_t dot32(const int8x16_t q[8], int8x16_t x0, int8x16_t x1, int32x4_t acc) {
#if defined(__ARM_FEATURE_DOTPROD)
    return dot16(q + 4, x1, dot16(q, x0, acc));
#else
    int32x4_t rows01 = vdupq_n_s32(0), rows23 = vdupq_n_s32(0);
    pair_lanes16(q, x0, &rows01, &rows23);
    pair_lanes16(q + 4, x1, &rows01, &rows23);
    return vaddq_s32(acc, vpaddq_s32(rows01, rows23));
#endif
}

#if defined(__ARM_FEATURE_MATMUL_INT8)
// SMMLA (i8mm): vmmlaq_s32(acc, w, x) adds, to acc[2i + j], bytes 8i..8i+7 of w . bytes
// 8j..8j+7 of x: 2 rows x 2 tokens x 8 values, twice SDOT's work per instruction. The packed
// layout serves it too: zipping the dwords of q[2c] and q[2c+1] gives [row 0 values 8c..8c+7 |
// row 1 the same] (and rows 2, 3), and zipping two tokens' 8-byte halves gives the other
// operand. A batch decodes and zips a block's rows once for all its tokens.
struct RowPairs {
    int8x16_t w[2][4];  // [rows 0,1 | rows 2,3][values 8c..8c+7]
};
inline RowPairs row_pairs(const int8x16_t q[8]) {
    RowPairs r;
    for (int c = 0; c < 4; ++c) {
        const int32x4_t lo = vreinterpretq_s32_s8(q[2 * c]),
                        hi = vreinterpretq_s32_s8(q[2 * c + 1]);
        r.w[0][c] = vreinterpretq_s8_s32(vzip1q_s32(lo, hi));
        r.w[1][c] = vreinterpretq_s8_s32(vzip2q_s32(lo, hi));
    }
    return r;
}
struct TokenPairs {
    int8x16_t x[4];  // [values 8c..8c+7 of token t | of token t + 1]
};
// Tokens t (t_lo: values 0..15, t_hi: 16..31) and t + 1 (u_lo, u_hi).
inline TokenPairs token_pairs(int8x16_t t_lo, int8x16_t t_hi, int8x16_t u_lo, int8x16_t u_hi) {
    const auto zip = [](int8x16_t a, int8x16_t b, bool second) {
        const int64x2_t a64 = vreinterpretq_s64_s8(a), b64 = vreinterpretq_s64_s8(b);
        return vreinterpretq_s8_s64(second ? vzip2q_s64(a64, b64) : vzip1q_s64(a64, b64));
    };
    return {{zip(t_lo, u_lo, false), zip(t_lo, u_lo, true), zip(t_hi, u_hi, false),
             zip(t_hi, u_hi, true)}};
}
#endif

inline float32x4_t halves4(const fp16_t* d) {  // four fp16 scales as floats (FCVTL: exact)
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(d)));
}
inline uint8x16_t load_u8(const uint8_t* p) {
    return vld1q_u8(p);
}
inline int8x16_t as_s8(uint8x16_t v) {
    return vreinterpretq_s8_u8(v);
}
// Byte shifts by a constant, 0 included.
template <int N>
inline uint8x16_t shift_right(uint8x16_t v) {
    if constexpr (N == 0) {
        return v;
    } else {
        return vshrq_n_u8(v, N);
    }
}
template <int N>
inline uint8x16_t shift_left(uint8x16_t v) {
    if constexpr (N == 0) {
        return v;
    } else {
        return vshlq_n_u8(v, N);
    }
}
// Bits kFrom .. kFrom + kWidth - 1 of every byte, moved to kTo .. (the rest 0).
template <int kFrom, int kWidth, int kTo>
inline uint8x16_t bits_at(uint8x16_t v) {
    const uint8x16_t moved =
        kFrom >= kTo ? shift_right<kFrom - kTo>(v) : shift_left<kTo - kFrom>(v);
    return vandq_u8(moved, vdupq_n_u8(static_cast<uint8_t>(((1 << kWidth) - 1) << kTo)));
}
inline uint8x16_t low_nibbles(uint8x16_t v) {
    return vandq_u8(v, vdupq_n_u8(0x0f));
}
inline uint8x16_t high_nibbles(uint8x16_t v) {
    return vshrq_n_u8(v, 4);
}

// Calls f(std::integral_constant<int, G>) for each G of the sequence, unrolled: the groups of
// a super-block pick their bits with constant shifts.
template <typename F, int... G>
inline void unrolled(F&& f, std::integer_sequence<int, G...>) {
    (f(std::integral_constant<int, G>{}), ...);
}

// ---- 32-value blocks ----

// A block's values for rows 4h..4h+3: q[k] = values 4k..4k+3 of each, k = 0..7.

// The nibbles: qs[c] gives values 4c.. (low) and 16 + 4c.. (high), as they are (0..15).
inline void nibbles(const uint8_t qs[4][32], int h, int8x16_t q[8]) {
    for (int c = 0; c < 4; ++c) {
        const uint8x16_t raw = load_u8(qs[c] + 16 * h);
        q[c] = as_s8(low_nibbles(raw));
        q[c + 4] = as_s8(high_nibbles(raw));
    }
}
// Q5_0 / Q5_1, fifth bits packed by byte (pack_fifth_bits_by_byte): byte p of the 16 for rows
// 4h.. holds in bit k the fifth bit of byte p of q[k]. A shift brings it to bit 4, a bit select
// puts it above the nibble.
template <int K>
inline uint8x16_t bit_to_4(uint8x16_t v) {
    return K <= 4 ? shift_left<4 - K>(v) : shift_right<K - 4>(v);
}
inline void five_bit_values(const uint8_t qs[4][32], const uint32_t qh[8], int h, int8x16_t q[8]) {
    const uint8x16_t bits = load_u8(reinterpret_cast<const uint8_t*>(qh) + 16 * h);
    const uint8x16_t fifth = vdupq_n_u8(0x10);
    unrolled(
        [&](auto section) {
            constexpr int c = decltype(section)::value;
            const uint8x16_t raw = load_u8(qs[c] + 16 * h);
            q[c] = as_s8(vbslq_u8(fifth, bit_to_4<c>(bits), low_nibbles(raw)));
            q[c + 4] = as_s8(vbslq_u8(fifth, bit_to_4<c + 4>(bits), high_nibbles(raw)));
        },
        std::make_integer_sequence<int, 4>{});
}

// Q4_0 is packed as q ^ 0x88 (pack_q4_0<0x88>): shifting a byte's low nibble to the top, or
// masking its high one, gives 16 * (q - 8) as a signed byte, with no offset left to subtract.
// The sums come out 16 times too large; the conversion to float divides them back (exact).
inline void decode(const PackedQ4_0& p, int h, int8x16_t q[8]) {
    for (int c = 0; c < 4; ++c) {
        const int8x16_t raw = vld1q_s8(reinterpret_cast<const int8_t*>(p.qs[c]) + 16 * h);
        q[c] = vshlq_n_s8(raw, 4);
        q[c + 4] = vandq_s8(raw, vdupq_n_s8(static_cast<int8_t>(0xf0)));
    }
}
// IQ4_NL: each nibble looked up in the 16 levels (one TBL a vector); the values are signed
// bytes of at most 127 in magnitude, as Q8_0's.
inline void decode(const PackedIQ4_NL& p, int h, int8x16_t q[8]) {
    const int8x16_t levels = vld1q_s8(kIq4Levels);
    for (int c = 0; c < 4; ++c) {
        const uint8x16_t raw = vld1q_u8(p.qs[c] + 16 * h);
        q[c] = vqtbl1q_s8(levels, vandq_u8(raw, vdupq_n_u8(0x0f)));
        q[c + 4] = vqtbl1q_s8(levels, vshrq_n_u8(raw, 4));
    }
}
inline void decode(const PackedQ4_1& p, int h, int8x16_t q[8]) {
    nibbles(p.qs, h, q);
}
inline void decode(const PackedQ5_0& p, int h, int8x16_t q[8]) {
    five_bit_values(p.qs, p.qh, h, q);
}
inline void decode(const PackedQ5_1& p, int h, int8x16_t q[8]) {
    five_bit_values(p.qs, p.qh, h, q);
}
inline void decode(const PackedQ8_0& p, int h, int8x16_t q[8]) {  // packed signed (flip 0)
    for (int k = 0; k < 8; ++k) q[k] = vld1q_s8(reinterpret_cast<const int8_t*>(p.qs[k]) + 16 * h);
}

// The activation block type a packed type meets: Q8_1 (d, s) for Q4_1 / Q5_1, else Q8_0.
template <typename Packed>
constexpr bool kWithMinimum = requires(Packed p) {
    p.m;
};
template <typename Packed>
using ActivationBlock = std::conditional_t<kWithMinimum<Packed>, BlockQ8_1, BlockQ8_0>;
// The offset of a packed type's values, which returns as -offset * the activations' block sum
// (the trait of the same name in x86_packed.inl; here Q5_0: 16, and Q4_0's is in its packing).
template <typename Packed>
constexpr int kActivationOffset = std::is_same_v<Packed, PackedQ5_0> ? 16 : 0;

// A block's integer sums as floats: Q4_0's come out 16 times too large (its packing), and the
// fixed-point conversion divides them back exactly.
template <typename Packed>
inline float32x4_t sums_as_float(int32x4_t sum) {
    if constexpr (std::is_same_v<Packed, PackedQ4_0>) {
        return vcvtq_n_f32_s32(sum, 4);
    } else {
        return vcvtq_f32_s32(sum);
    }
}

// Tokens t0 .. t0 + kTokens - 1 against rows 4h..4h+3 of one packed group of 32-value blocks:
// each block's 8 value vectors of those rows are decoded once and meet every token, whose
// activations are loaded as they are used. With 8 tokens that is 8 value registers, 8
// accumulators and a few temporaries (two halves of the rows at once would need 16 value
// registers and spill). (With i8mm, batches go through pairs_32 instead.)
template <typename Packed, int kTokens>
void tokens_32(int64_t n_blocks, const Packed* blocks, const Q8Batch& a, int t0, int h, float* y,
               size_t y_stride) {
    using Act = ActivationBlock<Packed>;
    float32x4_t acc[kTokens];
    const Act* act[kTokens];
    const float* scale[kTokens];
    const int32_t* sums[kTokens];
    const float* block_s[kTokens];
    for (int t = 0; t < kTokens; ++t) {
        acc[t] = vdupq_n_f32(0.0f);
        act[t] = reinterpret_cast<const Act*>(a.rows + (t0 + t) * a.row_stride);
        const size_t first = static_cast<size_t>(t0 + t) * n_blocks;
        scale[t] = a.scales + first;
        sums[t] = kActivationOffset<Packed> != 0 ? a.sums + first : nullptr;
        block_s[t] = kWithMinimum<Packed> ? a.block_s + first : nullptr;
    }
    for (int64_t b = 0; b < n_blocks; ++b) {
        int8x16_t q[8];
        decode(blocks[b], h, q);
        const float32x4_t d = halves4(blocks[b].d + 4 * h);
        float32x4_t m = vdupq_n_f32(0.0f);  // Q4_1 / Q5_1: the rows' minimums
        if constexpr (kWithMinimum<Packed>) m = halves4(blocks[b].m + 4 * h);
        // Token t's integer sums (without the offset) into its float accumulator.
        const auto add = [&](int t, int32x4_t sum) {
            if constexpr (kActivationOffset<Packed> != 0)
                sum = vaddq_s32(sum, vdupq_n_s32(-kActivationOffset<Packed> * sums[t][b]));
            acc[t] = vfmaq_f32(acc[t], sums_as_float<Packed>(sum), vmulq_n_f32(d, scale[t][b]));
            if constexpr (kWithMinimum<Packed>) acc[t] = vfmaq_n_f32(acc[t], m, block_s[t][b]);
        };
        for (int t = 0; t < kTokens; ++t)
            add(t, dot32(q, vld1q_s8(act[t][b].qs), vld1q_s8(act[t][b].qs + 16), vdupq_n_s32(0)));
    }
    for (int t = 0; t < kTokens; ++t) vst1q_f32(y + (t0 + t) * y_stride + 4 * h, acc[t]);
}

// One token (generation) against all 8 rows of a packed group: each weight is met once, so both
// halves are decoded at once and the activations loaded once per block.
template <typename Packed>
void token_32(int64_t n_blocks, const Packed* blocks, const Q8Batch& a, int t, float* y) {
    using Act = ActivationBlock<Packed>;
    const auto* act = reinterpret_cast<const Act*>(a.rows + t * a.row_stride);
    const size_t first = static_cast<size_t>(t) * n_blocks;
    float32x4_t acc[2] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
    for (int64_t b = 0; b < n_blocks; ++b) {
        const int8x16_t x0 = vld1q_s8(act[b].qs), x1 = vld1q_s8(act[b].qs + 16);
        const float da = a.scales[first + b];
        for (int h = 0; h < 2; ++h) {
            int8x16_t q[8];
            decode(blocks[b], h, q);
            const int32_t offset =
                kActivationOffset<Packed> == 0 ? 0 : -kActivationOffset<Packed> * a.sums[first + b];
            const int32x4_t sum = dot32(q, x0, x1, vdupq_n_s32(offset));
            acc[h] = vfmaq_f32(acc[h], sums_as_float<Packed>(sum),
                               vmulq_n_f32(halves4(blocks[b].d + 4 * h), da));
            if constexpr (kWithMinimum<Packed>)
                acc[h] = vfmaq_n_f32(acc[h], halves4(blocks[b].m + 4 * h), a.block_s[first + b]);
        }
    }
    vst1q_f32(y, acc[0]);
    vst1q_f32(y + 4, acc[1]);
}

#if defined(__ARM_FEATURE_MATMUL_INT8)
// A batch through SMMLA. Two tokens' activations of one block as SMMLA takes them
// (token_pairs), with what each token's block adds besides its products, each of those
// repeated for the lanes of SMMLA's order: made once per pass over a call's groups (one to
// four) and both halves of their rows, where zipping them in every pass cost what the halved
// products saved.
struct PairBlock {
    int8x16_t x[4];       // values 8c..8c+7 of token t, then of token t + 1
    float32x4_t scale;    // [d_t, d_t+1, d_t, d_t+1]: each token's block scale
    int32x4_t offset;     // the same lanes: -kActivationOffset * the block's quant sum
    float32x4_t block_s;  // the same lanes: Q8_1's s (Q4_1, Q5_1)
};

// Tokens t0 .. t0 + 2 kTokenPairs - 1 as pairs: pair p's block b at pairs[p * n_blocks + b].
template <typename Packed, int kTokenPairs>
void make_pairs(int64_t n_blocks, const Q8Batch& a, int t0, PairBlock* pairs) {
    using Act = ActivationBlock<Packed>;
    const auto lanes = [](float t, float u) { return float32x4_t{t, u, t, u}; };
    for (int p = 0; p < kTokenPairs; ++p) {
        const int t = t0 + 2 * p;
        const auto* act_t = reinterpret_cast<const Act*>(a.rows + t * a.row_stride);
        const auto* act_u = reinterpret_cast<const Act*>(a.rows + (t + 1) * a.row_stride);
        const size_t first_t = static_cast<size_t>(t) * n_blocks, first_u = first_t + n_blocks;
        for (int64_t b = 0; b < n_blocks; ++b) {
            PairBlock& x = pairs[p * n_blocks + b];
            const TokenPairs z = token_pairs(vld1q_s8(act_t[b].qs), vld1q_s8(act_t[b].qs + 16),
                                             vld1q_s8(act_u[b].qs), vld1q_s8(act_u[b].qs + 16));
            for (int c = 0; c < 4; ++c) x.x[c] = z.x[c];
            x.scale = lanes(a.scales[first_t + b], a.scales[first_u + b]);
            x.offset = vdupq_n_s32(0);
            if constexpr (kActivationOffset<Packed> != 0) {
                const int32_t o_t = -kActivationOffset<Packed> * a.sums[first_t + b];
                const int32_t o_u = -kActivationOffset<Packed> * a.sums[first_u + b];
                x.offset = int32x4_t{o_t, o_u, o_t, o_u};
            }
            x.block_s = vdupq_n_f32(0.0f);
            if constexpr (kWithMinimum<Packed>)
                x.block_s = lanes(a.block_s[first_t + b], a.block_s[first_u + b]);
        }
    }
}

// Rows 4h..4h+3 of one group against kTokenPairs token pairs from t0. The sums stay in SMMLA's
// order ([row r token t, r t+1, r+1 t, r+1 t+1]) through the float steps, with the rows'
// scales repeated to match ([d0 d0 d1 d1], [d2 d2 d3 d3]): the same products and
// accumulations as tokens_32's, so the same floats; unzipped into rows once at the end.
template <typename Packed, int kTokenPairs>
void pairs_32(int64_t n_blocks, const Packed* blocks, const PairBlock* pairs, int t0, int h,
              float* y, size_t y_stride) {
    float32x4_t acc[kTokenPairs][2];
    for (auto& a : acc) a[0] = a[1] = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < n_blocks; ++b) {
        int8x16_t q[8];
        decode(blocks[b], h, q);
        const RowPairs rows = row_pairs(q);
        const float32x4_t d = halves4(blocks[b].d + 4 * h);
        const float32x4_t d01 = vzip1q_f32(d, d), d23 = vzip2q_f32(d, d);
        float32x4_t m01 = vdupq_n_f32(0.0f), m23 = m01;  // Q4_1 / Q5_1: the rows' minimums
        if constexpr (kWithMinimum<Packed>) {
            const float32x4_t m = halves4(blocks[b].m + 4 * h);
            m01 = vzip1q_f32(m, m), m23 = vzip2q_f32(m, m);
        }
        for (int p = 0; p < kTokenPairs; ++p) {
            const PairBlock& x = pairs[p * n_blocks + b];
            int32x4_t rows01 = x.offset, rows23 = x.offset;
            for (int c = 0; c < 4; ++c) {
                rows01 = vmmlaq_s32(rows01, rows.w[0][c], x.x[c]);
                rows23 = vmmlaq_s32(rows23, rows.w[1][c], x.x[c]);
            }
            acc[p][0] =
                vfmaq_f32(acc[p][0], sums_as_float<Packed>(rows01), vmulq_f32(d01, x.scale));
            acc[p][1] =
                vfmaq_f32(acc[p][1], sums_as_float<Packed>(rows23), vmulq_f32(d23, x.scale));
            if constexpr (kWithMinimum<Packed>) {
                acc[p][0] = vfmaq_f32(acc[p][0], m01, x.block_s);
                acc[p][1] = vfmaq_f32(acc[p][1], m23, x.block_s);
            }
        }
    }
    for (int p = 0; p < kTokenPairs; ++p) {
        float* out = y + (t0 + 2 * p) * y_stride + 4 * h;
        vst1q_f32(out, vuzp1q_f32(acc[p][0], acc[p][1]));
        vst1q_f32(out + y_stride, vuzp2q_f32(acc[p][0], acc[p][1]));
    }
}

// A batch through SMMLA in passes of 8, 4 and 2 tokens, pass(pairs, t0) with pairs = 4, 2, 1 (a
// std::integral_constant), then single(t) for a last odd token.
template <typename Pass, typename Single>
inline void pair_passes(int n_tokens, Pass pass, Single single) {
    int t = 0;
    for (; t + 8 <= n_tokens; t += 8) pass(std::integral_constant<int, 4>{}, t);
    for (; t + 4 <= n_tokens; t += 4) pass(std::integral_constant<int, 2>{}, t);
    for (; t + 2 <= n_tokens; t += 2) pass(std::integral_constant<int, 1>{}, t);
    for (; t < n_tokens; ++t) single(t);
}
// A thread's buffer of at least `size` pair blocks, kept between calls.
template <typename Block>
Block* pair_buffer(size_t size) {
    thread_local std::vector<Block> blocks;
    if (blocks.size() < size) blocks.resize(size);
    return blocks.data();
}

// kGroups consecutive groups (rows 8 kGroups) against a batch: each pass's pairs made once for
// all the groups and both halves of their rows.
template <typename Packed, int kGroups>
void gemm_packed_pairs(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride) {
    const int64_t n_blocks = n / kQK;
    const auto* groups = static_cast<const Packed*>(packed);  // group g at g * n_blocks
    pair_passes(
        a.n_tokens,
        [&](auto n_pairs, int t0) {
            constexpr int kTokenPairs = decltype(n_pairs)::value;
            PairBlock* pairs = pair_buffer<PairBlock>(static_cast<size_t>(kTokenPairs * n_blocks));
            make_pairs<Packed, kTokenPairs>(n_blocks, a, t0, pairs);
            for (int g = 0; g < kGroups; ++g) {
                for (int h = 0; h < 2; ++h) {
                    pairs_32<Packed, kTokenPairs>(n_blocks, groups + g * n_blocks, pairs, t0, h,
                                                  y + 8 * g, y_stride);
                }
            }
        },
        [&](int t) {
            for (int g = 0; g < kGroups; ++g)
                token_32(n_blocks, groups + g * n_blocks, a, t, y + t * y_stride + 8 * g);
        });
}
#endif

template <typename Packed>
void gemm_packed(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride) {
#if defined(__ARM_FEATURE_MATMUL_INT8)
    gemm_packed_pairs<Packed, 1>(n, packed, a, y, y_stride);
#else
    const int64_t n_blocks = n / kQK;
    const auto* blocks = static_cast<const Packed*>(packed);
    const int batched = a.n_tokens / 4 * 4;  // tiles of 8 and 4 tokens; the rest one by one
    for (int h = 0; h < 2; ++h) {
        int t = 0;
        for (; t + 8 <= batched; t += 8)
            tokens_32<Packed, 8>(n_blocks, blocks, a, t, h, y, y_stride);
        for (; t < batched; t += 4) tokens_32<Packed, 4>(n_blocks, blocks, a, t, h, y, y_stride);
    }
    for (int t = batched; t < a.n_tokens; ++t) token_32(n_blocks, blocks, a, t, y + t * y_stride);
#endif
}

// ---- K-quants ----

// A super-block's scales for the 8 rows: scale[j][h] = sub-block j's scale (16 values) of
// rows 4h..4h+3 (kPairs: scale[2j] that of values 32j..); coef[j] = the 8 rows' coefficient of the
// activations' bsum_j (minimums, or offset * scale), or with kPairs of bsum_{2j} + bsum_{2j+1}
// (32-value sub-blocks).
struct KScales {
    int32x4_t scale[16][2];
    int16x8_t coef[16];
    float32x4_t d[2], coef_d[2];
};

// Byte b of every dword, as int32 lanes.
template <int kByte>
inline int32x4_t byte_of_dwords(uint8x16_t v) {
    const uint32x4_t words = vreinterpretq_u32_u8(v);
    if constexpr (kByte == 3) {
        return vreinterpretq_s32_u32(vshrq_n_u32(words, 24));
    } else if constexpr (kByte == 0) {
        return vreinterpretq_s32_u32(vandq_u32(words, vdupq_n_u32(0xff)));
    } else {
        return vreinterpretq_s32_u32(vandq_u32(vshrq_n_u32(words, 8 * kByte), vdupq_n_u32(0xff)));
    }
}
inline int16x8_t narrow_rows(int32x4_t rows_0_3, int32x4_t rows_4_7) {
    return vcombine_s16(vmovn_s32(rows_0_3), vmovn_s32(rows_4_7));
}

// Q4_K / Q5_K: the 6-bit scales and minimums of sub-blocks 0..3 are the low 6 bits of bytes
// 0..3 and 4..7; those of 4..7 take 4 bits from bytes 8..11 and their top 2 from the top of
// bytes 0..7 (kernels/k_quant_scales.h), byte-wise on the three dwords of 4 rows at once.
template <bool kFifthBit>
inline void k_scales(const PackedQ4_KLike<kFifthBit>& p, KScales* out) {
    uint8x16_t scale_lo[2], scale_hi[2], min_lo[2], min_hi[2];
    for (int h = 0; h < 2; ++h) {
        const uint8x16_t s0 = load_u8(p.scales[0] + 16 * h), s1 = load_u8(p.scales[1] + 16 * h),
                         s2 = load_u8(p.scales[2] + 16 * h);
        const uint8x16_t six = vdupq_n_u8(0x3f), top = vdupq_n_u8(0x30);
        scale_lo[h] = vandq_u8(s0, six);
        min_lo[h] = vandq_u8(s1, six);
        scale_hi[h] = vorrq_u8(low_nibbles(s2), vandq_u8(vshrq_n_u8(s0, 2), top));
        min_hi[h] = vorrq_u8(high_nibbles(s2), vandq_u8(vshrq_n_u8(s1, 2), top));
        out->d[h] = halves4(p.d + 4 * h);
        out->coef_d[h] = halves4(p.dmin + 4 * h);
    }
    unrolled(
        [&](auto sub) {
            constexpr int j = decltype(sub)::value;
            int32x4_t scale[2], min[2];
            for (int h = 0; h < 2; ++h) {
                scale[h] = byte_of_dwords<j % 4>(j < 4 ? scale_lo[h] : scale_hi[h]);
                min[h] = byte_of_dwords<j % 4>(j < 4 ? min_lo[h] : min_hi[h]);
                out->scale[2 * j][h] = scale[h];  // kPairs: scale[2j + 1] is not read
            }
            out->coef[j] = narrow_rows(min[0], min[1]);
        },
        std::make_integer_sequence<int, 8>{});
}
// Q6_K: x = d * scale * (u - 32); the offset returns as 32 * scale * bsum.
inline void k_scales(const PackedQ6_K& p, KScales* out) {
    for (int j = 0; j < 16; ++j) {
        const int16x8_t scale = vmovl_s8(vld1_s8(p.scales[j]));
        out->scale[j][0] = vmovl_s16(vget_low_s16(scale));
        out->scale[j][1] = vmovl_high_s16(scale);
        out->coef[j] = vshlq_n_s16(scale, 5);
    }
    out->d[0] = out->coef_d[0] = halves4(p.d);
    out->d[1] = out->coef_d[1] = halves4(p.d + 4);
}
// Q2_K: scale in the low nibble, minimum in the high nibble.
inline void k_scales(const PackedQ2_K& p, KScales* out) {
    for (int j = 0; j < 16; ++j) {
        const uint8x8_t bytes = vld1_u8(p.scales[j]);
        const int16x8_t scale = vreinterpretq_s16_u16(vmovl_u8(vand_u8(bytes, vdup_n_u8(0x0f))));
        out->scale[j][0] = vmovl_s16(vget_low_s16(scale));
        out->scale[j][1] = vmovl_high_s16(scale);
        out->coef[j] = vreinterpretq_s16_u16(vmovl_u8(vshr_n_u8(bytes, 4)));
    }
    for (int h = 0; h < 2; ++h) {
        out->d[h] = halves4(p.d + 4 * h);
        out->coef_d[h] = halves4(p.dmin + 4 * h);
    }
}
// Q3_K: 16 six-bit scales (minus 32): the low 4 bits of sub-block 4q+b are a nibble of byte b
// (q = 0, 2) or 4+b (q = 1, 3), low nibble first; the top 2 bits are bits 2q, 2q+1 of byte 8+b.
// x = d * scale * (u - 4), so the offset returns as 4 * scale * bsum.
inline void k_scales(const PackedQ3_K& p, KScales* out) {
    uint8x16_t u[4][2];
    for (int h = 0; h < 2; ++h) {
        const uint8x16_t s0 = load_u8(p.scales[0] + 16 * h), s1 = load_u8(p.scales[1] + 16 * h),
                         s2 = load_u8(p.scales[2] + 16 * h);
        u[0][h] = vorrq_u8(low_nibbles(s0), bits_at<0, 2, 4>(s2));
        u[1][h] = vorrq_u8(low_nibbles(s1), bits_at<2, 2, 4>(s2));
        u[2][h] = vorrq_u8(high_nibbles(s0), bits_at<4, 2, 4>(s2));
        u[3][h] = vorrq_u8(high_nibbles(s1), bits_at<6, 2, 4>(s2));
        out->d[h] = out->coef_d[h] = halves4(p.d + 4 * h);
    }
    unrolled(
        [&](auto sub) {
            constexpr int j = decltype(sub)::value;
            for (int h = 0; h < 2; ++h)
                out->scale[j][h] = vsubq_s32(byte_of_dwords<j % 4>(u[j / 4][h]), vdupq_n_s32(32));
            out->coef[j] = vshlq_n_s16(narrow_rows(out->scale[j][0], out->scale[j][1]), 2);
        },
        std::make_integer_sequence<int, 16>{});
}

// IQ4_XS: a 6-bit scale (minus 32) per 32 values (4 bits in scales_l, the top 2 in
// scales_h), no minimums or offsets: the values are signed levels. Sub-block j of the 8 rows
// is bytes 8 (j / 2).. of scales_l (the low nibbles for even j) and bits 2j, 2j + 1 of each
// row's scales_h, 8 rows to a vector.
inline void k_scales(const PackedIQ4_XS& p, KScales* out) {
    const uint8x16_t low[2] = {load_u8(p.scales_l[0]), load_u8(p.scales_l[2])};
    const uint16x8_t high = vld1q_u16(p.scales_h);
    unrolled(
        [&](auto sub) {
            constexpr int j = decltype(sub)::value;
            const uint8x16_t l = low[j / 4];
            const uint8x8_t bytes = (j / 2) % 2 == 0 ? vget_low_u8(l) : vget_high_u8(l);
            const uint8x8_t nibble =
                j % 2 == 0 ? vand_u8(bytes, vdup_n_u8(0xf)) : vshr_n_u8(bytes, 4);
            // bits 2j, 2j + 1 of each row's word, moved to bits 4, 5
            uint16x8_t top = high;
            if constexpr (2 * j > 4) {
                top = vshrq_n_u16(high, 2 * j - 4);
            } else if constexpr (2 * j < 4) {
                top = vshlq_n_u16(high, 4 - 2 * j);
            }
            const uint16x8_t six_bits =
                vorrq_u16(vmovl_u8(nibble), vandq_u16(top, vdupq_n_u16(0x30)));
            const int16x8_t scale = vsubq_s16(vreinterpretq_s16_u16(six_bits), vdupq_n_s16(32));
            out->scale[2 * j][0] = vmovl_s16(vget_low_s16(scale));  // kPairs: scale[2j + 1]
            out->scale[2 * j][1] = vmovl_high_s16(scale);           // is not read
        },
        std::make_integer_sequence<int, 8>{});
    for (int h = 0; h < 2; ++h) {
        out->d[h] = halves4(p.d + 4 * h);
        out->coef_d[h] = vdupq_n_f32(0.0f);
    }
}

// values<G>(p, h, q): values 32G .. 32G + 31 of rows 4h..4h+3, q[k] = values 32G + 4k.. of each
// (packed_layout.h's sections: dword k of a section is values 4k.. of its group).

// Q4_K / Q5_K: section c of qs holds values 64c.. (low nibbles) and 64c+32.. (high nibbles);
// Q5_K's fifth bit of values 32G.. is bit G of qh.
template <int G, bool kFifthBit>
inline void values(const PackedQ4_KLike<kFifthBit>& p, int h, int8x16_t q[8]) {
    for (int k = 0; k < 8; ++k) {
        const uint8x16_t raw = load_u8(p.qs[G / 2][k] + 16 * h);
        uint8x16_t v = G % 2 == 0 ? low_nibbles(raw) : high_nibbles(raw);
        if constexpr (kFifthBit) v = vorrq_u8(v, bits_at<G, 1, 4>(load_u8(p.qh[0][k] + 16 * h)));
        q[k] = as_s8(v);
    }
}
// Q6_K: in half H, values 128H + 32R.. take their low 4 bits from ql section 2H + R % 2 (low
// nibbles for R < 2) and their top 2 from bits 2R, 2R+1 of qh section H.
template <int G>
inline void values(const PackedQ6_K& p, int h, int8x16_t q[8]) {
    constexpr int kH = G / 4, kR = G % 4;
    for (int k = 0; k < 8; ++k) {
        const uint8x16_t ql = load_u8(p.ql[2 * kH + kR % 2][k] + 16 * h);
        const uint8x16_t qh = load_u8(p.qh[kH][k] + 16 * h);
        const uint8x16_t low = kR < 2 ? low_nibbles(ql) : high_nibbles(ql);
        q[k] = as_s8(vorrq_u8(low, bits_at<2 * kR, 2, 4>(qh)));
    }
}
// Q2_K: values 128H + 32R.. are bits 2R, 2R+1 of qs section H.
template <int G>
inline void values(const PackedQ2_K& p, int h, int8x16_t q[8]) {
    for (int k = 0; k < 8; ++k)
        q[k] = as_s8(bits_at<2 * (G % 4), 2, 0>(load_u8(p.qs[G / 4][k] + 16 * h)));
}
// IQ4_XS: sub-block G is dwords 4 (G % 2).. of section G / 2, values 4k.. in the low nibbles
// and 16 + 4k.. in the high ones, each looked up in the 16 levels.
template <int G>
inline void values(const PackedIQ4_XS& p, int h, int8x16_t q[8]) {
    const int8x16_t levels = vld1q_s8(kIq4Levels);
    for (int k = 0; k < 4; ++k) {
        const uint8x16_t raw = load_u8(p.qs[G / 2][4 * (G % 2) + k] + 16 * h);
        q[k] = vqtbl1q_s8(levels, low_nibbles(raw));
        q[k + 4] = vqtbl1q_s8(levels, high_nibbles(raw));
    }
}
// Q3_K: as Q2_K, plus 4 * bit G of hmask.
template <int G>
inline void values(const PackedQ3_K& p, int h, int8x16_t q[8]) {
    for (int k = 0; k < 8; ++k) {
        const uint8x16_t low = bits_at<2 * (G % 4), 2, 0>(load_u8(p.qs[G / 4][k] + 16 * h));
        q[k] = as_s8(vorrq_u8(low, bits_at<G, 1, 2>(load_u8(p.hmask[0][k] + 16 * h))));
    }
}

// Q4_K and Q5_K scale 32 values at once (their minimums meet bsum pairs); the others 16.
template <typename Packed>
constexpr bool kPairs = std::is_same_v<Packed, PackedQ4_K> || std::is_same_v<Packed, PackedQ5_K> ||
                        std::is_same_v<Packed, PackedIQ4_XS>;

// sum_j coef_j * bsum_j for rows 0-3 (m[0]) and 4-7 (m[1]); with kHalf 0 or 1 only that half's
// (the other left 0), with 2 both.
template <typename Packed, int kHalf = 2>
inline void offsets(const KScales& sc, const BlockQ8_K& act, int32x4_t m[2]) {
    m[0] = m[1] = vdupq_n_s32(0);
    if constexpr (std::is_same_v<Packed, PackedIQ4_XS>) return;  // no minimums or offsets
    const auto add = [m](int16x8_t coef, int16x8_t b, auto lane) {
        constexpr int kLane = decltype(lane)::value;
        if constexpr (kHalf != 1) m[0] = vmlal_laneq_s16(m[0], vget_low_s16(coef), b, kLane);
        if constexpr (kHalf != 0) m[1] = vmlal_high_laneq_s16(m[1], coef, b, kLane);
    };
    const int16x8_t b0 = vld1q_s16(act.bsums), b1 = vld1q_s16(act.bsums + 8);
    if constexpr (kPairs<Packed>) {
        const int16x8_t pairs = vpaddq_s16(b0, b1);  // |bsum pair| <= 32 * 128: int16
        unrolled(
            [&](auto sub) {
                constexpr int j = decltype(sub)::value;
                add(sc.coef[j], pairs, std::integral_constant<int, j>{});
            },
            std::make_integer_sequence<int, 8>{});
    } else {
        unrolled(
            [&](auto sub) {
                constexpr int j = decltype(sub)::value;
                add(sc.coef[j], j < 8 ? b0 : b1, std::integral_constant<int, j % 8>{});
            },
            std::make_integer_sequence<int, 16>{});
    }
}

// One token's float step for a super-block of the 8 rows: its scaled integer sums (rows 4h..
// in scaled[h]) less the offsets' term, times the scales, into acc[h].
template <typename Packed>
inline void add_super_block(const KScales& sc, const BlockQ8_K& act, const int32x4_t scaled[2],
                            float32x4_t acc[2]) {
    int32x4_t m[2];
    offsets<Packed>(sc, act, m);
    for (int h = 0; h < 2; ++h) {
        float32x4_t f = vmulq_f32(sc.d[h], vcvtq_f32_s32(scaled[h]));
        f = vfmsq_f32(f, sc.coef_d[h], vcvtq_f32_s32(m[h]));
        acc[h] = vfmaq_n_f32(acc[h], f, act.d);
    }
}

// Tokens t0 .. t0 + kTokens - 1 against one packed group of K-quant super-blocks. Per group of
// 32 values, each half of the rows is decoded once (8 registers) and meets every token; the
// scaled sums stay in int32 until the super-block ends. (With i8mm, batches of the types with
// one scale per 32 values go through pairs_k; those with one per 16 keep SDOT: docs/kernels.md.)
template <typename Packed, int kTokens>
void tokens_k(int64_t n_blocks, const Packed* blocks, const Q8Batch& a, int t0, float* y,
              size_t y_stride) {
    float32x4_t acc[kTokens][2];
    const BlockQ8_K* act[kTokens];
    for (int t = 0; t < kTokens; ++t) {
        acc[t][0] = acc[t][1] = vdupq_n_f32(0.0f);
        act[t] = reinterpret_cast<const BlockQ8_K*>(a.rows + (t0 + t) * a.row_stride);
    }
    for (int64_t b = 0; b < n_blocks; ++b) {
        KScales sc;
        k_scales(blocks[b], &sc);
        int32x4_t scaled[kTokens][2];
        for (auto& token : scaled) token[0] = token[1] = vdupq_n_s32(0);
        unrolled(
            [&](auto group) {
                constexpr int g = decltype(group)::value;
                for (int h = 0; h < 2; ++h) {
                    int8x16_t q[8];
                    values<g>(blocks[b], h, q);
                    for (int t = 0; t < kTokens; ++t) {
                        const int8_t* x = act[t][b].qs + 32 * g;
                        const int8x16_t x0 = vld1q_s8(x), x1 = vld1q_s8(x + 16);
                        int32x4_t& sum = scaled[t][h];
                        if constexpr (kPairs<Packed>) {  // one scale for all 32 values
                            sum = vmlaq_s32(sum, dot32(q, x0, x1, vdupq_n_s32(0)),
                                            sc.scale[2 * g][h]);
                        } else {  // one for each 16
                            sum = vmlaq_s32(sum, dot16(q, x0, vdupq_n_s32(0)), sc.scale[2 * g][h]);
                            sum = vmlaq_s32(sum, dot16(q + 4, x1, vdupq_n_s32(0)),
                                            sc.scale[2 * g + 1][h]);
                        }
                    }
                }
            },
            std::make_integer_sequence<int, 8>{});
        for (int t = 0; t < kTokens; ++t) add_super_block<Packed>(sc, act[t][b], scaled[t], acc[t]);
    }
    for (int t = 0; t < kTokens; ++t) {
        vst1q_f32(y + (t0 + t) * y_stride, acc[t][0]);
        vst1q_f32(y + (t0 + t) * y_stride + 4, acc[t][1]);
    }
}

// Q6_K against one token (generation), the same integer sums as tokens_k<PackedQ6_K, 1> and
// the same float steps. tokens_k loads a qh vector for each of the four groups that share it
// and a ql vector for each of the two nibbles it holds, 16 bytes at a time, and builds each
// 6-bit value with four operations. Here a half H's four groups go in two passes over both
// halves of the rows, 64 bytes a load: groups 4H and 4H + 2 from ql section 2H, then 4H + 1 and
// 4H + 3 from section 2H + 1, each value by a shift-and-insert and one more step:
//   R = 0: ql0's low nibble under qh's bits 0, 1     (SLI by 4, then & 0x3f)
//   R = 2: ql0's high nibble under qh's bits 4, 5    (SRI by 4 into qh & 0x30)
//   R = 1: ql1's low nibble under qh's bits 2, 3     (SLI of qh >> 2 by 4, then & 0x3f)
//   R = 3: ql1's high nibble under qh's bits 6, 7    (SRI by 4 into qh >> 2: its top bits are 0)
//
// One pass of token_q6_k: groups 4H + kOdd and 4H + kOdd + 2 of both halves of the rows. The
// loop over each group's two 16-value halves stays a loop: unrolled, GCC hoisted the 64-byte
// loads and spilled them.
template <int kOdd>
inline void q6_k_pass(const PackedQ6_K& p, int H, const int8_t* a, const int32x4_t (&scale)[16][2],
                      int32x4_t scaled[2]) {
    const uint8x16_t six = vdupq_n_u8(0x3f), bits45 = vdupq_n_u8(0x30);
    a += 128 * H + 32 * kOdd;
    for (int sub = 0; sub < 2; ++sub) {  // values 16 sub .. of each group: dwords 4 sub ..
        // x[G]: activations 16 sub.. of group 4H + kOdd + 2G
        const int8x16_t x[2] = {vld1q_s8(a + 16 * sub), vld1q_s8(a + 64 + 16 * sub)};
        RowDots dots[2][2];  // [G][rows 4h..]
        unrolled(
            [&](auto pair) {
                constexpr int j = decltype(pair)::value;  // dwords 4 sub + 2j, + 1
                const uint8x16x4_t ql = vld1q_u8_x4(p.ql[2 * H + kOdd][4 * sub + 2 * j]);
                const uint8x16x4_t qh = vld1q_u8_x4(p.qh[H][4 * sub + 2 * j]);
                unrolled(
                    [&](auto part) {
                        constexpr int i = decltype(part)::value;
                        constexpr int lane = 2 * j + i / 2, h = i % 2;
                        uint8x16_t v[2];
                        if constexpr (kOdd == 0) {
                            v[1] = vsriq_n_u8(vandq_u8(qh.val[i], bits45), ql.val[i], 4);
                            v[0] = vandq_u8(vsliq_n_u8(ql.val[i], qh.val[i], 4), six);
                        } else {
                            const uint8x16_t qh2 = vshrq_n_u8(qh.val[i], 2);
                            v[0] = vandq_u8(vsliq_n_u8(ql.val[i], qh2, 4), six);
                            v[1] = vsriq_n_u8(qh2, ql.val[i], 4);
                        }
                        for (int G = 0; G < 2; ++G) dots[G][h].add<lane>(as_s8(v[G]), x[G]);
                    },
                    std::make_integer_sequence<int, 4>{});
            },
            std::make_integer_sequence<int, 2>{});
        for (int G = 0; G < 2; ++G) {
            const int g = 4 * H + kOdd + 2 * G;
            for (int h = 0; h < 2; ++h)
                scaled[h] = vmlaq_s32(scaled[h], dots[G][h].sums(), scale[2 * g + sub][h]);
        }
    }
}
void token_q6_k(int64_t n_blocks, const PackedQ6_K* blocks, const BlockQ8_K* act, float* y) {
    float32x4_t acc[2] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
    for (int64_t b = 0; b < n_blocks; ++b) {
        const PackedQ6_K& p = blocks[b];
        // The scales as int32 lanes, and sum_j scale_j bsum_j per row (k_scales and offsets
        // make 32 scale_j the coefficient; the 32 comes after the sum here: the same integers).
        int32x4_t scale[16][2];
        int32x4_t m[2] = {vdupq_n_s32(0), vdupq_n_s32(0)};
        const int16x8_t bsums[2] = {vld1q_s16(act[b].bsums), vld1q_s16(act[b].bsums + 8)};
        unrolled(
            [&](auto pair) {
                constexpr int j = 2 * decltype(pair)::value;  // sub-blocks j, j + 1
                const int8x16_t bytes = vld1q_s8(p.scales[j]);
                const int16x8_t s[2] = {vmovl_s8(vget_low_s8(bytes)), vmovl_high_s8(bytes)};
                for (int c = 0; c < 2; ++c) {
                    scale[j + c][0] = vmovl_s16(vget_low_s16(s[c]));
                    scale[j + c][1] = vmovl_high_s16(s[c]);
                }
                const int16x8_t sums = bsums[j / 8];
                m[0] = vmlal_laneq_s16(m[0], vget_low_s16(s[0]), sums, j % 8);
                m[1] = vmlal_high_laneq_s16(m[1], s[0], sums, j % 8);
                m[0] = vmlal_laneq_s16(m[0], vget_low_s16(s[1]), sums, j % 8 + 1);
                m[1] = vmlal_high_laneq_s16(m[1], s[1], sums, j % 8 + 1);
            },
            std::make_integer_sequence<int, 8>{});
        int32x4_t scaled[2] = {vdupq_n_s32(0), vdupq_n_s32(0)};
        for (int H = 0; H < 2; ++H) {  // a loop: unrolled, the loads were hoisted and spilled
            q6_k_pass<0>(p, H, act[b].qs, scale, scaled);
            q6_k_pass<1>(p, H, act[b].qs, scale, scaled);
        }
        for (int h = 0; h < 2; ++h) {
            const float32x4_t d = halves4(p.d + 4 * h);
            float32x4_t f = vmulq_f32(d, vcvtq_f32_s32(scaled[h]));
            f = vfmsq_f32(f, d, vcvtq_f32_s32(vshlq_n_s32(m[h], 5)));
            acc[h] = vfmaq_n_f32(acc[h], f, act[b].d);
        }
    }
    vst1q_f32(y, acc[0]);
    vst1q_f32(y + 4, acc[1]);
}

// IQ4_XS against one token, the same integer sums and float steps as tokens_k<PackedIQ4_XS, 1>:
// a sub-block's 128 bytes (4 dwords x both halves of the rows) come in two 64-byte loads, and
// both halves are decoded and summed in one pass (tokens_k loads 16 bytes at a time, one half
// of the rows after the other).
void token_iq4_xs(int64_t n_blocks, const PackedIQ4_XS* blocks, const BlockQ8_K* act, float* y) {
    const int8x16_t levels = vld1q_s8(kIq4Levels);
    float32x4_t acc[2] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
    for (int64_t b = 0; b < n_blocks; ++b) {
        const PackedIQ4_XS& p = blocks[b];
        KScales sc;
        k_scales(p, &sc);
        int32x4_t scaled[2] = {vdupq_n_s32(0), vdupq_n_s32(0)};
        for (int g = 0; g < 8;
             ++g) {  // a loop, not unrolled: unrolled, the loads were hoisted and spilled
            const int8_t* x = act[b].qs + 32 * g;
            const int8x16_t x0 = vld1q_s8(x), x1 = vld1q_s8(x + 16);
            // raw[k / 2].val[2 (k % 2) + h]: dword k of the sub-block, rows 4h..4h+3
            const uint8_t* bytes = &p.qs[0][0][0] + 128 * g;  // section g / 2, dword 4 (g % 2)
            const uint8x16x4_t raw[2] = {vld1q_u8_x4(bytes), vld1q_u8_x4(bytes + 64)};
            RowDots sum[2];  // rows 4h..
            unrolled(
                [&](auto dword) {
                    constexpr int k = decltype(dword)::value;
                    for (int h = 0; h < 2; ++h) {
                        const uint8x16_t r = raw[k / 2].val[2 * (k % 2) + h];
                        sum[h].add<k>(vqtbl1q_s8(levels, low_nibbles(r)), x0);
                        sum[h].add<k>(vqtbl1q_s8(levels, high_nibbles(r)), x1);
                    }
                },
                std::make_integer_sequence<int, 4>{});
            for (int h = 0; h < 2; ++h)
                scaled[h] = vmlaq_s32(scaled[h], sum[h].sums(), sc.scale[2 * g][h]);
        }
        add_super_block<PackedIQ4_XS>(sc, act[b], scaled, acc);
    }
    vst1q_f32(y, acc[0]);
    vst1q_f32(y + 4, acc[1]);
}

// Q4_K / Q5_K against one token, the same integer sums and float steps as tokens_k<Packed, 1>:
// section c's 256 bytes (8 dwords x both halves of the rows) come in four 64-byte loads and give
// both of its groups, 2c from the low nibbles and 2c + 1 from the high ones (tokens_k loads
// every byte twice, 16 at a time); Q5_K's fifth bits come the same way from qh, each put in
// place by a shift-and-insert.
template <bool kFifthBit>
void token_q4_k(int64_t n_blocks, const PackedQ4_KLike<kFifthBit>* blocks, const BlockQ8_K* act,
                float* y) {
    using Packed = PackedQ4_KLike<kFifthBit>;
    float32x4_t acc[2] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
    for (int64_t b = 0; b < n_blocks; ++b) {
        const Packed& p = blocks[b];
        KScales sc;
        k_scales(p, &sc);
        int32x4_t scaled[2] = {vdupq_n_s32(0), vdupq_n_s32(0)};
        for (int c = 0; c < 4; ++c) {  // a loop: unrolled, the loads were hoisted and spilled
            const int8_t* x = act[b].qs + 64 * c;
            // x[G][i]: activations 16i.. of group 2c + G
            const int8x16_t xs[2][2] = {{vld1q_s8(x), vld1q_s8(x + 16)},
                                        {vld1q_s8(x + 32), vld1q_s8(x + 48)}};
            // Q5_K: bit 2c + G of qh to bit 4
            // Q5_K: qh >> 2c (bit 2c to bit 0), and bit 2c + 1 to bit 4
            const int8x16_t to_bit0 = vdupq_n_s8(static_cast<int8_t>(-2 * c));
            const int8x16_t to_bit4 = vdupq_n_s8(static_cast<int8_t>(3 - 2 * c));
            RowDots sum[2][2];  // [group 2c + G][rows 4h..]
            unrolled(
                [&](auto pair) {
                    constexpr int j = decltype(pair)::value;  // dwords 2j, 2j + 1
                    const uint8x16x4_t raw = vld1q_u8_x4(p.qs[c][2 * j]);
                    uint8x16x4_t high_bits;
                    if constexpr (kFifthBit) high_bits = vld1q_u8_x4(p.qh[0][2 * j]);
                    unrolled(
                        [&](auto part) {
                            constexpr int i = decltype(part)::value;
                            constexpr int k = 2 * j + i / 2, h = i % 2;
                            uint8x16_t v[2];
                            if constexpr (kFifthBit) {
                                // the high nibble under its fifth bit (SRI into the bit alone),
                                // then the low one (SLI of qh >> 2c by 4, its bits above 4 off)
                                const uint8x16_t qh = high_bits.val[i];
                                v[1] = vsriq_n_u8(vandq_u8(vshlq_u8(qh, to_bit4), vdupq_n_u8(0x10)),
                                                  raw.val[i], 4);
                                v[0] = vandq_u8(vsliq_n_u8(raw.val[i], vshlq_u8(qh, to_bit0), 4),
                                                vdupq_n_u8(0x1f));
                            } else {
                                v[0] = low_nibbles(raw.val[i]);
                                v[1] = high_nibbles(raw.val[i]);
                            }
                            for (int G = 0; G < 2; ++G)
                                sum[G][h].add<k % 4>(as_s8(v[G]), xs[G][k / 4]);
                        },
                        std::make_integer_sequence<int, 4>{});
                },
                std::make_integer_sequence<int, 4>{});
            for (int G = 0; G < 2; ++G) {
                for (int h = 0; h < 2; ++h)
                    scaled[h] =
                        vmlaq_s32(scaled[h], sum[G][h].sums(), sc.scale[2 * (2 * c + G)][h]);
            }
        }
        add_super_block<Packed>(sc, act[b], scaled, acc);
    }
    vst1q_f32(y, acc[0]);
    vst1q_f32(y + 4, acc[1]);
}

#if defined(__ARM_FEATURE_MATMUL_INT8)
// A K-quant batch through SMMLA, as the 32-value types' (pairs_32): two tokens' Q8_K values of
// one super-block zipped as SMMLA takes them, made once per pass over a call's groups.
struct PairBlockK {
    int8x16_t x[32];  // x[4g + c]: values 32g + 8c .. + 7 of token t, then of token t + 1
    float32x4_t d;    // [d_t, d_t+1, d_t, d_t+1]
};
template <int kTokenPairs>
void make_pairs_k(int64_t n_blocks, const Q8Batch& a, int t0, PairBlockK* pairs) {
    for (int p = 0; p < kTokenPairs; ++p) {
        const auto* act_t =
            reinterpret_cast<const BlockQ8_K*>(a.rows + (t0 + 2 * p) * a.row_stride);
        const auto* act_u =
            reinterpret_cast<const BlockQ8_K*>(a.rows + (t0 + 2 * p + 1) * a.row_stride);
        for (int64_t b = 0; b < n_blocks; ++b) {
            PairBlockK& x = pairs[p * n_blocks + b];
            for (int g = 0; g < 8; ++g) {
                const int8_t *t = act_t[b].qs + 32 * g, *u = act_u[b].qs + 32 * g;
                const TokenPairs z =
                    token_pairs(vld1q_s8(t), vld1q_s8(t + 16), vld1q_s8(u), vld1q_s8(u + 16));
                for (int c = 0; c < 4; ++c) x.x[4 * g + c] = z.x[c];
            }
            x.d = float32x4_t{act_t[b].d, act_u[b].d, act_t[b].d, act_u[b].d};
        }
    }
}

// Rows 4H..4H+3 of one group against kTokenPairs token pairs from t0, for the types with one
// scale per 32 values: tokens_k's integer sums and float steps, in SMMLA's order ([row r token
// t, r t+1, r+1 t, r+1 t+1]) with the rows' scales repeated to match, so the same numbers;
// unzipped into rows at the end.
template <typename Packed, int kTokenPairs, int H>
void pairs_k(int64_t n_blocks, const Packed* blocks, const PairBlockK* pairs, const Q8Batch& a,
             int t0, float* y, size_t y_stride) {
    static_assert(kPairs<Packed>, "one scale per 32 values");
    const auto twice_lo = [](int32x4_t v) { return vzip1q_s32(v, v); };  // [v0 v0 v1 v1]
    const auto twice_hi = [](int32x4_t v) { return vzip2q_s32(v, v); };  // [v2 v2 v3 v3]
    float32x4_t acc[kTokenPairs][2];
    for (auto& v : acc) v[0] = v[1] = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < n_blocks; ++b) {
        KScales sc;
        k_scales(blocks[b], &sc);
        int32x4_t scaled[kTokenPairs][2];
        for (auto& v : scaled) v[0] = v[1] = vdupq_n_s32(0);
        unrolled(
            [&](auto group) {
                constexpr int g = decltype(group)::value;
                int8x16_t q[8];
                values<g>(blocks[b], H, q);
                const RowPairs rows = row_pairs(q);
                const int32x4_t scale01 = twice_lo(sc.scale[2 * g][H]);
                const int32x4_t scale23 = twice_hi(sc.scale[2 * g][H]);
                for (int p = 0; p < kTokenPairs; ++p) {
                    const int8x16_t* x = pairs[p * n_blocks + b].x + 4 * g;
                    int32x4_t r01 = vdupq_n_s32(0), r23 = vdupq_n_s32(0);
                    for (int c = 0; c < 4; ++c) {
                        r01 = vmmlaq_s32(r01, rows.w[0][c], x[c]);
                        r23 = vmmlaq_s32(r23, rows.w[1][c], x[c]);
                    }
                    scaled[p][0] = vmlaq_s32(scaled[p][0], r01, scale01);
                    scaled[p][1] = vmlaq_s32(scaled[p][1], r23, scale23);
                }
            },
            std::make_integer_sequence<int, 8>{});
        const float32x4_t d = sc.d[H], coef_d = sc.coef_d[H];
        const float32x4_t d01 = vzip1q_f32(d, d), d23 = vzip2q_f32(d, d);
        const float32x4_t c01 = vzip1q_f32(coef_d, coef_d), c23 = vzip2q_f32(coef_d, coef_d);
        for (int p = 0; p < kTokenPairs; ++p) {
            const int t = t0 + 2 * p;
            const auto* act_t = reinterpret_cast<const BlockQ8_K*>(a.rows + t * a.row_stride);
            const auto* act_u = reinterpret_cast<const BlockQ8_K*>(a.rows + (t + 1) * a.row_stride);
            int32x4_t m[2], n[2];  // tokens t and t + 1; half H of each
            offsets<Packed, H>(sc, act_t[b], m);
            offsets<Packed, H>(sc, act_u[b], n);
            const int32x4_t m_t = m[H], m_u = n[H];
            const float32x4_t da = pairs[p * n_blocks + b].d;
            float32x4_t f = vmulq_f32(d01, vcvtq_f32_s32(scaled[p][0]));
            f = vfmsq_f32(f, c01, vcvtq_f32_s32(vzip1q_s32(m_t, m_u)));
            acc[p][0] = vfmaq_f32(acc[p][0], f, da);
            f = vmulq_f32(d23, vcvtq_f32_s32(scaled[p][1]));
            f = vfmsq_f32(f, c23, vcvtq_f32_s32(vzip2q_s32(m_t, m_u)));
            acc[p][1] = vfmaq_f32(acc[p][1], f, da);
        }
    }
    for (int p = 0; p < kTokenPairs; ++p) {
        float* out = y + (t0 + 2 * p) * y_stride + 4 * H;
        vst1q_f32(out, vuzp1q_f32(acc[p][0], acc[p][1]));
        vst1q_f32(out + y_stride, vuzp2q_f32(acc[p][0], acc[p][1]));
    }
}

// kGroups consecutive groups against a batch, as gemm_packed_pairs; a last odd token through
// tokens_k. Each pass takes one half of the rows at a time (k_scales then runs once per half:
// both halves at once would keep 16 accumulators beside the 8 row pairs).
template <typename Packed, int kGroups>
void gemm_k_packed_pairs(int64_t n, const void* packed, const Q8Batch& a, float* y,
                         size_t y_stride) {
    const int64_t n_blocks = n / kQK_K;
    const auto* groups = static_cast<const Packed*>(packed);  // group g at g * n_blocks
    pair_passes(
        a.n_tokens,
        [&](auto n_pairs, int t0) {
            constexpr int kTokenPairs = decltype(n_pairs)::value;
            PairBlockK* pairs =
                pair_buffer<PairBlockK>(static_cast<size_t>(kTokenPairs * n_blocks));
            make_pairs_k<kTokenPairs>(n_blocks, a, t0, pairs);
            for (int g = 0; g < kGroups; ++g) {
                const Packed* blocks = groups + g * n_blocks;
                pairs_k<Packed, kTokenPairs, 0>(n_blocks, blocks, pairs, a, t0, y + 8 * g,
                                                y_stride);
                pairs_k<Packed, kTokenPairs, 1>(n_blocks, blocks, pairs, a, t0, y + 8 * g,
                                                y_stride);
            }
        },
        [&](int t) {
            for (int g = 0; g < kGroups; ++g)
                tokens_k<Packed, 1>(n_blocks, groups + g * n_blocks, a, t, y + 8 * g, y_stride);
        });
}
#endif

template <typename Packed>
void gemm_k_packed(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride) {
#if defined(__ARM_FEATURE_MATMUL_INT8)
    if constexpr (kPairs<Packed>) {
        if (a.n_tokens >= 2) {
            gemm_k_packed_pairs<Packed, 1>(n, packed, a, y, y_stride);
            return;
        }
    }
#endif
    const int64_t n_blocks = n / kQK_K;
    const auto* blocks = static_cast<const Packed*>(packed);
    int t = 0;
    for (; t + 8 <= a.n_tokens; t += 8) tokens_k<Packed, 8>(n_blocks, blocks, a, t, y, y_stride);
    for (; t + 4 <= a.n_tokens; t += 4) tokens_k<Packed, 4>(n_blocks, blocks, a, t, y, y_stride);
    for (; t + 2 <= a.n_tokens; t += 2) tokens_k<Packed, 2>(n_blocks, blocks, a, t, y, y_stride);
    for (; t < a.n_tokens; ++t) {  // one token (generation): the kernels above where there is one
        const auto* act = reinterpret_cast<const BlockQ8_K*>(a.rows + t * a.row_stride);
        if constexpr (std::is_same_v<Packed, PackedQ6_K>) {
            token_q6_k(n_blocks, blocks, act, y + t * y_stride);
        } else if constexpr (std::is_same_v<Packed, PackedIQ4_XS>) {
            token_iq4_xs(n_blocks, blocks, act, y + t * y_stride);
        } else if constexpr (std::is_same_v<Packed, PackedQ4_K> ||
                             std::is_same_v<Packed, PackedQ5_K>) {
            token_q4_k(n_blocks, blocks, act, y + t * y_stride);
        } else {
            tokens_k<Packed, 1>(n_blocks, blocks, a, t, y, y_stride);
        }
    }
}

}  // namespace

// ---- a packer and its 8-row kernel per type (registered by register_packed_kernels) ----

void pack8_q4_0(int64_t n, const void* w, size_t w_stride, void* packed) {
    pack_groups<BlockQ4_0, kQK, PackedQ4_0, pack_q4_0<0x88>>(n, w, w_stride, packed);
}
void gemm_packed8_q4_0(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride) {
    gemm_packed<PackedQ4_0>(n, packed, a, y, y_stride);
}
void pack8_iq4_nl(int64_t n, const void* w, size_t w_stride, void* packed) {
    pack_groups<BlockIQ4_NL, kQK, PackedIQ4_NL, pack_iq4_nl>(n, w, w_stride, packed);
}
void gemm_packed8_iq4_nl(int64_t n, const void* packed, const Q8Batch& a, float* y,
                         size_t y_stride) {
    gemm_packed<PackedIQ4_NL>(n, packed, a, y, y_stride);
}
void pack8_q5_0(int64_t n, const void* w, size_t w_stride, void* packed) {
    pack_groups<BlockQ5_0, kQK, PackedQ5_0, pack_q5_0<true>>(n, w, w_stride, packed);
}
void gemm_packed8_q5_0(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride) {
    gemm_packed<PackedQ5_0>(n, packed, a, y, y_stride);
}
void pack8_q4_1(int64_t n, const void* w, size_t w_stride, void* packed) {
    pack_groups<BlockQ4_1, kQK, PackedQ4_1, pack_q4_1>(n, w, w_stride, packed);
}
void gemm_packed8_q4_1(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride) {
    gemm_packed<PackedQ4_1>(n, packed, a, y, y_stride);
}
void pack8_q5_1(int64_t n, const void* w, size_t w_stride, void* packed) {
    pack_groups<BlockQ5_1, kQK, PackedQ5_1, pack_q5_1<true>>(n, w, w_stride, packed);
}
void gemm_packed8_q5_1(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride) {
    gemm_packed<PackedQ5_1>(n, packed, a, y, y_stride);
}
void pack8_q8_0(int64_t n, const void* w, size_t w_stride, void* packed) {
    pack_groups<BlockQ8_0, kQK, PackedQ8_0, pack_q8_0<0>>(n, w, w_stride, packed);
}
void gemm_packed8_q8_0(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride) {
    gemm_packed<PackedQ8_0>(n, packed, a, y, y_stride);
}
void pack8_q2_k(int64_t n, const void* w, size_t w_stride, void* packed) {
    pack_groups<BlockQ2_K, kQK_K, PackedQ2_K, pack_q2_k>(n, w, w_stride, packed);
}
void gemm_packed8_q2_k(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride) {
    gemm_k_packed<PackedQ2_K>(n, packed, a, y, y_stride);
}
void pack8_q3_k(int64_t n, const void* w, size_t w_stride, void* packed) {
    pack_groups<BlockQ3_K, kQK_K, PackedQ3_K, pack_q3_k>(n, w, w_stride, packed);
}
void gemm_packed8_q3_k(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride) {
    gemm_k_packed<PackedQ3_K>(n, packed, a, y, y_stride);
}
void pack8_q4_k(int64_t n, const void* w, size_t w_stride, void* packed) {
    pack_groups<BlockQ4_K, kQK_K, PackedQ4_K, pack_q4_k>(n, w, w_stride, packed);
}
void gemm_packed8_q4_k(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride) {
    gemm_k_packed<PackedQ4_K>(n, packed, a, y, y_stride);
}
void pack8_q5_k(int64_t n, const void* w, size_t w_stride, void* packed) {
    pack_groups<BlockQ5_K, kQK_K, PackedQ5_K, pack_q5_k>(n, w, w_stride, packed);
}
void gemm_packed8_q5_k(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride) {
    gemm_k_packed<PackedQ5_K>(n, packed, a, y, y_stride);
}
void pack8_iq4_xs(int64_t n, const void* w, size_t w_stride, void* packed) {
    pack_groups<BlockIQ4_XS, kQK_K, PackedIQ4_XS, pack_iq4_xs>(n, w, w_stride, packed);
}
void gemm_packed8_iq4_xs(int64_t n, const void* packed, const Q8Batch& a, float* y,
                         size_t y_stride) {
    gemm_k_packed<PackedIQ4_XS>(n, packed, a, y, y_stride);
}
void pack8_q6_k(int64_t n, const void* w, size_t w_stride, void* packed) {
    pack_groups<BlockQ6_K, kQK_K, PackedQ6_K, pack_q6_k>(n, w, w_stride, packed);
}
void gemm_packed8_q6_k(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride) {
    gemm_k_packed<PackedQ6_K>(n, packed, a, y, y_stride);
}

// The packing and 8-row kernel of every packed type, into a table (registry.cpp; through
// arm_neon.inl's register_kernels for the sets "neon" and "neon-dotprod", directly for
// "neon-i8mm").
void register_packed_kernels(KernelTable& t) {
    using T = TensorType;
    t[T::Q4_0].pack8 = pack8_q4_0, t[T::Q4_0].gemm_packed8 = gemm_packed8_q4_0;
    t[T::Q5_0].pack8 = pack8_q5_0, t[T::Q5_0].gemm_packed8 = gemm_packed8_q5_0;
    t[T::IQ4_NL].pack8 = pack8_iq4_nl, t[T::IQ4_NL].gemm_packed8 = gemm_packed8_iq4_nl;
    t[T::Q4_1].pack8 = pack8_q4_1, t[T::Q4_1].gemm_packed8 = gemm_packed8_q4_1;
    t[T::Q5_1].pack8 = pack8_q5_1, t[T::Q5_1].gemm_packed8 = gemm_packed8_q5_1;
    t[T::Q8_0].pack8 = pack8_q8_0, t[T::Q8_0].gemm_packed8 = gemm_packed8_q8_0;
    t[T::Q2_K].pack8 = pack8_q2_k, t[T::Q2_K].gemm_packed8 = gemm_packed8_q2_k;
    t[T::Q3_K].pack8 = pack8_q3_k, t[T::Q3_K].gemm_packed8 = gemm_packed8_q3_k;
    t[T::Q4_K].pack8 = pack8_q4_k, t[T::Q4_K].gemm_packed8 = gemm_packed8_q4_k;
    t[T::Q5_K].pack8 = pack8_q5_k, t[T::Q5_K].gemm_packed8 = gemm_packed8_q5_k;
    t[T::Q6_K].pack8 = pack8_q6_k, t[T::Q6_K].gemm_packed8 = gemm_packed8_q6_k;
    t[T::IQ4_XS].pack8 = pack8_iq4_xs, t[T::IQ4_XS].gemm_packed8 = gemm_packed8_iq4_xs;
#if defined(__ARM_FEATURE_MATMUL_INT8)
    // With SMMLA the 32-value types also take four groups a call: each pass's token pairs,
    // made once, then serve 32 rows.
    t[T::Q4_0].gemm_packed32 = gemm_packed_pairs<PackedQ4_0, 4>;
    t[T::Q5_0].gemm_packed32 = gemm_packed_pairs<PackedQ5_0, 4>;
    t[T::IQ4_NL].gemm_packed32 = gemm_packed_pairs<PackedIQ4_NL, 4>;
    t[T::Q4_1].gemm_packed32 = gemm_packed_pairs<PackedQ4_1, 4>;
    t[T::Q5_1].gemm_packed32 = gemm_packed_pairs<PackedQ5_1, 4>;
    t[T::Q8_0].gemm_packed32 = gemm_packed_pairs<PackedQ8_0, 4>;
    // And the K types with one scale per 32 values (with one per 16, the sub-blocks' separate
    // sums and multiplies measured more instructions than SDOT's, docs/optimizations.md).
    t[T::Q4_K].gemm_packed32 = gemm_k_packed_pairs<PackedQ4_K, 4>;
    t[T::Q5_K].gemm_packed32 = gemm_k_packed_pairs<PackedQ5_K, 4>;
    t[T::IQ4_XS].gemm_packed32 = gemm_k_packed_pairs<PackedIQ4_XS, 4>;
#endif
}

}  // namespace ember::EMBER_NEON_NAMESPACE
