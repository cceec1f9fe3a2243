// Quantizing weights into the K-quants (Q2_K .. Q6_K) with the algorithms of llama.cpp's
// quantizer when no importance matrix is given (ggml-quants.c, quantize_row_qN_K_ref), so a
// file ember writes holds the same bytes llama.cpp's would from the same F32 weights.
//
// Every K-quant has two levels: a 256-value super-block with one fp16 scale (and one for the
// minimums), and 16- or 32-value sub-blocks whose own scales are small integers relative to it.
// The work is in choosing the sub-block scales. Rounding x / scale is not the best fit: the
// quantizers below try a few scales near max/nmax and keep the one that minimises a weighted
// error, the weights favouring the larger values (which matter most in a dot product).
//   Q2_K, Q4_K, Q5_K: x ~ scale * q - min, q in 0..nmax; fit_scale_and_min() searches the scale
//                     and solves the weighted least squares for (scale, min) at each step.
//   Q3_K:             x ~ scale * q, q in -4..3; fit_signed_scale_iterated() then moves single
//                     values to a neighbouring level while that improves the fit.
//   Q6_K:             x ~ scale * q, q in -32..31; fit_signed_scale() tries 18 scales around
//                     -32 / (the value of largest magnitude).
// The float expressions keep llama.cpp's order of operations: a different rounding of one
// intermediate could pick a different scale and change the bytes.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/blocks.h"
#include "kernels/k_quant_scales.h"
#include "kernels/nearest_int.h"
#include "kernels/quant_fit.h"
#include "kernels/reference.h"

