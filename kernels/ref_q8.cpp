// The 8-bit activation types: Q8_0 and Q8_1 (32-value blocks) and Q8_K (256-value blocks).
//
// Activations are quantized symmetrically per block: d = max|x| / 127, q = round(x / d).
// Q8_0/Q8_1 compute 127/max and round half to even, as llama.cpp's x86 and ARM code paths do
// at run time; Q8_K follows llama.cpp's quantize_row_q8_K_ref, whose scale maps the value of
// largest magnitude to exactly -127 or 127.
#include <cmath>
#include <cstring>

#include "kernels/blocks.h"
#include "kernels/kernels.h"
#include "kernels/reference.h"

namespace ember::ref {
namespace {

// Round to nearest, ties to even (the default floating-point rounding mode).
inline int round_even(float v) {
    return static_cast<int>(std::nearbyint(v));
}

float max_abs(const float* x, int n) {
    float amax = 0;
    for (int j = 0; j < n; ++j) amax = std::max(amax, std::fabs(x[j]));
    return amax;
}

}  // namespace

void quantize_row_q8_0(const float* in, void* out, int64_t n) {
    auto* blocks = static_cast<BlockQ8_0*>(out);
    for (int64_t b = 0; b < n / kQK; ++b, in += kQK) {
        const float amax = max_abs(in, kQK);
        const float inv_scale = amax != 0 ? 127.0f / amax : 0.0f;
        blocks[b].d = f32_to_fp16(amax / 127.0f);
        for (int j = 0; j < kQK; ++j)
            blocks[b].qs[j] = static_cast<int8_t>(round_even(in[j] * inv_scale));
    }
}

void dequantize_row_q8_0(const void* in, float* out, int64_t n) {
    const auto* blocks = static_cast<const BlockQ8_0*>(in);
    for (int64_t b = 0; b < n / kQK; ++b) {
        const float d = fp16_to_f32(blocks[b].d);
        for (int j = 0; j < kQK; ++j) *out++ = d * blocks[b].qs[j];
    }
}

// x . y = sum over blocks of d_x * d_y * sum(qx * qy)
float vec_dot_q8_0_q8_0(int64_t n, const void* x, const void* y) {
    const auto* xb = static_cast<const BlockQ8_0*>(x);
    const auto* yb = static_cast<const BlockQ8_0*>(y);
    float sum = 0;
    for (int64_t b = 0; b < n / kQK; ++b) {
        int sumi = 0;
        for (int j = 0; j < kQK; ++j) sumi += xb[b].qs[j] * yb[b].qs[j];
        sum += static_cast<float>(sumi) * (fp16_to_f32(xb[b].d) * fp16_to_f32(yb[b].d));
    }
    return sum;
}

void quantize_row_q8_1(const float* in, void* out, int64_t n) {
    auto* blocks = static_cast<BlockQ8_1*>(out);
    for (int64_t b = 0; b < n / kQK; ++b, in += kQK) {
        const float amax = max_abs(in, kQK);
        const float d = amax / 127.0f;
        const float inv_scale = amax != 0 ? 127.0f / amax : 0.0f;
        int sum = 0;
        for (int j = 0; j < kQK; ++j) {
            blocks[b].qs[j] = static_cast<int8_t>(round_even(in[j] * inv_scale));
            sum += blocks[b].qs[j];
        }
        blocks[b].d = f32_to_fp16(d);
        blocks[b].s = f32_to_fp16(d * static_cast<float>(sum));
    }
}

void dequantize_row_q8_1(const void* in, float* out, int64_t n) {
    const auto* blocks = static_cast<const BlockQ8_1*>(in);
    for (int64_t b = 0; b < n / kQK; ++b) {
        const float d = fp16_to_f32(blocks[b].d);
        for (int j = 0; j < kQK; ++j) *out++ = d * blocks[b].qs[j];
    }
}

void quantize_row_q8_k(const float* in, void* out, int64_t n) {
    auto* blocks = static_cast<BlockQ8_K*>(out);
    for (int64_t b = 0; b < n / kQK_K; ++b, in += kQK_K) {
        BlockQ8_K& block = blocks[b];
        float amax = 0, max = 0;  // the largest magnitude, and that value with its sign
        for (int j = 0; j < kQK_K; ++j) {
            if (std::fabs(in[j]) > amax) {
                amax = std::fabs(in[j]);
                max = in[j];
            }
        }
        if (amax == 0) {
            block = {};
            continue;
        }
        const float inv_scale = -127.0f / max;
        for (int j = 0; j < kQK_K; ++j) {
            block.qs[j] = static_cast<int8_t>(std::min(127, round_even(inv_scale * in[j])));
        }
        for (int g = 0; g < kQK_K / 16; ++g) {
            int sum = 0;
            for (int j = 0; j < 16; ++j) sum += block.qs[16 * g + j];
            block.bsums[g] = static_cast<int16_t>(sum);
        }
        block.d = 1 / inv_scale;
    }
}

void dequantize_row_q8_k(const void* in, float* out, int64_t n) {
    const auto* blocks = static_cast<const BlockQ8_K*>(in);
    for (int64_t b = 0; b < n / kQK_K; ++b) {
        for (int j = 0; j < kQK_K; ++j) *out++ = blocks[b].d * blocks[b].qs[j];
    }
}

}  // namespace ember::ref

namespace ember {

void q8_0_scales_and_sums(const void* row, int64_t n, float* scales, int32_t* sums) {
    const auto* blocks = static_cast<const BlockQ8_0*>(row);
    for (int64_t b = 0; b < n / kQK; ++b) {
        scales[b] = fp16_to_f32(blocks[b].d);
        int32_t sum = 0;
        for (const int8_t q : blocks[b].qs) sum += q;
        sums[b] = sum;
    }
}

size_t q8_0_token_tiles_bytes(int n_tokens, int64_t n) {
    return static_cast<size_t>(n_tokens) * static_cast<size_t>(n / kQK) * kTiledBlockBytes;
}

void q8_0_token_tiles(const Q8Batch& batch, int64_t n, uint8_t* out) {
    const int64_t n_blocks = n / kQK;
    for_each_token_tile(batch.n_tokens, [&](int t0, int size) {
        uint8_t* tile = out + static_cast<size_t>(t0) * n_blocks * kTiledBlockBytes;
        for (int64_t b = 0; b < n_blocks; ++b) {
            uint8_t* block = tile + static_cast<size_t>(b) * size * kTiledBlockBytes;
            for (int i = 0; i < size; ++i) {
                const int t = t0 + i;
                const auto* act =
                    reinterpret_cast<const BlockQ8_0*>(batch.rows + t * batch.row_stride);
                for (int k = 0; k < 8; ++k)
                    std::memcpy(block + 4 * (k * size + i), act[b].qs + 4 * k, 4);
                const size_t at = static_cast<size_t>(t) * n_blocks + b;
                const int32_t negated_sum = -batch.sums[at];
                std::memcpy(block + 32 * size + 4 * i, &batch.scales[at], 4);
                std::memcpy(block + 36 * size + 4 * i, &negated_sum, 4);
            }
        }
    });
}

void q8_1_scales_and_s(const void* row, int64_t n, float* scales, float* block_s) {
    const auto* blocks = static_cast<const BlockQ8_1*>(row);
    for (int64_t b = 0; b < n / kQK; ++b) {
        scales[b] = fp16_to_f32(blocks[b].d);
        block_s[b] = fp16_to_f32(blocks[b].s);
    }
}

}  // namespace ember
