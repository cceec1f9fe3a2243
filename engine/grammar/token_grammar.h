// A grammar applied to one generation's tokens: which token may come next, and moving past
// the token chosen. The sampler asks allows() for the token it drew and, only when that is
// refused, mask() for the whole vocabulary (llama.cpp's order: one check per step in the usual
// case). Masks are remembered by matcher state, because constrained output returns to the same
// states again and again (inside a JSON string, after a comma), so a repeated state costs a
// copy, not a walk of the vocabulary.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <vector>

#include "engine/grammar/grammar.h"

namespace ember {

class Tokenizer;

// The vocabulary as a grammar sees it: each token's text (control tokens as "", never
// allowed, but for those in `shown`, sorted: a chat format's markers, TurnRules::shown_tokens).
// Built once per tokenizer and shown set; the caller keeps it (Session, the server's scheduler).
std::shared_ptr<const GrammarVocabulary> make_grammar_vocabulary(const Tokenizer& tokenizer,
                                                                 std::vector<int32_t> shown = {});

class TokenGrammar {
  public:
    // end_tokens: the tokens that end the text (end-of-sequence, a chat's end of turn),
    // allowed wherever the grammar may end; none: a finished grammar ends the text (see
    // finished()).
    TokenGrammar(std::shared_ptr<const Grammar> grammar,
                 std::shared_ptr<const GrammarVocabulary> vocabulary,
                 std::vector<int32_t> end_tokens);

    // Matching stops (GrammarLimitError) past `deadline` or once *cancelled is set.
    void set_limits(std::chrono::steady_clock::time_point deadline,
                    const std::atomic<bool>* cancelled) {
        matcher_.set_limits(deadline, cancelled);
    }

    bool allows(int32_t token) const;
    // Sets every refused token's logit to -infinity; returns false if no token is allowed.
    bool mask(float* logits);
    // Moves past a token; throws ember::Error if the grammar refuses it.
    void accept(int32_t token);
    // Moves past text written before the grammar held it (a lazy grammar's trigger and what
    // followed it in the same token); false, and nothing moved, if the grammar refuses it.
    bool accept_text(std::string_view text) { return matcher_.advance(text); }
    // Nothing more can follow: the text is a whole sentence and no token can extend it.
    bool finished() const { return !matcher_.can_continue(); }
    const GrammarMatcher& matcher() const { return matcher_; }

  private:
    bool is_end(int32_t token) const;

    std::shared_ptr<const GrammarVocabulary> vocabulary_;
    GrammarMatcher matcher_;
    std::vector<int32_t> end_tokens_;
    std::vector<float> saved_end_logits_;  // mask(): the end tokens' logits before masking
    // The allowed tokens of recently seen matcher states, most recent first.
    struct CachedMask {
        GrammarMatcher::State state;
        std::vector<uint8_t> allowed;
    };
    std::list<CachedMask> cache_;
};

}  // namespace ember
