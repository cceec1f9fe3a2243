// Byte-level BPE (GPT-2's scheme, used by Llama 3, SmolLM, Qwen2, ...), as llama.cpp runs it.
//
// 1. Pre-tokenize: split the text with the model's regular expressions (chosen by
//    tokenizer.ggml.pre). Each expression splits every piece further into its matches and
//    the gaps between them (engine/text/regex.h matches them; Unicode categories and white
//    space come from engine/text/unicode.h).
// 2. Map every byte of a piece to a printable code point (GPT-2's bytes_to_unicode), the
//    alphabet the vocabulary and merges are written in.
// 3. Merge: start from single characters; repeatedly merge the adjacent pair with the lowest
//    rank in tokenizer.ggml.merges (leftmost on ties). Each final symbol is a token.
// Decoding maps the code points back to bytes.
#include <memory>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/text/regex.h"
#include "engine/text/tokenizer.h"
#include "engine/text/utf8.h"
#include "formats/error.h"

namespace ember {
namespace {

// ---- pre-tokenizer expressions, by tokenizer.ggml.pre (from llama.cpp's llama-vocab.cpp) ----

constexpr const char* kGpt2 =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
constexpr const char* kLlama3 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
constexpr const char* kQwen2 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
constexpr const char* kHanHangul = "[\\u4e00-\\u9fa5\\u0800-\\u4e00\\uac00-\\ud7ff]+";

struct PreTokenizer {
    std::vector<std::string> expressions;
    bool ignore_merges = false;  // a piece that is already a token is taken whole (Llama 3)
};

PreTokenizer pre_tokenizer_for(const std::string& name, const std::string& file_name) {
    if (name == "default" || name == "gpt-2" || name == "phi-2" || name == "mpt" ||
        name == "olmo" || name == "jais" || name == "roberta-bpe" || name.rfind("jina-", 0) == 0) {
        return {{kGpt2}, false};
    }
    if (name == "llama3" || name == "llama-v3" || name == "llama-bpe" || name == "falcon3") {
        return {{kLlama3}, true};
    }
    if (name == "dbrx" || name == "smaug-bpe" || name == "chatglm-bpe") return {{kLlama3}, false};
    if (name == "qwen2" || name == "stablelm2" || name == "megrez") return {{kQwen2}, false};
    if (name == "starcoder" || name == "refact" || name == "command-r" || name == "smollm" ||
        name == "codeshell" || name == "exaone" || name == "minerva-7b") {
        return {{"\\p{N}", kGpt2}, false};
    }
    if (name == "falcon") {
        return {{"[\\p{P}\\$\\+<=>\\^~\\|`]+", kGpt2, "[0-9][0-9][0-9]"}, false};
    }
    if (name == "deepseek-llm") {
        return {{"[\\r\\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", kHanHangul, "\\p{N}+"}, false};
    }
    if (name == "deepseek-coder") {
        return {{"[\\r\\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", kHanHangul, "\\p{N}"}, false};
    }
    throw Error(file_name + ": unknown BPE pre-tokenizer '" + name +
                "' (tokenizer.ggml.pre); supported: default, gpt-2, llama3, llama-bpe, qwen2, "
                "smollm, starcoder, refact, deepseek-llm, deepseek-coder, falcon, mpt, ...");
}

// ---- GPT-2's byte <-> printable code point map ----

struct ByteMap {
    char32_t byte_to_cp[256];
    std::unordered_map<char32_t, uint8_t> cp_to_byte;
    ByteMap() {
        int next = 256;
        for (int b = 0; b < 256; ++b) {
            const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
            byte_to_cp[b] = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(next++);
            cp_to_byte[byte_to_cp[b]] = static_cast<uint8_t>(b);
        }
    }
};

class BpeTokenizer : public Tokenizer::Impl {
  public:
    BpeTokenizer(const Vocab& vocab, const gguf::File& file);

    void encode_text(std::string_view text, bool first_fragment,
                     std::vector<int32_t>& out) const override;
    std::string piece(int32_t id, bool special) const override;
    bool strips_leading_space() const override { return false; }

  private:
    void encode_word(const std::string& word, std::vector<int32_t>& out) const;
    int rank(std::string_view left, std::string_view right) const;

