// The i-quants (IQ4_NL, IQ4_XS, IQ3_XXS, IQ3_S, IQ2_XXS, IQ2_XS, IQ2_S, IQ1_S, IQ1_M) and the
// ternary types (TQ1_0, TQ2_0): scalar dequantization and dot products. Formats: ggml's
// (llama.cpp, MIT; blocks.h has the fields, iq_grids.h the tables).
//
// Dequantization rounds exactly as ggml's to_float does (the same float operations in the same
// order), so it matches ggml's output bit for bit (kernels_reference_test). Dot products pair
// IQ4_NL with Q8_0 and every other type with Q8_K, as llama.cpp does, and sum as its scalar
// code does: integers within a sub-block, times the sub-block's integer scale, one float
// multiply per block or super-block.
#include <cstring>

#include "kernels/blocks.h"
#include "kernels/iq_grids.h"
#include "kernels/reference.h"

namespace ember::ref {
namespace {

// Byte j of a grid entry: the magnitude (or, for IQ1, the signed value) of value j of a group.
inline uint8_t grid_byte(uint64_t entry, int j) {
    return static_cast<uint8_t>(entry >> (8 * j));
}
inline float sign_of(uint8_t signs, int j) {
    return (signs >> j) & 1 ? -1.0f : 1.0f;
}
inline int int_sign_of(uint8_t signs, int j) {
    return (signs >> j) & 1 ? -1 : 1;
}

constexpr float kIq1Shift = 0.125f;  // IQ1's +-1/8 shift of a group's grid values

// TQ1_0: the ternary digit t (0..2) of value p of a block. The first 32 bytes of qs hold 160
// values (value 32n + m is digit n of byte m), the last 16 bytes 80 (value 160 + 16n + m), qh
// the last 16 (value 240 + 4n + j). A byte holds its 5 (qh: 4) digits as a fixed-point
// fraction: digit n is the integer part of 3 x (the byte times 3^n, modulo 256) / 256.
inline int tq1_digit(uint8_t byte, int n) {
    static constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};
    const uint8_t q = static_cast<uint8_t>(byte * kPow3[n]);
    return (static_cast<uint16_t>(q) * 3) >> 8;
}
inline int tq1_value(const BlockTQ1_0& b, int p) {
    if (p < 160) return tq1_digit(b.qs[p % 32], p / 32);
    if (p < 240) return tq1_digit(b.qs[32 + (p - 160) % 16], (p - 160) / 16);
    return tq1_digit(b.qh[(p - 240) % 4], (p - 240) / 4);
}
// TQ2_0: value p is bits 2l..2l+1 of byte 32 (p / 128) + p % 32, l = (p % 128) / 32.
inline int tq2_value(const BlockTQ2_0& b, int p) {
    return (b.qs[32 * (p / 128) + p % 32] >> (2 * ((p % 128) / 32))) & 3;
}

}  // namespace

// ---- IQ4_NL, IQ4_XS ----

void dequantize_row_iq4_nl(const void* in, float* out, int64_t n) {
    for (int64_t i = 0; i < n / kQK; ++i) {
        const BlockIQ4_NL& b = blocks_of<BlockIQ4_NL>(in)[i];
        const float d = fp16_to_f32(b.d);
        for (int j = 0; j < kQK / 2; ++j) {
            out[j] = d * kIq4Levels[b.qs[j] & 0xf];
            out[j + kQK / 2] = d * kIq4Levels[b.qs[j] >> 4];
        }
        out += kQK;
    }
}

float vec_dot_iq4_nl_q8_0(int64_t n, const void* x, const void* y) {
    float sum = 0;
    for (int64_t i = 0; i < n / kQK; ++i) {
        const BlockIQ4_NL& xb = blocks_of<BlockIQ4_NL>(x)[i];
        const BlockQ8_0& yb = blocks_of<BlockQ8_0>(y)[i];
        int lo = 0, hi = 0;
        for (int j = 0; j < kQK / 2; ++j) {
            lo += yb.qs[j] * kIq4Levels[xb.qs[j] & 0xf];
            hi += yb.qs[j + kQK / 2] * kIq4Levels[xb.qs[j] >> 4];
        }
        sum += fp16_to_f32(yb.d) * fp16_to_f32(xb.d) * static_cast<float>(lo + hi);
    }
    return sum;
}

