// A context: the parameters checked and their defaults filled in, the KV cache and scratch
// allocated, and decode(), which splits its tokens into batches for the forward pass
// (forward.cpp; attention in attention.cpp).
#include "engine/model/context.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "engine/runtime/system_memory.h"
#include "formats/error.h"

namespace ember {

namespace {

// Checks the parameters, fills in the defaults, and makes sure the cache and scratch fit.
ContextParams resolve(const ModelConfig& c, uint64_t weights, ContextParams p) {
    const bool context_was_default = p.n_ctx == 0;
    if (p.n_ctx < 0) throw Error("context size " + std::to_string(p.n_ctx) + " is negative");
    if (p.n_batch < 0) throw Error("batch size " + std::to_string(p.n_batch) + " is negative");
    if (p.n_seq < 1 || p.n_seq > 256) {
        throw Error("sequence count " + std::to_string(p.n_seq) + " is outside 1..256");
    }
    check_thread_count(p.n_threads);
    if (p.n_ctx == 0) p.n_ctx = default_context(c);
    // Learned positions (BERT) exist only up to the training context.
    if (c.arch->position_embeddings && p.n_ctx > c.n_ctx_train) {
        throw Error("context size " + std::to_string(p.n_ctx) + " is beyond the " +
                    std::to_string(c.n_ctx_train) + " positions this " + std::string(c.arch->name) +
                    " model has learned");
    }
    if (p.pool) p.n_threads = p.pool->size();
    if (p.n_threads == 0) p.n_threads = default_thread_count();
    if (p.n_batch == 0) p.n_batch = 512;
    p.n_batch = std::min(p.n_batch, p.n_ctx);
    // Encoders attend to this pass's keys and values in F32, unrounded, as llama.cpp's BERT
    // graph does (it keeps no cache for them).
    if (c.arch->encoder) p.kv_type = TensorType::F32;

    if (const std::string problem = KvCache::check_type(p.kv_type, c.head_dim); !problem.empty())
        throw Error(problem);
    MemoryUse use = memory_use(c, weights, p);
    if (p.max_memory > 0 && use.total() > p.max_memory) {
        // The largest context that fits (the use grows with n_ctx), at least 16 positions.
        ContextParams q = p;
        const auto fits = [&](int n) {
            q.n_ctx = n;
            q.n_batch = std::min(p.n_batch, n);
            return memory_use(c, weights, q).total() <= p.max_memory;
        };
        int lo = 0, hi = p.n_ctx;  // fits(lo) or lo == 0; !fits(hi)
        while (hi - lo > 1) {
            const int mid = lo + (hi - lo) / 2;
            (fits(mid) ? lo : hi) = mid;
        }
        const std::string need = "a context of " + std::to_string(p.n_ctx) + " tokens needs " +
                                 megabytes(use.total()) + " (weights " + megabytes(use.weights) +
                                 ", KV cache " + megabytes(use.kv_cache) + ", scratch " +
                                 megabytes(use.scratch) + "), more than the memory limit of " +
                                 megabytes(p.max_memory);
        if (lo < 16)
            throw Error(need + ": not even 16 tokens fit; the weights alone take " +
                        megabytes(use.weights));
        const bool smaller_cache = (p.kv_type == TensorType::F16 || p.kv_type == TensorType::F32) &&
                                   KvCache::check_type(TensorType::Q8_0, c.head_dim).empty();
        if (!context_was_default)
            throw Error(need + ": at most " + std::to_string(lo) + " tokens fit (lower -c" +
                        (smaller_cache ? ", or use a q8_0/q4_0 KV cache)" : ")"));
        p.n_ctx = lo;
        p.n_batch = std::min(p.n_batch, lo);
        use = memory_use(c, weights, p);
    }
    check_memory(
        use.kv_cache + use.scratch,
        "a context of " + std::to_string(p.n_ctx) + " tokens" +
            (p.n_seq > 1 ? " for each of " + std::to_string(p.n_seq) + " sequences" : ""),
        "KV cache " + gigabytes(use.kv_cache) + ", scratch " + gigabytes(use.scratch),
        "lower it with -c (the model was trained for " + std::to_string(c.n_ctx_train) + ")");
    return p;
}

}  // namespace

namespace {

// A recurrent layer's scratch per token: what its input projections give (lfm2: B, C, x;
// qwen35: q, k, v, then z, beta, alpha) and what it makes before its output projection
// (qwen35: the convolution's output, then the heads' outputs).
int recurrent_in_width(const ModelConfig& c) {
    if (c.arch->delta_net_layers) return c.conv_channels + c.ssm_value_dim() + 2 * c.ssm_v_heads;
    return 3 * c.n_embd;
}
int recurrent_out_width(const ModelConfig& c) {
    if (c.arch->delta_net_layers) return c.conv_channels + c.ssm_value_dim();
    return c.n_embd;
}

}  // namespace

MemoryUse memory_use(const ModelConfig& c, uint64_t weight_bytes, const ContextParams& p) {
    const auto u = [](int v) { return static_cast<uint64_t>(v); };
    MemoryUse use;
    use.weights = weight_bytes;
    use.kv_cache = 2 * u(c.n_attention_layers) * u(c.n_head_kv) * u(p.n_ctx) * u(p.n_seq) *
                   row_bytes(p.kv_type, u(c.head_dim));
    use.state = 4 * u(c.n_recurrent_layers) * u(p.n_seq) * u(c.state_floats);
    // Floats: per token of a batch its activations (forward.cpp's scratch); a row of logits
    // per sequence (a decode keeps the last token's; perplexity and `ember logits`, which keep
    // every token's, need n_batch rows more); per thread a KV head's cache slice in F32 with
    // one chunk's scores (attention.cpp).
    const uint64_t per_token =
        3 * u(c.n_embd) + 2 * u(c.q_dim()) + 2 * u(c.kv_dim()) + 2 * u(c.n_ff) +
        (c.n_expert > 0 ? 2 * u(c.n_embd) + u(c.n_expert) + 2 * u(c.n_expert_used) : 0) +
        (c.recurrent() ? u(recurrent_in_width(c)) + u(recurrent_out_width(c)) : 0) +
        (c.arch->gated_attention ? 3 * u(c.q_dim()) : 0);
    const uint64_t per_thread = u(p.n_ctx) * (3 * u(c.head_dim) + 128);
    use.scratch =
        4 * (u(p.n_batch) * per_token + u(p.n_seq) * u(c.n_vocab) + u(p.n_threads) * per_thread);
    return use;
}

uint64_t weight_bytes(const gguf::File& file) {
    uint64_t bytes = 0;
    for (const auto& t : file.tensors()) bytes += t.n_bytes;
    return bytes;
}

TokenReads token_reads(const ModelConfig& config, const gguf::File& file) {
    const bool tied = !config.arch->encoder && file.find_tensor("output.weight") == nullptr;
    TokenReads reads;
    for (const auto& t : file.tensors()) {
        if (t.name == "token_embd.weight" && !tied) continue;
        uint64_t params = t.n_elements, bytes = t.n_bytes;
        if (config.n_expert > 0 && t.name.find("_exps.") != std::string_view::npos) {
            params = params / config.n_expert * config.n_expert_used;
            bytes = bytes / config.n_expert * config.n_expert_used;
        }
        reads.params += params;
        reads.bytes += bytes;
    }
    return reads;
}

uint64_t unpacked_bytes(const gguf::File& file) {
    const bool tied = file.find_tensor("output.weight") == nullptr;
    uint64_t bytes = 0;
    for (const auto& t : file.tensors()) {
        const TypeKernels* k = kernels_for(t.type);
        if (k == nullptr || k->pack8 == nullptr || k->packed_block_bytes == 0 || t.n_dims < 2 ||
            (t.name == "token_embd.weight" && !tied))
            continue;
        const int64_t cols = static_cast<int64_t>(t.ne[0]);
        const int64_t rows = static_cast<int64_t>(t.n_elements) / cols;
        const size_t row_bytes = t.n_bytes / static_cast<uint64_t>(rows);
        bytes += static_cast<uint64_t>(rows / 8) *
                 (packed_group_bytes(*k, cols, row_bytes) - 8 * row_bytes);
    }
    return bytes;
}

uint64_t resident_weight_bytes(const ModelConfig& config, const gguf::File& file,
                               bool experts_mapped) {
    uint64_t bytes = 0;
    for (const auto& t : file.tensors()) {
        const bool expert = t.name.find("_exps.") != std::string_view::npos;
        bytes += experts_mapped && config.n_expert > 0 && expert
                     ? t.n_bytes / config.n_expert * config.n_expert_used
                     : t.n_bytes;
    }
    return bytes;
}

MemoryUse Context::memory() const {
    return memory_use(
        model_.config(),
        resident_weight_bytes(model_.config(), model_.file(), model_.experts_mapped()) +
            model_.unpacked_bytes(),
        params_);
}

Context::Context(const Model& model, const ContextParams& params)
    : model_(model),
      params_(resolve(model.config(),
                      resident_weight_bytes(model.config(), model.file(), model.experts_mapped()) +
                          model.unpacked_bytes(),
                      params)),
      kv_(model.config().n_attention_layers, params_.n_ctx * params_.n_seq,
          model.config().n_head_kv, model.config().head_dim, params_.kv_type),
      pool_owner_(params.pool ? params.pool : std::make_shared<ThreadPool>(params_.n_threads)),
      pool_(*pool_owner_),
      n_past_(params_.n_seq, 0),
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
    if (c.n_expert > 0) {
        router_.resize(nb * c.n_expert);
        chosen_.resize(nb * c.n_expert_used);
        chosen_weight_.resize(nb * c.n_expert_used);
        expert_in_.resize(nb * c.n_embd);
        expert_out_.resize(nb * c.n_embd);
    }
    if (c.recurrent()) {
        state_.assign(static_cast<size_t>(c.n_recurrent_layers) * params_.n_seq * c.state_floats,
                      0.0f);
        history_.resize(params_.n_seq);
        stale_.assign(params_.n_seq, false);
        mix_in_.resize(nb * recurrent_in_width(c));
        mix_out_.resize(nb * recurrent_out_width(c));
    }
    if (c.arch->gated_attention) {
        query_gate_.resize(nb * 2 * c.q_dim());
        attn_gate_.resize(nb * c.q_dim());
    }
    seqs_.resize(nb);
    rope_.resize(nb);
    rows_.resize(nb);
    positions_.resize(nb);
    attend_begin_.resize(nb);
    attend_end_.resize(nb);
    attention_scratch_.resize(pool_.size());  // sized on first use, to the positions in use
}

