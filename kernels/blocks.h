// The byte layouts of ggml's quantized blocks, exactly as GGUF stores them (ggml-common.h,
// MIT). A block holds `block_size` values; `d` is the scale, `m`/`dmin` the offset or the scale
// of the minimums. Values are reconstructed as d * q (+ m) per element; the K-quants add a
// second level: 256-value super-blocks with per-sub-block 4- to 8-bit scales.
#pragma once

#include <cstdint>

#include "kernels/fp16.h"

namespace ember {

constexpr int kQK = 32;     // values per block of the legacy types (Q4_0 .. Q8_1)
constexpr int kQK_K = 256;  // values per super-block of the K-quants

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

static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22 && sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34 && sizeof(BlockQ8_1) == 36);
static_assert(sizeof(BlockQ2_K) == 84 && sizeof(BlockQ3_K) == 110);
static_assert(sizeof(BlockQ4_K) == 144 && sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210 && sizeof(BlockQ8_K) == 292);

}  // namespace ember
