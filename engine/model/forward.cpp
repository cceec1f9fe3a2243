// The forward pass: from token ids to next-token logits, one pass for every architecture.
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
// That is Llama. The other families differ in a few places, each marked "ARCH:" below and
// described as data in architecture.h: biases after the projections (qwen2), NeoX RoPE and
// rope factors, the query scaled before the dot products (phi3, gemma), GELU instead of SiLU
// and embeddings scaled by sqrt(n_embd) (gemma), RMSNorm of each sub-layer's output and
// tanh soft-capping of the logits (gemma2), a mixture of experts in place of the one
// feed-forward network (qwen3moe: experts.cpp). Sliding windows and score soft-capping are in
// attention.cpp. A fused matrix of the file (phi3's attn_qkv) is already split by the loader.
// Encoders (bert, nomic-bert) are post-norm: x = LayerNorm(x + sublayer(x)), with token-type
// and position embeddings and a LayerNorm before the first block, and no output head: their
// final hidden states are the result (Context::encode).
//
// Shapes: n tokens in a batch, d = n_embd, rows are tokens. Matmuls W (out, in) @ X (n, in)
// -> (n, out) run on quantized activations (ops.h).
//
// Context::forward below, in named steps: embed, then per layer attention_block and
// ffn_block, then output_head (or final_states for embeddings). The attention itself is
// Context::attention (attention.cpp).
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "engine/model/context.h"
#include "formats/error.h"

