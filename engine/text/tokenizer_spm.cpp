// SentencePiece (BPE variant) as llama.cpp runs it on "llama" vocabularies.
//
// 1. Spaces become U+2581 "▁", with one prepended to the text (add_space_prefix).
// 2. The text starts as one symbol per UTF-8 character. Repeatedly merge the adjacent pair
//    whose concatenation is a vocabulary token of the highest score (leftmost on ties).
// 3. Each final symbol is a token: a merge only happens when its result is one. The symbols
//    never merged are single characters; those missing from the vocabulary fall back to
//    <0xXX> byte tokens (or <unk> if the vocabulary has none).
// Speed: a merge can only join two neighbouring characters that stand side by side inside some
// vocabulary token. Where two neighbours never do (typically a letter followed by "▁"), no
// merge can cross, so the text is cut there and each piece merged on its own: the same result,
// with a small priority queue that stays in cache.
#include <queue>
#include <string>
#include <unordered_set>
#include <vector>

#include "engine/text/tokenizer.h"
#include "engine/text/utf8.h"

namespace ember {
namespace {

constexpr std::string_view kSpaceMark = "\xe2\x96\x81";  // U+2581 LOWER ONE EIGHTH BLOCK

// Up to 4 bytes of one UTF-8 character, packed into an integer.
uint32_t pack_char(std::string_view ch) {
    uint32_t v = 0;
    for (size_t i = 0; i < ch.size() && i < 4; ++i)
        v |= static_cast<uint32_t>(static_cast<uint8_t>(ch[i])) << (8 * i);
    return v;
}
uint64_t pack_pair(std::string_view a, std::string_view b) {
    return static_cast<uint64_t>(pack_char(a)) << 32 | pack_char(b);
}
// The characters of a string, as views.
std::vector<std::string_view> utf8_chars(std::string_view text) {
    std::vector<std::string_view> chars;
    for (size_t at = 0; at < text.size();) {
        const size_t length =
            std::min(utf8_sequence_length(static_cast<uint8_t>(text[at])), text.size() - at);
        chars.push_back(text.substr(at, length));
        at += length;
    }
    return chars;
}

class SpmTokenizer : public Tokenizer::Impl {
  public:
    explicit SpmTokenizer(const Vocab& vocab) : vocab_(vocab) {
        for (int32_t id = 0; id < vocab.size(); ++id) {
            const auto chars = utf8_chars(vocab.text(id));
            for (size_t i = 1; i < chars.size(); ++i)
                inner_pairs_.insert(pack_pair(chars[i - 1], chars[i]));
        }
    }

    void encode_text(std::string_view raw, bool first_fragment,
                     std::vector<int32_t>& out) const override;
    std::string piece(int32_t id, bool special) const override;
    bool strips_leading_space() const override { return vocab_.add_space_prefix; }

  private:
    struct Symbol {
        int prev, next;        // neighbours in the chain; -1 at the ends
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
    void merge_segment(Session& s, size_t begin, size_t end, std::vector<int32_t>& out) const;
    void emit(const Session& s, int symbol, std::vector<int32_t>& out) const;

    const Vocab& vocab_;
    std::unordered_set<uint64_t> inner_pairs_;  // neighbouring characters inside some token
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
    const std::vector<std::string_view> chars = utf8_chars(s.text);
    size_t segment_start = 0;
    for (size_t i = 1; i <= chars.size(); ++i) {
        if (i == chars.size() || !inner_pairs_.count(pack_pair(chars[i - 1], chars[i]))) {
            const size_t begin = chars[segment_start].data() - s.text.data();
            const size_t end = i == chars.size() ? s.text.size() : chars[i].data() - s.text.data();
            merge_segment(s, begin, end, out);
            segment_start = i;
        }
    }
}

// Steps 2 and 3 on the bytes [begin, end) of the session's text.
void SpmTokenizer::merge_segment(Session& s, size_t begin, size_t end,
                                 std::vector<int32_t>& out) const {
    s.symbols.clear();
    for (size_t at = begin; at < end;) {
        const size_t length =
            std::min(utf8_sequence_length(static_cast<uint8_t>(s.text[at])), end - at);
        const int index = static_cast<int>(s.symbols.size());
        s.symbols.push_back({index - 1, -1, at, length});
        at += length;
        if (at < end) s.symbols.back().next = index + 1;
    }
    if (s.symbols.empty()) return;
    for (int i = 1; i < static_cast<int>(s.symbols.size()); ++i) try_pair(s, i - 1, i);

    while (!s.queue.empty()) {
        const Pair pair = s.queue.top();
        s.queue.pop();
        Symbol& left = s.symbols[pair.left];
        Symbol& right = s.symbols[pair.right];
        // Stale: one side was merged elsewhere since this pair was queued.
        if (left.length == 0 || right.length == 0 || left.length + right.length != pair.length)
            continue;
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
        case TokenType::BYTE:
            return std::string(1, static_cast<char>(vocab_.byte_of(id)));
        case TokenType::CONTROL:
            return special ? std::string(vocab_.text(id)) : std::string();
        case TokenType::UNKNOWN:
            return "\xe2\x96\x85";  // U+2585, as llama.cpp shows unknowns
        case TokenType::USER_DEFINED:
            return std::string(vocab_.text(id));
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
