// The byte layouts of ggml's quantized blocks, exactly as GGUF stores them (ggml-common.h,
// MIT). A block holds `block_size` values; `d` is the scale, `m`/`dmin` the offset or the scale
// of the minimums. Values are reconstructed as d * q (+ m) per element; the K-quants add a
// second level: 256-value super-blocks with per-sub-block 4- to 8-bit scales.
#pragma once

#include <cstdint>
#include <cstring>

#include "kernels/fp16.h"

namespace ember {

constexpr int kQK = 32;     // values per block of the legacy types (Q4_0 .. Q8_1)
constexpr int kQK_K = 256;  // values per super-block of the K-quants

// A row's bytes as its blocks.
template <typename Block>
const Block* blocks_of(const void* p) {
    return static_cast<const Block*>(p);
}

// x = d * (q - 8), q in 0..15. qs[j] holds value j in its low nibble and value j+16 in its high.
struct BlockQ4_0 {
    fp16_t d;
    uint8_t qs[kQK / 2];
};
// x = d * q + m, q in 0..15, nibbles as Q4_0.
struct BlockQ4_1 {
    fp16_t d, m;
    uint8_t qs[kQK / 2];
};
// x = d * (q - 16), q in 0..31: the low 4 bits as Q4_0, bit 4 of value j is bit j of qh.
struct BlockQ5_0 {
    fp16_t d;
    uint8_t qh[4];
    uint8_t qs[kQK / 2];
};
// x = d * q + m, q in 0..31, bits as Q5_0.
struct BlockQ5_1 {
    fp16_t d, m;
    uint8_t qh[4];
    uint8_t qs[kQK / 2];
};
// x = d * q, q in -127..127.
struct BlockQ8_0 {
    fp16_t d;
    int8_t qs[kQK];
};
// Q8_0 plus s = d * sum(q): the activation type paired with Q4_1 and Q5_1 weights.
struct BlockQ8_1 {
    fp16_t d, s;
    int8_t qs[kQK];
};

// 16 sub-blocks of 16: x = d * scale_j * q - dmin * min_j, q in 0..3; scales[j] packs
// scale_j (low nibble) and min_j (high nibble).
struct BlockQ2_K {
    uint8_t scales[kQK_K / 16];
    uint8_t qs[kQK_K / 4];
    fp16_t d, dmin;
};
// 16 sub-blocks of 16: x = d * (scale_j - 32) * q, q in -4..3 from 2 low bits (qs) and a high
// bit (hmask, set means "no -4"); the 16 six-bit scales are packed into 12 bytes.
struct BlockQ3_K {
    uint8_t hmask[kQK_K / 8];
    uint8_t qs[kQK_K / 4];
    uint8_t scales[12];
    fp16_t d;
};
// 8 sub-blocks of 32: x = d * scale_j * q - dmin * min_j, q in 0..15; eight 6-bit scales and
// eight 6-bit mins packed into 12 bytes.
struct BlockQ4_K {
    fp16_t d, dmin;
    uint8_t scales[12];
    uint8_t qs[kQK_K / 2];
};
// As Q4_K with a fifth bit per value in qh.
struct BlockQ5_K {
    fp16_t d, dmin;
    uint8_t scales[12];
    uint8_t qh[kQK_K / 8];
    uint8_t qs[kQK_K / 2];
};
// 16 sub-blocks of 16: x = d * scale_j * (q - 32), q in 0..63 from 4 low bits (ql) and 2 high
// bits (qh); scales are int8.
struct BlockQ6_K {
    uint8_t ql[kQK_K / 2];
    uint8_t qh[kQK_K / 4];
    int8_t scales[kQK_K / 16];
    fp16_t d;
};
// The activation type paired with every K-quant: x = d * q, with bsums[j] = sum of q over
// values 16j..16j+15, which lets the K-quants subtract their minimums cheaply.
struct BlockQ8_K {
    float d;
    int8_t qs[kQK_K];
    int16_t bsums[kQK_K / 16];
};

// ---- The i-quants (Kawrakow, llama.cpp PRs #4773, #4897, #5747, #6000 ...) and the ternary
// types (compilade, PR #8151). Values come from a table: IQ4 maps 4-bit codes to 16 non-uniform
// levels; IQ2, IQ3 and IQ1 map an index to a group of 8 (4 for IQ3) magnitudes from a lattice
// grid (iq_grids.h), with signs stored apart (7 bits per 8 values, the 8th making the count of
// minus signs even). Every one of them but IQ4_NL has 256-value super-blocks with small
// integer scales per 32 (or 16) values. ref_i_quants.cpp spells each layout out.

// 32 values: x = d * kIq4Levels[q], q in 0..15, nibbles as Q4_0.
struct BlockIQ4_NL {
    fp16_t d;
    uint8_t qs[kQK / 2];
};
// 8 sub-blocks of 32, each as IQ4_NL with a 6-bit scale (low 4 bits in scales_l, high 2 in
// scales_h): x = d * (scale_j - 32) * kIq4Levels[q].
struct BlockIQ4_XS {
    fp16_t d;
    uint16_t scales_h;
    uint8_t scales_l[kQK_K / 64];
    uint8_t qs[kQK_K / 2];
};
// Sub-block ib's 6-bit scale (0..63; the value's factor is scale - 32).
inline int iq4_xs_scale(const BlockIQ4_XS& b, int ib) {
    return ((b.scales_l[ib / 2] >> (4 * (ib % 2))) & 0xf) | (((b.scales_h >> (2 * ib)) & 3) << 4);
}
// 8 sub-blocks of 32, each 4 x 16 bits: four 8-bit grid indices, then four 7-bit sign groups
// and a 4-bit scale in the top bits. 2.06 bits a value.
struct BlockIQ2_XXS {
    fp16_t d;
    uint16_t qs[kQK_K / 8];
};
// Sub-block ib's two 32-bit words: four grid indices (a byte each), then four 7-bit sign
// groups and, in the top 4 bits, the scale.
inline void iq2_xxs_words(const BlockIQ2_XXS& b, int ib, uint32_t& indices, uint32_t& rest) {
    std::memcpy(&indices, &b.qs[4 * ib], 4);
    std::memcpy(&rest, &b.qs[4 * ib + 2], 4);
}
// 32 x 16 bits: a 9-bit grid index and 7 sign bits each; two 4-bit scales per 32 values.
struct BlockIQ2_XS {
    fp16_t d;
    uint16_t qs[kQK_K / 8];
    uint8_t scales[kQK_K / 32];
};
// 10-bit grid indices (8 low bits in qs, 2 high in qh), 8 explicit sign bits per group (the
// second half of qs), two 4-bit scales per 32 values.
struct BlockIQ2_S {
    fp16_t d;
    uint8_t qs[kQK_K / 4];
    uint8_t qh[kQK_K / 32];
    uint8_t scales[kQK_K / 32];
};
// The 10-bit grid index of group l (0..3) of sub-block ib.
inline int iq2_s_index(const BlockIQ2_S& b, int ib, int l) {
    return b.qs[4 * ib + l] | ((b.qh[ib] << (8 - 2 * l)) & 0x300);
}
// 64 8-bit indices into a grid of 4-value groups, then per 32 values 32 bits: four 7-bit sign
// groups and a 4-bit scale.
struct BlockIQ3_XXS {
    fp16_t d;
    uint8_t qs[3 * kQK_K / 8];
};
// 9-bit indices (high bit in qh) into a grid of 4-value groups, 8 sign bits per 8 values,
// 4-bit scales per 32 values.
struct BlockIQ3_S {
    fp16_t d;
    uint8_t qs[kQK_K / 4];
    uint8_t qh[kQK_K / 32];
    uint8_t signs[kQK_K / 8];
    uint8_t scales[kQK_K / 64];
};
// The 9-bit grid index of half-group k (0..7) of sub-block ib.
inline int iq3_s_index(const BlockIQ3_S& b, int ib, int k) {
    return b.qs[8 * ib + k] | ((b.qh[ib] << (8 - k)) & 256);
}
// 11-bit indices into a grid of 8 values in {-1, 0, 1} (8 low bits in qs; per 32 values a
// 16-bit qh: four 3-bit index tops, a 3-bit scale, the sign of a +-1/8 shift).
struct BlockIQ1_S {
    fp16_t d;
    uint8_t qs[kQK_K / 8];
    uint16_t qh[kQK_K / 32];
};
// As IQ1_S with a shift sign per 8 values and 3-bit scales per 16; the fp16 d is spread over
// the top 4 bits of the four 16-bit words of scales.
struct BlockIQ1_M {
    uint8_t qs[kQK_K / 8];
    uint8_t qh[kQK_K / 16];
    uint8_t scales[kQK_K / 32];
};
// IQ1_S: the 11-bit grid index of group l of sub-block ib.
inline int iq1_s_index(const BlockIQ1_S& b, int ib, int l) {
    return b.qs[4 * ib + l] | (((b.qh[ib] >> (3 * l)) & 7) << 8);
}

// IQ1_M: the four 16-bit scale words; the fp16 super-block scale is their top nibbles.
inline void iq1_m_scales(const BlockIQ1_M& b, uint16_t sc[4], float& d) {
    std::memcpy(sc, b.scales, 8);
    const uint16_t bits =
        (sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) | ((sc[2] >> 4) & 0x0f00) | (sc[3] & 0xf000);
    fp16_t h;
    std::memcpy(&h, &bits, 2);
    d = fp16_to_f32(h);
}
// IQ1_M: the 11-bit grid index of group l (0..3) of sub-block ib, and the sign of its shift.
inline int iq1_m_index(const BlockIQ1_M& b, int ib, int l) {
    const uint8_t qh = b.qh[2 * ib + l / 2];
    return b.qs[4 * ib + l] | ((qh << (l % 2 == 0 ? 8 : 4)) & 0x700);
}
inline bool iq1_m_shift_negative(const BlockIQ1_M& b, int ib, int l) {
    return (b.qh[2 * ib + l / 2] >> (l % 2 == 0 ? 3 : 7)) & 1;
}

// Ternary, x = d * (t - 1), t in 0..2: 5 values a byte (base 3) in qs, 4 a byte in qh.
struct BlockTQ1_0 {
    uint8_t qs[(kQK_K - 4 * kQK_K / 64) / 5];
    uint8_t qh[kQK_K / 64];
    fp16_t d;
};
// Ternary, x = d * (t - 1), t in 0..2 as 2-bit fields.
struct BlockTQ2_0 {
    uint8_t qs[kQK_K / 4];
    fp16_t d;
};

static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22 && sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34 && sizeof(BlockQ8_1) == 36);
static_assert(sizeof(BlockQ2_K) == 84 && sizeof(BlockQ3_K) == 110);
static_assert(sizeof(BlockQ4_K) == 144 && sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210 && sizeof(BlockQ8_K) == 292);
static_assert(sizeof(BlockIQ4_NL) == 18 && sizeof(BlockIQ4_XS) == 136);
static_assert(sizeof(BlockIQ2_XXS) == 66 && sizeof(BlockIQ2_XS) == 74 && sizeof(BlockIQ2_S) == 82);
static_assert(sizeof(BlockIQ3_XXS) == 98 && sizeof(BlockIQ3_S) == 110);
static_assert(sizeof(BlockIQ1_S) == 50 && sizeof(BlockIQ1_M) == 56);
static_assert(sizeof(BlockTQ1_0) == 54 && sizeof(BlockTQ2_0) == 66);

}  // namespace ember