namespace ember::ref {
namespace {

// Q3_K's fit: x ~ scale * l, l in -nmax..nmax-1, weighted by x^2. Starts from rounding with
// iscale = -nmax / max, then up to five passes move each value to the level the others'
// least-squares scale suggests, when that lowers the error. L gets l + nmax.
float fit_signed_scale_iterated(int n, int nmax, const float* x, int8_t* L) {
    float amax;
    const float max = signed_max(x, n, &amax);
    if (amax < kAllZero) {
        std::memset(L, 0, n);
        return 0.0f;
    }
    const float iscale = -nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; ++i) {
        const int l = clamp(nearest_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = static_cast<int8_t>(l);
        const float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    for (int pass = 0; pass < 5; ++pass) {
        int changed = 0;
        for (int i = 0; i < n; ++i) {
            const float w = x[i] * x[i];
            float slx = sumlx - w * x[i] * L[i];  // the sums without value i
            if (!(slx > 0)) continue;             // (also skips NaN, as the original's test does)
            float sl2 = suml2 - w * L[i] * L[i];
            const int l = clamp(nearest_int(x[i] * sl2 / slx), -nmax, nmax - 1);
            if (l == L[i]) continue;
            slx += w * x[i] * l;
            sl2 += w * l * l;
            // Keep the move if sumlx^2 / suml2 (the error reduction) grows.
            if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                L[i] = static_cast<int8_t>(l);
                sumlx = slx;
                suml2 = sl2;
                ++changed;
            }
        }
        if (changed == 0) break;
    }
    for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(L[i] + nmax);
    return sumlx / suml2;
}

// The second pass of Q3_K and Q6_K: every value rounded again with its 16-value sub-block's
// scale as stored (d * scale_of(j)), to a level in -nmax..nmax-1; L gets level + nmax. Sub-blocks
// whose stored scale is 0 keep the levels of the fit.
template <typename ScaleOf>
void round_with_stored_scales(const float* x, float d, int nmax, int8_t* L, ScaleOf scale_of) {
    for (int j = 0; j < kQK_K / 16; ++j) {
        const float dj = d * static_cast<float>(scale_of(j));
        if (dj == 0) continue;
        for (int l = 0; l < 16; ++l) {
            const int level = clamp(nearest_int(x[16 * j + l] / dj), -nmax, nmax - 1);
            L[16 * j + l] = static_cast<int8_t>(level + nmax);
        }
    }
}

// Packs 2-bit values: byte l of each 32-byte group holds values l, l+32, l+64, l+96 of a
// 128-value half, lowest bits first (Q2_K's qs and Q3_K's low bits).
void pack_two_bits(const uint8_t* L, uint8_t* qs) {
    for (int half = 0; half < kQK_K; half += 128) {
        for (int l = 0; l < 32; ++l) {
            qs[half / 4 + l] =
                static_cast<uint8_t>(L[half + l] | (L[half + l + 32] << 2) |
                                     (L[half + l + 64] << 4) | (L[half + l + 96] << 6));
        }
    }
}

// Q4_K and Q5_K share the outer level: eight 32-value sub-blocks fitted by fit_scale_and_min,
// their scales and minimums quantized to 6 bits, then every value rounded again with the scales
// as stored. L gets levels 0..nmax. Without an importance matrix (importance null) the weights
// are rms(x) + |x| per sub-block and the 6-bit values are proportional to the largest; with one
// (its 256 entries for this block), importance * sqrt(sigma^2 + x^2) over the block and the
// 6-bit values fitted by fit_positive_scale (Q5_K caps them at 63, Q4_K as llama.cpp does not).
void quantize_q4_k_q5_k_levels(const float* x, int nmax, float rmin, int steps,
                               const float* importance, fp16_t* d_out, fp16_t* dmin_out,
                               uint8_t* scales_out, uint8_t* L) {
    float scales[8], mins[8];
    int ls[8], lm[8];
    if (importance == nullptr) {
        float max_scale = 0, max_min = 0;
        for (int j = 0; j < 8; ++j) {
            const float* xs = x + 32 * j;
            float sum_x2 = 0;
            for (int l = 0; l < 32; ++l) sum_x2 += xs[l] * xs[l];
            const float rms = std::sqrt(sum_x2 / 32);
            float weights[32];
            for (int l = 0; l < 32; ++l) weights[l] = rms + std::fabs(xs[l]);
            scales[j] = fit_scale_and_min(32, nmax, xs, weights, L + 32 * j, &mins[j], rmin, 0.1f,
                                          steps, false);
            if (scales[j] > max_scale) max_scale = scales[j];
            if (mins[j] > max_min) max_min = mins[j];
        }
        const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
        const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
        for (int j = 0; j < 8; ++j) {
            ls[j] = std::min(
                63, static_cast<int>(static_cast<uint8_t>(nearest_int(inv_scale * scales[j]))));
            lm[j] = std::min(
                63, static_cast<int>(static_cast<uint8_t>(nearest_int(inv_min * mins[j]))));
        }
        *d_out = f32_to_fp16(max_scale / 63.f);
        *dmin_out = f32_to_fp16(max_min / 63.f);
    } else {
        float sum_x2 = 0;
        for (int l = 0; l < kQK_K; ++l) sum_x2 += x[l] * x[l];
        const float sigma2 = 2 * sum_x2 / kQK_K;
        float sw[8];
        for (int j = 0; j < 8; ++j) {
            float weights[32];
            for (int l = 0; l < 32; ++l)
                weights[l] =
                    importance[32 * j + l] * std::sqrt(sigma2 + x[32 * j + l] * x[32 * j + l]);
            float sum_w = 0;
            for (int l = 0; l < 32; ++l) sum_w += weights[l];
            sw[j] = sum_w;
            scales[j] = fit_scale_and_min(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j],
                                          -0.9f, 0.05f, 36, false);
        }
        uint8_t Ls[8], Lm[8];
        const float d_block = fit_positive_scale(8, 63, scales, sw, Ls);
        const float m_block = fit_positive_scale(8, 63, mins, sw, Lm);
        for (int j = 0; j < 8; ++j) {
            ls[j] = nmax == 31 ? std::min(63, static_cast<int>(Ls[j])) : Ls[j];
            lm[j] = nmax == 31 ? std::min(63, static_cast<int>(Lm[j])) : Lm[j];
        }
        *d_out = f32_to_fp16(d_block);
        *dmin_out = f32_to_fp16(m_block);
    }
    std::memset(scales_out, 0, 12);
    for (int j = 0; j < 8; ++j) {
        // The packing q4_k_scale_min() reads (kernels/k_quant_scales.h).
        if (j < 4) {
            scales_out[j] = static_cast<uint8_t>(ls[j]);
            scales_out[j + 4] = static_cast<uint8_t>(lm[j]);
        } else {
            scales_out[j + 4] = static_cast<uint8_t>((ls[j] & 0xf) | ((lm[j] & 0xf) << 4));
            scales_out[j - 4] |= static_cast<uint8_t>((ls[j] >> 4) << 6);
            scales_out[j] |= static_cast<uint8_t>((lm[j] >> 4) << 6);
        }
    }
    for (int j = 0; j < 8; ++j) {
        int sc, m;
        q4_k_scale_min(scales_out, j, &sc, &m);
        const float d = fp16_to_f32(*d_out) * static_cast<float>(sc);
        if (d == 0) continue;
        const float dm = fp16_to_f32(*dmin_out) * static_cast<float>(m);
        for (int l = 0; l < 32; ++l)
            L[32 * j + l] =
                static_cast<uint8_t>(clamp(nearest_int((x[32 * j + l] + dm) / d), 0, nmax));
    }
}

// Q3_K's levels 0..7 into the block: bit 2 to hmask (bit m of byte i for value 32 m + i),
// bits 0-1 to qs.
void pack_q3_k_levels(const int8_t* L, BlockQ3_K& y) {
    std::memset(y.hmask, 0, sizeof(y.hmask));
    uint8_t low[kQK_K];
    for (int j = 0; j < kQK_K; ++j) {
        if (L[j] > 3) y.hmask[j % 32] |= static_cast<uint8_t>(1 << (j / 32));
        low[j] = static_cast<uint8_t>(L[j] & 3);
    }
    pack_two_bits(low, y.qs);
}

// Q3_K's sixteen 6-bit signed sub-block scales (l + 32 in 0..63) in the packing q3_k_scale()
// reads.
void pack_q3_k_scales(const int* l, uint8_t* scales) {
    std::memset(scales, 0, 12);
    for (int j = 0; j < 16; ++j) {
        if (j < 8) {
            scales[j] = static_cast<uint8_t>(l[j] & 0xf);
        } else {
            scales[j - 8] |= static_cast<uint8_t>((l[j] & 0xf) << 4);
        }
        scales[j % 4 + 8] |= static_cast<uint8_t>((l[j] >> 4) << (2 * (j / 4)));
    }
}

// The weights of a 16-value sub-block under an importance matrix: importance * sqrt(sigma2 +
// x^2); returns their sum.
float importance_weights(const float* x, const float* importance, float sigma2, float* weights) {
    float sum = 0;
    for (int l = 0; l < 16; ++l) weights[l] = importance[l] * std::sqrt(sigma2 + x[l] * x[l]);
    for (int l = 0; l < 16; ++l) sum += weights[l];
    return sum;
}

float block_sum_squares(const float* x) {
    float sum = 0;
    for (int j = 0; j < kQK_K; ++j) sum += x[j] * x[j];
    return sum;
}

}  // namespace

