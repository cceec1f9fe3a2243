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
#include "kernels/reference.h"

namespace ember::ref {
namespace {

constexpr float kAllZero = 1e-15f;  // a sub-block whose largest magnitude is below this is zero

int clamp(int v, int lo, int hi) {
    return v < lo ? lo : (v > hi ? hi : v);
}

// The value of largest magnitude, with its sign (the first on ties); *amax gets its magnitude.
float signed_max(const float* x, int n, float* amax) {
    float max = 0;
    *amax = 0;
    for (int i = 0; i < n; ++i) {
        if (std::fabs(x[i]) > *amax) {
            *amax = std::fabs(x[i]);
            max = x[i];
        }
    }
    return max;
}

// x ~ scale * (L - nmax), L in 0..2*nmax-1, weighted by x^2: tries iscale = -(nmax + 0.1 k) / max
// for k = -9..9 and keeps the least-squares scale of the best. Returns the scale.
float fit_signed_scale(int n, int nmax, const float* x, int8_t* L) {
    float amax;
    const float max = signed_max(x, n, &amax);
    if (amax < kAllZero) {
        std::memset(L, 0, n);
        return 0.0f;
    }
    // For one candidate: the sums of w*x*l and w*l*l that give the least-squares scale.
    const auto sums = [&](float iscale, float* sumlx, float* suml2) {
        *sumlx = *suml2 = 0;
        for (int i = 0; i < n; ++i) {
            const int l = clamp(nearest_int(iscale * x[i]), -nmax, nmax - 1);
            const float w = x[i] * x[i];
            *sumlx += w * x[i] * l;
            *suml2 += w * l * l;
        }
    };
    const auto assign = [&](float iscale) {
        for (int i = 0; i < n; ++i)
            L[i] = static_cast<int8_t>(nmax + clamp(nearest_int(iscale * x[i]), -nmax, nmax - 1));
    };
    float iscale = -nmax / max;
    float sumlx, suml2;
    sums(iscale, &sumlx, &suml2);
    assign(iscale);
    float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int step = -9; step <= 9; ++step) {
        if (step == 0) continue;
        iscale = -(nmax + 0.1f * step) / max;
        sums(iscale, &sumlx, &suml2);
        // sumlx^2 / suml2 is the error reduction of the least-squares scale: larger is better.
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            assign(iscale);
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

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

// x ~ scale * L - min, L in 0..nmax, min >= 0, minimising sum w * |err| (use_abs) or w * err^2.
// Tries iscale = (nmax + rmin + rdelta * k) / (max - min) for k = 0..steps; for each rounding it
// solves the weighted least squares for scale and min. *min_out gets min.
float fit_scale_and_min(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                        float* min_out, float rmin, float rdelta, int steps, bool use_abs) {
    float min = x[0], max = x[0];
    float sum_w = weights[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; ++i) {
        min = x[i] < min ? x[i] : min;
        max = x[i] > max ? x[i] : max;
        sum_w += weights[i];
        sum_x += weights[i] * x[i];
    }
    if (min > 0) min = 0;  // the offset only ever lowers values
    if (max == min) {
        std::memset(L, 0, n);
        *min_out = -min;
        return 0.0f;
    }
    const auto error = [&](float scale, float offset, const uint8_t* levels) {
        float err = 0;
        for (int i = 0; i < n; ++i) {
            float diff = scale * levels[i] + offset - x[i];
            diff = use_abs ? std::fabs(diff) : diff * diff;
            err += weights[i] * diff;
        }
        return err;
    };
    float iscale = nmax / (max - min);
    float scale = 1 / iscale;
    for (int i = 0; i < n; ++i)
        L[i] = static_cast<uint8_t>(clamp(nearest_int(iscale * (x[i] - min)), 0, nmax));
    float best = error(scale, min, L);
    uint8_t trial[32];
    for (int step = 0; step <= steps; ++step) {
        iscale = (rmin + rdelta * step + nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; ++i) {
            const int l = clamp(nearest_int(iscale * (x[i] - min)), 0, nmax);
            trial[i] = static_cast<uint8_t>(l);
            const float w = weights[i];
            sum_l += w * l;
            sum_l2 += w * l * l;
            sum_xl += w * l * x[i];
        }
        // Normal equations of min over (scale, offset) of sum w (scale * l + offset - x)^2.
        const float det = sum_w * sum_l2 - sum_l * sum_l;
        if (!(det > 0)) continue;
        float this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
        float this_offset = (sum_l2 * sum_x - sum_l * sum_xl) / det;
        if (this_offset > 0) {  // offsets are subtracted minimums: at most 0
            this_offset = 0;
            this_scale = sum_xl / sum_l2;
        }
        const float err = error(this_scale, this_offset, trial);
        if (err < best) {
            std::memcpy(L, trial, n);
            best = err;
            scale = this_scale;
            min = this_offset;
        }
    }
    *min_out = -min;
    return scale;
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

// Q4_K and Q5_K share the outer level: eight 32-value sub-blocks fitted by fit_scale_and_min
// with weights rms(x) + |x|, their scales and minimums quantized to 6 bits against the largest,
// then every value rounded again with the scales as stored. L gets levels 0..nmax.
void quantize_q4_k_q5_k_levels(const float* x, int nmax, float rmin, int steps, fp16_t* d_out,
                               fp16_t* dmin_out, uint8_t* scales_out, uint8_t* L) {
    float scales[8], mins[8];
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
    std::memset(scales_out, 0, 12);
    for (int j = 0; j < 8; ++j) {
        const int ls = std::min(
            63, static_cast<int>(static_cast<uint8_t>(nearest_int(inv_scale * scales[j]))));
        const int lm =
            std::min(63, static_cast<int>(static_cast<uint8_t>(nearest_int(inv_min * mins[j]))));
        // The packing q4_k_scale_min() reads (kernels/k_quant_scales.h).
        if (j < 4) {
            scales_out[j] = static_cast<uint8_t>(ls);
            scales_out[j + 4] = static_cast<uint8_t>(lm);
        } else {
            scales_out[j + 4] = static_cast<uint8_t>((ls & 0xf) | ((lm & 0xf) << 4));
            scales_out[j - 4] |= static_cast<uint8_t>((ls >> 4) << 6);
            scales_out[j] |= static_cast<uint8_t>((lm >> 4) << 6);
        }
    }
    *d_out = f32_to_fp16(max_scale / 63.f);
    *dmin_out = f32_to_fp16(max_min / 63.f);
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

}  // namespace

void quantize_weights_q2_k(const float* in, void* out, int64_t n) {
    auto* blocks = static_cast<BlockQ2_K*>(out);
    for (int64_t b = 0; b < n / kQK_K; ++b, in += kQK_K) {
        BlockQ2_K& y = blocks[b];
        uint8_t L[kQK_K];
        float scales[16], mins[16];
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

void quantize_weights_q3_k(const float* in, void* out, int64_t n) {
    auto* blocks = static_cast<BlockQ3_K*>(out);
    for (int64_t b = 0; b < n / kQK_K; ++b, in += kQK_K) {
        BlockQ3_K& y = blocks[b];
        int8_t L[kQK_K];
        float scales[16];
        for (int j = 0; j < 16; ++j)
            scales[j] = fit_signed_scale_iterated(16, 4, in + 16 * j, L + 16 * j);
        float amax;
        const float max_scale = signed_max(scales, 16, &amax);
        // Six-bit signed sub-block scales, stored +32, in the packing q3_k_scale() reads.
        std::memset(y.scales, 0, 12);
        if (max_scale != 0) {
            const float iscale = -32.f / max_scale;
            for (int j = 0; j < 16; ++j) {
                const int l =
                    clamp(static_cast<int8_t>(nearest_int(iscale * scales[j])), -32, 31) + 32;
                if (j < 8) {
                    y.scales[j] = static_cast<uint8_t>(l & 0xf);
                } else {
                    y.scales[j - 8] |= static_cast<uint8_t>((l & 0xf) << 4);
                }
                y.scales[j % 4 + 8] |= static_cast<uint8_t>((l >> 4) << (2 * (j / 4)));
            }
            y.d = f32_to_fp16(1 / iscale);
        } else {
            y.d = f32_to_fp16(0.f);
        }
        round_with_stored_scales(in, fp16_to_f32(y.d), 4, L,
                                 [&](int j) { return q3_k_scale(y.scales, j); });
        // Levels 0..7: bit 2 goes to hmask (bit m of byte i for value 32 m + i), bits 0-1 to qs.
        std::memset(y.hmask, 0, sizeof(y.hmask));
        uint8_t low[kQK_K];
        for (int j = 0; j < kQK_K; ++j) {
            if (L[j] > 3) y.hmask[j % 32] |= static_cast<uint8_t>(1 << (j / 32));
            low[j] = static_cast<uint8_t>(L[j] & 3);
        }
        pack_two_bits(low, y.qs);
    }
}

void quantize_weights_q4_k(const float* in, void* out, int64_t n) {
    auto* blocks = static_cast<BlockQ4_K*>(out);
    for (int64_t b = 0; b < n / kQK_K; ++b, in += kQK_K) {
        BlockQ4_K& y = blocks[b];
        uint8_t L[kQK_K];
        quantize_q4_k_q5_k_levels(in, 15, -1.0f, 20, &y.d, &y.dmin, y.scales, L);
        // Each 64-value group: 32 bytes, value l in the low nibble and value l + 32 in the high.
        for (int group = 0; group < kQK_K / 64; ++group) {
            for (int l = 0; l < 32; ++l)
                y.qs[32 * group + l] =
                    static_cast<uint8_t>(L[64 * group + l] | (L[64 * group + l + 32] << 4));
        }
    }
}

void quantize_weights_q5_k(const float* in, void* out, int64_t n) {
    auto* blocks = static_cast<BlockQ5_K*>(out);
    for (int64_t b = 0; b < n / kQK_K; ++b, in += kQK_K) {
        BlockQ5_K& y = blocks[b];
        uint8_t L[kQK_K];
        quantize_q4_k_q5_k_levels(in, 31, -0.5f, 15, &y.d, &y.dmin, y.scales, L);
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

void quantize_weights_q6_k(const float* in, void* out, int64_t n) {
    auto* blocks = static_cast<BlockQ6_K*>(out);
    for (int64_t b = 0; b < n / kQK_K; ++b, in += kQK_K) {
        BlockQ6_K& y = blocks[b];
        int8_t L[kQK_K];
        float scales[16];
        for (int j = 0; j < 16; ++j) scales[j] = fit_signed_scale(16, 32, in + 16 * j, L + 16 * j);
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

}  // namespace ember::ref
