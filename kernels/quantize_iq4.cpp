// Quantizing weights into IQ4_NL and IQ4_XS as llama.cpp's quantizer does (ggml-quants.c,
// quantize_iq4_nl / quantize_iq4_xs, the same for both: IQ4_NL is one 32-value block, IQ4_XS
// eight of them under a super-block scale), with or without an importance matrix, so a file
// ember writes holds the bytes llama-quantize writes from the same weights.
//
// Each 32-value block: the values are rounded to the nearest of the 16 levels at 15 scales
// around max / -127 (max: the value of largest magnitude), each scored by a weighted least
// squares fit, and the best fit's scale kept. The weights are x^2, or with an importance
// matrix imatrix_j * sqrt(sigma^2 + x_j^2), sigma^2 the block's mean square (over the whole
// super-block) times 2. IQ4_XS then stores each block's scale as a 6-bit multiple of the
// super-block's d = -(largest-magnitude block scale) / 32 and rounds the values again to it.
// The float expressions keep llama.cpp's order of operations: a different rounding of one
// intermediate could pick a different scale and change the bytes.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/blocks.h"
#include "kernels/iq_grids.h"
#include "kernels/nearest_int.h"
#include "kernels/reference.h"

namespace ember::ref {
namespace {

constexpr float kAllZero = 1e-15f;  // a block whose largest magnitude is below this is zero
constexpr int kTries = 7;           // scales (itry - 127) / max for itry in -7..7

// The level nearest x (the lower one on ties), by bisection over the sorted levels.
int nearest_level(float x) {
    const int8_t* v = kIq4Levels;
    if (x <= v[0]) return 0;
    if (x >= v[15]) return 15;
    int lo = 0, hi = 15;
    while (hi - lo > 1) {
        const int mid = (lo + hi) / 2;
        (x < v[mid] ? hi : lo) = mid;
    }
    return x - v[hi - 1] < v[hi] - x ? hi - 1 : hi;
}

// The weighted fit of one block's values x to levels at inverse scale id: sum w q x and
// sum w q^2.
void fit(const float* x, const float* w, float id, float& sumqx, float& sumq2) {
    sumqx = sumq2 = 0;
    for (int j = 0; j < 32; ++j) {
        const float q = kIq4Levels[nearest_level(id * x[j])];
        sumqx += w[j] * q * x[j];
        sumq2 += w[j] * q * q;
    }
}

// One super-block of `blocks` 32-value blocks (1: IQ4_NL, 8: IQ4_XS): the fp16 scale d, the
// packed nibbles, and for IQ4_XS the 6-bit block scales.
void quantize_super_block(const float* x, int blocks, const float* importance, fp16_t* d_out,
                          uint8_t* qs, uint16_t* scales_h, uint8_t* scales_l) {
    const int n = 32 * blocks;
    float sigma2 = 0;
    for (int j = 0; j < n; ++j) sigma2 += x[j] * x[j];
    sigma2 *= 2.f / n;

    uint8_t L[kQK_K];
    float scales[8];
    float weight[32];
    float max_scale = 0, amax_scale = 0;
    for (int ib = 0; ib < blocks; ++ib) {
        const float* xb = x + 32 * ib;
        for (int j = 0; j < 32; ++j) {
            weight[j] = importance ? importance[32 * ib + j] * std::sqrt(sigma2 + xb[j] * xb[j])
                                   : xb[j] * xb[j];
        }
        float amax = 0, max = 0;
        for (int j = 0; j < 32; ++j) {
            if (std::fabs(xb[j]) > amax) amax = std::fabs(xb[j]), max = xb[j];
        }
        if (amax < kAllZero) {
            scales[ib] = 0;
            continue;
        }
        float sumqx, sumq2;
        fit(xb, weight, 1 / (-max / kIq4Levels[0]), sumqx, sumq2);
        float d = sumqx / sumq2;
        float best = d * sumqx;
        for (int itry = -kTries; itry <= kTries; ++itry) {
            fit(xb, weight, (itry + kIq4Levels[0]) / max, sumqx, sumq2);
            if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
                d = sumqx / sumq2;
                best = d * sumqx;
            }
        }
        scales[ib] = d;
        if (std::fabs(d) > amax_scale) amax_scale = std::fabs(d), max_scale = d;
    }

    if (blocks == 1) {
        *d_out = f32_to_fp16(scales[0]);
        const float id = scales[0] ? 1 / scales[0] : 0;
        for (int j = 0; j < 32; ++j) L[j] = static_cast<uint8_t>(nearest_level(id * x[j]));
    } else {
        const float d = -max_scale / 32;
        *d_out = f32_to_fp16(d);
        const float id = d ? 1 / d : 0.f;
        *scales_h = 0;
        for (int ib = 0; ib < blocks; ++ib) {
            int l = std::clamp(nearest_int(id * scales[ib]), -32, 31);
            const float dl = d * l;
            const float idl = dl ? 1 / dl : 0.f;
            for (int j = 0; j < 32; ++j) {
                L[32 * ib + j] = static_cast<uint8_t>(nearest_level(idl * x[32 * ib + j]));
            }
            l += 32;
            if (ib % 2 == 0)
                scales_l[ib / 2] = static_cast<uint8_t>(l & 0xf);
            else
                scales_l[ib / 2] |= static_cast<uint8_t>((l & 0xf) << 4);
            *scales_h |= static_cast<uint16_t>((l >> 4) << (2 * ib));
        }
    }
    for (int ib = 0; ib < blocks; ++ib) {
        for (int j = 0; j < 16; ++j) {
            qs[16 * ib + j] = static_cast<uint8_t>(L[32 * ib + j] | (L[32 * ib + 16 + j] << 4));
        }
    }
}

}  // namespace

void quantize_iq4_nl(const float* in, void* out, int64_t n, const float* importance) {
    auto* blocks = static_cast<BlockIQ4_NL*>(out);
    for (int64_t i = 0; i < n / kQK; ++i) {
        quantize_super_block(in + kQK * i, 1, importance ? importance + kQK * i : nullptr,
                             &blocks[i].d, blocks[i].qs, nullptr, nullptr);
    }
}

void quantize_iq4_xs(const float* in, void* out, int64_t n, const float* importance) {
    auto* blocks = static_cast<BlockIQ4_XS*>(out);
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        quantize_super_block(in + kQK_K * i, 8, importance ? importance + kQK_K * i : nullptr,
                             &blocks[i].d, blocks[i].qs, &blocks[i].scales_h, blocks[i].scales_l);
    }
}

void quantize_weights_iq4_nl(const float* in, void* out, int64_t n) {
    quantize_iq4_nl(in, out, n, nullptr);
}
void quantize_weights_iq4_xs(const float* in, void* out, int64_t n) {
    quantize_iq4_xs(in, out, n, nullptr);
}

}  // namespace ember::ref