void Context::truncate(int seq, int n, bool release_memory) {
    if (seq < 0 || seq >= n_seq()) throw Error("truncate: no sequence " + std::to_string(seq));
    const int before = n_past_[seq];
    n = std::clamp(n, 0, before);
    if (model_.config().recurrent() && (n < before || stale_[seq])) {
        evaluate_again(seq, n);
    }
    n_past_[seq] = n;
    // Sequence seq owns the cache rows seq * n_ctx .. (rows_ in forward).
    if (release_memory) kv_.release(seq * n_ctx() + n_past_[seq], seq * n_ctx() + before);
}

size_t Context::saved_bytes(int n) const {
    const ModelConfig& c = model_.config();
    const size_t state = sizeof(float) * c.n_recurrent_layers * static_cast<size_t>(c.state_floats);
    return kv_.sequence_bytes(n) + state;
}

std::vector<uint8_t> Context::save_rows(int seq, int n) const {
    const ModelConfig& c = model_.config();
    if (seq < 0 || seq >= n_seq() || n < 0 || n > n_past_[seq] ||
        (c.recurrent() && (n != n_past_[seq] || stale_[seq])))
        throw Error("save_rows: sequence " + std::to_string(seq) + " holds no " +
                    std::to_string(n) + " positions" +
                    (c.recurrent() ? " (a recurrent model saves all it holds)" : ""));
    std::vector<uint8_t> rows(saved_bytes(n));
    kv_.read_rows(seq * n_ctx(), n, rows.data());
    uint8_t* saved = rows.data() + kv_.sequence_bytes(n);  // then the recurrent layers' state
    const size_t per_layer = sizeof(float) * static_cast<size_t>(c.state_floats);
    for (int slot = 0; slot < c.n_recurrent_layers; ++slot) {
        std::memcpy(saved + slot * per_layer, state(slot, seq), per_layer);
    }
    return rows;
}

