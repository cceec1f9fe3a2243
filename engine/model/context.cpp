// A context: the parameters checked and their defaults filled in, the KV cache and scratch
// allocated, and decode(), which splits its tokens into batches for the forward pass
// (forward.cpp; attention in attention.cpp).
#include "engine/model/context.h"

#include <algorithm>
#include <string>

#include "engine/runtime/system_memory.h"
#include "formats/error.h"

namespace ember {

namespace {

// Checks the parameters, fills in the defaults, and makes sure the cache and scratch fit.
ContextParams resolve(const ModelConfig& c, ContextParams p) {
    if (p.n_ctx < 0) throw Error("context size " + std::to_string(p.n_ctx) + " is negative");
    if (p.n_batch < 0) throw Error("batch size " + std::to_string(p.n_batch) + " is negative");
    check_thread_count(p.n_threads);
    if (p.n_ctx == 0) p.n_ctx = std::min(c.n_ctx_train, kDefaultMaxContext);
    if (p.n_threads == 0) p.n_threads = default_thread_count();
    if (p.n_batch == 0) p.n_batch = 512;
    p.n_batch = std::min(p.n_batch, p.n_ctx);
    // Encoders attend to this pass's keys and values in F32, unrounded, as llama.cpp's BERT
    // graph does (it keeps no cache for them).
    if (c.arch->encoder) p.kv_type = TensorType::F32;

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
      pool_(params_.n_threads),
      rope_factors_(model.rope_factors_for(params_.n_ctx)) {
    const ModelConfig& c = model.config();
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
    positions_.resize(nb);
    attend_begin_.resize(nb);
    attend_end_.resize(nb);
    attention_scratch_.resize(pool_.size());  // sized on first use, to the positions in use
}

void Context::truncate(int n) {
    n_past_ = std::clamp(n, 0, n_past_);
}

void Context::check_tokens(std::span<const int32_t> tokens) const {
    for (int32_t t : tokens) {
        if (t < 0 || t >= n_vocab()) {
            throw Error("token id " + std::to_string(t) + " is outside the vocabulary (0.." +
                        std::to_string(n_vocab() - 1) + ")");
        }
    }
}

void Context::decode(std::span<const int32_t> tokens, bool all_logits) {
    const int n_tokens = static_cast<int>(tokens.size());
    if (n_tokens == 0) throw Error("decode: no tokens to evaluate");
    if (model_.config().arch->encoder) {
        throw Error(model_.file().name() + ": a " + std::string(model_.config().arch->name) +
                    " model is an encoder: it makes embeddings (ember embed), not text");
    }
    check_tokens(tokens);
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
        for (int t = 0; t < n; ++t) {  // causal: a token sees the cache up to itself
            positions_[t] = n_past_ + t;
            attend_begin_[t] = 0;
            attend_end_[t] = n_past_ + t + 1;
        }
        forward(tokens.data() + start, n, n_past_, n_out, out);
        n_past_ += n;
    }
}

void Context::encode(std::span<const int32_t> tokens, std::span<const int> lengths, float* hidden) {
    const int n = static_cast<int>(tokens.size());
    int64_t total = 0;
    for (int length : lengths) {
        if (length <= 0) throw Error("encode: a sequence has no tokens");
        total += length;
    }
    if (n == 0 || total != n)
        throw Error("encode: the sequence lengths do not add up to the tokens");
    if (n > params_.n_batch) {
        throw ContextFullError("encode: " + std::to_string(n) +
                               " tokens in one pass, more than the " +
                               std::to_string(params_.n_batch) + " the context holds");
    }
    check_tokens(tokens);
    const bool causal = model_.config().causal;
    int begin = 0;
    for (int length : lengths) {
        for (int t = begin; t < begin + length; ++t) {
            positions_[t] = t - begin;
            attend_begin_[t] = begin;
            attend_end_[t] = causal ? t + 1 : begin + length;
        }
        begin += length;
    }
    n_past_ = 0;
    forward(tokens.data(), n, 0, 0, nullptr, hidden);
}

}  // namespace ember