void quantize_q2_k(const float* in, void* out, int64_t n, const float* importance) {
    auto* blocks = static_cast<BlockQ2_K*>(out);
    for (int64_t b = 0; b < n / kQK_K; ++b, in += kQK_K) {
        BlockQ2_K& y = blocks[b];
        uint8_t L[kQK_K];
        float scales[16], mins[16];
        if (importance != nullptr) {
            // Sub-blocks fitted with the importance, their 4-bit scales and minimums by
            // fit_positive_scale weighted by each sub-block's total weight.
            const float* qw = importance + kQK_K * b;
            const float sigma2 = block_sum_squares(in) / kQK_K;
            float sw[16];
            for (int j = 0; j < 16; ++j) {
                float weights[16];
                sw[j] = importance_weights(in + 16 * j, qw + 16 * j, sigma2, weights);
                scales[j] = fit_scale_and_min(16, 3, in + 16 * j, weights, L + 16 * j, &mins[j],
                                              -0.9f, 0.05f, 36, false);
            }
            uint8_t Ls[16], Lm[16];
            y.d = f32_to_fp16(fit_positive_scale(16, 15, scales, sw, Ls));
            y.dmin = f32_to_fp16(fit_positive_scale(16, 15, mins, sw, Lm));
            for (int j = 0; j < 16; ++j) y.scales[j] = static_cast<uint8_t>(Ls[j] | (Lm[j] << 4));
            for (int j = 0; j < 16; ++j) {
                const float d = fp16_to_f32(y.d) * static_cast<float>(y.scales[j] & 0xf);
                if (d == 0) continue;
                const float m = fp16_to_f32(y.dmin) * static_cast<float>(y.scales[j] >> 4);
                for (int l = 0; l < 16; ++l)
                    L[16 * j + l] =
                        static_cast<uint8_t>(clamp(nearest_int((in[16 * j + l] + m) / d), 0, 3));
            }
            pack_two_bits(L, y.qs);
            continue;
        }
        float max_scale = 0, max_min = 0;
        for (int j = 0; j < 16; ++j) {
            float weights[16];
            for (int l = 0; l < 16; ++l) weights[l] = std::fabs(in[16 * j + l]);
            scales[j] = fit_scale_and_min(16, 3, in + 16 * j, weights, L + 16 * j, &mins[j], -0.5f,
                                          0.1f, 15, true);
            if (scales[j] > max_scale) max_scale = scales[j];
            if (mins[j] > max_min) max_min = mins[j];
        }
        // Sub-block scales (low nibble) and minimums (high nibble) as 4-bit multiples of d, dmin.
        if (max_scale > 0) {
            const float iscale = 15.f / max_scale;
            for (int j = 0; j < 16; ++j)
                y.scales[j] = static_cast<uint8_t>(nearest_int(iscale * scales[j]));
            y.d = f32_to_fp16(max_scale / 15.f);
        } else {
            std::memset(y.scales, 0, 16);
            y.d = f32_to_fp16(0.f);
        }
        if (max_min > 0) {
            const float iscale = 15.f / max_min;
            for (int j = 0; j < 16; ++j)
                y.scales[j] |= static_cast<uint8_t>(nearest_int(iscale * mins[j]) << 4);
            y.dmin = f32_to_fp16(max_min / 15.f);
        } else {
            y.dmin = f32_to_fp16(0.f);
        }
        for (int j = 0; j < 16; ++j) {
            const float d = fp16_to_f32(y.d) * static_cast<float>(y.scales[j] & 0xf);
            if (d == 0) continue;
            const float dm = fp16_to_f32(y.dmin) * static_cast<float>(y.scales[j] >> 4);
            for (int l = 0; l < 16; ++l)
                L[16 * j + l] =
                    static_cast<uint8_t>(clamp(nearest_int((in[16 * j + l] + dm) / d), 0, 3));
        }
        pack_two_bits(L, y.qs);
    }
}

