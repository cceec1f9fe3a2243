#include "engine/text/vocab.h"

#include <cstdio>

#include "formats/error.h"

namespace ember {

Vocab::Vocab(const gguf::File& file) {
    using gguf::ValueType;
    model = std::string(file.get_string("tokenizer.ggml.model", ""));
    pre = std::string(file.get_string("tokenizer.ggml.pre", "default"));
    const gguf::Value& tokens = file.get_array("tokenizer.ggml.tokens", ValueType::STRING);
    const uint64_t n = tokens.array_size();
    if (n == 0 || n > (1u << 30))
        throw Error(file.name() + ": tokenizer.ggml.tokens is empty or huge");
    texts_.reserve(n);
    for (uint64_t i = 0; i < n; ++i) texts_.push_back(tokens.string_at(i));
    if (file.find("tokenizer.ggml.scores")) {
        const gguf::Value& scores = file.get_array("tokenizer.ggml.scores", ValueType::F32);
        if (scores.array_size() != n)
            throw Error(file.name() + ": tokenizer.ggml.scores has the wrong length");
        scores_.reserve(n);
        for (uint64_t i = 0; i < n; ++i) scores_.push_back(scores.f32_at(i));
    }
    if (file.find("tokenizer.ggml.token_type")) {
        const gguf::Value& types = file.get_array("tokenizer.ggml.token_type", ValueType::I32);
        if (types.array_size() != n)
            throw Error(file.name() + ": tokenizer.ggml.token_type has the wrong length");
        types_.reserve(n);
        for (uint64_t i = 0; i < n; ++i) {
            const int64_t t = types.int_at(i);
            types_.push_back(t >= 0 && t <= 6 ? static_cast<TokenType>(t) : TokenType::NORMAL);
        }
    }
    ids_.reserve(n);
    for (uint64_t i = 0; i < n; ++i)
        ids_.emplace(texts_[i], static_cast<int32_t>(i));  // first wins

    const auto special_id = [&](const char* key, int32_t fallback) {
        const gguf::Value* v = file.find(key);
        if (v == nullptr) return fallback;
        const int64_t id = v->get_int();
        return id >= 0 && id < static_cast<int64_t>(n) ? static_cast<int32_t>(id) : -1;
    };
    const bool spm = model == "llama";
    const bool wpm = model == "bert";  // BERT's defaults, as llama.cpp sets them
    bos = special_id("tokenizer.ggml.bos_token_id", spm ? 1 : -1);
    eos = special_id("tokenizer.ggml.eos_token_id", spm ? 2 : -1);
    unk = special_id("tokenizer.ggml.unknown_token_id", spm ? 0 : wpm ? 100 : -1);
    pad = special_id("tokenizer.ggml.padding_token_id", -1);
    if (wpm) {
        bos = special_id("tokenizer.ggml.cls_token_id", bos >= 0 ? bos : 101);
        sep = special_id("tokenizer.ggml.seperator_token_id", 102);  // GGUF's spelling
        add_sep = true;
    }
    add_bos = file.get_bool("tokenizer.ggml.add_bos_token", spm || wpm);
    add_eos = file.get_bool("tokenizer.ggml.add_eos_token", false);
    add_space_prefix = file.get_bool("tokenizer.ggml.add_space_prefix", spm);

    for (int b = 0; b < 256; ++b) {
        char name[8];
        std::snprintf(name, sizeof(name), "<0x%02X>", b);
        byte_tokens_[b] = find(name);
    }
}

int32_t Vocab::find(std::string_view text) const {
    const auto it = ids_.find(text);
    return it == ids_.end() ? -1 : it->second;
}

uint8_t Vocab::byte_of(int32_t id) const {
    // "<0xAB>" -> 0xAB
    const std::string_view t = text(id);
    const auto hex = [](char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return 0;
    };
    if (t.size() != 6 || t.substr(0, 3) != "<0x" || t[5] != '>') return 0;
    return static_cast<uint8_t>(hex(t[3]) * 16 + hex(t[4]));
}

}  // namespace ember