void dequantize_row_iq4_xs(const void* in, float* out, int64_t n) {
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const BlockIQ4_XS& b = blocks_of<BlockIQ4_XS>(in)[i];
        const float d = fp16_to_f32(b.d);
        for (int ib = 0; ib < kQK_K / 32; ++ib) {
            const float dl = d * static_cast<float>(iq4_xs_scale(b, ib) - 32);
            const uint8_t* qs = &b.qs[16 * ib];
            for (int j = 0; j < 16; ++j) {
                out[j] = dl * kIq4Levels[qs[j] & 0xf];
                out[j + 16] = dl * kIq4Levels[qs[j] >> 4];
            }
            out += 32;
        }
    }
}

// The sub-blocks' integer dots times their integer scales, summed exactly; one float multiply
// per super-block, as the K-quants here. (llama.cpp's scalar code multiplies each sub-block in
// float: the same up to the float rounding of 8 terms.)
float vec_dot_iq4_xs_q8_k(int64_t n, const void* x, const void* y) {
    float sum = 0;
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const BlockIQ4_XS& xb = blocks_of<BlockIQ4_XS>(x)[i];
        const BlockQ8_K& yb = blocks_of<BlockQ8_K>(y)[i];
        int scaled = 0;
        for (int ib = 0; ib < kQK_K / 32; ++ib) {
            const uint8_t* qs = &xb.qs[16 * ib];
            const int8_t* q8 = &yb.qs[32 * ib];
            int dot = 0;
            for (int j = 0; j < 16; ++j) {
                dot += q8[j] * kIq4Levels[qs[j] & 0xf];
                dot += q8[j + 16] * kIq4Levels[qs[j] >> 4];
            }
            scaled += (iq4_xs_scale(xb, ib) - 32) * dot;
        }
        sum += fp16_to_f32(xb.d) * yb.d * static_cast<float>(scaled);
    }
    return sum;
}

// ---- IQ2_XXS, IQ2_XS, IQ2_S: 8 magnitudes a grid entry, x = d * (0.5 + s) / 4 * grid * sign
// (the dot products: (2 s + 1) / 8 per sub-block, the same value) ----

void dequantize_row_iq2_xxs(const void* in, float* out, int64_t n) {
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const BlockIQ2_XXS& b = blocks_of<BlockIQ2_XXS>(in)[i];
        const float d = fp16_to_f32(b.d);
        for (int ib = 0; ib < kQK_K / 32; ++ib) {
            uint32_t indices, rest;
            iq2_xxs_words(b, ib, indices, rest);
            const float db = d * (0.5f + static_cast<float>(rest >> 28)) * 0.25f;
            for (int l = 0; l < 4; ++l) {
                const uint64_t grid = kIq2xxsGrid[(indices >> (8 * l)) & 0xff];
                const uint8_t signs = iq_signs((rest >> (7 * l)) & 127);
                for (int j = 0; j < 8; ++j) out[j] = db * grid_byte(grid, j) * sign_of(signs, j);
                out += 8;
            }
        }
    }
}

float vec_dot_iq2_xxs_q8_k(int64_t n, const void* x, const void* y) {
    float sum = 0;
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const BlockIQ2_XXS& xb = blocks_of<BlockIQ2_XXS>(x)[i];
        const BlockQ8_K& yb = blocks_of<BlockQ8_K>(y)[i];
        const int8_t* q8 = yb.qs;
        int32_t block = 0;
        for (int ib = 0; ib < kQK_K / 32; ++ib) {
            uint32_t indices, rest;
            iq2_xxs_words(xb, ib, indices, rest);
            int32_t sub = 0;
            for (int l = 0; l < 4; ++l) {
                const uint64_t grid = kIq2xxsGrid[(indices >> (8 * l)) & 0xff];
                const uint8_t signs = iq_signs((rest >> (7 * l)) & 127);
                for (int j = 0; j < 8; ++j)
                    sub += grid_byte(grid, j) * q8[j] * int_sign_of(signs, j);
                q8 += 8;
            }
            block += sub * static_cast<int32_t>(2 * (rest >> 28) + 1);
        }
        sum += fp16_to_f32(xb.d) * yb.d * static_cast<float>(block);
    }
    return 0.125f * sum;
}

