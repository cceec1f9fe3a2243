// The K-quants: Q2_K, Q3_K, Q4_K, Q5_K, Q6_K. 256 values per super-block, split into
// sub-blocks of 16 or 32 values that each carry a small integer scale (and for Q2_K, Q4_K,
// Q5_K a minimum), themselves scaled by the super-block's fp16 d (and dmin).
// Format: ggml's k_quants (Kawrakow, llama.cpp PR #1684, MIT); see blocks.h for the fields.
//
// Every helper below answers "which bits hold value p (0..255) of a block". Dot products pair
// a block with a Q8_K activation block: integer sums per sub-block, one float multiply per
// super-block; the minimums use Q8_K's precomputed 16-value sums (bsums).
#include <cstring>

#include "kernels/blocks.h"
#include "kernels/k_quant_scales.h"
#include "kernels/reference.h"

namespace ember::ref {
namespace {

// Q2_K and Q3_K: 2-bit fields; value p sits in byte 32 * (p / 128) + p % 32 at bit shift
// 2 * ((p % 128) / 32).
inline int two_bits(const uint8_t* qs, int p) {
    return (qs[32 * (p / 128) + p % 32] >> (2 * ((p % 128) / 32))) & 3;
}

// Q3_K value p in -4..3: two low bits, minus 4 unless its hmask bit is set. The hmask bit is
// bit (p / 32) of byte p % 32.
inline int q3_k_value(const BlockQ3_K& b, int p) {
    const bool high = (b.hmask[p % 32] >> (p / 32)) & 1;
    return two_bits(b.qs, p) - (high ? 0 : 4);
}

// Q4_K value p in 0..15: the 64 values of each quarter come from 32 bytes, low nibbles first.
inline int q4_k_value(const uint8_t* qs, int p) {
    const uint8_t byte = qs[32 * (p / 64) + p % 32];
    return (p % 64) < 32 ? byte & 0x0f : byte >> 4;
}
// Q5_K value p in 0..31: the Q4_K nibble plus bit (p / 32) of qh[p % 32] as bit 4.
inline int q5_k_value(const BlockQ5_K& b, int p) {
    return q4_k_value(b.qs, p) | (((b.qh[p % 32] >> (p / 32)) & 1) << 4);
}
// Q6_K value p in -32..31: 4 low bits from ql, 2 high bits from qh. Per 128-value half:
// values 0..31 and 64..95 use ql bytes 0..31 (low, then high nibble), values 32..63 and
// 96..127 use ql bytes 32..63; qh byte l holds the high bits of values l, l+32, l+64, l+96.
inline int q6_k_value(const BlockQ6_K& b, int p) {
    const int half = p / 128, r = p % 128, l = r % 32, quarter = r / 32;
    const uint8_t low_byte = b.ql[64 * half + l + 32 * (quarter % 2)];
    const int low = quarter < 2 ? low_byte & 0x0f : low_byte >> 4;
    const int high = (b.qh[32 * half + l] >> (2 * quarter)) & 3;
    return (low | (high << 4)) - 32;
}

}  // namespace

// ---- Q2_K: x = d * scale_j * q - dmin * min_j, 16 sub-blocks of 16 ----

void dequantize_row_q2_k(const void* in, float* out, int64_t n) {
    for (int64_t i = 0; i < n / kQK_K; ++i, out += kQK_K) {
        const BlockQ2_K& b = blocks_of<BlockQ2_K>(in)[i];
        const float d = fp16_to_f32(b.d), dmin = fp16_to_f32(b.dmin);
        for (int p = 0; p < kQK_K; ++p) {
            const uint8_t sc = b.scales[p / 16];
            out[p] = d * static_cast<float>(sc & 0x0f) * static_cast<float>(two_bits(b.qs, p)) -
                     dmin * static_cast<float>(sc >> 4);
        }
    }
}

float vec_dot_q2_k_q8_k(int64_t n, const void* x, const void* y) {
    float sum = 0;
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const BlockQ2_K& xb = blocks_of<BlockQ2_K>(x)[i];
        const BlockQ8_K& yb = blocks_of<BlockQ8_K>(y)[i];
        int scaled = 0, mins = 0;
        for (int j = 0; j < 16; ++j) {
            int dot = 0;
            for (int p = 16 * j; p < 16 * j + 16; ++p) dot += two_bits(xb.qs, p) * yb.qs[p];
            scaled += (xb.scales[j] & 0x0f) * dot;
            mins += (xb.scales[j] >> 4) * yb.bsums[j];
        }
        sum += yb.d * fp16_to_f32(xb.d) * static_cast<float>(scaled) -
               yb.d * fp16_to_f32(xb.dmin) * static_cast<float>(mins);
    }
    return sum;
}

// ---- Q3_K: x = d * scale_j * q, q in -4..3, 16 sub-blocks of 16 ----

void dequantize_row_q3_k(const void* in, float* out, int64_t n) {
    for (int64_t i = 0; i < n / kQK_K; ++i, out += kQK_K) {
        const BlockQ3_K& b = blocks_of<BlockQ3_K>(in)[i];
        const float d = fp16_to_f32(b.d);
        for (int p = 0; p < kQK_K; ++p) {
            out[p] = d * static_cast<float>(q3_k_scale(b.scales, p / 16)) *
                     static_cast<float>(q3_k_value(b, p));
        }
    }
}

