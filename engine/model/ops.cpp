#include "engine/model/ops.h"

#include <algorithm>
#include <cmath>

#include "kernels/fp16.h"
#include "kernels/kernels.h"

namespace ember {

namespace {

// The double sum of term(0) .. term(n - 1) (float terms, as ggml sums them) in four running
// sums: independent additions overlap instead of each waiting for the last, which on a
// prompt's rows of 2048 values made the norms a chain of 4-cycle additions. The result
// differs from one running sum by double rounding only.
template <typename Term>
double sum4(Term term, int n) {
    double sums[4] = {0, 0, 0, 0};
    int i = 0;
    for (; i + 4 <= n; i += 4)
        for (int k = 0; k < 4; ++k) sums[k] += static_cast<double>(term(i + k));
    double sum = (sums[0] + sums[1]) + (sums[2] + sums[3]);
    for (; i < n; ++i) sum += static_cast<double>(term(i));
    return sum;
}

}  // namespace

void rms_norm(const float* x, const float* weight, float* out, int n, float eps) {
    const float mean = static_cast<float>(sum4([x](int i) { return x[i] * x[i]; }, n) / n);
    const float scale = 1.0f / std::sqrt(mean + eps);
    for (int i = 0; i < n; ++i) out[i] = x[i] * scale * weight[i];
}

void layer_norm(const float* x, const float* weight, const float* bias, float* out, int n,
                float eps) {
    const auto mean = static_cast<float>(sum4([x](int i) { return x[i]; }, n) / n);
    for (int i = 0; i < n; ++i) out[i] = x[i] - mean;
    const auto variance = static_cast<float>(sum4([out](int i) { return out[i] * out[i]; }, n) / n);
    const float scale = 1.0f / std::sqrt(variance + eps);
    for (int i = 0; i < n; ++i) out[i] = out[i] * scale * weight[i] + bias[i];
}

void RopeAngles::compute(int pos, int n_rot, float freq_base, float freq_scale,
                         const float* factors, float attn_factor) {
    // The angle of pair i is pos * theta_scale^i, built by repeated multiplication in float,
    // the way llama.cpp builds its table (so the angles round alike).
    const float theta_scale = std::pow(freq_base, -2.0f / static_cast<float>(n_rot));
    cos.resize(n_rot / 2);
    sin.resize(n_rot / 2);
    float theta = static_cast<float>(pos);
    for (int i = 0; i < n_rot / 2; ++i) {
        const float factor = factors != nullptr ? factors[i] : 1.0f;
        const float angle = freq_scale * (theta / factor);
        cos[i] = std::cos(angle) * attn_factor;
        sin[i] = std::sin(angle) * attn_factor;
        theta *= theta_scale;
    }
}

void rope_rotate(float* head, const RopeAngles& angles, RopeKind kind) {
    const size_t n_pairs = angles.cos.size();
    // Pair i: values (2i, 2i + 1), or (i, i + n_rot / 2) in the NeoX layout.
    const size_t stride = kind == RopeKind::NeoX ? 1 : 2;
    const size_t offset = kind == RopeKind::NeoX ? n_pairs : 1;
    for (size_t i = 0; i < n_pairs; ++i) {
        float* a = head + stride * i;
        float* b = a + offset;
        const float x0 = *a, x1 = *b;
        *a = x0 * angles.cos[i] - x1 * angles.sin[i];
        *b = x0 * angles.sin[i] + x1 * angles.cos[i];
    }
}

void softmax(float* x, int n) {
    // Four running maxima and sums: independent additions overlap instead of each waiting for
    // the last (a prompt's attention calls this on every row of scores). The maximum is the
    // same; the double sum differs from one running sum by double rounding only.
    float maxima[4] = {x[0], x[0], x[0], x[0]};
    int i = 0;
    for (; i + 4 <= n; i += 4)
        for (int k = 0; k < 4; ++k) maxima[k] = std::max(maxima[k], x[i + k]);
    for (; i < n; ++i) maxima[0] = std::max(maxima[0], x[i]);
    const float max = std::max(std::max(maxima[0], maxima[1]), std::max(maxima[2], maxima[3]));
    for (i = 0; i < n; ++i) x[i] -= max;
    float_kernels().exp(x, x, n);
    const auto inv_sum = static_cast<float>(1.0 / sum4([x](int j) { return x[j]; }, n));
    for (i = 0; i < n; ++i) x[i] *= inv_sum;
}

void silu(float* x, int64_t n) {
    const ExpF32Fn exp = float_kernels().exp;
    float e[256];  // e^-x for a slice
    for (int64_t begin = 0; begin < n; begin += 256) {
        const int64_t count = std::min<int64_t>(256, n - begin);
        float* g = x + begin;
        for (int64_t i = 0; i < count; ++i) e[i] = -g[i];
        exp(e, e, count);
        for (int64_t i = 0; i < count; ++i) g[i] = g[i] / (1.0f + e[i]);
    }
}

void silu_mul(float* gate, const float* up, int64_t n) {
    silu(gate, n);
    for (int64_t i = 0; i < n; ++i) gate[i] *= up[i];  // rounds as g / (1 + e^-g) * up
}

namespace {

// GELU with the tanh approximation (Hendrycks and Gimpel, 2016), in float as ggml computes
// its table entries.
float gelu_tanh(float x) {
    constexpr float kSqrt2OverPi = 0.79788456080286535587989211986876f;
    constexpr float kCoefA = 0.044715f;
    return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * x * (1.0f + kCoefA * x * x)));
}

