#include "engine/text/tokenizer.h"

#include <algorithm>

#include "formats/error.h"

namespace ember {
namespace {

struct Fragment {
    std::string_view text;  // raw text, when token < 0
    int32_t token = -1;     // a special token found in the text
};

// Splits text around the special tokens written in it (longest match first), as llama.cpp
// does before tokenizing. Inside the `plain` byte ranges (sorted, not overlapping) only
// `plain_table`'s tokens are matched, and no match outside them may reach into one.
template <typename Table>
std::vector<Fragment> split_special(const Vocab& vocab, std::string_view text, const Table& table,
                                    const Table& plain_table,
                                    std::span<const TextRange> plain = {}) {
    std::vector<Fragment> fragments;
    size_t raw_start = 0, i = 0;
    size_t r = 0;  // the first plain range that does not end before i
    while (i < text.size()) {
        while (r < plain.size() && plain[r].end <= i) ++r;
        const bool inside = r < plain.size() && plain[r].begin <= i;
        // A match may not cross into the next range (or out of this one).
        const size_t limit = r == plain.size() ? text.size()
                             : inside          ? plain[r].end
                                               : plain[r].begin;
        int32_t match = -1;
        for (int32_t id : (inside ? plain_table : table)[static_cast<uint8_t>(text[i])]) {
            if (i + vocab.text(id).size() <= limit &&
                text.substr(i, vocab.text(id).size()) == vocab.text(id)) {
                match = id;
                break;
            }
        }
        if (match < 0) {
            ++i;
            continue;
        }
        if (i > raw_start) fragments.push_back({text.substr(raw_start, i - raw_start), -1});
        fragments.push_back({{}, match});
        i += vocab.text(match).size();
        raw_start = i;
    }
    if (raw_start < text.size()) fragments.push_back({text.substr(raw_start), -1});
    return fragments;
}

}  // namespace

Tokenizer::Tokenizer(const gguf::File& file) : vocab_(file) {
    if (vocab_.model == "llama") {
        impl_ = make_spm_tokenizer(vocab_);
    } else if (vocab_.model == "gpt2") {
        impl_ = make_bpe_tokenizer(vocab_, file);
    } else if (vocab_.model == "bert") {
        impl_ = make_wpm_tokenizer(vocab_);
    } else {
        throw Error(file.name() + ": tokenizer model '" + vocab_.model +
                    "' is not supported (ember reads 'llama', 'gpt2' and 'bert')");
    }
    // User-defined tokens are always matched in text; control and unknown tokens only when
    // the caller asks (parse_special).
    for (int32_t id = 0; id < vocab_.size(); ++id) {
        const TokenType type = vocab_.type(id);
        if (vocab_.text(id).empty()) continue;
        const auto first = static_cast<uint8_t>(vocab_.text(id)[0]);
        if (type == TokenType::USER_DEFINED) special_[0][first].push_back(id);
        if (type == TokenType::USER_DEFINED || type == TokenType::CONTROL ||
            type == TokenType::UNKNOWN) {
            special_[1][first].push_back(id);
        }
    }
    for (SpecialTable& table : special_) {
        for (auto& ids : table) {
            std::stable_sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) {
                return vocab_.text(a).size() > vocab_.text(b).size();
            });
        }
    }
}

Tokenizer::~Tokenizer() = default;

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special,
                                       bool parse_special) const {
    return encode(text, add_special, parse_special, {});
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special, bool parse_special,
                                       std::span<const TextRange> plain) const {
    for (size_t k = 0; k < plain.size(); ++k) {
        if (plain[k].begin > plain[k].end || plain[k].end > text.size() ||
            (k > 0 && plain[k].begin < plain[k - 1].end)) {
            throw Error("tokenizer: plain-text ranges out of order or outside the text");
        }
    }
    std::vector<int32_t> out;
    if (add_special && vocab_.add_bos && vocab_.bos >= 0) out.push_back(vocab_.bos);
    bool after_special = true;  // the first fragment counts as following a special token
    for (const Fragment& f :
         split_special(vocab_, text, special_[parse_special ? 1 : 0], special_[0], plain)) {
        if (f.token >= 0) {
            out.push_back(f.token);
            after_special = true;
        } else {
            impl_->encode_text(f.text, after_special, out);
            after_special = false;
        }
    }
    if (add_special && vocab_.add_eos && vocab_.eos >= 0) out.push_back(vocab_.eos);
    if (add_special && vocab_.add_sep && vocab_.sep >= 0) out.push_back(vocab_.sep);
    return out;
}

std::string Tokenizer::piece(int32_t id, bool special) const {
    if (id < 0 || id >= vocab_.size()) return {};
    return impl_->piece(id, special);
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool special) const {
    std::string text;
    for (int32_t id : ids) text += piece(id, special);
    // SentencePiece put a space before the text; take it back off. BOS (control) pieces are
    // empty, so the first text piece is the one that carries it.
    if (impl_->strips_leading_space() && !text.empty() && text[0] == ' ') {
        text.erase(0, 1);
    }
    return text;
}

}  // namespace ember
