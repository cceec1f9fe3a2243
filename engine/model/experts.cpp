// The feed-forward block of a mixture of experts (qwen3moe): a router picks a few experts for
// each token and only those run, so a token reads a small share of the layer's weights.
//
//   p = softmax(W_router h)                 over all n_expert experts
//   E = the n_expert_used largest of p      (top-k)
//   out = sum over e in E of p_e / sum_E(p) * W_down_e (silu(W_gate_e h) * W_up_e h)
//
// (Qwen3's router as llama.cpp's build_moe_ffn computes it: softmax gating, top-k, weights
// renormalised to sum 1; ../shared/arch2/SURVEY.md.) A batch is grouped by expert: each chosen
// expert multiplies all of its tokens at once, so its weights are read once per batch, and an
// expert no token chose is not read at all.
#include <algorithm>
#include <cstring>

#include "engine/model/context.h"

namespace ember {

void Context::expert_ffn(int l, int n, const float* in) {
    const ModelConfig& c = model_.config();
    const LayerWeights& w = model_.layers[l];
    const int d = c.n_embd;
    const int n_expert = c.n_expert;
    const int k = c.n_expert_used;

    // W_router (n_expert, d) @ in (n, d) -> router (n, n_expert), then each token's choice.
    project(in, n, d, {{&w.router, router_.data()}});
    for_tokens(pool_, n, [&](int64_t begin, int64_t end) {
        for (int64_t t = begin; t < end; ++t) {
            float* p = &router_[static_cast<size_t>(t) * n_expert];
            softmax(p, n_expert);
            int* chosen = &chosen_[static_cast<size_t>(t) * k];
            float* weight = &chosen_weight_[static_cast<size_t>(t) * k];
            float sum = 0;
            for (int j = 0; j < k; ++j) {  // k is small (8 of 128): repeated arg-max
                int best = -1;
                for (int e = 0; e < n_expert; ++e) {
                    if (p[e] < 0) continue;  // taken (probabilities are >= 0)
                    if (best < 0 || p[e] > p[best]) best = e;
                }
                chosen[j] = best;
                weight[j] = p[best];
                sum += p[best];
                p[best] = -1;
            }
            for (int j = 0; j < k; ++j) weight[j] /= sum;
        }
    });

    std::fill(proj_.begin(), proj_.begin() + static_cast<size_t>(n) * d, 0.0f);
    const ExpertWeights& first = w.experts[chosen_[0]];
    if (n == 1 && k <= params_.n_batch &&
        first.gate.kernels->activation_type == first.up.kernels->activation_type) {
        // Generation: the chosen experts side by side, as two sets of products (gate and up of
        // all k, then down of all k), each one dispatch of the pool instead of 3k.
        // W_gate_e, W_up_e (n_ff, d) @ in (d) -> row j of gate, up (k, n_ff)
        std::vector<MatMulJob>& jobs = jobs_;
        jobs.clear();
        xq_.quantize(in, 1, d, first.gate.kernels->activation_type, pool_);
        for (int j = 0; j < k; ++j) {
            const ExpertWeights& expert = w.experts[chosen_[j]];
            jobs.push_back({&expert.gate, &xq_, 0, 1, &gate_[static_cast<size_t>(j) * c.n_ff]});
            jobs.push_back({&expert.up, &xq_, 0, 1, &up_[static_cast<size_t>(j) * c.n_ff]});
        }
        matmul_jobs(jobs, pool_);
        for (int j = 0; j < k; ++j) {
            silu_mul(&gate_[static_cast<size_t>(j) * c.n_ff], &up_[static_cast<size_t>(j) * c.n_ff],
                     c.n_ff);
        }
        // W_down_e (d, n_ff) @ row j of gate -> row j of expert_out_ (k, d)
        xq_.quantize(gate_.data(), k, c.n_ff, first.down.kernels->activation_type, pool_);
        jobs.clear();
        for (int j = 0; j < k; ++j) {
            const ExpertWeights& expert = w.experts[chosen_[j]];
            if (expert.down.kernels->activation_type != xq_.type) {
                jobs.clear();  // mixed types (no file seen has them): one expert at a time below
                break;
            }
            jobs.push_back({&expert.down, &xq_, j, 1, &expert_out_[static_cast<size_t>(j) * d]});
        }
        if (!jobs.empty()) {
            matmul_jobs(jobs, pool_);
            // Added in order of expert, as the batch path below adds them: a token's floats do
            // not depend on the batch it came in.
            std::vector<int> order(static_cast<size_t>(k));
            for (int j = 0; j < k; ++j) order[j] = j;
            std::sort(order.begin(), order.end(),
                      [&](int a, int b) { return chosen_[a] < chosen_[b]; });
            for (int j : order) {
                const float weight = chosen_weight_[j];
                const float* out = &expert_out_[static_cast<size_t>(j) * d];
                for (int i = 0; i < d; ++i) proj_[i] += weight * out[i];
            }
            return;
        }
    }

    // Each expert runs once on the tokens that chose it: gathered rows in, weighted rows added
    // to proj_ (n, d).
    std::vector<int>& tokens = expert_tokens_;
    std::vector<float>& weights = expert_token_weights_;
    for (int e = 0; e < n_expert; ++e) {
        tokens.clear();
        weights.clear();
        for (int t = 0; t < n; ++t) {
            for (int j = 0; j < k; ++j) {
                if (chosen_[static_cast<size_t>(t) * k + j] != e) continue;
                tokens.push_back(t);
                weights.push_back(chosen_weight_[static_cast<size_t>(t) * k + j]);
            }
        }
        if (tokens.empty()) continue;
        const int m = static_cast<int>(tokens.size());
        for (int i = 0; i < m; ++i) {
            std::memcpy(&expert_in_[static_cast<size_t>(i) * d],
                        in + static_cast<size_t>(tokens[i]) * d, sizeof(float) * d);
        }
        const ExpertWeights& expert = w.experts[e];
        // W_gate, W_up (n_ff, d) @ rows (m, d) -> gate, up (m, n_ff)
        project(expert_in_.data(), m, d, {{&expert.gate, gate_.data()}, {&expert.up, up_.data()}});
        for_tokens(pool_, m, [&](int64_t begin, int64_t end) {
            for (int64_t i = begin; i < end; ++i) {
                silu_mul(&gate_[static_cast<size_t>(i) * c.n_ff],
                         &up_[static_cast<size_t>(i) * c.n_ff], c.n_ff);
            }
        });
        // W_down (d, n_ff) @ gate (m, n_ff) -> out (m, d)
        project(gate_.data(), m, c.n_ff, {{&expert.down, expert_out_.data()}});
        for (int i = 0; i < m; ++i) {
            float* y = &proj_[static_cast<size_t>(tokens[i]) * d];
            const float* out = &expert_out_[static_cast<size_t>(i) * d];
            for (int j = 0; j < d; ++j) y[j] += weights[i] * out[j];
        }
    }
}

}  // namespace ember