void Context::copy_rows(int from, int to, int n) {
    if (model_.config().recurrent() || from < 0 || from >= n_seq() || to < 0 || to >= n_seq() ||
        from == to || n < 0 || n > n_past_[from]) {
        throw Error("copy_rows: sequence " + std::to_string(from) + " cannot give " +
                    std::to_string(n) + " positions to sequence " + std::to_string(to));
    }
    constexpr int kChunk = 64;
    std::vector<uint8_t> buffer(kv_.sequence_bytes(std::min(n, kChunk)));
    for (int i = 0; i < n; i += kChunk) {
        const int k = std::min(kChunk, n - i);
        kv_.read_rows(from * n_ctx() + i, k, buffer.data());
        kv_.write_rows(to * n_ctx() + i, k, buffer.data());
    }
    n_past_[to] = n;
}

void Context::load_rows(int seq, std::span<const int32_t> tokens, std::span<const uint8_t> rows) {
    const ModelConfig& c = model_.config();
    const int n = static_cast<int>(std::min<size_t>(tokens.size(), INT32_MAX));
    if (seq < 0 || seq >= n_seq() || n > n_ctx())
        throw Error("load_rows: " + std::to_string(tokens.size()) +
                    " positions do not fit a sequence of " + std::to_string(n_ctx()));
    if (rows.size() != saved_bytes(n))
        throw Error("load_rows: " + std::to_string(rows.size()) + " bytes for " +
                    std::to_string(n) + " positions, which take " + std::to_string(saved_bytes(n)));
    check_tokens(tokens);
    kv_.write_rows(seq * n_ctx(), n, rows.data());
    const uint8_t* saved = rows.data() + kv_.sequence_bytes(n);
    const size_t per_layer = sizeof(float) * static_cast<size_t>(c.state_floats);
    for (int slot = 0; slot < c.n_recurrent_layers; ++slot) {
        std::memcpy(state(slot, seq), saved + slot * per_layer, per_layer);
    }
    if (c.recurrent()) {
        history_[seq].assign(tokens.begin(), tokens.end());
        stale_[seq] = false;
    }
    n_past_[seq] = n;
}

