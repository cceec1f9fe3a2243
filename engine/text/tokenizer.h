// Text <-> token ids, entirely from the GGUF vocabulary:
//   tokenizer.ggml.model = "llama": SentencePiece (Llama 1/2, TinyLlama, Mistral)
//   tokenizer.ggml.model = "gpt2":  byte-level BPE with a model-specific pre-tokenizer
//                                   (Llama 3, SmolLM, Qwen2, ...)
//   tokenizer.ggml.model = "bert":  WordPiece (BERT, MiniLM, bge, nomic-embed)
// Output matches llama.cpp's tokenizer on its test vectors.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/text/vocab.h"

namespace ember {

// Bytes [begin, end) of a text.
struct TextRange {
    size_t begin = 0, end = 0;
};

class Tokenizer {
  public:
    // Throws ember::Error for a file without a vocabulary or of an unknown tokenizer model.
    explicit Tokenizer(const gguf::File& file);
    ~Tokenizer();

    const Vocab& vocab() const { return vocab_; }

    // add_special: BOS / EOS as the vocabulary's add_bos / add_eos flags ask.
    // parse_special: control tokens written in the text ("<s>") become their ids; user-defined
    // tokens are always matched.
    std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const;
    // The same, with `plain` ranges (sorted, not overlapping) in which control tokens are never
    // matched, as if parse_special were off there: a chat prompt's message texts, so that a
    // user who types "<|im_end|>" gets those characters, not the end of a turn. Tokens are the
    // same as encode()'s wherever the ranges hold no control token's text.
    std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special,
                                std::span<const TextRange> plain) const;

    // The bytes of one token. Control tokens give their text only when `special` is set.
    std::string piece(int32_t id, bool special = false) const;

    // The bytes of a sequence. SentencePiece: the space the encoder put before the text is
    // removed from the first piece, so decode(encode(s)) == s.
    std::string decode(std::span<const int32_t> ids, bool special = false) const;

    // The algorithms behind the interface (tokenizer_spm.cpp, tokenizer_bpe.cpp,
    // tokenizer_wpm.cpp).
    class Impl;

  private:
    // Special tokens that may be written in text, grouped by their first byte, longest first:
    // [0] user-defined only, [1] also control and unknown tokens (parse_special).
    using SpecialTable = std::array<std::vector<int32_t>, 256>;
    SpecialTable special_[2];

    Vocab vocab_;
    std::unique_ptr<Impl> impl_;
};

class Tokenizer::Impl {
  public:
    virtual ~Impl() = default;
    // Tokenizes plain text (no special tokens inside), appending ids.
    virtual void encode_text(std::string_view text, bool first_fragment,
                             std::vector<int32_t>& out) const = 0;
    virtual std::string piece(int32_t id, bool special) const = 0;
    // Whether the encoder put a space before the text (SentencePiece's prefix, WordPiece's
    // phantom space), which decode() takes back off.
    virtual bool strips_leading_space() const = 0;
};

std::unique_ptr<Tokenizer::Impl> make_spm_tokenizer(const Vocab& vocab);
std::unique_ptr<Tokenizer::Impl> make_bpe_tokenizer(const Vocab& vocab, const gguf::File& file);
std::unique_ptr<Tokenizer::Impl> make_wpm_tokenizer(const Vocab& vocab);

}  // namespace ember