void dequantize_row_iq2_xs(const void* in, float* out, int64_t n) {
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const BlockIQ2_XS& b = blocks_of<BlockIQ2_XS>(in)[i];
        const float d = fp16_to_f32(b.d);
        for (int ib = 0; ib < kQK_K / 32; ++ib) {
            const float db[2] = {d * (0.5f + static_cast<float>(b.scales[ib] & 0xf)) * 0.25f,
                                 d * (0.5f + static_cast<float>(b.scales[ib] >> 4)) * 0.25f};
            for (int l = 0; l < 4; ++l) {
                const uint16_t q = b.qs[4 * ib + l];
                const uint64_t grid = kIq2xsGrid[q & 511];
                const uint8_t signs = iq_signs(q >> 9);
                for (int j = 0; j < 8; ++j)
                    out[j] = db[l / 2] * grid_byte(grid, j) * sign_of(signs, j);
                out += 8;
            }
        }
    }
}

float vec_dot_iq2_xs_q8_k(int64_t n, const void* x, const void* y) {
    float sum = 0;
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const BlockIQ2_XS& xb = blocks_of<BlockIQ2_XS>(x)[i];
        const BlockQ8_K& yb = blocks_of<BlockQ8_K>(y)[i];
        const int8_t* q8 = yb.qs;
        int32_t block = 0;
        for (int ib = 0; ib < kQK_K / 32; ++ib) {
            for (int half = 0; half < 2; ++half) {  // 16 values under each 4-bit scale
                int32_t sub = 0;
                for (int l = 2 * half; l < 2 * half + 2; ++l) {
                    const uint16_t q = xb.qs[4 * ib + l];
                    const uint64_t grid = kIq2xsGrid[q & 511];
                    const uint8_t signs = iq_signs(q >> 9);
                    for (int j = 0; j < 8; ++j)
                        sub += grid_byte(grid, j) * q8[j] * int_sign_of(signs, j);
                    q8 += 8;
                }
                block += sub * (2 * ((xb.scales[ib] >> (4 * half)) & 0xf) + 1);
            }
        }
        sum += fp16_to_f32(xb.d) * yb.d * static_cast<float>(block);
    }
    return 0.125f * sum;
}

void dequantize_row_iq2_s(const void* in, float* out, int64_t n) {
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const BlockIQ2_S& b = blocks_of<BlockIQ2_S>(in)[i];
        const float d = fp16_to_f32(b.d);
        const uint8_t* signs = b.qs + kQK_K / 8;
        for (int ib = 0; ib < kQK_K / 32; ++ib) {
            const float db[2] = {d * (0.5f + static_cast<float>(b.scales[ib] & 0xf)) * 0.25f,
                                 d * (0.5f + static_cast<float>(b.scales[ib] >> 4)) * 0.25f};
            for (int l = 0; l < 4; ++l) {
                const uint64_t grid = kIq2sGrid[iq2_s_index(b, ib, l)];
                const uint8_t s = signs[4 * ib + l];
                for (int j = 0; j < 8; ++j) out[j] = db[l / 2] * grid_byte(grid, j) * sign_of(s, j);
                out += 8;
            }
        }
    }
}

float vec_dot_iq2_s_q8_k(int64_t n, const void* x, const void* y) {
    float sum = 0;
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const BlockIQ2_S& xb = blocks_of<BlockIQ2_S>(x)[i];
        const BlockQ8_K& yb = blocks_of<BlockQ8_K>(y)[i];
        const uint8_t* signs = xb.qs + kQK_K / 8;
        const int8_t* q8 = yb.qs;
        int block = 0;
        for (int ib = 0; ib < kQK_K / 32; ++ib) {
            int sub[2] = {0, 0};
            for (int l = 0; l < 4; ++l) {
                const uint64_t grid = kIq2sGrid[iq2_s_index(xb, ib, l)];
                const uint8_t s = signs[4 * ib + l];
                for (int j = 0; j < 8; ++j)
                    sub[l / 2] += q8[j] * grid_byte(grid, j) * int_sign_of(s, j);
                q8 += 8;
            }
            block +=
                (1 + 2 * (xb.scales[ib] & 0xf)) * sub[0] + (1 + 2 * (xb.scales[ib] >> 4)) * sub[1];
        }
        sum += fp16_to_f32(xb.d) * yb.d * static_cast<float>(block);
    }
    return 0.125f * sum;
}