// A recurrent model's sequence seq from the start again, up to its first n tokens: the
// state is rebuilt, and the attention layers' rows come out as they were.
void Context::evaluate_again(int seq, int n) {
    const ModelConfig& c = model_.config();
    history_[seq].resize(static_cast<size_t>(n));
    const std::vector<int32_t>& tokens = history_[seq];
    for (int slot = 0; slot < c.n_recurrent_layers; ++slot) {
        std::fill_n(state(slot, seq), static_cast<size_t>(c.state_floats), 0.0f);
    }
    // Stale until every token is in again. A pass that fails here (cancelled) leaves the
    // sequence holding n tokens, stale: the next truncate or decode evaluates them again.
    stale_[seq] = true;
    n_past_[seq] = n;
    const int base = seq * n_ctx();
    for (int start = 0; start < n; start += params_.n_batch) {
        const int m = std::min(params_.n_batch, n - start);
        for (int t = 0; t < m; ++t) {
            const int position = start + t;
            rows_[t] = base + position;
            positions_[t] = position;
            attend_begin_[t] = base;
            attend_end_[t] = base + position + 1;
            seqs_[t] = seq;
        }
        forward(tokens.data() + start, m, {}, nullptr);
    }
    stale_[seq] = false;
}

void Context::set_logits(std::span<const float> logits) {
    if (logits.size() != static_cast<size_t>(n_vocab()))
        throw Error("set_logits: " + std::to_string(logits.size()) +
                    " values for a vocabulary of " + std::to_string(n_vocab()));
    if (logits_.size() < logits.size()) logits_.resize(logits.size());
    std::copy(logits.begin(), logits.end(), logits_.begin());
}

