#include "engine/grammar/token_grammar.h"

#include <algorithm>
#include <limits>

#include "engine/text/tokenizer.h"
#include "formats/error.h"

namespace ember {

namespace {

// A few dozen states cover a JSON schema's recurring places; each costs one byte per token.
constexpr size_t kCachedMasks = 32;

}  // namespace

std::shared_ptr<const GrammarVocabulary> make_grammar_vocabulary(const Tokenizer& tokenizer,
                                                                 std::vector<int32_t> shown) {
    const Vocab& vocab = tokenizer.vocab();
    std::vector<std::string> texts(static_cast<size_t>(vocab.size()));
    for (int32_t t = 0; t < vocab.size(); ++t) {
        const TokenType type = vocab.type(t);
        if (std::binary_search(shown.begin(), shown.end(), t)) {
            texts[t] = tokenizer.piece(t, /*special=*/true);
            continue;
        }
        // Control, unknown and unused tokens are structure, not text: a grammar over text
        // never allows them (end-of-text is TokenGrammar's own case).
        if (type == TokenType::CONTROL || type == TokenType::UNKNOWN || type == TokenType::UNUSED ||
            t == vocab.eos || t == vocab.bos) {
            continue;
        }
        texts[t] = tokenizer.piece(t);
    }
    return std::make_shared<const GrammarVocabulary>(std::move(texts), std::move(shown));
}

TokenGrammar::TokenGrammar(std::shared_ptr<const Grammar> grammar,
                           std::shared_ptr<const GrammarVocabulary> vocabulary,
                           std::vector<int32_t> end_tokens)
    : vocabulary_(std::move(vocabulary)),
      matcher_(std::move(grammar)),
      end_tokens_(std::move(end_tokens)) {
    std::erase_if(end_tokens_, [&](int32_t t) { return t < 0 || t >= vocabulary_->size(); });
}

bool TokenGrammar::is_end(int32_t token) const {
    return std::find(end_tokens_.begin(), end_tokens_.end(), token) != end_tokens_.end();
}

bool TokenGrammar::allows(int32_t token) const {
    if (token < 0 || token >= vocabulary_->size()) return false;
    if (is_end(token)) return matcher_.can_end();
    const std::string& text = vocabulary_->text(token);
    return !text.empty() && matcher_.accepts(text);
}

bool TokenGrammar::mask(float* logits) {
    saved_end_logits_.clear();
    for (int32_t t : end_tokens_) saved_end_logits_.push_back(logits[t]);
    auto hit = cache_.begin();
    while (hit != cache_.end() && !(hit->state == matcher_.state())) ++hit;
    if (hit == cache_.end()) {
        if (cache_.size() == kCachedMasks) cache_.pop_back();
        cache_.push_front({matcher_.state(), {}});
        vocabulary_->allowed(matcher_, cache_.front().allowed);
    } else if (hit != cache_.begin()) {
        cache_.splice(cache_.begin(), cache_, hit);
    }
    const std::vector<uint8_t>& allowed = cache_.front().allowed;
    const float refused = -std::numeric_limits<float>::infinity();
    bool any = false;
    for (int32_t t = 0; t < vocabulary_->size(); ++t) {
        if (allowed[t]) {
            any = true;
        } else {
            logits[t] = refused;
        }
    }
    // The end tokens' texts are "" in the vocabulary, so the walk never allows them.
    const bool can_end = matcher_.can_end() && !end_tokens_.empty();
    if (can_end) {
        for (size_t i = 0; i < end_tokens_.size(); ++i)
            logits[end_tokens_[i]] = saved_end_logits_[i];
    }
    return any || can_end;
}

void TokenGrammar::accept(int32_t token) {
    if (is_end(token) && matcher_.can_end()) return;
    if (!allows(token) || !matcher_.advance(vocabulary_->text(token))) {
        throw Error("grammar: token " + std::to_string(token) + " does not fit the grammar here");
    }
}

}  // namespace ember
