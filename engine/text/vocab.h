// The vocabulary of a model, from GGUF's tokenizer.ggml.* metadata: every token's text, score
// and type, and the special token ids.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "formats/gguf.h"

namespace ember {

// tokenizer.ggml.token_type values (SentencePiece's piece types).
enum class TokenType : int32_t {
    UNDEFINED = 0,
    NORMAL = 1,
    UNKNOWN = 2,
    CONTROL = 3,       // <s>, </s>, <|im_start|>: structure, not text
    USER_DEFINED = 4,  // always matched as a whole in input text
    UNUSED = 5,
    BYTE = 6,  // <0x41>: one raw byte (SentencePiece byte fallback)
};

class Vocab {
  public:
    explicit Vocab(const gguf::File& file);

    // tokenizer.ggml.model: "llama" (SentencePiece), "gpt2" (BPE) or "bert" (WordPiece)
    std::string model;
    std::string pre;  // tokenizer.ggml.pre: the BPE pre-tokenizer's name
    int32_t bos = -1, eos = -1, unk = -1, pad = -1;  // -1: none
    int32_t sep = -1;  // WordPiece's [SEP], after a text; its [CLS] before is `bos`
    bool add_bos = false, add_eos = false, add_sep = false;
    bool add_space_prefix = true;  // SentencePiece: a space before the text

    int32_t size() const { return static_cast<int32_t>(texts_.size()); }
    std::string_view text(int32_t id) const { return texts_[id]; }
    float score(int32_t id) const { return scores_.empty() ? 0.0f : scores_[id]; }
    TokenType type(int32_t id) const { return types_.empty() ? TokenType::NORMAL : types_[id]; }
    // The id of a token by its exact text, or -1.
    int32_t find(std::string_view text) const;
    // The token of one raw byte: <0xXX> for SentencePiece; -1 if there is none.
    int32_t byte_token(uint8_t byte) const { return byte_tokens_[byte]; }
    // The byte a BYTE token stands for.
    uint8_t byte_of(int32_t id) const;

    bool is_special(int32_t id) const {
        const TokenType t = type(id);
        return t == TokenType::CONTROL || t == TokenType::USER_DEFINED || t == TokenType::UNKNOWN;
    }

  private:
    std::vector<std::string_view> texts_;  // views into the mapped file
    std::vector<float> scores_;
    std::vector<TokenType> types_;
    std::unordered_map<std::string_view, int32_t> ids_;
    int32_t byte_tokens_[256];
};

}  // namespace ember