void quantize_q3_k(const float* in, void* out, int64_t n, const float* importance) {
    auto* blocks = static_cast<BlockQ3_K*>(out);
    for (int64_t b = 0; b < n / kQK_K; ++b, in += kQK_K) {
        BlockQ3_K& y = blocks[b];
        int8_t L[kQK_K];
        float scales[16];
        if (importance != nullptr) {
            // Sub-blocks fitted with the importance (no iterations), their 6-bit scales by
            // fit_signed_scale weighted by each sub-block's total weight.
            const float* qw = importance + kQK_K * b;
            const float sigma2 = 2 * block_sum_squares(in) / kQK_K;
            float sw[16];
            for (int j = 0; j < 16; ++j) {
                float weights[16];
                sw[j] = importance_weights(in + 16 * j, qw + 16 * j, sigma2, weights);
                scales[j] = fit_signed_scale(16, 4, in + 16 * j, weights, L + 16 * j);
            }
            int8_t Ls[16];
            const float d_block = fit_signed_scale(16, 32, scales, sw, Ls);
            int levels[16];
            for (int j = 0; j < 16; ++j) levels[j] = Ls[j];
            pack_q3_k_scales(levels, y.scales);
            y.d = f32_to_fp16(d_block);
            round_with_stored_scales(in, fp16_to_f32(y.d), 4, L,
                                     [&](int j) { return q3_k_scale(y.scales, j); });
            pack_q3_k_levels(L, y);
            continue;
        }
        for (int j = 0; j < 16; ++j)
            scales[j] = fit_signed_scale_iterated(16, 4, in + 16 * j, L + 16 * j);
        float amax;
        const float max_scale = signed_max(scales, 16, &amax);
        // Six-bit signed sub-block scales, stored +32, in the packing q3_k_scale() reads.
        int levels[16] = {};
        if (max_scale != 0) {
            const float iscale = -32.f / max_scale;
            for (int j = 0; j < 16; ++j)
                levels[j] =
                    clamp(static_cast<int8_t>(nearest_int(iscale * scales[j])), -32, 31) + 32;
            pack_q3_k_scales(levels, y.scales);
            y.d = f32_to_fp16(1 / iscale);
        } else {
            std::memset(y.scales, 0, 12);
            y.d = f32_to_fp16(0.f);
        }
        round_with_stored_scales(in, fp16_to_f32(y.d), 4, L,
                                 [&](int j) { return q3_k_scale(y.scales, j); });
        pack_q3_k_levels(L, y);
    }
}

void quantize_q4_k(const float* in, void* out, int64_t n, const float* importance) {
    auto* blocks = static_cast<BlockQ4_K*>(out);
    for (int64_t b = 0; b < n / kQK_K; ++b, in += kQK_K) {
        BlockQ4_K& y = blocks[b];
        uint8_t L[kQK_K];
        quantize_q4_k_q5_k_levels(in, 15, -1.0f, 20,
                                  importance != nullptr ? importance + kQK_K * b : nullptr, &y.d,
                                  &y.dmin, y.scales, L);
        // Each 64-value group: 32 bytes, value l in the low nibble and value l + 32 in the high.
        for (int group = 0; group < kQK_K / 64; ++group) {
            for (int l = 0; l < 32; ++l)
                y.qs[32 * group + l] =
                    static_cast<uint8_t>(L[64 * group + l] | (L[64 * group + l + 32] << 4));
        }
    }
}

