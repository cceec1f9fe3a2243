// Q4_0, Q4_1, Q5_0, Q5_1: 32 values per block, 4 or 5 bits each.
//
// Nibble order: byte j of qs holds value j (low nibble) and value j + 16 (high nibble). For
// the 5-bit types, bit j of the 32-bit qh is the fifth bit of value j.
// Q*_0 are symmetric (x = d * (q - 8) or d * (q - 16)) and pair with Q8_0 activations;
// Q*_1 have an offset (x = d * q + m) and pair with Q8_1, whose s = d_y * sum(q_y) turns the
// offset's contribution into one multiply: sum(m * y) = m * s.
#include <cstring>

#include "kernels/blocks.h"
#include "kernels/reference.h"

namespace ember::ref {
namespace {

inline uint32_t load_qh(const uint8_t qh[4]) {
    uint32_t v;
    std::memcpy(&v, qh, 4);
    return v;
}

// The 4-bit value j (0..31) of a block's qs.
inline int nibble(const uint8_t* qs, int j) {
    return j < 16 ? qs[j] & 0x0f : qs[j - 16] >> 4;
}

// The 5-bit value j: its nibble plus bit j of qh as bit 4.
inline int five_bits(const uint8_t* qs, uint32_t qh, int j) {
    return nibble(qs, j) | static_cast<int>(((qh >> j) & 1) << 4);
}

}  // namespace

void dequantize_row_q4_0(const void* in, float* out, int64_t n) {
    const auto* blocks = static_cast<const BlockQ4_0*>(in);
    for (int64_t b = 0; b < n / kQK; ++b, out += kQK) {
        const float d = fp16_to_f32(blocks[b].d);
        // The two halves apart (nibble() per value, unrolled), so the compiler vectorises
        // it: a Q4_0 KV cache is dequantised here on every generated token.
        for (int j = 0; j < kQK / 2; ++j) {
            out[j] = static_cast<float>((blocks[b].qs[j] & 0x0f) - 8) * d;
            out[j + kQK / 2] = static_cast<float>((blocks[b].qs[j] >> 4) - 8) * d;
        }
    }
}

float vec_dot_q4_0_q8_0(int64_t n, const void* x, const void* y) {
    const auto* xb = static_cast<const BlockQ4_0*>(x);
    const auto* yb = static_cast<const BlockQ8_0*>(y);
    float sum = 0;
    for (int64_t b = 0; b < n / kQK; ++b) {
        int sumi = 0;
        for (int j = 0; j < kQK; ++j) sumi += (nibble(xb[b].qs, j) - 8) * yb[b].qs[j];
        sum += static_cast<float>(sumi) * fp16_to_f32(xb[b].d) * fp16_to_f32(yb[b].d);
    }
    return sum;
}

void dequantize_row_q4_1(const void* in, float* out, int64_t n) {
    const auto* blocks = static_cast<const BlockQ4_1*>(in);
    for (int64_t b = 0; b < n / kQK; ++b, out += kQK) {
        const float d = fp16_to_f32(blocks[b].d), m = fp16_to_f32(blocks[b].m);
        for (int j = 0; j < kQK; ++j) out[j] = static_cast<float>(nibble(blocks[b].qs, j)) * d + m;
    }
}

float vec_dot_q4_1_q8_1(int64_t n, const void* x, const void* y) {
    const auto* xb = static_cast<const BlockQ4_1*>(x);
    const auto* yb = static_cast<const BlockQ8_1*>(y);
    float sum = 0;
    for (int64_t b = 0; b < n / kQK; ++b) {
        int sumi = 0;
        for (int j = 0; j < kQK; ++j) sumi += nibble(xb[b].qs, j) * yb[b].qs[j];
        sum += (fp16_to_f32(xb[b].d) * fp16_to_f32(yb[b].d)) * static_cast<float>(sumi) +
               fp16_to_f32(xb[b].m) * fp16_to_f32(yb[b].s);
    }
    return sum;
}

void dequantize_row_q5_0(const void* in, float* out, int64_t n) {
    const auto* blocks = static_cast<const BlockQ5_0*>(in);
    for (int64_t b = 0; b < n / kQK; ++b, out += kQK) {
        const float d = fp16_to_f32(blocks[b].d);
        const uint32_t qh = load_qh(blocks[b].qh);
        for (int j = 0; j < kQK; ++j) {
            out[j] = static_cast<float>(five_bits(blocks[b].qs, qh, j) - 16) * d;
        }
    }
}

float vec_dot_q5_0_q8_0(int64_t n, const void* x, const void* y) {
    const auto* xb = static_cast<const BlockQ5_0*>(x);
    const auto* yb = static_cast<const BlockQ8_0*>(y);
    float sum = 0;
    for (int64_t b = 0; b < n / kQK; ++b) {
        const uint32_t qh = load_qh(xb[b].qh);
        int sumi = 0;
        for (int j = 0; j < kQK; ++j) sumi += (five_bits(xb[b].qs, qh, j) - 16) * yb[b].qs[j];
        sum += static_cast<float>(sumi) * fp16_to_f32(xb[b].d) * fp16_to_f32(yb[b].d);
    }
    return sum;
}

void dequantize_row_q5_1(const void* in, float* out, int64_t n) {
    const auto* blocks = static_cast<const BlockQ5_1*>(in);
    for (int64_t b = 0; b < n / kQK; ++b, out += kQK) {
        const float d = fp16_to_f32(blocks[b].d), m = fp16_to_f32(blocks[b].m);
        const uint32_t qh = load_qh(blocks[b].qh);
        for (int j = 0; j < kQK; ++j) {
            out[j] = static_cast<float>(five_bits(blocks[b].qs, qh, j)) * d + m;
        }
    }
}

float vec_dot_q5_1_q8_1(int64_t n, const void* x, const void* y) {
    const auto* xb = static_cast<const BlockQ5_1*>(x);
    const auto* yb = static_cast<const BlockQ8_1*>(y);
    float sum = 0;
    for (int64_t b = 0; b < n / kQK; ++b) {
        const uint32_t qh = load_qh(xb[b].qh);
        int sumi = 0;
        for (int j = 0; j < kQK; ++j) sumi += five_bits(xb[b].qs, qh, j) * yb[b].qs[j];
        sum += (fp16_to_f32(xb[b].d) * fp16_to_f32(yb[b].d)) * static_cast<float>(sumi) +
               fp16_to_f32(xb[b].m) * fp16_to_f32(yb[b].s);
    }
    return sum;
}

}  // namespace ember::ref
