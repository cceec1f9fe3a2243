#include "engine/model/ops.h"

#include <algorithm>
#include <cmath>

#include "kernels/fp16.h"
#include "kernels/packed_gemm.h"

namespace ember {

void rms_norm(const float* x, const float* weight, float* out, int n, float eps) {
    double sum_squares = 0;
    for (int i = 0; i < n; ++i) sum_squares += static_cast<double>(x[i] * x[i]);
    const float mean = static_cast<float>(sum_squares / n);
    const float scale = 1.0f / std::sqrt(mean + eps);
    for (int i = 0; i < n; ++i) out[i] = x[i] * scale * weight[i];
}

void layer_norm(const float* x, const float* weight, const float* bias, float* out, int n,
                float eps) {
    double sum = 0;
    for (int i = 0; i < n; ++i) sum += x[i];
    const auto mean = static_cast<float>(sum / n);
    double sum_squares = 0;
    for (int i = 0; i < n; ++i) {
        const float v = x[i] - mean;
        out[i] = v;
        sum_squares += static_cast<double>(v * v);
    }
    const auto variance = static_cast<float>(sum_squares / n);
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
    double sums[4] = {0, 0, 0, 0};
    for (i = 0; i + 4 <= n; i += 4)
        for (int k = 0; k < 4; ++k) sums[k] += x[i + k];
    double sum = (sums[0] + sums[1]) + (sums[2] + sums[3]);
    for (; i < n; ++i) sum += x[i];
    const auto inv_sum = static_cast<float>(1.0 / sum);
    for (i = 0; i < n; ++i) x[i] *= inv_sum;
}

void silu_mul(float* gate, const float* up, int64_t n) {
    const ExpF32Fn exp = float_kernels().exp;
    float e[256];  // e^-gate for a slice
    for (int64_t begin = 0; begin < n; begin += 256) {
        const int64_t count = std::min<int64_t>(256, n - begin);
        float* g = gate + begin;
        for (int64_t i = 0; i < count; ++i) e[i] = -g[i];
        exp(e, e, count);
        for (int64_t i = 0; i < count; ++i) g[i] = g[i] / (1.0f + e[i]) * up[begin + i];
    }
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

void QuantizedActivations::quantize(const float* x, int n_tokens, int64_t cols, TensorType act_type,
                                    ThreadPool& pool) {
    type = act_type;
    row_bytes = ember::row_bytes(act_type, cols);
    data.resize(row_bytes * static_cast<size_t>(n_tokens));
    const QuantizeRowFn quantize_row = kernels_for(act_type)->quantize_row;
    const auto rows = [&](int64_t begin, int64_t end) {
        for (int64_t t = begin; t < end; ++t)
            quantize_row(x + t * cols, data.data() + t * row_bytes, cols);
    };
    for_tokens(pool, n_tokens, rows);
}

namespace {

// Rows [row_begin, row_end) of W @ x for every token, a weight row at a time.
void matmul_rows(const WeightMatrix& w, const QuantizedActivations& x, int n_tokens, float* y,
                 int64_t row_begin, int64_t row_end) {
    const VecDotFn vec_dot = w.kernels->vec_dot;
    const VecDot4Fn vec_dot4 = w.kernels->vec_dot4;
    for (int64_t r = row_begin; r < row_end; ++r) {
        const uint8_t* w_row = w.row(r);
        int t = 0;
        if (vec_dot4 != nullptr) {  // four tokens per pass over the weight row
            for (; t + 4 <= n_tokens; t += 4) {
                float out[4];
                vec_dot4(w.cols, w_row, x.data.data() + t * x.row_bytes, x.row_bytes, out);
                for (int i = 0; i < 4; ++i) y[(t + i) * w.rows + r] = out[i];
            }
        }
        for (; t < n_tokens; ++t) {
            y[t * w.rows + r] = vec_dot(w.cols, w_row, x.data.data() + t * x.row_bytes);
        }
    }
}

// With a panel kernel (Gemm8Fn, or GemmPacked8Fn on weights packed at load time): threads split
// groups of 8 rows (packed: units of 1, 2 or 4 groups); each meets the whole batch while its
// panel stays in the L1/L2 cache.
void matmul_panels(const WeightMatrix& w, const QuantizedActivations& x, int n_tokens, float* y,
                   ThreadPool& pool) {
    // Q8_0: per block of every token, its scale as a float and the sum of its quants; Q8_1:
    // its scale and s as floats. (Q8_K blocks carry theirs.)
    const bool q8_1 = x.type == TensorType::Q8_1;
    const int64_t n_blocks = x.type == TensorType::Q8_0 || q8_1 ? w.cols / 32 : 0;
    std::vector<float> scales(static_cast<size_t>(n_tokens * n_blocks));
    std::vector<int32_t> sums(q8_1 ? 0 : scales.size());
    std::vector<float> block_s(q8_1 ? scales.size() : 0);
    for (int t = 0; t < n_tokens && n_blocks > 0; ++t) {
        const uint8_t* row = x.data.data() + t * x.row_bytes;
        if (q8_1) {
            q8_1_scales_and_s(row, w.cols, &scales[t * n_blocks], &block_s[t * n_blocks]);
        } else {
            q8_0_scales_and_sums(row, w.cols, &scales[t * n_blocks], &sums[t * n_blocks]);
        }
    }
    const Q8Batch batch{x.data.data(), x.row_bytes, scales.data(),
                        sums.data(),   n_tokens,    block_s.data()};
    const int64_t groups = w.rows / 8;
    const TypeKernels& k = *w.kernels;
    if (w.packed != nullptr) {
        // Units of 1, 2 or 4 groups, as wide as this CPU's panels go (kernels/packed_gemm.h).
        const int64_t per_unit = packed_groups_per_unit(k, n_tokens);
        pool.parallel_for((groups + per_unit - 1) / per_unit, [&](int64_t begin, int64_t end) {
            gemm_packed_groups(k, w.cols, w.packed, 8 * w.row_bytes, begin * per_unit,
                               std::min(end * per_unit, groups), batch, y, w.rows);
        });
    } else {
        pool.parallel_for(groups, [&](int64_t begin, int64_t end) {
            for (int64_t g = begin; g < end; ++g)
                k.gemm8(w.cols, w.row(8 * g), w.row_bytes, batch, y + 8 * g, w.rows);
        });
    }
    if (w.rows % 8 != 0) matmul_rows(w, x, n_tokens, y, 8 * groups, w.rows);
}

}  // namespace

void matmul(const WeightMatrix& w, const QuantizedActivations& x, int n_tokens, float* y,
            ThreadPool& pool) {
    const bool float_weights =
        w.type == TensorType::F32 || w.type == TensorType::F16 || w.type == TensorType::BF16;
    if (float_weights && n_tokens >= kFloatGemmMinTokens) {
        // BF16 activations keep 8 significant bits, so a sum's rounding error flips more of
        // them than F16's: OpenBLAS's sgemm (one long sequential sum per output) moved mini-BF16
        // off llama.cpp's logits by more than ember's blocked kernel does (docs in the test).
        const bool use_blas = blas_available() && w.type != TensorType::BF16;
        matmul_float_batch(w, x, n_tokens, y, pool, use_blas);
        return;
    }
    // Packed weights go through their panels even for one token (generation): the packing
    // already did the work that makes panels cost more than row dot products for small batches.
    if (w.packed != nullptr || (w.kernels->gemm8 != nullptr && n_tokens >= 4 && w.rows >= 8)) {
        matmul_panels(w, x, n_tokens, y, pool);
        return;
    }
    pool.parallel_for(w.rows, [&](int64_t row_begin, int64_t row_end) {
        matmul_rows(w, x, n_tokens, y, row_begin, row_end);
    });
}

}  // namespace ember