void quantize_q5_k(const float* in, void* out, int64_t n, const float* importance) {
    auto* blocks = static_cast<BlockQ5_K*>(out);
    for (int64_t b = 0; b < n / kQK_K; ++b, in += kQK_K) {
        BlockQ5_K& y = blocks[b];
        uint8_t L[kQK_K];
        quantize_q4_k_q5_k_levels(in, 31, -0.5f, 15,
                                  importance != nullptr ? importance + kQK_K * b : nullptr, &y.d,
                                  &y.dmin, y.scales, L);
        // Low 4 bits as Q4_K; bit 4 of value 64 g + l goes to qh[l] bit 2g, of 64 g + 32 + l to
        // bit 2g + 1.
        std::memset(y.qh, 0, sizeof(y.qh));
        for (int group = 0; group < kQK_K / 64; ++group) {
            for (int l = 0; l < 32; ++l) {
                const int lo = L[64 * group + l], hi = L[64 * group + 32 + l];
                y.qs[32 * group + l] = static_cast<uint8_t>((lo & 0xf) | ((hi & 0xf) << 4));
                y.qh[l] |= static_cast<uint8_t>(((lo >> 4) << (2 * group)) |
                                                ((hi >> 4) << (2 * group + 1)));
            }
        }
    }
}

void quantize_q6_k(const float* in, void* out, int64_t n, const float* importance) {
    auto* blocks = static_cast<BlockQ6_K*>(out);
    for (int64_t b = 0; b < n / kQK_K; ++b, in += kQK_K) {
        BlockQ6_K& y = blocks[b];
        int8_t L[kQK_K];
        float scales[16];
        // Weighted by x^2, or by the importance alone (llama.cpp leaves out sigma here).
        for (int j = 0; j < 16; ++j) {
            const float* weights =
                importance != nullptr ? importance + kQK_K * b + 16 * j : nullptr;
            scales[j] = fit_signed_scale(16, 32, in + 16 * j, weights, L + 16 * j);
        }
        float max_abs_scale;
        const float max_scale = signed_max(scales, 16, &max_abs_scale);
        if (max_abs_scale < kAllZero) {
            std::memset(&y, 0, sizeof(y));
            continue;
        }
        // Eight-bit signed sub-block scales: the largest maps to -128.
        const float iscale = -128.f / max_scale;
        y.d = f32_to_fp16(1 / iscale);
        for (int j = 0; j < 16; ++j)
            y.scales[j] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[j])));
        round_with_stored_scales(in, fp16_to_f32(y.d), 32, L, [&](int j) { return y.scales[j]; });
        // Per 128 values: ql holds the low nibbles of l and l + 64 (bytes 0..31) and of l + 32
        // and l + 96 (bytes 32..63); qh[l] holds the high 2 bits of l, l+32, l+64, l+96.
        for (int half = 0; half < 2; ++half) {
            const int8_t* q = L + 128 * half;
            uint8_t* ql = y.ql + 64 * half;
            uint8_t* qh = y.qh + 32 * half;
            for (int l = 0; l < 32; ++l) {
                ql[l] = static_cast<uint8_t>((q[l] & 0xf) | ((q[l + 64] & 0xf) << 4));
                ql[l + 32] = static_cast<uint8_t>((q[l + 32] & 0xf) | ((q[l + 96] & 0xf) << 4));
                qh[l] = static_cast<uint8_t>((q[l] >> 4) | ((q[l + 32] >> 4) << 2) |
                                             ((q[l + 64] >> 4) << 4) | ((q[l + 96] >> 4) << 6));
            }
        }
    }
}

void quantize_weights_q2_k(const float* in, void* out, int64_t n) {
    quantize_q2_k(in, out, n, nullptr);
}
void quantize_weights_q3_k(const float* in, void* out, int64_t n) {
    quantize_q3_k(in, out, n, nullptr);
}
void quantize_weights_q4_k(const float* in, void* out, int64_t n) {
    quantize_q4_k(in, out, n, nullptr);
}
void quantize_weights_q5_k(const float* in, void* out, int64_t n) {
    quantize_q5_k(in, out, n, nullptr);
}
void quantize_weights_q6_k(const float* in, void* out, int64_t n) {
    quantize_q6_k(in, out, n, nullptr);
}

}  // namespace ember::ref