void Context::shift(int seq, int keep, int discard) {
    if (seq < 0 || seq >= n_seq()) throw Error("shift: no sequence " + std::to_string(seq));
    const ModelConfig& c = model_.config();
    if (c.arch->rope == RopeKind::None || c.n_rot <= 0) {
        throw Error("a " + std::string(c.arch->name) +
                    " model has no rotary positions: its context cannot be shifted");
    }
    const int end = n_past_[seq];
    if (keep < 0 || discard < 1 || keep + discard > end) {
        throw Error("shift: cannot drop " + std::to_string(discard) + " positions after " +
                    std::to_string(keep) + " of " + std::to_string(end));
    }
    if (c.recurrent()) {  // no state can forget a stretch of its past: evaluate the rest again
        history_[seq].erase(history_[seq].begin() + keep, history_[seq].begin() + keep + discard);
        evaluate_again(seq, end - discard);
        return;
    }
    // A pure rotation by -discard positions (no attn_factor: the keys already carry it once),
    // with each layer's RoPE.
    std::vector<RopeAngles> back(c.layers.size());
    for (size_t l = 0; l < back.size(); ++l) {
        back[l].compute(-discard, c.n_rot, c.layers[l].rope_freq_base, c.layers[l].rope_freq_scale,
                        rope_factors_, 1.0f);
    }
    const RopeKind kind = c.arch->rope;
    const int base = seq * n_ctx();
    if (end > keep + discard) {
        // The cache's layers are the attention layers (every layer here: a model with other
        // kinds is recurrent, evaluated again above).
        kv_.shift(base + keep, discard, base + end, [&](int layer, float* key) {
            // ARCH: pair layout; a layer without RoPE (smollm3) keeps its keys as they are
            if (c.layers[layer].rope) rope_rotate(key, back[layer], kind);
        });
    }
    n_past_[seq] = end - discard;
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
    int& n_past = n_past_[0];
    const bool recurrent = model_.config().recurrent();
    if (recurrent && stale_[0]) evaluate_again(0, n_past);  // a failed pass left it half done
    if (static_cast<int64_t>(n_past) + n_tokens > n_ctx()) {
        throw ContextFullError("context is full: " + std::to_string(n_past) + " positions used, " +
                               std::to_string(n_tokens) + " more would exceed the context size " +
                               std::to_string(n_ctx()) + " (raise it with -c)");
    }
    logits_.resize(static_cast<size_t>(all_logits ? n_tokens : 1) * n_vocab());
    std::vector<int> outputs;
    for (int start = 0; start < n_tokens; start += params_.n_batch) {
        const int n = std::min(params_.n_batch, n_tokens - start);
        outputs.clear();
        for (int t = 0; t < n; ++t) {
            if (all_logits || start + t == n_tokens - 1) outputs.push_back(t);
        }
        float* out =
            all_logits ? logits_.data() + static_cast<size_t>(start) * n_vocab() : logits_.data();
        for (int t = 0; t < n; ++t) {  // causal: a token sees the cache up to itself
            rows_[t] = positions_[t] = n_past + t;
            attend_begin_[t] = 0;
            attend_end_[t] = n_past + t + 1;
            seqs_[t] = 0;
        }
        if (recurrent) stale_[0] = true;  // until the pass completes
        forward(tokens.data() + start, n, outputs, out);
        if (recurrent) {
            history_[0].insert(history_[0].end(), tokens.begin() + start,
                               tokens.begin() + start + n);
            stale_[0] = false;
        }
        n_past += n;
    }
}

