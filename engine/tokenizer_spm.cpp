// SentencePiece (BPE variant) as llama.cpp runs it on "llama" vocabularies.
//
// 1. Spaces become U+2581 "▁", with one prepended to the text (add_space_prefix).
// 2. The text starts as one symbol per UTF-8 character. Repeatedly merge the adjacent pair
//    whose concatenation is a vocabulary token of the highest score (leftmost on ties).
// 3. Each final symbol is a token: a merge only happens when its result is one. The symbols
//    never merged are single characters; those missing from the vocabulary fall back to
//    <0xXX> byte tokens (or <unk> if the vocabulary has none).
#include <queue>
#include <string>
#include <vector>

#include "engine/tokenizer.h"
#include "engine/utf8.h"

namespace ember {
namespace {

constexpr std::string_view kSpaceMark = "\xe2\x96\x81";  // U+2581 LOWER ONE EIGHTH BLOCK

class SpmTokenizer : public Tokenizer::Impl {
public:
    explicit SpmTokenizer(const Vocab& vocab) : vocab_(vocab) {}

    void encode_text(std::string_view raw, bool first_fragment, std::vector<int32_t>& out) const override;
    std::string piece(int32_t id, bool special) const override;
    bool strips_leading_space() const override { return true; }

private:
    struct Symbol {
        int prev, next;  // neighbours in the chain; -1 at the ends
        size_t start, length;  // bytes of the text; length 0 once merged into its left neighbour
    };
    struct Pair {
        int left, right;
        float score;
        size_t length;  // bytes of the merged text, to detect stale queue entries
    };
    struct PairOrder {  // highest score first; on ties, the leftmost pair
        bool operator()(const Pair& a, const Pair& b) const {
            return a.score < b.score || (a.score == b.score && a.left > b.left);
        }
    };
    struct Session {
        std::string text;
        std::vector<Symbol> symbols;
        std::priority_queue<Pair, std::vector<Pair>, PairOrder> queue;
    };

    void try_pair(Session& s, int left, int right) const;
    void emit(const Session& s, int symbol, std::vector<int32_t>& out) const;

    const Vocab& vocab_;
};

void SpmTokenizer::try_pair(Session& s, int left, int right) const {
    if (left < 0 || right < 0) return;
    const std::string_view merged(s.text.data() + s.symbols[left].start,
                                  s.symbols[left].length + s.symbols[right].length);
    const int32_t id = vocab_.find(merged);
    if (id < 0) return;
    s.queue.push({left, right, vocab_.score(id), merged.size()});
}

void SpmTokenizer::encode_text(std::string_view raw, bool first_fragment,
                               std::vector<int32_t>& out) const {
    Session s;
    if (vocab_.add_space_prefix && first_fragment) s.text += kSpaceMark;
    for (char c : raw) {
        if (c == ' ') {
            s.text += kSpaceMark;
        } else {
            s.text += c;
        }
    }
    if (s.text.empty()) return;

    for (size_t at = 0; at < s.text.size();) {
        const size_t length = std::min(utf8_sequence_length(static_cast<uint8_t>(s.text[at])),
                                       s.text.size() - at);
        const int index = static_cast<int>(s.symbols.size());
        s.symbols.push_back({index - 1, -1, at, length});
        at += length;
        if (at < s.text.size()) s.symbols.back().next = index + 1;
    }
    for (int i = 1; i < static_cast<int>(s.symbols.size()); ++i) try_pair(s, i - 1, i);

    while (!s.queue.empty()) {
        const Pair pair = s.queue.top();
        s.queue.pop();
        Symbol& left = s.symbols[pair.left];
        Symbol& right = s.symbols[pair.right];
        // Stale: one side was merged elsewhere since this pair was queued.
        if (left.length == 0 || right.length == 0 || left.length + right.length != pair.length) continue;
        left.length += right.length;
        right.length = 0;
        left.next = right.next;
        if (right.next >= 0) s.symbols[right.next].prev = pair.left;
        try_pair(s, left.prev, pair.left);
        try_pair(s, pair.left, left.next);
    }
    for (int i = 0; i != -1; i = s.symbols[i].next) emit(s, i, out);
}

void SpmTokenizer::emit(const Session& s, int symbol, std::vector<int32_t>& out) const {
    const std::string_view text(s.text.data() + s.symbols[symbol].start, s.symbols[symbol].length);
    if (const int32_t id = vocab_.find(text); id >= 0) {
        out.push_back(id);
        return;
    }
    for (char c : text) {  // byte fallback
        const int32_t id = vocab_.byte_token(static_cast<uint8_t>(c));
        out.push_back(id >= 0 ? id : vocab_.unk);
    }
}

std::string SpmTokenizer::piece(int32_t id, bool special) const {
    switch (vocab_.type(id)) {
        case TokenType::BYTE: return std::string(1, static_cast<char>(vocab_.byte_of(id)));
        case TokenType::CONTROL: return special ? std::string(vocab_.text(id)) : std::string();
        case TokenType::UNKNOWN: return "\xe2\x96\x85";  // U+2585, as llama.cpp shows unknowns
        case TokenType::USER_DEFINED: return std::string(vocab_.text(id));
        default: {
            // "▁" back to a space.
            std::string text(vocab_.text(id));
            std::string out;
            out.reserve(text.size());
            for (size_t i = 0; i < text.size();) {
                if (text.compare(i, kSpaceMark.size(), kSpaceMark) == 0) {
                    out += ' ';
                    i += kSpaceMark.size();
                } else {
                    out += text[i++];
                }
            }
            return out;
        }
    }
}

}  // namespace

std::unique_ptr<Tokenizer::Impl> make_spm_tokenizer(const Vocab& vocab) {
    return std::make_unique<SpmTokenizer>(vocab);
}

}  // namespace ember