// ---- IQ3_XXS, IQ3_S: 4 magnitudes a grid entry, two entries per 8 values ----

void dequantize_row_iq3_xxs(const void* in, float* out, int64_t n) {
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const BlockIQ3_XXS& b = blocks_of<BlockIQ3_XXS>(in)[i];
        const float d = fp16_to_f32(b.d);
        const uint8_t* scales_and_signs = b.qs + kQK_K / 4;
        for (int ib = 0; ib < kQK_K / 32; ++ib) {
            uint32_t word;
            std::memcpy(&word, scales_and_signs + 4 * ib, 4);
            const float db = d * (0.5f + static_cast<float>(word >> 28)) * 0.5f;
            const uint8_t* qs = &b.qs[8 * ib];
            for (int l = 0; l < 4; ++l) {
                const uint8_t signs = iq_signs((word >> (7 * l)) & 127);
                const uint32_t g1 = kIq3xxsGrid[qs[2 * l]], g2 = kIq3xxsGrid[qs[2 * l + 1]];
                for (int j = 0; j < 4; ++j) {
                    out[j] = db * grid_byte(g1, j) * sign_of(signs, j);
                    out[j + 4] = db * grid_byte(g2, j) * sign_of(signs, j + 4);
                }
                out += 8;
            }
        }
    }
}

float vec_dot_iq3_xxs_q8_k(int64_t n, const void* x, const void* y) {
    float sum = 0;
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const BlockIQ3_XXS& xb = blocks_of<BlockIQ3_XXS>(x)[i];
        const BlockQ8_K& yb = blocks_of<BlockQ8_K>(y)[i];
        const uint8_t* scales_and_signs = xb.qs + kQK_K / 4;
        const int8_t* q8 = yb.qs;
        int32_t block = 0;
        for (int ib = 0; ib < kQK_K / 32; ++ib) {
            uint32_t word;
            std::memcpy(&word, scales_and_signs + 4 * ib, 4);
            const uint8_t* qs = &xb.qs[8 * ib];
            int32_t sub = 0;
            for (int l = 0; l < 4; ++l) {
                const uint32_t g1 = kIq3xxsGrid[qs[2 * l]], g2 = kIq3xxsGrid[qs[2 * l + 1]];
                const uint8_t signs = iq_signs((word >> (7 * l)) & 127);
                for (int j = 0; j < 4; ++j) {
                    sub += grid_byte(g1, j) * q8[j] * int_sign_of(signs, j);
                    sub += grid_byte(g2, j) * q8[j + 4] * int_sign_of(signs, j + 4);
                }
                q8 += 8;
            }
            block += sub * static_cast<int32_t>(2 * (word >> 28) + 1);
        }
        sum += fp16_to_f32(xb.d) * yb.d * static_cast<float>(block);
    }
    return 0.25f * sum;
}

void dequantize_row_iq3_s(const void* in, float* out, int64_t n) {
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const BlockIQ3_S& b = blocks_of<BlockIQ3_S>(in)[i];
        const float d = fp16_to_f32(b.d);
        for (int ib = 0; ib < kQK_K / 32; ++ib) {
            const float db =
                d * static_cast<float>(1 + 2 * ((b.scales[ib / 2] >> (4 * (ib % 2))) & 0xf));
            for (int l = 0; l < 4; ++l) {
                const uint32_t g1 = kIq3sGrid[iq3_s_index(b, ib, 2 * l)];
                const uint32_t g2 = kIq3sGrid[iq3_s_index(b, ib, 2 * l + 1)];
                const uint8_t signs = b.signs[4 * ib + l];
                for (int j = 0; j < 4; ++j) {
                    out[j] = db * grid_byte(g1, j) * sign_of(signs, j);
                    out[j + 4] = db * grid_byte(g2, j) * sign_of(signs, j + 4);
                }
                out += 8;
            }
        }
    }
}