void Context::decode_sequences(std::span<const SequenceTokens> inputs) {
    if (model_.config().arch->encoder) {
        throw Error(model_.file().name() + ": an encoder has no next-token logits");
    }
    if (inputs.empty()) throw Error("decode_sequences: no sequences");
    if (model_.config().recurrent()) {  // a failed pass left a state half updated: redo it
        for (const SequenceTokens& in : inputs) {
            if (in.seq >= 0 && in.seq < n_seq() && stale_[in.seq]) {
                evaluate_again(in.seq, n_past_[in.seq]);
            }
        }
    }
    std::vector<int32_t> batch;
    std::vector<int> outputs;
    std::vector<bool> seen(n_seq(), false);
    for (const SequenceTokens& in : inputs) {
        if (in.seq < 0 || in.seq >= n_seq() || seen[in.seq]) {
            throw Error("decode_sequences: sequence " + std::to_string(in.seq) +
                        " is out of range or given twice");
        }
        seen[in.seq] = true;
        if (in.tokens.empty()) throw Error("decode_sequences: a sequence has no tokens");
        check_tokens(in.tokens);
        const int n = static_cast<int>(in.tokens.size());
        if (static_cast<int64_t>(n_past_[in.seq]) + n > n_ctx()) {
            throw ContextFullError("sequence " + std::to_string(in.seq) +
                                   " is full: " + std::to_string(n_past_[in.seq]) + " of " +
                                   std::to_string(n_ctx()) + " positions used");
        }
        if (batch.size() + in.tokens.size() > static_cast<size_t>(params_.n_batch)) {
            throw Error("decode_sequences: more than the batch of " +
                        std::to_string(params_.n_batch) + " tokens");
        }
        // Sequence s owns the cache rows s * n_ctx .. s * n_ctx + n_ctx - 1.
        const int base = in.seq * n_ctx(), first = static_cast<int>(batch.size());
        for (int j = 0; j < n; ++j) {
            const int t = first + j, position = n_past_[in.seq] + j;
            rows_[t] = base + position;
            positions_[t] = position;
            attend_begin_[t] = base;
            attend_end_[t] = base + position + 1;
            seqs_[t] = in.seq;
        }
        batch.insert(batch.end(), in.tokens.begin(), in.tokens.end());
        for (int j = in.all_logits ? 0 : n - 1; j < n; ++j) outputs.push_back(first + j);
    }
    const bool recurrent = model_.config().recurrent();
    if (recurrent) {
        for (const SequenceTokens& in : inputs) stale_[in.seq] = true;  // until it completes
    }
    sequence_rows_.assign(1, 0);
    for (const SequenceTokens& in : inputs) {
        sequence_rows_.push_back(sequence_rows_.back() +
                                 (in.all_logits ? static_cast<int>(in.tokens.size()) : 1));
    }
    logits_.resize(outputs.size() * static_cast<size_t>(n_vocab()));
    forward(batch.data(), static_cast<int>(batch.size()), outputs, logits_.data());
    for (const SequenceTokens& in : inputs) {
        n_past_[in.seq] += static_cast<int>(in.tokens.size());
        if (recurrent) {
            history_[in.seq].insert(history_[in.seq].end(), in.tokens.begin(), in.tokens.end());
            stale_[in.seq] = false;
        }
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
            rows_[t] = t;
            positions_[t] = t - begin;
            attend_begin_[t] = begin;
            attend_end_[t] = causal ? t + 1 : begin + length;
        }
        begin += length;
    }
    std::fill(n_past_.begin(), n_past_.end(), 0);  // the rows are scratch here
    forward(tokens.data(), n, {}, nullptr, hidden);
}

}  // namespace ember
