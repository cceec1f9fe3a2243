#include "engine/generate/turn.h"

#include <algorithm>

#include "engine/generate/reasoning.h"
#include "engine/generate/tool_calls.h"
#include "engine/model/context.h"
#include "formats/error.h"

namespace ember {

void add_chat_ends(TurnRules& rules, const ChatFormat& format, const Tokenizer& tokenizer) {
    for (const std::string& marker : format.stop_strings()) {
        rules.stop_strings.push_back(marker);
        const std::vector<int32_t> ids = tokenizer.encode(marker, false, true);
        if (ids.size() == 1 && std::find(rules.end_tokens.begin(), rules.end_tokens.end(),
                                         ids[0]) == rules.end_tokens.end()) {
            rules.end_tokens.push_back(ids[0]);
        }
    }
    std::vector<std::string_view> markers = ToolCallFormat::for_template(format.source()).markers();
    for (std::string_view m : ReasoningFormat::for_template(format.source()).markers())
        markers.push_back(m);
    for (std::string_view marker : markers) {
        const std::vector<int32_t> ids = tokenizer.encode(marker, false, true);
        if (ids.size() == 1 && tokenizer.vocab().type(ids[0]) == TokenType::CONTROL)
            rules.shown_tokens.push_back(ids[0]);
    }
    std::sort(rules.shown_tokens.begin(), rules.shown_tokens.end());
    rules.shown_tokens.erase(std::unique(rules.shown_tokens.begin(), rules.shown_tokens.end()),
                             rules.shown_tokens.end());
}

int shift_context(Context& context, int seq, std::vector<int32_t>& tokens, int n_keep,
                  int32_t bos) {
    const int n = static_cast<int>(tokens.size());  // what the sequence holds
    const int keep = std::min(std::max(n_keep, !tokens.empty() && tokens[0] == bos ? 1 : 0),
                              n - 2);  // something must go
    if (keep < 0) return 0;
    const int discard = (n - keep) / 2;
    context.shift(seq, keep, discard);
    tokens.erase(tokens.begin() + keep, tokens.begin() + keep + discard);
    return discard;
}

Turn::Turn(const Tokenizer& tokenizer, Sampler& sampler, TurnRules rules,
           std::shared_ptr<const GrammarVocabulary>& grammar_tables)
    : tokenizer_(tokenizer),
      sampler_(sampler),
      rules_(std::move(rules)),
      stops_(rules_.stop_strings) {
    if (rules_.grammar) {
        if (!grammar_tables || grammar_tables->shown() != rules_.shown_tokens)
            grammar_tables = make_grammar_vocabulary(tokenizer_, rules_.shown_tokens);
        std::vector<int32_t> ends = rules_.end_tokens;
        if (!rules_.ignore_eos && tokenizer_.vocab().eos >= 0)
            ends.push_back(tokenizer_.vocab().eos);
        grammar_.emplace(rules_.grammar, grammar_tables, std::move(ends));
        grammar_holds_ = rules_.grammar_trigger.empty();
    }
}

void Turn::set_limits(std::chrono::steady_clock::time_point deadline,
                      const std::atomic<bool>* cancelled) {
    if (grammar_) grammar_->set_limits(deadline, cancelled);
}

Turn::Step Turn::next(const float* logits, int n_vocab) {
    Step step;
    if (reason_) {
        step.stop = reason_;
        return step;
    }
    const auto ends = [&](StopReason why) {
        step.text += end(why);
        step.stop = reason_;  // a stop string in the text held back turns it into StopString
        return step;
    };
    if (rules_.max_tokens >= 0 && n_generated() >= rules_.max_tokens)
        return ends(StopReason::Limit);
    TokenGrammar* const grammar = grammar_ && grammar_holds_ ? &*grammar_ : nullptr;
    // A grammar whose text is whole with nothing more allowed: no need to ask the model.
    if (grammar != nullptr && grammar->finished()) return ends(StopReason::EndOfSequence);

    const int32_t token = sampler_.sample(logits, n_vocab, grammar);
    if (token < 0) throw Error("grammar: no token of the vocabulary can continue the text");
    const bool end_token = (!rules_.ignore_eos && token == tokenizer_.vocab().eos) ||
                           std::find(rules_.end_tokens.begin(), rules_.end_tokens.end(), token) !=
                               rules_.end_tokens.end();
    if (end_token) return ends(StopReason::EndOfSequence);  // never printed, never evaluated

    const std::string piece = tokenizer_.piece(
        token, std::binary_search(rules_.shown_tokens.begin(), rules_.shown_tokens.end(), token));
    if (grammar != nullptr) {
        grammar->accept(token);
    } else if (grammar_) {  // a lazy grammar: does it hold the text from here on?
        free_text_ += piece;
        const size_t at = free_text_.find(rules_.grammar_trigger);
        if (at != std::string::npos) {
            // From the trigger on, the text is the grammar's (what the same token wrote after
            // the trigger included). A start the grammar refuses leaves the text free.
            if (grammar_->accept_text(std::string_view(free_text_).substr(at))) {
                grammar_holds_ = true;
            } else {
                grammar_.reset();
            }
            free_text_.clear();
        } else if (free_text_.size() >= rules_.grammar_trigger.size()) {
            // Only a tail that may be the trigger's beginning needs keeping.
            free_text_.erase(0, free_text_.size() - (rules_.grammar_trigger.size() - 1));
        }
    }
    sampler_.accept(token);  // the penalties see every token of the sequence
    step.token = token;
    piece_end_.push_back((piece_end_.empty() ? 0 : piece_end_.back()) + piece.size());
    bool stopped = false;
    step.text = stops_.push(utf8_.push(piece), &stopped);
    handed_on_ += step.text.size();
    if (stopped) {
        reason_ = StopReason::StopString;  // the stop string and what follows are dropped
        step.stop = reason_;
    } else if (grammar_ && grammar_holds_ && grammar_->finished()) {
        return ends(StopReason::EndOfSequence);
    } else if (rules_.max_tokens >= 0 && n_generated() >= rules_.max_tokens) {
        return ends(StopReason::Limit);
    }
    return step;
}

std::string Turn::end(StopReason reason) {
    if (reason_.has_value()) {
        // Ended already: only a caller that stopped listening is recorded (its text was not
        // all taken, so nothing is rewound).
        if (reason == StopReason::Callback) reason_ = reason;
        return {};
    }
    reason_ = reason;
    const bool whole = reason == StopReason::EndOfSequence || reason == StopReason::Limit ||
                       reason == StopReason::ContextFull;
    if (!whole) return {};
    bool stopped = false;
    std::string text = stops_.push(utf8_.flush(), &stopped);
    if (stopped) {
        reason_ = StopReason::StopString;
    } else {
        text += stops_.flush();
    }
    handed_on_ += text.size();
    return text;
}

bool Turn::make_room(Context& context, int seq, std::vector<int32_t>& tokens, std::string* text) {
    if (context.n_past(seq) < context.n_ctx()) return true;
    // Without a token limit the turn runs to the full context, never past it: a model that
    // never ends its text would otherwise go on for ever.
    const bool may_shift = rules_.context_shift && rules_.max_tokens >= 0;
    if (may_shift &&
        shift_context(context, seq, tokens, rules_.n_keep, tokenizer_.vocab().bos) > 0) {
        return true;
    }
    *text = end(StopReason::ContextFull);
    return false;
}

int Turn::n_kept() const {
    if (reason_ != StopReason::StopString) return n_generated();
    int keep = 0;
    while (keep < n_generated() && piece_end_[keep] <= handed_on_) ++keep;
    return keep;
}

}  // namespace ember
