// Sentence embeddings: texts in, one vector per text out, for semantic search and the vector
// stores beside an app's data (pgvector, sqlite-vec). Encoders (bert, nomic-bert) and decoder
// models (the final hidden states, after the output norm, before the output head) alike.
//
//   tokens of each text ([CLS] ... [SEP] for BERT vocabularies, BOS ... for others)
//   -> many texts packed into one forward pass (Context::encode: each attends to itself only)
//   -> pooling over each text's token states: mean, its first ([CLS]) or its last token
//   -> L2 normalisation (default), so a dot product is the cosine similarity
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/model/context.h"
#include "engine/text/tokenizer.h"

namespace ember {

enum class Pooling {
    None,  // no pooling: one vector per token
    Mean,  // the average of the text's token states
    Cls,   // the first token's state ([CLS])
    Last,  // the last token's state (decoder embedding models: gte-Qwen2, e5-mistral)
};
enum class Normalization { None, L2 };
// A text with more tokens than the context: cut to fit (keeping the closing [SEP]), or refused.
enum class Overflow { Truncate, Error };

// "none", "mean", "cls", "last" (and back); throws ember::Error naming the choices.
Pooling pooling_from_name(std::string_view name);
std::string_view pooling_name(Pooling pooling);

struct EmbedParams {
    // n_ctx 0: the training context, at most 4096; it bounds one text and one forward pass.
    ContextParams context;
    std::optional<Pooling> pooling;  // unset: the file's pooling_type, else mean for encoders
                                     // and last for decoders
    Normalization normalize = Normalization::L2;
    Overflow overflow = Overflow::Truncate;
};

// One text's result.
struct Embedding {
    std::vector<float> values;  // dimension() floats; n_tokens x dimension() for Pooling::None
    int n_tokens = 0;           // tokens read (after truncation)
    bool truncated = false;     // the text had more tokens than the context
};

// Called after each forward pass with the texts done so far and the total.
using EmbedProgress = std::function<void(size_t done, size_t total)>;

class Embedder {
  public:
    // Throws ember::Error for parameters out of their domain or a model without the states
    // embeddings need.
    Embedder(const Model& model, const Tokenizer& tokenizer, const EmbedParams& params);

    int dimension() const { return model_.config().n_embd; }
    Pooling pooling() const { return pooling_; }
    Normalization normalization() const { return params_.normalize; }
    int n_ctx() const { return context_.n_ctx(); }
    int n_threads() const { return context_.n_threads(); }
    const Model& model() const { return model_; }

    // The ids a text is read as (special tokens around it, none parsed inside it).
    std::vector<int32_t> tokenize(std::string_view text) const;

    // Embeds token sequences, packing as many as fit into each forward pass. Throws
    // ember::Error for an empty sequence, a token outside the vocabulary, or (Overflow::Error)
    // one longer than the context; CancelledError after cancel().
    std::vector<Embedding> embed_tokens(std::span<const std::vector<int32_t>> sequences,
                                        const EmbedProgress& progress = {});
    std::vector<Embedding> embed(std::span<const std::string> texts,
                                 const EmbedProgress& progress = {});

    // Safe from any thread: the running embed stops soon (between layers).
    void cancel() { cancel_.raise(); }
    // As Session::watch_cancel.
    void watch_cancel(const int32_t* flag) { cancel_.watch(flag); }

  private:
    const Model& model_;
    const Tokenizer& tokenizer_;
    EmbedParams params_;
    Pooling pooling_;
    Context context_;
    CancelFlag cancel_;
};

}  // namespace ember
