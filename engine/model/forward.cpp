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
#include "engine/model/context.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "engine/runtime/system_memory.h"
#include "formats/error.h"

namespace ember {

namespace {

// Checks the parameters, fills in the defaults, and makes sure the cache and scratch fit.
ContextParams resolve(const LlamaConfig& c, ContextParams p) {
    if (p.n_ctx < 0) throw Error("context size " + std::to_string(p.n_ctx) + " is negative");
    if (p.n_batch < 0) throw Error("batch size " + std::to_string(p.n_batch) + " is negative");
    check_thread_count(p.n_threads);
    if (p.n_ctx == 0) p.n_ctx = std::min(c.n_ctx_train, kDefaultMaxContext);
    if (p.n_threads == 0) p.n_threads = default_thread_count();
    if (p.n_batch == 0) p.n_batch = 512;
    p.n_batch = std::min(p.n_batch, p.n_ctx);

    // The KV cache, and the largest scratch: activations of a batch, its logits, and per
    // thread a KV head's cache slice in F32 with one chunk's scores.
    const auto u = [](int v) { return static_cast<uint64_t>(v); };
    const uint64_t kv =
        2 * u(c.n_layer) * u(c.kv_dim()) * u(p.n_ctx) * (p.kv_type == TensorType::F32 ? 4 : 2);
    const uint64_t per_token =
        3 * u(c.n_embd) + 2 * u(c.q_dim()) + 2 * u(c.kv_dim()) + 2 * u(c.n_ff) + u(c.n_vocab);
    const uint64_t per_thread = u(p.n_ctx) * (3 * u(c.head_dim) + 128);
    const uint64_t scratch = 4 * (u(p.n_batch) * per_token + u(p.n_threads) * per_thread);
    check_memory(
        kv + scratch, "a context of " + std::to_string(p.n_ctx) + " tokens",
        "KV cache " + gigabytes(kv) + ", scratch " + gigabytes(scratch),
        "lower it with -c (the model was trained for " + std::to_string(c.n_ctx_train) + ")");
    return p;
}

}  // namespace

Context::Context(const Model& model, const ContextParams& params)
    : model_(model),
      params_(resolve(model.config(), params)),
      kv_(model.config().n_layer, params_.n_ctx, model.config().n_head_kv, model.config().head_dim,
          params_.kv_type),
      pool_(params_.n_threads) {
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
    attention_scratch_.resize(pool_.size());  // sized on first use, to the positions in use
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

// Causal self-attention for the n new tokens, each attending to every cached position up to
// its own. Query head h reads KV head h / heads_per_kv (GQA), so the heads_per_kv query heads of
// a KV head, over a chunk of tokens, form one matrix of query rows and the work is two small
// matrix products per (KV head, chunk), each reading that head's cache slice once:
//   S (rows, n_kv) = Q (rows, head_dim) @ K^T (head_dim, n_kv) / sqrt(head_dim)
//   P = softmax(S) per row, causal: the row of token t keeps positions 0 .. pos0 + t
//   O (rows, head_dim) = P (rows, n_kv) @ V (n_kv, head_dim)
// The slice is converted to F32 once per thread and KV head (K transposed), and q and p are
// rounded to the cache's type first, as llama.cpp rounds them for its F16 dot products.
void Context::attention(int layer, int n, int pos0) {
    const LlamaConfig& c = model_.config();
    const TypeKernels& kv_kernels = *kernels_for(kv_.type());
    const MatMulF32Fn matmul_f32 = float_kernels().matmul;
    const int hd = c.head_dim, heads_per_kv = c.n_head / c.n_head_kv;
    const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
    const bool round_to_cache = kv_.type() != TensorType::F32;
    const int n_kv_max = pos0 + n;
    const int ld = (n_kv_max + 15) / 16 * 16;  // row stride of keys_t and scores
    // About 128 query rows per chunk: big enough for register tiles, small enough that the
    // causal waste (columns past a row's own position within the chunk) stays a few percent.
    const int chunk = std::max(1, 128 / heads_per_kv);
    const int n_chunks = (n + chunk - 1) / chunk;
    const int n_tasks = c.n_head_kv * n_chunks;  // KV-head-major: a thread reuses its slice
    // A task costs about its chunk's n_kv; threads take contiguous runs of equal total cost.
    const auto task_cost = [&](int task) {
        return int64_t{pos0} + std::min(n, (task % n_chunks + 1) * chunk);
    };
    int64_t total_cost = 0;
    for (int task = 0; task < n_tasks; ++task) total_cost += task_cost(task);

    pool_.run([&](int thread, int n_threads) {
        AttentionScratch& s = attention_scratch_[thread];
        s.layer = s.kv_head = -1;  // the cache changed since the last call
        const int64_t cost_begin = total_cost * thread / n_threads;
        const int64_t cost_end = total_cost * (thread + 1) / n_threads;
        int64_t cost = 0;
        for (int task = 0; task < n_tasks; ++task) {
            const int64_t mid = cost + task_cost(task) / 2;  // a task goes where its middle falls
            cost += task_cost(task);
            if (mid < cost_begin || mid >= cost_end) continue;
            const int kv_head = task / n_chunks;
            const int t0 = (task % n_chunks) * chunk, t1 = std::min(n, t0 + chunk);
            const int n_kv = pos0 + t1, rows = (t1 - t0) * heads_per_kv;

            // The head's cache slice up to n_kv in F32 (only positions not yet converted): the
            // values straight into place, the keys through key_rows into keys_t.
            if (s.layer != layer || s.kv_head != kv_head) {
                s.layer = layer, s.kv_head = kv_head, s.converted = 0;
                s.keys_t.resize(static_cast<size_t>(hd) * ld);
                s.values.resize(static_cast<size_t>(ld) * hd);
                s.out.resize(static_cast<size_t>(chunk) * heads_per_kv * hd);
                s.queries.resize(s.out.size());
                s.scores.resize(static_cast<size_t>(chunk) * heads_per_kv * ld);
                s.conv.resize(static_cast<size_t>(std::max(ld, heads_per_kv * hd)) * 4);
            }
            if (s.converted < n_kv) {
                const int first = s.converted, count = n_kv - first;
                const size_t n_values = static_cast<size_t>(count) * hd;
                kv_kernels.dequantize_row(kv_.values(layer, kv_head, first),
                                          &s.values[static_cast<size_t>(first) * hd], n_values);
                s.key_rows.resize(n_values);
                kv_kernels.dequantize_row(kv_.keys(layer, kv_head, first), s.key_rows.data(),
                                          n_values);
                // In blocks of 16 positions, so that the reads stay within a few cache lines.
                for (int j0 = 0; j0 < count; j0 += 16) {
                    const int j1 = std::min(count, j0 + 16);
                    for (int i = 0; i < hd; ++i) {
                        float* column = &s.keys_t[static_cast<size_t>(i) * ld + first];
                        for (int j = j0; j < j1; ++j) column[j] = s.key_rows[j * hd + i];
                    }
                }
                s.converted = n_kv;
            }

            // Q: row (t - t0) * heads_per_kv + g is token t's query head kv_head * hpk + g.
            for (int t = t0; t < t1; ++t) {
                const float* q = &q_[static_cast<size_t>(t) * c.q_dim() +
                                     static_cast<size_t>(kv_head) * heads_per_kv * hd];
                float* row = &s.queries[static_cast<size_t>(t - t0) * heads_per_kv * hd];
                std::copy(q, q + heads_per_kv * hd, row);
                if (round_to_cache) {
                    kv_kernels.quantize_row(row, s.conv.data(), heads_per_kv * hd);
                    kv_kernels.dequantize_row(s.conv.data(), row, heads_per_kv * hd);
                }
            }
            // S (rows, n_kv) = Q (rows, hd) @ K^T (hd, n_kv)
            matmul_f32(rows, n_kv, hd, s.queries.data(), hd, s.keys_t.data(), ld, s.scores.data(),
                       ld);
            for (int r = 0; r < rows; ++r) {
                float* p = &s.scores[static_cast<size_t>(r) * ld];
                const int visible = pos0 + t0 + r / heads_per_kv + 1;  // causal
                for (int j = 0; j < visible; ++j) p[j] *= scale;
                softmax(p, visible);
                std::fill(p + visible, p + n_kv, 0.0f);
                if (round_to_cache) {
                    kv_kernels.quantize_row(p, s.conv.data(), visible);
                    kv_kernels.dequantize_row(s.conv.data(), p, visible);
                }
            }
            // O (rows, hd) = P (rows, n_kv) @ V (n_kv, hd)
            matmul_f32(rows, hd, n_kv, s.scores.data(), ld, s.values.data(), hd, s.out.data(), hd);
            for (int t = t0; t < t1; ++t) {
                const float* o = &s.out[static_cast<size_t>(t - t0) * heads_per_kv * hd];
                std::copy(o, o + heads_per_kv * hd,
                          &attn_[static_cast<size_t>(t) * c.q_dim() +
                                 static_cast<size_t>(kv_head) * heads_per_kv * hd]);
            }
        }
    });
}

}  // namespace ember
