// Quantizing weights into the 32-value block types, with llama.cpp's round-to-nearest rules
// (ggml-quants.c, quantize_row_*_ref), so a file ember writes carries the same numbers as one
// llama.cpp's quantizer would write from the same F32 weights.
//   Q4_0 / Q5_0: d = (the value of largest magnitude) / -8 (or -16), q = x / d + 8 (16),
//                rounded half up by truncating x / d + 8.5, capped at 15 (31).
//   Q4_1 / Q5_1: d = (max - min) / 15 (31), m = min, q = round((x - min) / d).
//   Q8_0:        d = max|x| / 127, q = round(x / d) (half away from zero).
// With an importance matrix (llama.cpp's quantize_row_qN_impl), each value is weighted by
// importance_j * sqrt(sigma^2 + x_j^2), sigma^2 the row's mean square: Q4_0 / Q5_0 search the
// scale with fit_signed_scale, Q4_1 / Q5_1 the scale and minimum with fit_scale_and_min.
#include <cfloat>
#include <cmath>
#include <cstring>

#include "kernels/blocks.h"
#include "kernels/quant_fit.h"
#include "kernels/reference.h"

namespace ember::ref {
namespace {

// The value with the largest magnitude (the first one on ties), with its sign.
float signed_absmax(const float* x, int n) {
    float amax = 0, max = 0;
    for (int j = 0; j < n; ++j) {
        if (amax < std::fabs(x[j])) {
            amax = std::fabs(x[j]);
            max = x[j];
        }
    }
    return max;
}

void min_max(const float* x, int n, float* min, float* max) {
    *min = FLT_MAX;
    *max = -FLT_MAX;
    for (int j = 0; j < n; ++j) {
        *min = std::min(*min, x[j]);
        *max = std::max(*max, x[j]);
    }
}

}  // namespace

void quantize_weights_q4_0(const float* in, void* out, int64_t n) {
    auto* blocks = static_cast<BlockQ4_0*>(out);
    for (int64_t b = 0; b < n / kQK; ++b, in += kQK) {
        const float d = signed_absmax(in, kQK) / -8;
        const float id = d != 0 ? 1.0f / d : 0.0f;
        blocks[b].d = f32_to_fp16(d);
        for (int j = 0; j < kQK / 2; ++j) {
            const int lo = std::min(15, static_cast<int>(static_cast<int8_t>(in[j] * id + 8.5f)));
            const int hi =
                std::min(15, static_cast<int>(static_cast<int8_t>(in[j + 16] * id + 8.5f)));
            blocks[b].qs[j] = static_cast<uint8_t>(lo | (hi << 4));
        }
    }
}

void quantize_weights_q4_1(const float* in, void* out, int64_t n) {
    auto* blocks = static_cast<BlockQ4_1*>(out);
    for (int64_t b = 0; b < n / kQK; ++b, in += kQK) {
        float min, max;
        min_max(in, kQK, &min, &max);
        const float d = (max - min) / 15;
        const float id = d != 0 ? 1.0f / d : 0.0f;
        blocks[b].d = f32_to_fp16(d);
        blocks[b].m = f32_to_fp16(min);
        for (int j = 0; j < kQK / 2; ++j) {
            const int lo =
                std::min(15, static_cast<int>(static_cast<int8_t>((in[j] - min) * id + 0.5f)));
            const int hi =
                std::min(15, static_cast<int>(static_cast<int8_t>((in[j + 16] - min) * id + 0.5f)));
            blocks[b].qs[j] = static_cast<uint8_t>(lo | (hi << 4));
        }
    }
}

namespace {
// Packs 32 five-bit values: low nibbles into qs as Q4 does, bit 4 of value j into bit j of qh.
template <typename Block>
void pack_five_bits(Block& block, const int q[kQK]) {
    uint32_t qh = 0;
    for (int j = 0; j < kQK / 2; ++j) {
        block.qs[j] = static_cast<uint8_t>((q[j] & 0x0f) | ((q[j + 16] & 0x0f) << 4));
        qh |= static_cast<uint32_t>((q[j] >> 4) & 1) << j;
        qh |= static_cast<uint32_t>((q[j + 16] >> 4) & 1) << (j + 16);
    }
    std::memcpy(block.qh, &qh, 4);
}
}  // namespace

void quantize_weights_q5_0(const float* in, void* out, int64_t n) {
    auto* blocks = static_cast<BlockQ5_0*>(out);
    for (int64_t b = 0; b < n / kQK; ++b, in += kQK) {
        const float d = signed_absmax(in, kQK) / -16;
        const float id = d != 0 ? 1.0f / d : 0.0f;
        blocks[b].d = f32_to_fp16(d);
        int q[kQK];
        for (int j = 0; j < kQK; ++j)
            q[j] = std::min(31, static_cast<int>(static_cast<int8_t>(in[j] * id + 16.5f)));
        pack_five_bits(blocks[b], q);
    }
}

void quantize_weights_q5_1(const float* in, void* out, int64_t n) {
    auto* blocks = static_cast<BlockQ5_1*>(out);
    for (int64_t b = 0; b < n / kQK; ++b, in += kQK) {
        float min, max;
        min_max(in, kQK, &min, &max);
        const float d = (max - min) / 31;
        const float id = d != 0 ? 1.0f / d : 0.0f;
        blocks[b].d = f32_to_fp16(d);
        blocks[b].m = f32_to_fp16(min);
        int q[kQK];
        for (int j = 0; j < kQK; ++j)
            q[j] = std::min(31, static_cast<int>(static_cast<uint8_t>((in[j] - min) * id + 0.5f)));
        pack_five_bits(blocks[b], q);
    }
}

void quantize_weights_q8_0(const float* in, void* out, int64_t n) {
    auto* blocks = static_cast<BlockQ8_0*>(out);
    for (int64_t b = 0; b < n / kQK; ++b, in += kQK) {
        float amax = 0;
        for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(in[j]));
        const float d = amax / 127;
        const float id = d != 0 ? 1.0f / d : 0.0f;
        blocks[b].d = f32_to_fp16(d);
        for (int j = 0; j < kQK; ++j) blocks[b].qs[j] = static_cast<int8_t>(std::round(in[j] * id));
    }
}