float vec_dot_iq3_s_q8_k(int64_t n, const void* x, const void* y) {
    float sum = 0;
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const BlockIQ3_S& xb = blocks_of<BlockIQ3_S>(x)[i];
        const BlockQ8_K& yb = blocks_of<BlockQ8_K>(y)[i];
        const int8_t* q8 = yb.qs;
        int32_t block = 0;
        for (int ib = 0; ib < kQK_K / 32; ++ib) {
            int32_t sub = 0;
            for (int l = 0; l < 4; ++l) {
                const uint32_t g1 = kIq3sGrid[iq3_s_index(xb, ib, 2 * l)];
                const uint32_t g2 = kIq3sGrid[iq3_s_index(xb, ib, 2 * l + 1)];
                const uint8_t signs = xb.signs[4 * ib + l];
                for (int j = 0; j < 4; ++j) {
                    sub += grid_byte(g1, j) * q8[j] * int_sign_of(signs, j);
                    sub += grid_byte(g2, j) * q8[j + 4] * int_sign_of(signs, j + 4);
                }
                q8 += 8;
            }
            block +=
                sub * static_cast<int32_t>(2 * ((xb.scales[ib / 2] >> (4 * (ib % 2))) & 0xf) + 1);
        }
        sum += fp16_to_f32(xb.d) * yb.d * static_cast<float>(block);
    }
    return sum;
}

// ---- IQ1_S, IQ1_M: grid values -1, 0, 1 plus a +-1/8 shift ----

void dequantize_row_iq1_s(const void* in, float* out, int64_t n) {
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const BlockIQ1_S& b = blocks_of<BlockIQ1_S>(in)[i];
        const float d = fp16_to_f32(b.d);
        for (int ib = 0; ib < kQK_K / 32; ++ib) {
            const float dl = d * static_cast<float>(2 * ((b.qh[ib] >> 12) & 7) + 1);
            const float shift = b.qh[ib] & 0x8000 ? -kIq1Shift : kIq1Shift;
            for (int l = 0; l < 4; ++l) {
                const uint64_t grid = kIq1sGrid[iq1_s_index(b, ib, l)];
                for (int j = 0; j < 8; ++j)
                    out[j] = dl * (static_cast<int8_t>(grid_byte(grid, j)) + shift);
                out += 8;
            }
        }
    }
}

float vec_dot_iq1_s_q8_k(int64_t n, const void* x, const void* y) {
    float sum = 0;
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const BlockIQ1_S& xb = blocks_of<BlockIQ1_S>(x)[i];
        const BlockQ8_K& yb = blocks_of<BlockQ8_K>(y)[i];
        const int8_t* q8 = yb.qs;
        int grid_sum = 0, shift_sum = 0;
        for (int ib = 0; ib < kQK_K / 32; ++ib) {
            const int ls = 2 * ((xb.qh[ib] >> 12) & 7) + 1;
            const int shift = xb.qh[ib] & 0x8000 ? -1 : 1;
            int sub = 0;
            for (int l = 0; l < 4; ++l) {
                const uint64_t grid = kIq1sGrid[iq1_s_index(xb, ib, l)];
                for (int j = 0; j < 8; ++j) sub += q8[j] * static_cast<int8_t>(grid_byte(grid, j));
                q8 += 8;
            }
            grid_sum += ls * sub;
            shift_sum += ls * shift * (yb.bsums[2 * ib] + yb.bsums[2 * ib + 1]);
        }
        sum += fp16_to_f32(xb.d) * yb.d * (grid_sum + kIq1Shift * shift_sum);
    }
    return sum;
}

