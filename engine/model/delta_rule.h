// The gated delta rule (Yang, Kautz and Hatamizadeh, 2024, "Gated Delta Networks"), the
// recurrence of Qwen3.5's DeltaNet layers (recurrent.cpp), for one head over a run of
// consecutive tokens of one sequence. The head keeps a matrix state S (d, d), rows by key
// dimension; token t, with query q_t and key k_t (each L2-normed), value v_t, log decay
// g_t <= 0 and write strength beta_t, does
//   S = e^g_t S;   delta_t = beta_t (v_t - S^T k_t);   S += k_t delta_t^T;   o_t = scale S^T q_t
//
// Two ways to compute the same thing: token by token (what generation does, and the reference
// the tests hold the other to), and in chunks of tokens, where the recurrence inside a chunk
// becomes a handful of matrix products (the "WY" form of Yang et al., 2024, "Parallelizing
// Linear Transformers with the Delta Rule over Sequence Length"); delta_rule.cpp derives it.
#pragma once

#include <cstddef>
#include <vector>

namespace ember {

struct DeltaRuleRun {
    int n = 0;    // tokens
    int dim = 0;  // d: the key and the value size of a head
    // Token t's query at q + t * qk_stride, its key at k + t * qk_stride, its value at
    // v + t * v_stride, its log decay and beta at g[t * gate_stride], beta[t * gate_stride],
    // and its output goes to out + t * out_stride.
    const float* q = nullptr;
    const float* k = nullptr;
    size_t qk_stride = 0;
    const float* v = nullptr;
    size_t v_stride = 0;
    const float* g = nullptr;
    const float* beta = nullptr;
    size_t gate_stride = 0;
    float* out = nullptr;
    size_t out_stride = 0;
    float scale = 1.0f;
};

// Tokens per chunk: the chunk's products are (64, 128) by (128, 128) for Qwen3.5.
constexpr int kDeltaRuleChunk = 64;

// Token by token; state is S (dim, dim), updated in place.
void delta_rule_steps(const DeltaRuleRun& run, float* state);

// The same in chunks of kDeltaRuleChunk tokens (the last one shorter), its products through the
// float kernel (kernels.h: float_kernels().matmul). scratch is resized as needed: reuse it.
void delta_rule_chunked(const DeltaRuleRun& run, float* state, std::vector<float>& scratch);

}  // namespace ember
