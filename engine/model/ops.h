// The element-wise and row-wise math of a block (norms, RoPE, softmax, activations), written to
// round as llama.cpp does (sums of squares and of exponentials in double, everything else in
// float), and the loop over a batch's tokens. Matrix products are in matmul.h.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "engine/model/architecture.h"
#include "engine/runtime/thread_pool.h"

namespace ember {

// Below this many tokens, a loop over the tokens of a batch (norms, RoPE, activation
// quantization) runs on the calling thread: waking the threads costs more than it saves.
inline constexpr int kFewTokens = 4;

// body(begin, end) over the tokens [0, n_tokens): on this thread for fewer than kFewTokens,
// else split across the pool's threads.
template <typename Body>
void for_tokens(ThreadPool& pool, int n_tokens, Body&& body) {
    if (n_tokens < kFewTokens) {
        body(int64_t{0}, int64_t{n_tokens});
    } else {
        pool.parallel_for(n_tokens, body);
    }
}

// RMSNorm (Zhang and Sennrich, 2019): out = x / sqrt(mean(x^2) + eps) * weight.  x, out: (n)
void rms_norm(const float* x, const float* weight, float* out, int n, float eps);

// LayerNorm (Ba et al., 2016): out = (x - mean) / sqrt(var + eps) * weight + bias.  (n)
// Sums in double, as ggml's norm.
void layer_norm(const float* x, const float* weight, const float* bias, float* out, int n,
                float eps);

// RoPE (Su et al., 2021, "RoFormer") as llama.cpp applies it: pair i of the first n_rot
// values of a head rotates by the angle pos * freq_scale * base^(-2i / n_rot) / factors[i]
// (factors: Llama 3's rope_freqs or phi3's LongRoPE factors; none: 1), and the rotated values
// are multiplied by attn_factor (LongRoPE's magnitude correction; 1 for most files). Values
// past n_rot pass through. Which values form pair i is the architecture's RopeKind.
// The table holds cos and sin of those angles, times attn_factor, for one position.
struct RopeAngles {
    std::vector<float> cos, sin;  // (n_rot / 2)
    void compute(int pos, int n_rot, float freq_base, float freq_scale,
                 const float* factors = nullptr, float attn_factor = 1.0f);
};
void rope_rotate(float* head, const RopeAngles& angles, RopeKind kind = RopeKind::Adjacent);

// In place: x = exp(x - max) / sum(exp(x - max)).  x: (n)
void softmax(float* x, int n);

// The logistic function, 1 / (1 + e^-x): gates (qwen35's attention output, DeltaNet's beta).
inline float sigmoid(float x) {
    return 1.0f / (1.0f + std::exp(-x));
}

// SiLU in place: x = x / (1 + exp(-x)) (DeltaNet's convolution output).  (n)
void silu(float* x, int64_t n);

// SwiGLU's gate (Shazeer, 2020): gate = silu(gate) * up, silu(g) = g / (1 + exp(-g)).  (n)
void silu_mul(float* gate, const float* up, int64_t n);

// GELU with its tanh approximation, in place, rounded as llama.cpp's CPU backend rounds it:
// looked up for the F16 value of x in a table of F16 results (inputs beyond +-10 pass through
// or give 0).  (n)
void gelu(float* x, int64_t n);
// GeGLU's gate (Shazeer, 2020): gate = gelu(gate) * up.  (n)
void gelu_mul(float* gate, const float* up, int64_t n);

// Soft-capping (Gemma 2): x = cap * tanh(x / cap), in place, to within 1e-6 of cap.  (n)
void soft_cap(float* x, int64_t n, float cap);

}  // namespace ember