float vec_dot_q3_k_q8_k(int64_t n, const void* x, const void* y) {
    float sum = 0;
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const BlockQ3_K& xb = blocks_of<BlockQ3_K>(x)[i];
        const BlockQ8_K& yb = blocks_of<BlockQ8_K>(y)[i];
        int scaled = 0;
        for (int j = 0; j < 16; ++j) {
            int dot = 0;
            for (int p = 16 * j; p < 16 * j + 16; ++p) dot += q3_k_value(xb, p) * yb.qs[p];
            scaled += q3_k_scale(xb.scales, j) * dot;
        }
        sum += fp16_to_f32(xb.d) * yb.d * static_cast<float>(scaled);
    }
    return sum;
}

// ---- Q4_K: x = d * scale_j * q - dmin * min_j, 8 sub-blocks of 32 ----

namespace {
// Q4_K and Q5_K differ only in how value p is read: the shared arithmetic, once.
inline int q4_k_block_value(const BlockQ4_K& b, int p) {
    return q4_k_value(b.qs, p);
}

template <typename Block, int (*value)(const Block&, int)>
void dequantize_q4_k_like(const void* in, float* out, int64_t n) {
    for (int64_t i = 0; i < n / kQK_K; ++i, out += kQK_K) {
        const Block& b = blocks_of<Block>(in)[i];
        const float d = fp16_to_f32(b.d), dmin = fp16_to_f32(b.dmin);
        for (int p = 0; p < kQK_K; ++p) {
            int scale, min;
            q4_k_scale_min(b.scales, p / 32, &scale, &min);
            out[p] = d * static_cast<float>(scale) * static_cast<float>(value(b, p)) -
                     dmin * static_cast<float>(min);
        }
    }
}

template <typename Block, int (*value)(const Block&, int)>
float dot_q4_k_like(int64_t n, const void* x, const void* y) {
    float sum = 0;
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const Block& xb = blocks_of<Block>(x)[i];
        const BlockQ8_K& yb = blocks_of<BlockQ8_K>(y)[i];
        int scaled = 0, mins = 0;
        for (int j = 0; j < 8; ++j) {
            int scale, min;
            q4_k_scale_min(xb.scales, j, &scale, &min);
            int dot = 0;
            for (int p = 32 * j; p < 32 * j + 32; ++p) dot += value(xb, p) * yb.qs[p];
            scaled += scale * dot;
            mins += min * (yb.bsums[2 * j] + yb.bsums[2 * j + 1]);
        }
        sum += fp16_to_f32(xb.d) * yb.d * static_cast<float>(scaled) -
               fp16_to_f32(xb.dmin) * yb.d * static_cast<float>(mins);
    }
    return sum;
}
}  // namespace

void dequantize_row_q4_k(const void* in, float* out, int64_t n) {
    dequantize_q4_k_like<BlockQ4_K, q4_k_block_value>(in, out, n);
}
float vec_dot_q4_k_q8_k(int64_t n, const void* x, const void* y) {
    return dot_q4_k_like<BlockQ4_K, q4_k_block_value>(n, x, y);
}

// ---- Q5_K: as Q4_K with 5-bit values ----

void dequantize_row_q5_k(const void* in, float* out, int64_t n) {
    dequantize_q4_k_like<BlockQ5_K, q5_k_value>(in, out, n);
}
float vec_dot_q5_k_q8_k(int64_t n, const void* x, const void* y) {
    return dot_q4_k_like<BlockQ5_K, q5_k_value>(n, x, y);
}

// ---- Q6_K: x = d * scale_j * q, q in -32..31, 16 sub-blocks of 16 ----

void dequantize_row_q6_k(const void* in, float* out, int64_t n) {
    for (int64_t i = 0; i < n / kQK_K; ++i, out += kQK_K) {
        const BlockQ6_K& b = blocks_of<BlockQ6_K>(in)[i];
        const float d = fp16_to_f32(b.d);
        for (int p = 0; p < kQK_K; ++p) {
            out[p] =
                d * static_cast<float>(b.scales[p / 16]) * static_cast<float>(q6_k_value(b, p));
        }
    }
}

float vec_dot_q6_k_q8_k(int64_t n, const void* x, const void* y) {
    float sum = 0;
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const BlockQ6_K& xb = blocks_of<BlockQ6_K>(x)[i];
        const BlockQ8_K& yb = blocks_of<BlockQ8_K>(y)[i];
        int scaled = 0;
        for (int j = 0; j < 16; ++j) {
            int dot = 0;
            for (int p = 16 * j; p < 16 * j + 16; ++p) dot += q6_k_value(xb, p) * yb.qs[p];
            scaled += xb.scales[j] * dot;
        }
        sum += fp16_to_f32(xb.d) * yb.d * static_cast<float>(scaled);
    }
    return sum;
}

}  // namespace ember::ref
