// Quantizing weights into the ternary types TQ1_0 and TQ2_0 as llama.cpp does (ggml-quants.c,
// quantize_row_tq1_0_ref / tq2_0_ref; no importance matrix: they take none). A 256-value block
// has one scale d = max|x|, and each value becomes a trit t = round(x / d) + 1 in 0..2 (rounded
// half away from zero). TQ2_0 stores each trit in 2 bits; TQ1_0 packs five trits into a byte as
// the fraction t0/3 + t1/9 + ... rounded up to 8 bits (so the decoder's multiply by 3 brings
// the next trit to the top), four trits (and a fifth, zero) for the last 16 values.
#include <cmath>

#include "kernels/blocks.h"
#include "kernels/reference.h"

namespace ember::ref {
namespace {

float block_absmax(const float* x) {
    float amax = 0;
    for (int j = 0; j < kQK_K; ++j) amax = std::max(amax, std::fabs(x[j]));
    return amax;
}

int trit(float x, float id) {
    return static_cast<int>(std::lround(x * id)) + 1;  // -1, 0, 1 -> 0, 1, 2
}

// Trits t0..t(n-1), the first the most significant, as ceil(value * 256 / 243).
uint8_t pack_trits(const float* x, int stride, int n, float id) {
    unsigned q = 0;
    for (int k = 0; k < n; ++k) q = q * 3 + static_cast<unsigned>(trit(x[k * stride], id));
    for (int k = n; k < 5; ++k) q *= 3;  // the missing trits are the least significant zeros
    return static_cast<uint8_t>((q * 256 + 242) / 243);
}

}  // namespace

void quantize_weights_tq1_0(const float* in, void* out, int64_t n) {
    auto* blocks = static_cast<BlockTQ1_0*>(out);
    for (int64_t b = 0; b < n / kQK_K; ++b, in += kQK_K) {
        BlockTQ1_0& y = blocks[b];
        const float d = block_absmax(in);
        const float id = d != 0 ? 1.0f / d : 0.0f;
        y.d = f32_to_fp16(d);
        // Values 0..159: byte m of 32 holds values m, m+32, ..., m+128; values 160..239: byte
        // 32+m of 16 holds 160+m, 176+m, ..., 224+m; values 240..255: qh[j] holds 240+j, 244+j,
        // 248+j, 252+j.
        for (int m = 0; m < 32; ++m) y.qs[m] = pack_trits(in + m, 32, 5, id);
        for (int m = 0; m < 16; ++m) y.qs[32 + m] = pack_trits(in + 160 + m, 16, 5, id);
        for (int j = 0; j < 4; ++j) y.qh[j] = pack_trits(in + 240 + j, 4, 4, id);
    }
}

void quantize_weights_tq2_0(const float* in, void* out, int64_t n) {
    auto* blocks = static_cast<BlockTQ2_0*>(out);
    for (int64_t b = 0; b < n / kQK_K; ++b, in += kQK_K) {
        BlockTQ2_0& y = blocks[b];
        const float d = block_absmax(in);
        const float id = d != 0 ? 1.0f / d : 0.0f;
        y.d = f32_to_fp16(d);
        // Each 128 values: byte m of 32 holds values m, m+32, m+64, m+96 in bits 0-1, 2-3, ...
        for (int half = 0; half < 2; ++half) {
            for (int m = 0; m < 32; ++m) {
                unsigned q = 0;
                for (int k = 0; k < 4; ++k)
                    q |= static_cast<unsigned>(trit(in[128 * half + m + 32 * k], id) & 3)
                         << (2 * k);
                y.qs[32 * half + m] = static_cast<uint8_t>(q);
            }
        }
    }
}

}  // namespace ember::ref
