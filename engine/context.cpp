// The Llama forward pass: from token ids to next-token logits.
//
//   x = token_embd[token]                                 embedding lookup
//   for each layer:
//     h = RMSNorm(x) * attn_norm
//     q, k, v = Wq h, Wk h, Wv h;  RoPE(q), RoPE(k)       k, v appended to the KV cache
//     x += Wo Attention(q, K_cache, V_cache)             causal, GQA: heads share KV heads
//     h = RMSNorm(x) * ffn_norm
//     x += W_down (silu(W_gate h) * (W_up h))            SwiGLU feed-forward
//   logits = W_output (RMSNorm(x) * output_norm)
//
// Shapes: n tokens in a batch, d = n_embd, rows are tokens. Matmuls W (out, in) @ X (n, in)
// -> (n, out) run on quantized activations (ops.h).
#include "engine/context.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "formats/error.h"

namespace ember {

Context::Context(const Model& model, const ContextParams& params)
    : model_(model),
      params_(params),
      kv_(model.config().n_layer, params.n_ctx > 0 ? params.n_ctx : model.config().n_ctx_train,
          model.config().kv_dim(), params.kv_type),
      pool_(params.n_threads > 0 ? params.n_threads : physical_core_count()) {
    const LlamaConfig& c = model.config();
    params_.n_batch = std::clamp(params_.n_batch, 1, kv_.n_ctx());
    const size_t nb = static_cast<size_t>(params_.n_batch);
    x_.resize(nb * c.n_embd);
    xb_.resize(nb * c.n_embd);
    q_.resize(nb * c.q_dim());
    k_.resize(nb * c.kv_dim());
    v_.resize(nb * c.kv_dim());
    attn_.resize(nb * c.q_dim());
    proj_.resize(nb * c.n_embd);
    gate_.resize(nb * c.n_ff);
    up_.resize(nb * c.n_ff);
    rope_.resize(nb);
    attention_scratch_.resize(pool_.size());
    const size_t elem = kv_.type() == TensorType::F16 ? 2 : 4;
    for (AttentionScratch& s : attention_scratch_) {
        s.scores.resize(kv_.n_ctx());
        s.q_conv.resize(c.head_dim * elem);
        s.p_conv.resize(kv_.n_ctx() * elem);
    }
}

void Context::truncate(int n) {
    n_past_ = std::clamp(n, 0, n_past_);
}

void Context::decode(std::span<const int32_t> tokens, bool all_logits) {
    const int n_tokens = static_cast<int>(tokens.size());
    if (n_tokens == 0) throw Error("decode: no tokens to evaluate");
    for (int32_t t : tokens) {
        if (t < 0 || t >= n_vocab()) {
            throw Error("token id " + std::to_string(t) + " is outside the vocabulary (0.." +
                        std::to_string(n_vocab() - 1) + ")");
        }
    }
    if (static_cast<int64_t>(n_past_) + n_tokens > kv_.n_ctx()) {
        throw ContextFullError("context is full: " + std::to_string(n_past_) + " positions used, " +
                               std::to_string(n_tokens) + " more would exceed the context size " +
                               std::to_string(kv_.n_ctx()) + " (raise it with -c)");
    }
    logits_.resize(static_cast<size_t>(all_logits ? n_tokens : 1) * n_vocab());
    for (int start = 0; start < n_tokens; start += params_.n_batch) {
        const int n = std::min(params_.n_batch, n_tokens - start);
        const bool last_chunk = start + n == n_tokens;
        const int n_out = all_logits ? n : (last_chunk ? 1 : 0);
        float* out =
            all_logits ? logits_.data() + static_cast<size_t>(start) * n_vocab() : logits_.data();
        forward(tokens.data() + start, n, n_past_, n_out, out);
        n_past_ += n;
    }
}

void Context::forward(const int32_t* tokens, int n, int pos0, int n_out, float* out) {
    const LlamaConfig& c = model_.config();
    const int d = c.n_embd;

    // Embedding lookup: x[t] = row tokens[t] of token_embd, dequantized.  (n, d)
    for (int t = 0; t < n; ++t) {
        model_.token_embd.kernels->dequantize_row(model_.token_embd.row(tokens[t]),
                                                  x_.data() + static_cast<size_t>(t) * d, d);
        rope_[t].compute(pos0 + t, c.n_rot, c.rope_freq_base, c.rope_freq_scale);
    }

    // Runs W @ in for several weights that read the same input, converting the input once per
    // activation type.
    const auto project = [&](const float* in, int64_t cols,
                             std::initializer_list<std::pair<const WeightMatrix*, float*>> outs) {
        bool converted = false;
        for (const auto& [w, y] : outs) {
            if (!converted || xq_.type != w->kernels->activation_type) {
                xq_.quantize(in, n, cols, w->kernels->activation_type);
                converted = true;
            }
            matmul(*w, xq_, n, y, pool_);
        }
    };

    for (int l = 0; l < c.n_layer; ++l) {
        if (cancel_ != nullptr && cancel_->load(std::memory_order_relaxed)) {
            throw Error("evaluation cancelled");
        }
        const LayerWeights& w = model_.layers[l];

        // Attention sub-layer.
        for (int t = 0; t < n; ++t) {
            rms_norm(&x_[t * d], w.attn_norm, &xb_[t * d], d, c.rms_eps);
        }
        // Wq (q_dim, d) @ xb (n, d) -> q (n, q_dim); Wk, Wv (kv_dim, d) -> k, v (n, kv_dim)
        project(xb_.data(), d, {{&w.wq, q_.data()}, {&w.wk, k_.data()}, {&w.wv, v_.data()}});
        for (int t = 0; t < n; ++t) {
            for (int h = 0; h < c.n_head; ++h)
                rope_rotate(&q_[t * c.q_dim() + h * c.head_dim], rope_[t]);
            for (int h = 0; h < c.n_head_kv; ++h) {
                rope_rotate(&k_[t * c.kv_dim() + h * c.head_dim], rope_[t]);
            }
            kv_.store(l, pos0 + t, &k_[t * c.kv_dim()], &v_[t * c.kv_dim()]);
        }
        attention(l, n, pos0);
        // Wo (d, q_dim) @ attn (n, q_dim) -> proj (n, d)
        project(attn_.data(), c.q_dim(), {{&w.wo, proj_.data()}});
        for (size_t i = 0; i < static_cast<size_t>(n) * d; ++i) x_[i] += proj_[i];

        // Feed-forward sub-layer.
        for (int t = 0; t < n; ++t) {
            rms_norm(&x_[t * d], w.ffn_norm, &xb_[t * d], d, c.rms_eps);
        }
        // W_gate, W_up (n_ff, d) @ xb (n, d) -> gate, up (n, n_ff)
        project(xb_.data(), d, {{&w.w_gate, gate_.data()}, {&w.w_up, up_.data()}});
        silu_mul(gate_.data(), up_.data(), static_cast<int64_t>(n) * c.n_ff);
        // W_down (d, n_ff) @ gate (n, n_ff) -> proj (n, d)
        project(gate_.data(), c.n_ff, {{&w.w_down, proj_.data()}});
        for (size_t i = 0; i < static_cast<size_t>(n) * d; ++i) x_[i] += proj_[i];
    }

    if (n_out == 0) return;
    // Only the last n_out tokens need logits: W_output (n_vocab, d) @ norm(x) (n_out, d).
    const int first = n - n_out;
    for (int t = first; t < n; ++t) {
        rms_norm(&x_[t * d], model_.output_norm, &xb_[(t - first) * d], d, c.rms_eps);
    }
    xq_.quantize(xb_.data(), n_out, d, model_.output.kernels->activation_type);
    matmul(model_.output, xq_, n_out, out, pool_);
}

// Causal self-attention for the n new tokens, each attending to every cached position up to
// its own. Query head h reads KV head h / (n_head / n_head_kv) (GQA).
//   scores (n_kv) = K (n_kv, head_dim) @ q (head_dim) / sqrt(head_dim); p = softmax(scores)
//   out (head_dim) = V^T (head_dim, n_kv) @ p (n_kv)
// With an F16 cache, q and p are rounded to F16 before their dot products, as llama.cpp does.
void Context::attention(int layer, int n, int pos0) {
    const LlamaConfig& c = model_.config();
    const TypeKernels& kv_kernels = *kernels_for(kv_.type());
    const int heads_per_kv = c.n_head / c.n_head_kv;
    const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
    pool_.run([&](int thread, int n_threads) {
        AttentionScratch& s = attention_scratch_[thread];
        const int n_tasks = n * c.n_head;
        for (int task = thread; task < n_tasks; task += n_threads) {
            const int t = task / c.n_head, h = task % c.n_head, kv_head = h / heads_per_kv;
            const int n_kv = pos0 + t + 1;  // causal: positions 0 .. own position
            kv_kernels.quantize_row(&q_[t * c.q_dim() + h * c.head_dim], s.q_conv.data(),
                                    c.head_dim);
            for (int j = 0; j < n_kv; ++j) {
                s.scores[j] =
                    kv_kernels.vec_dot(c.head_dim, kv_.key(layer, j, kv_head * c.head_dim),
                                       s.q_conv.data()) *
                    scale;
            }
            softmax(s.scores.data(), n_kv);
            kv_kernels.quantize_row(s.scores.data(), s.p_conv.data(), n_kv);
            float* out = &attn_[t * c.q_dim() + h * c.head_dim];
            for (int i = 0; i < c.head_dim; ++i) {
                out[i] = kv_kernels.vec_dot(n_kv, kv_.value_row(layer, kv_head * c.head_dim + i),
                                            s.p_conv.data());
            }
        }
    });
}

}  // namespace ember