void dequantize_row_iq1_m(const void* in, float* out, int64_t n) {
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const BlockIQ1_M& b = blocks_of<BlockIQ1_M>(in)[i];
        uint16_t sc[4];
        float d;
        iq1_m_scales(b, sc, d);
        for (int ib = 0; ib < kQK_K / 32; ++ib) {
            const int shift6 = 6 * (ib % 2);
            const float dl[2] = {
                d * static_cast<float>(2 * ((sc[ib / 2] >> shift6) & 7) + 1),
                d * static_cast<float>(2 * ((sc[ib / 2] >> (shift6 + 3)) & 7) + 1)};
            for (int l = 0; l < 4; ++l) {
                const uint64_t grid = kIq1sGrid[iq1_m_index(b, ib, l)];
                const float shift = iq1_m_shift_negative(b, ib, l) ? -kIq1Shift : kIq1Shift;
                for (int j = 0; j < 8; ++j)
                    out[j] = dl[l / 2] * (static_cast<int8_t>(grid_byte(grid, j)) + shift);
                out += 8;
            }
        }
    }
}

float vec_dot_iq1_m_q8_k(int64_t n, const void* x, const void* y) {
    float sum = 0;
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const BlockIQ1_M& xb = blocks_of<BlockIQ1_M>(x)[i];
        const BlockQ8_K& yb = blocks_of<BlockQ8_K>(y)[i];
        uint16_t sc[4];
        float d;
        iq1_m_scales(xb, sc, d);
        const int8_t* q8 = yb.qs;
        int grid_sum = 0, shift_sum = 0;
        for (int ib = 0; ib < kQK_K / 32; ++ib) {
            int grid_half[2] = {0, 0}, shift_half[2] = {0, 0};
            for (int l = 0; l < 4; ++l) {
                const uint64_t grid = kIq1sGrid[iq1_m_index(xb, ib, l)];
                int dot = 0, plain = 0;
                for (int j = 0; j < 8; ++j) {
                    dot += q8[j] * static_cast<int8_t>(grid_byte(grid, j));
                    plain += q8[j];
                }
                q8 += 8;
                grid_half[l / 2] += dot;
                shift_half[l / 2] += plain * (iq1_m_shift_negative(xb, ib, l) ? -1 : 1);
            }
            const int shift6 = 6 * (ib % 2);
            const int ls1 = 2 * ((sc[ib / 2] >> shift6) & 7) + 1;
            const int ls2 = 2 * ((sc[ib / 2] >> (shift6 + 3)) & 7) + 1;
            grid_sum += grid_half[0] * ls1 + grid_half[1] * ls2;
            shift_sum += shift_half[0] * ls1 + shift_half[1] * ls2;
        }
        sum += d * yb.d * (grid_sum + kIq1Shift * shift_sum);
    }
    return sum;
}

// ---- TQ1_0, TQ2_0: x = d * (t - 1), t the ternary digit value(block, p) ----

namespace {

template <typename Block, int (*value)(const Block&, int)>
void dequantize_ternary(const void* in, float* out, int64_t n) {
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const Block& b = blocks_of<Block>(in)[i];
        const float d = fp16_to_f32(b.d);
        for (int p = 0; p < kQK_K; ++p) out[p] = static_cast<float>(value(b, p) - 1) * d;
        out += kQK_K;
    }
}

template <typename Block, int (*value)(const Block&, int)>
float vec_dot_ternary(int64_t n, const void* x, const void* y) {
    float sum = 0;
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const Block& xb = blocks_of<Block>(x)[i];
        const BlockQ8_K& yb = blocks_of<BlockQ8_K>(y)[i];
        int dot = 0;
        for (int p = 0; p < kQK_K; ++p) dot += (value(xb, p) - 1) * yb.qs[p];
        sum += static_cast<float>(dot) * (fp16_to_f32(xb.d) * yb.d);
    }
    return sum;
}

}  // namespace

void dequantize_row_tq1_0(const void* in, float* out, int64_t n) {
    dequantize_ternary<BlockTQ1_0, tq1_value>(in, out, n);
}
float vec_dot_tq1_0_q8_k(int64_t n, const void* x, const void* y) {
    return vec_dot_ternary<BlockTQ1_0, tq1_value>(n, x, y);
}
void dequantize_row_tq2_0(const void* in, float* out, int64_t n) {
    dequantize_ternary<BlockTQ2_0, tq2_value>(in, out, n);
}
float vec_dot_tq2_0_q8_k(int64_t n, const void* x, const void* y) {
    return vec_dot_ternary<BlockTQ2_0, tq2_value>(n, x, y);
}

}  // namespace ember::ref