namespace ember {
namespace {

// Runs body(t) for every token of the batch, split across the threads (for_tokens: a few
// tokens on this one).
template <typename Body>
void each_token(ThreadPool& pool, int n, const Body& body) {
    for_tokens(pool, n, [&](int64_t begin, int64_t end) {
        for (int64_t t = begin; t < end; ++t) body(static_cast<int>(t));
    });
}

// Adds a bias (width values) to row t of a (n, width) activation, when there is one.
void add_bias(float* rows, int t, const float* bias, int width) {
    if (bias == nullptr) return;
    float* row = rows + static_cast<size_t>(t) * width;
    for (int i = 0; i < width; ++i) row[i] += bias[i];
}

}  // namespace

void Context::forward(const int32_t* tokens, int n, std::span<const int> outputs, float* out,
                      float* hidden) {
    for (int t = 0; t < n; ++t) kv_.make_resident(rows_[t]);  // before the parallel stores
    embed(tokens, n);                                         // -> x_ (n, d)
    for (int l = 0; l < model_.config().n_layer; ++l) {
        if (cancel_ != nullptr && cancel_->raised()) {
            throw Error("evaluation cancelled");
        }
        switch (model_.config().layers[l].kind) {  // ARCH: what mixes the tokens
            case LayerKind::Attention:
                attention_block(l, n);
                break;
            case LayerKind::ShortConv:  // lfm2 (recurrent.cpp)
                short_conv_block(l, n);
                break;
            case LayerKind::DeltaNet:  // qwen35 (recurrent.cpp)
                delta_net_block(l, n);
                break;
        }
        ffn_block(l, n);
    }
    if (hidden != nullptr) {
        final_states(n, hidden);
    } else {
        output_head(outputs, out);
    }
}

// RMSNorm or LayerNorm (ARCH: encoders), of one row of n_embd values.
void Context::norm(const float* in, const float* weight, const float* bias, float* out) const {
    const ModelConfig& c = model_.config();
    if (c.arch->norm == NormKind::Layer) {
        layer_norm(in, weight, bias, out, c.n_embd, c.norm_eps);
    } else {
        rms_norm(in, weight, out, c.n_embd, c.norm_eps);
    }
}

// W @ in for several weights that read the same input (n, cols), converting the input once
// per activation type; weights of one activation type run as one set (matmul_jobs).
void Context::project(const float* in, int n, int64_t cols,
                      std::initializer_list<std::pair<const WeightMatrix*, float*>> outs) {
    std::string_view seen;
    for (const auto& [w, y] : outs) {
        if (observer_ && w->name != seen) observer_(w->name, in, n, cols);
        seen = w->name;
    }
    std::vector<MatMulJob>& jobs = jobs_;
    for (auto it = outs.begin(); it != outs.end();) {
        const TensorType type = it->first->kernels->activation_type;
        xq_.quantize(in, n, cols, type, pool_);
        jobs.clear();
        for (; it != outs.end() && it->first->kernels->activation_type == type; ++it)
            jobs.push_back({it->first, &xq_, 0, n, it->second});
        matmul_jobs(jobs, pool_);
    }
}

// A block's input (n, d): Norm(x) into xb_ in pre-norm decoders, x itself in post-norm
// encoders (ARCH).
const float* Context::block_input(const float* norm_weight, int n) {
    if (model_.config().arch->encoder) return x_.data();
    const int d = model_.config().n_embd;
    each_token(pool_, n, [&](int t) { norm(&x_[t * d], norm_weight, nullptr, &xb_[t * d]); });
    return xb_.data();
}

// x += the block's output proj_ (n, d), after its bias and (ARCH: gemma2, gemma3) its
// post-norm; encoders (ARCH: post-norm) then normalise x.
void Context::add_block_output(int n, const float* bias, const float* post_norm,
                               const float* out_norm, const float* out_norm_b) {
    const ModelConfig& c = model_.config();
    const int d = c.n_embd;
    each_token(pool_, n, [&](int t) {
        add_bias(proj_.data(), t, bias, d);
        float* out = &proj_[t * d];
        if (post_norm != nullptr) rms_norm(out, post_norm, out, d, c.norm_eps);
        float* x = &x_[t * d];
        for (int i = 0; i < d; ++i) x[i] += out[i];  // the residual
        if (c.arch->encoder) norm(x, out_norm, out_norm_b, x);
    });
}

// x (n, d) = token_embd[tokens], dequantized.
void Context::embed(const int32_t* tokens, int n) {
    rope_angles_base_ = rope_angles_scale_ = 0;  // no RoPE angles for this batch yet
    const ModelConfig& c = model_.config();
    const Architecture& arch = *c.arch;
    const int d = c.n_embd;
    // ARCH: gemma scales the embeddings by sqrt(n_embd); encoders add token type 0 and the
    // learned position (BERT), then normalise.
    const float embd_scale = arch.scale_embeddings ? std::sqrt(static_cast<float>(d)) : 1.0f;
    std::vector<float> position_row(model_.position_embd.data != nullptr ? d : 0);
    for (int t = 0; t < n; ++t) {
        float* x = x_.data() + static_cast<size_t>(t) * d;
        model_.token_embd.kernels->dequantize_row(model_.token_embd.row(tokens[t]), x, d);
        if (arch.scale_embeddings) {
            for (int i = 0; i < d; ++i) x[i] *= embd_scale;
        }
        if (arch.encoder) {
            for (int i = 0; i < d; ++i) x[i] += model_.token_type0[i];
            if (!position_row.empty()) {
                const WeightMatrix& pe = model_.position_embd;
                pe.kernels->dequantize_row(pe.row(positions_[t]), position_row.data(), d);
                for (int i = 0; i < d; ++i) x[i] += position_row[i];
            }
            norm(x, model_.embd_norm, model_.embd_norm_b, x);
        }
    }
}

// x += Wo Attention(RoPE(Wq h), RoPE(Wk h), Wv h), h = Norm(x) (ARCH: encoders read x and
// normalise after the residual add). The new keys and values go to the KV cache first.
void Context::attention_block(int l, int n) {
    const ModelConfig& c = model_.config();
    const Architecture& arch = *c.arch;
    const LayerWeights& w = model_.layers[l];
    const int d = c.n_embd;
    const float* in = block_input(w.attn_norm, n);
    // Each position's RoPE angles for this layer's base and scale: computed at the first
    // layer that rotates, again only where a layer's base or scale differs from those the
    // angles hold (gemma3's local and global layers).
    const LayerSpec& spec = c.layers[l];
    if (spec.rope &&
        (rope_angles_base_ != spec.rope_freq_base || rope_angles_scale_ != spec.rope_freq_scale)) {
        for (int t = 0; t < n; ++t) {
            rope_[t].compute(positions_[t], c.n_rot, spec.rope_freq_base, spec.rope_freq_scale,
                             rope_factors_, c.rope_attn_factor);
        }
        rope_angles_base_ = spec.rope_freq_base;
        rope_angles_scale_ = spec.rope_freq_scale;
    }
    // Wq (q_dim, d) @ in (n, d) -> q (n, q_dim); Wk, Wv (kv_dim, d) -> k, v (n, kv_dim)
    if (arch.gated_attention) {  // ARCH: qwen35: each head's query rows, then its gate rows
        project(in, n, d, {{&w.wq, query_gate_.data()}, {&w.wk, k_.data()}, {&w.wv, v_.data()}});
        each_token(pool_, n, [&](int t) {
            for (int h = 0; h < c.n_head; ++h) {
                const float* rows =
                    &query_gate_[(static_cast<size_t>(t) * c.n_head + h) * 2 * c.head_dim];
                std::copy(rows, rows + c.head_dim, &q_[t * c.q_dim() + h * c.head_dim]);
                std::copy(rows + c.head_dim, rows + 2 * c.head_dim,
                          &attn_gate_[t * c.q_dim() + h * c.head_dim]);
            }
        });
    } else {
        project(in, n, d, {{&w.wq, q_.data()}, {&w.wk, k_.data()}, {&w.wv, v_.data()}});
    }
    each_token(pool_, n, [&](int t) {
        add_bias(q_.data(), t, w.bq, c.q_dim());  // ARCH: qwen2's and BERT's Q/K/V biases
        add_bias(k_.data(), t, w.bk, c.kv_dim());
        add_bias(v_.data(), t, w.bv, c.kv_dim());
        for (int h = 0; h < c.n_head; ++h) {
            float* q = &q_[t * c.q_dim() + h * c.head_dim];
            if (w.attn_q_norm != nullptr) {  // ARCH: QK-norm (qwen3, gemma3)
                rms_norm(q, w.attn_q_norm, q, c.head_dim, c.norm_eps);
            }
            if (spec.rope) rope_rotate(q, rope_[t], arch.rope);  // ARCH: pair layout, layers
            if (arch.query_prescaled) {  // ARCH: phi3 and gemma scale q, not the scores
                for (int i = 0; i < c.head_dim; ++i) q[i] *= c.query_scale;
            }
        }
        for (int h = 0; h < c.n_head_kv; ++h) {
            float* k = &k_[t * c.kv_dim() + h * c.head_dim];
            if (w.attn_k_norm != nullptr) rms_norm(k, w.attn_k_norm, k, c.head_dim, c.norm_eps);
            if (spec.rope) rope_rotate(k, rope_[t], arch.rope);
        }
        kv_.store(spec.slot, rows_[t], &k_[t * c.kv_dim()], &v_[t * c.kv_dim()]);
    });
    attention(l, n);             // -> attn_ (n, q_dim), attention.cpp
    if (arch.gated_attention) {  // ARCH: qwen35: attn *= sigmoid(gate)
        each_token(pool_, n, [&](int t) {
            float* a = &attn_[t * c.q_dim()];
            const float* gate = &attn_gate_[t * c.q_dim()];
            for (int i = 0; i < c.q_dim(); ++i) a[i] *= sigmoid(gate[i]);
        });
    }
    // Wo (d, q_dim) @ attn (n, q_dim) -> proj (n, d)
    project(attn_.data(), n, c.q_dim(), {{&w.wo, proj_.data()}});
    add_block_output(n, w.bo, w.attn_post_norm, w.attn_out_norm, w.attn_out_norm_b);
}

// x += W_down (act(W_gate h) * (W_up h)), h = Norm(x) (ARCH: GELU in gemma; BERT's plain
// W_down GELU(W_up x), normalised after the residual add).
void Context::ffn_block(int l, int n) {
    const ModelConfig& c = model_.config();
    const Architecture& arch = *c.arch;
    const LayerWeights& w = model_.layers[l];
    const int d = c.n_embd;
    const float* in = block_input(w.ffn_norm, n);
    if (arch.experts) {  // ARCH: a mixture of experts (experts.cpp)
        expert_ffn(l, n, in);
        add_block_output(n, nullptr, w.ffn_post_norm, w.ffn_out_norm, w.ffn_out_norm_b);
        return;
    }
    if (arch.gated_ffn) {
        // W_gate, W_up (n_ff, d) @ in (n, d) -> gate, up (n, n_ff)
        project(in, n, d, {{&w.w_gate, gate_.data()}, {&w.w_up, up_.data()}});
    } else {  // ARCH: BERT's plain FFN: W_up (n_ff, d) @ in (n, d) -> gate (n, n_ff)
        project(in, n, d, {{&w.w_up, gate_.data()}});
    }
    each_token(pool_, n, [&](int t) {
        float* gate = &gate_[static_cast<size_t>(t) * c.n_ff];
        const float* up = &up_[static_cast<size_t>(t) * c.n_ff];
        if (!arch.gated_ffn) {
            add_bias(gate_.data(), t, w.b_up, c.n_ff);
            gelu(gate, c.n_ff);
            return;
        }
        add_bias(gate_.data(), t, w.b_gate, c.n_ff);
        add_bias(up_.data(), t, w.b_up, c.n_ff);
        if (arch.activation == FfnActivation::GeluTanh) {  // ARCH: gemma's GeGLU
            gelu_mul(gate, up, c.n_ff);
        } else {
            silu_mul(gate, up, c.n_ff);
        }
    });
    // W_down (d, n_ff) @ gate (n, n_ff) -> proj (n, d)
    project(gate_.data(), n, c.n_ff, {{&w.w_down, proj_.data()}});
    add_block_output(n, w.b_down, w.ffn_post_norm, w.ffn_out_norm, w.ffn_out_norm_b);
}

// Logits, only for the tokens in `outputs`: W_output (n_vocab, d) @ norm(x) (n_out, d).
void Context::output_head(std::span<const int> outputs, float* out) {
    const ModelConfig& c = model_.config();
    const int d = c.n_embd;
    const int n_out = static_cast<int>(outputs.size());
    if (n_out == 0) return;
    for (int i = 0; i < n_out; ++i) {
        rms_norm(&x_[outputs[i] * d], model_.output_norm, &xb_[i * d], d, c.norm_eps);
    }
    xq_.quantize(xb_.data(), n_out, d, model_.output.kernels->activation_type, pool_);
    matmul(model_.output, xq_, n_out, out, pool_);
    if (c.final_softcap > 0) {  // ARCH: gemma2 caps the logits
        soft_cap(out, static_cast<int64_t>(n_out) * c.n_vocab, c.final_softcap);
    }
}

// Embeddings: every token's final state (n, d), normalised in decoders.
void Context::final_states(int n, float* hidden) {
    const ModelConfig& c = model_.config();
    const int d = c.n_embd;
    for (int t = 0; t < n; ++t) {
        float* h = hidden + static_cast<size_t>(t) * d;
        if (model_.output_norm != nullptr) {
            rms_norm(&x_[t * d], model_.output_norm, h, d, c.norm_eps);
        } else {
            std::copy(&x_[t * d], &x_[t * d] + d, h);
        }
    }
}

}  // namespace ember
