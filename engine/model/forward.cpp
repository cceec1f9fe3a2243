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
//
// Context::forward below; the attention sub-layer is Context::attention (attention.cpp).
#include <algorithm>
#include <cmath>
#include <string>

#include "engine/model/context.h"
#include "formats/error.h"

namespace ember {

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
                xq_.quantize(in, n, cols, w->kernels->activation_type, pool_);
                converted = true;
            }
            matmul(*w, xq_, n, y, pool_);
        }
    };

    // Runs body(t) for every token of the batch, split across the threads (a token or two:
    // on this one, as waking the threads costs more than it saves).
    const auto each_token = [&](const auto& body) {
        const auto range = [&](int64_t begin, int64_t end) {
            for (int64_t t = begin; t < end; ++t) body(static_cast<int>(t));
        };
        if (n < 4) {
            range(0, n);
        } else {
            pool_.parallel_for(n, range);
        }
    };
    const auto add_to_x = [&](int t) {  // the residual connection: x += proj
        for (int i = 0; i < d; ++i) x_[t * d + i] += proj_[t * d + i];
    };

    for (int l = 0; l < c.n_layer; ++l) {
        if (cancel_ != nullptr && cancel_->load(std::memory_order_relaxed)) {
            throw Error("evaluation cancelled");
        }
        const LayerWeights& w = model_.layers[l];

        // Attention sub-layer.
        each_token([&](int t) { rms_norm(&x_[t * d], w.attn_norm, &xb_[t * d], d, c.rms_eps); });
        // Wq (q_dim, d) @ xb (n, d) -> q (n, q_dim); Wk, Wv (kv_dim, d) -> k, v (n, kv_dim)
        project(xb_.data(), d, {{&w.wq, q_.data()}, {&w.wk, k_.data()}, {&w.wv, v_.data()}});
        each_token([&](int t) {
            for (int h = 0; h < c.n_head; ++h)
                rope_rotate(&q_[t * c.q_dim() + h * c.head_dim], rope_[t]);
            for (int h = 0; h < c.n_head_kv; ++h) {
                rope_rotate(&k_[t * c.kv_dim() + h * c.head_dim], rope_[t]);
            }
            kv_.store(l, pos0 + t, &k_[t * c.kv_dim()], &v_[t * c.kv_dim()]);
        });
        attention(l, n, pos0);
        // Wo (d, q_dim) @ attn (n, q_dim) -> proj (n, d)
        project(attn_.data(), c.q_dim(), {{&w.wo, proj_.data()}});

        // Feed-forward sub-layer.
        each_token([&](int t) {
            add_to_x(t);
            rms_norm(&x_[t * d], w.ffn_norm, &xb_[t * d], d, c.rms_eps);
        });
        // W_gate, W_up (n_ff, d) @ xb (n, d) -> gate, up (n, n_ff)
        project(xb_.data(), d, {{&w.w_gate, gate_.data()}, {&w.w_up, up_.data()}});
        each_token([&](int t) { silu_mul(&gate_[t * c.n_ff], &up_[t * c.n_ff], c.n_ff); });
        // W_down (d, n_ff) @ gate (n, n_ff) -> proj (n, d)
        project(gate_.data(), c.n_ff, {{&w.w_down, proj_.data()}});
        each_token(add_to_x);
    }

    if (n_out == 0) return;
    // Only the last n_out tokens need logits: W_output (n_vocab, d) @ norm(x) (n_out, d).
    const int first = n - n_out;
    for (int t = first; t < n; ++t) {
        rms_norm(&x_[t * d], model_.output_norm, &xb_[(t - first) * d], d, c.rms_eps);
    }
    xq_.quantize(xb_.data(), n_out, d, model_.output.kernels->activation_type, pool_);
    matmul(model_.output, xq_, n_out, out, pool_);
}

}  // namespace ember