// gelu_tanh of every F16 value, rounded to F16: 65536 entries, made on first use.
const std::vector<fp16_t>& gelu_table() {
    static const std::vector<fp16_t> table = [] {
        std::vector<fp16_t> t(65536);
        for (uint32_t h = 0; h < 65536; ++h) {
            t[h] = f32_to_fp16(gelu_tanh(fp16_to_f32(static_cast<fp16_t>(h))));
        }
        return t;
    }();
    return table;
}

}  // namespace

void gelu(float* x, int64_t n) {
    // In slices: the F16 conversions both ways by the F16 kernels (F16C or NEON where the CPU
    // has them), the table lookup in between.
    const fp16_t* table = gelu_table().data();
    const TypeKernels& f16 = *kernels_for(TensorType::F16);
    fp16_t h[256];
    for (int64_t begin = 0; begin < n; begin += 256) {
        const int64_t count = std::min<int64_t>(256, n - begin);
        float* v = x + begin;
        // Beyond +-10 (and for inf / NaN) no lookup: 0 below, x itself above.
        bool outside = false;
        for (int64_t i = 0; i < count; ++i) outside |= !(v[i] > -10.0f && v[i] < 10.0f);
        f16.quantize_row(v, reinterpret_cast<uint8_t*>(h), count);
        for (int64_t i = 0; i < count; ++i) h[i] = table[h[i]];
        if (!outside) {
            f16.dequantize_row(reinterpret_cast<const uint8_t*>(h), v, count);
            continue;
        }
        for (int64_t i = 0; i < count; ++i) {
            if (v[i] <= -10.0f) {
                v[i] = 0.0f;
            } else if (v[i] < 10.0f) {
                v[i] = fp16_to_f32(h[i]);
            }  // >= 10 and NaN pass through
        }
    }
}

void gelu_mul(float* gate, const float* up, int64_t n) {
    gelu(gate, n);
    for (int64_t i = 0; i < n; ++i) gate[i] *= up[i];
}

void soft_cap(float* x, int64_t n, float cap) {
    // tanh(y) = 1 - 2 / (e^(2y) + 1), with the vectorised exp: a few float roundings from
    // std::tanh (an absolute error below 1e-6 of the cap), at a fraction of its cost on a
    // Gemma 2 vocabulary of 256000 logits. |2y| is clamped to 40, where tanh is +-1 in float.
    const ExpF32Fn exp = float_kernels().exp;
    const float two_over_cap = 2.0f / cap;
    float e[256];
    for (int64_t begin = 0; begin < n; begin += 256) {
        const int64_t count = std::min<int64_t>(256, n - begin);
        float* v = x + begin;
        for (int64_t i = 0; i < count; ++i) e[i] = std::clamp(v[i] * two_over_cap, -40.0f, 40.0f);
        exp(e, e, count);
        for (int64_t i = 0; i < count; ++i) v[i] = cap * (1.0f - 2.0f / (e[i] + 1.0f));
    }
}

}  // namespace ember
