#include "engine/embed/embedder.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>

#include "formats/error.h"

namespace ember {
namespace {

constexpr std::array<std::pair<std::string_view, Pooling>, 4> kPoolingNames = {{
    {"none", Pooling::None},
    {"mean", Pooling::Mean},
    {"cls", Pooling::Cls},
    {"last", Pooling::Last},
}};

// One forward pass holds as many tokens as the context: the embedder packs texts up to it.
ContextParams packing_context(const Model& model, ContextParams p) {
    if (p.n_ctx == 0) p.n_ctx = default_context(model.config());
    if (p.n_ctx > 0) p.n_batch = p.n_ctx;
    return p;
}

Pooling default_pooling(const ModelConfig& c) {
    if (c.pooling_type >= 0) return static_cast<Pooling>(c.pooling_type);  // the file's
    return c.arch->encoder ? Pooling::Mean : Pooling::Last;
}

// Pools one text's token states (n_tokens rows of d) into out.
void pool(Pooling pooling, const float* states, int n_tokens, int d, std::vector<float>& out) {
    switch (pooling) {
        case Pooling::None:
            out.assign(states, states + static_cast<size_t>(n_tokens) * d);
            return;
        case Pooling::Cls:
            out.assign(states, states + d);
            return;
        case Pooling::Last:
            out.assign(states + static_cast<size_t>(n_tokens - 1) * d,
                       states + static_cast<size_t>(n_tokens) * d);
            return;
        case Pooling::Mean: {
            out.assign(d, 0.0f);
            std::vector<double> sum(d, 0.0);
            for (int t = 0; t < n_tokens; ++t) {
                for (int i = 0; i < d; ++i) sum[i] += states[static_cast<size_t>(t) * d + i];
            }
            for (int i = 0; i < d; ++i) out[i] = static_cast<float>(sum[i] / n_tokens);
            return;
        }
    }
}

// v / |v| for each vector of d values (a zero vector stays zero), as llama.cpp's
// common_embd_normalize with norm 2.
void normalize_l2(std::vector<float>& values, int d) {
    for (size_t at = 0; at + d <= values.size(); at += d) {
        double sum = 0;
        for (int i = 0; i < d; ++i) sum += static_cast<double>(values[at + i]) * values[at + i];
        const double norm = std::sqrt(sum);
        const auto scale = static_cast<float>(norm > 0 ? 1.0 / norm : 0.0);
        for (int i = 0; i < d; ++i) values[at + i] *= scale;
    }
}

}  // namespace

Pooling pooling_from_name(std::string_view name) {
    for (const auto& [n, p] : kPoolingNames) {
        if (n == name) return p;
    }
    throw Error("unknown pooling '" + std::string(name) + "' (choose none, mean, cls or last)");
}

std::string_view pooling_name(Pooling pooling) {
    for (const auto& [n, p] : kPoolingNames) {
        if (p == pooling) return n;
    }
    return "?";
}

Embedder::Embedder(const Model& model, const Tokenizer& tokenizer, const EmbedParams& params)
    : model_(model),
      tokenizer_(tokenizer),
      params_(params),
      pooling_(params.pooling.value_or(default_pooling(model.config()))),
      context_(model, packing_context(model, params.context)) {
    context_.set_cancel_flag(&cancel_);
}

std::vector<int32_t> Embedder::tokenize(std::string_view text) const {
    return tokenizer_.encode(text, /*add_special=*/true, /*parse_special=*/false);
}

std::vector<Embedding> Embedder::embed_tokens(std::span<const std::vector<int32_t>> sequences,
                                              const EmbedProgress& progress) {
    cancel_.clear_own();
    const int d = dimension(), n_ctx = context_.n_ctx();
    const int32_t sep = tokenizer_.vocab().sep;
    std::vector<Embedding> results(sequences.size());
    // Each sequence as it will be read: cut to the context where it is longer.
    std::vector<std::vector<int32_t>> inputs(sequences.size());
    for (size_t i = 0; i < sequences.size(); ++i) {
        const std::vector<int32_t>& s = sequences[i];
        if (s.empty()) throw Error("text " + std::to_string(i) + " has no tokens");
        std::vector<int32_t>& in = inputs[i];
        in = s;
        if (static_cast<int>(s.size()) > n_ctx) {
            if (params_.overflow == Overflow::Error) {
                throw ContextFullError(
                    "text " + std::to_string(i) + " has " + std::to_string(s.size()) +
                    " tokens, more than the context of " + std::to_string(n_ctx) +
                    " (raise it with -c, or let ember truncate)");
            }
            in.resize(n_ctx);
            if (sep >= 0 && s.back() == sep) in.back() = sep;  // keep the closing [SEP]
            results[i].truncated = true;
        }
        results[i].n_tokens = static_cast<int>(in.size());
    }

    std::vector<int32_t> batch;
    std::vector<int> lengths;
    std::vector<float> hidden;
    size_t first = 0;  // the batch holds inputs[first, next)
    while (first < inputs.size()) {
        batch.clear();
        lengths.clear();
        size_t next = first;
        while (next < inputs.size() &&
               batch.size() + inputs[next].size() <= static_cast<size_t>(n_ctx)) {
            batch.insert(batch.end(), inputs[next].begin(), inputs[next].end());
            lengths.push_back(static_cast<int>(inputs[next].size()));
            ++next;
        }
        hidden.resize(batch.size() * static_cast<size_t>(d));
        try {
            context_.encode(batch, lengths, hidden.data());
        } catch (const Error&) {
            if (cancel_.raised()) throw CancelledError();
            throw;
        }
        size_t at = 0;
        for (size_t i = first; i < next; ++i) {
            Embedding& e = results[i];
            pool(pooling_, hidden.data() + at * d, e.n_tokens, d, e.values);
            if (params_.normalize == Normalization::L2) normalize_l2(e.values, d);
            at += static_cast<size_t>(e.n_tokens);
        }
        first = next;
        if (progress) progress(first, inputs.size());
    }
    return results;
}

std::vector<Embedding> Embedder::embed(std::span<const std::string> texts,
                                       const EmbedProgress& progress) {
    std::vector<std::vector<int32_t>> sequences;
    sequences.reserve(texts.size());
    for (const std::string& text : texts) sequences.push_back(tokenize(text));
    return embed_tokens(sequences, progress);
}

}  // namespace ember
