// WordPiece (BERT's tokenizer, tokenizer.ggml.model = "bert") as llama.cpp runs it.
//
// 1. Normalise each code point: replace it by the first code point of its NFD decomposition
//    (so "é" becomes "e": accents drop with the rest of the decomposition), drop NUL, U+FFFD
//    and control characters (Unicode categories Cc, Cf, Co, Cs), lower-case.
// 2. Split into words at white space; every punctuation character, ASCII symbol and CJK
//    ideograph is a word of its own.
// 3. Each word, with U+2581 "▁" before it, is cut greedily from the left into the longest
//    vocabulary tokens. llama.cpp's converter stored BERT's "##" continuation pieces without
//    the "##" and the word-initial pieces with the "▁" (the phantom space), so a plain
//    longest-match lookup finds both. A word that cannot be cut entirely becomes [UNK].
// Special tokens: [CLS] (the vocabulary's BOS) before, [SEP] after (add_special).
#include <algorithm>
#include <string>
#include <vector>

#include "engine/text/tokenizer.h"
#include "engine/text/unicode.h"
#include "engine/text/utf8.h"
#include "formats/error.h"

namespace ember {
namespace {

constexpr std::string_view kSpaceMark = "\xe2\x96\x81";  // U+2581

// CJK ideographs that BERT splits one by one (the ranges of BERT's _is_chinese_char, with the
// extension-E bound llama.cpp takes from Hugging Face's Rust code).
bool is_cjk(char32_t c) {
    return (c >= 0x4e00 && c <= 0x9fff) || (c >= 0x3400 && c <= 0x4dbf) ||
           (c >= 0x20000 && c <= 0x2a6df) || (c >= 0x2a700 && c <= 0x2b73f) ||
           (c >= 0x2b740 && c <= 0x2b81f) || (c >= 0x2b920 && c <= 0x2ceaf) ||
           (c >= 0xf900 && c <= 0xfaff) || (c >= 0x2f800 && c <= 0x2fa1f);
}

class WordPiece : public Tokenizer::Impl {
  public:
    explicit WordPiece(const Vocab& vocab) : vocab_(vocab) {
        for (int32_t id = 0; id < vocab.size(); ++id) {
            max_token_bytes_ = std::max(max_token_bytes_, vocab.text(id).size());
        }
    }

    void encode_text(std::string_view text, bool, std::vector<int32_t>& out) const override {
        for (const std::string& word : words(text)) {
            const std::string marked = std::string(kSpaceMark) + word;
            const size_t first_piece = out.size();
            for (size_t at = 0; at < marked.size();) {
                // The longest vocabulary token starting here.
                size_t length = std::min(marked.size() - at, max_token_bytes_);
                int32_t id = -1;
                for (; length > 0; --length) {
                    if ((id = vocab_.find(std::string_view(marked).substr(at, length))) >= 0) break;
                }
                if (id < 0) {  // no token fits: the whole word is unknown
                    out.resize(first_piece);
                    break;
                }
                out.push_back(id);
                at += length;
            }
            if (out.size() == first_piece) out.push_back(vocab_.unk);
        }
    }

    // A word's first piece carries the phantom space: a space in text. The text is the
    // normalised one (lower case, no accents), with a space before every punctuation mark.
    std::string piece(int32_t id, bool special) const override {
        if (vocab_.is_special(id) && !special) return {};
        std::string text(vocab_.text(id));
        if (text.rfind(kSpaceMark, 0) == 0) text.replace(0, kSpaceMark.size(), " ");
        return text;
    }

    bool strips_leading_space() const override { return true; }

  private:
    // Steps 1 and 2: normalised words.
    std::vector<std::string> words(std::string_view text) const {
        std::vector<std::string> words(1);
        const auto end_word = [&] {
            if (!words.back().empty()) words.emplace_back();
        };
        for (char32_t c : decode_utf8(text)) {
            if (unicode::is_white_space(c)) {
                end_word();
                continue;
            }
            c = unicode::nfd_first(c);
            using unicode::Category;
            const Category category = unicode::category(c);
            if (c == 0 || c == 0xfffd || category == Category::Cc || category == Category::Cf ||
                category == Category::Co || category == Category::Cs) {
                continue;
            }
            const char32_t lower = unicode::to_lower(c);
            const bool punctuation = unicode::is_punctuation(c);
            const bool ascii_symbol = c < 0x7f && unicode::is_symbol(c);
            if (punctuation || ascii_symbol || is_cjk(c)) {
                end_word();
                append_utf8(words.back(), lower);
                words.emplace_back();
            } else {
                append_utf8(words.back(), lower);
            }
        }
        if (words.back().empty()) words.pop_back();
        return words;
    }

    const Vocab& vocab_;
    size_t max_token_bytes_ = 0;
};

}  // namespace

std::unique_ptr<Tokenizer::Impl> make_wpm_tokenizer(const Vocab& vocab) {
    if (vocab.unk < 0) throw Error("WordPiece vocabulary without an unknown token");
    return std::make_unique<WordPiece>(vocab);
}

}  // namespace ember
