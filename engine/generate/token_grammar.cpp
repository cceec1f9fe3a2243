#include "engine/generate/token_grammar.h"

#include <limits>

#include "engine/text/tokenizer.h"
#include "formats/error.h"

namespace ember {

namespace {

// A few dozen states cover a JSON schema's recurring places; each costs one byte per token.
constexpr size_t kCachedMasks = 32;

bool same_state(const GrammarMatcher::State& a, const GrammarMatcher::State& b) {
    return a.partial == b.partial && a.partial_left == b.partial_left && a.stacks == b.stacks;
}

}  // namespace

std::shared_ptr<const GrammarVocabulary> make_grammar_vocabulary(const Tokenizer& tokenizer) {
    const Vocab& vocab = tokenizer.vocab();
    std::vector<std::string> texts(static_cast<size_t>(vocab.size()));
    for (int32_t t = 0; t < vocab.size(); ++t) {
        const TokenType type = vocab.type(t);
        // Control, unknown and unused tokens are structure, not text: a grammar over text
        // never allows them (end-of-text is TokenGrammar's own case).
        if (type == TokenType::CONTROL || type == TokenType::UNKNOWN || type == TokenType::UNUSED ||
            t == vocab.eos || t == vocab.bos) {
            continue;
        }
        texts[t] = tokenizer.piece(t);
    }
    return std::make_shared<const GrammarVocabulary>(std::move(texts));
}

TokenGrammar::TokenGrammar(std::shared_ptr<const Grammar> grammar,
                           std::shared_ptr<const GrammarVocabulary> vocabulary, int32_t eos)
    : vocabulary_(std::move(vocabulary)), matcher_(std::move(grammar)), eos_(eos) {}

bool TokenGrammar::allows(int32_t token) const {
    if (token < 0 || token >= vocabulary_->size()) return false;
    if (token == eos_) return matcher_.can_end();
    const std::string& text = vocabulary_->text(token);
    return !text.empty() && matcher_.accepts(text);
}

bool TokenGrammar::mask(float* logits) {
    auto hit = cache_.begin();
    while (hit != cache_.end() && !same_state(hit->state, matcher_.state())) ++hit;
    if (hit == cache_.end()) {
        if (cache_.size() == kCachedMasks) cache_.pop_back();
        cache_.push_front({matcher_.state(), {}});
        vocabulary_->allowed(matcher_, cache_.front().allowed);
    } else if (hit != cache_.begin()) {
        cache_.splice(cache_.begin(), cache_, hit);
    }
    const std::vector<uint8_t>& allowed = cache_.front().allowed;
    bool any = false;
    for (int32_t t = 0; t < vocabulary_->size(); ++t) {
        if (allowed[t]) {
            any = true;
        } else if (t != eos_) {
            logits[t] = -std::numeric_limits<float>::infinity();
        }
    }
    if (eos_ >= 0 && eos_ < vocabulary_->size()) {
        if (matcher_.can_end()) {
            any = true;
        } else {
            logits[eos_] = -std::numeric_limits<float>::infinity();
        }
    }
    return any;
}

void TokenGrammar::accept(int32_t token) {
    if (token == eos_ && matcher_.can_end()) return;
    if (!allows(token) || !matcher_.advance(vocabulary_->text(token))) {
        throw Error("grammar: token " + std::to_string(token) + " does not fit the grammar here");
    }
}

}  // namespace ember