    const Vocab& vocab_;
    PreTokenizer pre_;
    std::vector<Regex> patterns_;
    std::unordered_map<std::string, int> merge_ranks_;  // "left right" -> rank
    ByteMap bytes_;
};

BpeTokenizer::BpeTokenizer(const Vocab& vocab, const gguf::File& file)
    : vocab_(vocab), pre_(pre_tokenizer_for(vocab.pre, file.name())) {
    for (const std::string& expression : pre_.expressions) patterns_.emplace_back(expression);
    const gguf::Value& merges = file.get_array("tokenizer.ggml.merges", gguf::ValueType::STRING);
    merge_ranks_.reserve(merges.array_size());
    for (uint64_t i = 0; i < merges.array_size(); ++i) {
        merge_ranks_.emplace(std::string(merges.string_at(i)), static_cast<int>(i));
    }
}

int BpeTokenizer::rank(std::string_view left, std::string_view right) const {
    std::string key;
    key.reserve(left.size() + right.size() + 1);
    key.append(left).append(" ").append(right);
    const auto it = merge_ranks_.find(key);
    return it == merge_ranks_.end() ? -1 : it->second;
}

void BpeTokenizer::encode_text(std::string_view text, bool, std::vector<int32_t>& out) const {
    const std::vector<char32_t> cps = decode_utf8(text);
    if (cps.empty()) return;
    std::vector<std::pair<size_t, size_t>> pieces = {{0, cps.size()}};  // code point ranges
    for (const Regex& pattern : patterns_) {
        std::vector<std::pair<size_t, size_t>> next;
        for (const auto& [begin, end] : pieces) {
            size_t gap_start = begin;
            while (const auto match = pattern.find(cps.data(), gap_start, end)) {
                const auto [match_begin, match_end] = *match;
                if (match_begin > gap_start) next.emplace_back(gap_start, match_begin);
                next.emplace_back(match_begin, match_end);
                gap_start = match_end;
            }
            if (gap_start < end) next.emplace_back(gap_start, end);
        }
        pieces = std::move(next);
    }

    std::string word;
    for (const auto& [begin, end] : pieces) {
        std::string utf8;
        for (size_t i = begin; i < end; ++i) append_utf8(utf8, cps[i]);
        word.clear();
        for (char c : utf8) append_utf8(word, bytes_.byte_to_cp[static_cast<uint8_t>(c)]);
        encode_word(word, out);
    }
}

void BpeTokenizer::encode_word(const std::string& word, std::vector<int32_t>& out) const {
    if (pre_.ignore_merges) {
        if (const int32_t id = vocab_.find(word); id >= 0) {
            out.push_back(id);
            return;
        }
    }
    struct Symbol {
        int prev, next;
        size_t start, length;
    };
    struct Pair {
        int left, right, rank;
        size_t length;
    };
    struct PairOrder {  // lowest rank first; on ties, the leftmost pair
        bool operator()(const Pair& a, const Pair& b) const {
            return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
        }
    };
    std::vector<Symbol> symbols;
    for (size_t at = 0; at < word.size();) {
        const size_t length =
            std::min(utf8_sequence_length(static_cast<uint8_t>(word[at])), word.size() - at);
        const int index = static_cast<int>(symbols.size());
        symbols.push_back({index - 1, -1, at, length});
        at += length;
        if (at < word.size()) symbols.back().next = index + 1;
    }
    std::priority_queue<Pair, std::vector<Pair>, PairOrder> queue;
    const auto text_of = [&](int i) {
        return std::string_view(word).substr(symbols[i].start, symbols[i].length);
    };
    const auto try_pair = [&](int left, int right) {
        if (left < 0 || right < 0) return;
        const int r = rank(text_of(left), text_of(right));
        if (r >= 0) queue.push({left, right, r, symbols[left].length + symbols[right].length});
    };
    for (int i = 1; i < static_cast<int>(symbols.size()); ++i) try_pair(i - 1, i);
    while (!queue.empty()) {
        const Pair pair = queue.top();
        queue.pop();
        Symbol& left = symbols[pair.left];
        Symbol& right = symbols[pair.right];
        if (left.length == 0 || right.length == 0 || left.length + right.length != pair.length)
            continue;
        left.length += right.length;
        right.length = 0;
        left.next = right.next;
        if (right.next >= 0) symbols[right.next].prev = pair.left;
        try_pair(left.prev, pair.left);
        try_pair(pair.left, left.next);
    }
    for (int i = 0; i != -1; i = symbols[i].next) {
        const std::string_view text = text_of(i);
        if (const int32_t id = vocab_.find(text); id >= 0) {
            out.push_back(id);
            continue;
        }
        for (char c : text) {  // no token: single-byte tokens where they exist
            if (const int32_t id = vocab_.find(std::string_view(&c, 1)); id >= 0) out.push_back(id);
        }
    }
}

std::string BpeTokenizer::piece(int32_t id, bool special) const {
    const TokenType type = vocab_.type(id);
    if (type == TokenType::CONTROL) return special ? std::string(vocab_.text(id)) : std::string();
    if (type == TokenType::USER_DEFINED) return std::string(vocab_.text(id));
    if (type != TokenType::NORMAL) return {};
    std::string out;
    for (char32_t cp : decode_utf8(vocab_.text(id))) {
        const auto it = bytes_.cp_to_byte.find(cp);
        if (it != bytes_.cp_to_byte.end()) {
            out += static_cast<char>(it->second);
        } else {
            append_utf8(out, cp);
        }
    }
    return out;
}

}  // namespace

std::unique_ptr<Tokenizer::Impl> make_bpe_tokenizer(const Vocab& vocab, const gguf::File& file) {
    return std::make_unique<BpeTokenizer>(vocab, file);
}

}  // namespace ember