namespace {

// The row's mean square (sigma^2 of the weights below).
float mean_square(const float* x, int64_t n) {
    float sum = 0;
    for (int64_t j = 0; j < n; ++j) sum += x[j] * x[j];
    return sum / static_cast<float>(n);
}

void block_weights(const float* x, const float* importance, float sigma2, float* weights) {
    for (int j = 0; j < kQK; ++j) weights[j] = importance[j] * std::sqrt(sigma2 + x[j] * x[j]);
}

}  // namespace

void quantize_q4_0(const float* in, void* out, int64_t n, const float* importance) {
    if (importance == nullptr) return quantize_weights_q4_0(in, out, n);
    auto* blocks = static_cast<BlockQ4_0*>(out);
    const float sigma2 = mean_square(in, n);
    for (int64_t b = 0; b < n / kQK; ++b, in += kQK) {
        float weights[kQK];
        block_weights(in, importance + kQK * b, sigma2, weights);
        int8_t L[kQK];
        blocks[b].d = f32_to_fp16(fit_signed_scale(kQK, 8, in, weights, L));
        for (int j = 0; j < kQK / 2; ++j)
            blocks[b].qs[j] = static_cast<uint8_t>(L[j] | (L[j + 16] << 4));
    }
}

void quantize_q5_0(const float* in, void* out, int64_t n, const float* importance) {
    if (importance == nullptr) return quantize_weights_q5_0(in, out, n);
    auto* blocks = static_cast<BlockQ5_0*>(out);
    const float sigma2 = mean_square(in, n);
    for (int64_t b = 0; b < n / kQK; ++b, in += kQK) {
        float weights[kQK];
        block_weights(in, importance + kQK * b, sigma2, weights);
        int8_t L[kQK];
        blocks[b].d = f32_to_fp16(fit_signed_scale(kQK, 16, in, weights, L));
        int q[kQK];
        for (int j = 0; j < kQK; ++j) q[j] = L[j];
        pack_five_bits(blocks[b], q);
    }
}

namespace {

// Q4_1 and Q5_1 under an importance matrix: x ~ d * q - m with q in 0..nmax.
template <typename Block>
void quantize_with_min(const float* in, Block* blocks, int64_t n, const float* importance,
                       int nmax) {
    const float sigma2 = mean_square(in, n);
    for (int64_t b = 0; b < n / kQK; ++b, in += kQK) {
        float weights[kQK];
        block_weights(in, importance + kQK * b, sigma2, weights);
        uint8_t L[kQK];
        float min;
        const float d = fit_scale_and_min(kQK, nmax, in, weights, L, &min, -0.9f, 0.05f, 36, false);
        blocks[b].d = f32_to_fp16(d);
        blocks[b].m = f32_to_fp16(-min);
        if constexpr (sizeof(Block) == sizeof(BlockQ4_1)) {
            for (int j = 0; j < kQK / 2; ++j)
                blocks[b].qs[j] = static_cast<uint8_t>(L[j] | (L[j + 16] << 4));
        } else {
            int q[kQK];
            for (int j = 0; j < kQK; ++j) q[j] = L[j];
            pack_five_bits(blocks[b], q);
        }
    }
}

}  // namespace

void quantize_q4_1(const float* in, void* out, int64_t n, const float* importance) {
    if (importance == nullptr) return quantize_weights_q4_1(in, out, n);
    quantize_with_min(in, static_cast<BlockQ4_1*>(out), n, importance, 15);
}

void quantize_q5_1(const float* in, void* out, int64_t n, const float* importance) {
    if (importance == nullptr) return quantize_weights_q5_1(in, out, n);
    quantize_with_min(in, static_cast<BlockQ5_1*>(out), n, importance, 31);
}

}  // namespace ember::ref
