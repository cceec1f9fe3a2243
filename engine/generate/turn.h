// A turn: one reply being generated, token by token. Every caller that generates text (a
// Session, each of ember serve's slots, an app through ember_turn in the C API) runs its loop
// around one of these, so the rules of a reply are written once:
//
//   logits after the last token
//     -> a finished grammar ends the turn before anything is sampled
//     -> the sampler picks a token (under the grammar, if any)
//     -> end-of-sequence or an end token (a chat template's end of turn): the turn ends
//     -> the grammar and the sampler's penalties take the token
//     -> its piece -> whole UTF-8 characters -> held back while it could be a stop string
//     -> a stop string, a grammar that allows nothing more, or the token limit: the turn ends
//
// The caller owns the forward pass: it evaluates each token the turn returns before asking
// for the next, and makes room for it (make_room: the context shift) when its context is full.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/generate/sampler.h"
#include "engine/generate/stop_strings.h"
#include "engine/grammar/grammar.h"
#include "engine/grammar/token_grammar.h"
#include "engine/text/chat_format.h"
#include "engine/text/tokenizer.h"
#include "engine/text/utf8.h"

namespace ember {

class Context;

// Why a turn ended. The numbers are the C API's ember_stop_reason (include/ember.h).
enum class StopReason {
    EndOfSequence = 0,  // end-of-sequence, an end token, or a grammar that is whole
    StopString = 1,
    Limit = 2,        // the most tokens the turn may generate
    Callback = 3,     // the caller's callback said stop
    Cancelled = 4,    // cancel() from another thread, or a client that left
    ContextFull = 5,  // no room for the next token (and no context shift)
    Timeout = 6,      // a deadline passed (ember serve's --timeout)
    Error = 7,        // the turn could not go on (ember serve reports the message)
};

// What a turn obeys; the same fields for every caller.
struct TurnRules {
    int max_tokens = -1;                    // most tokens to generate; < 0: no limit
    std::vector<std::string> stop_strings;  // the text ends before any of these
    // Tokens that end the text like end-of-sequence (a chat template's end-of-turn markers):
    // never printed, and a grammar may end there.
    std::vector<int32_t> end_tokens;
    // Control tokens whose text is part of the reply (sorted): a chat format's thinking and
    // tool-call markers where the vocabulary has them as control tokens (Mistral's
    // [TOOL_CALLS], LFM2's <|tool_call_start|>), so that the reply's reader sees them and a
    // grammar may write them, as llama.cpp's "preserved tokens". Other control tokens print
    // nothing.
    std::vector<int32_t> shown_tokens;
    bool ignore_eos = false;  // end-of-sequence is a token like any other (benchmarks)
    // Structured output: only tokens that keep the text inside this grammar are sampled,
    // end-of-sequence (and the end tokens) only where it may end, and a finished grammar ends
    // the turn (StopReason::EndOfSequence). Null: free text. (json_schema.h makes one.)
    std::shared_ptr<const Grammar> grammar;
    // With a grammar: it holds the text only from the first place this string appears in it
    // (a tool call's marker under tool_choice auto with a strict schema: free text before, the
    // call held to its schema from its marker on). The grammar's sentences start with it.
    // Empty: the grammar holds the whole text.
    std::string grammar_trigger;
    // A full context: forget half of the tokens after the first n_keep (and the BOS) and go
    // on (Context::shift), as llama.cpp does; off: the turn ends with ContextFull. A turn
    // without max_tokens never shifts: it runs to the full context and ends there.
    bool context_shift = false;
    int n_keep = 0;
};

// A chat template's markers as rules. Its end-of-turn markers: each is a stop string, and a
// marker the vocabulary has as one token is also an end token (the model ends its turn with
// that token, whose text is never printed, and a grammar may end at it). Its thinking and
// tool-call markers that are control tokens: shown_tokens.
void add_chat_ends(TurnRules& rules, const ChatFormat& format, const Tokenizer& tokenizer);

// llama.cpp's context shift for a sequence of `context` holding `tokens`: the first n_keep
// tokens (at least the BOS) stay, half of the rest goes (Context::shift), and `tokens` loses
// the same ones. Returns how many went; 0 when nothing could.
int shift_context(Context& context, int seq, std::vector<int32_t>& tokens, int n_keep, int32_t bos);

class Turn {
  public:
    // The sampler belongs to the caller (its penalties see the prompt before, the reply
    // through this turn). A grammar's token tables are built once per tokenizer and kept in
    // `grammar_tables` (empty at first) for the caller's next turns.
    Turn(const Tokenizer& tokenizer, Sampler& sampler, TurnRules rules,
         std::shared_ptr<const GrammarVocabulary>& grammar_tables);

    // Bounds the grammar's work on one token (a server's deadline and its client's cancel):
    // past them sampling throws GrammarLimitError.
    void set_limits(std::chrono::steady_clock::time_point deadline,
                    const std::atomic<bool>* cancelled);

    struct Step {
        int32_t token = -1;  // the new token, to evaluate before the next step; -1: none
        std::string text;    // text to hand on (whole characters, never part of a stop string)
        std::optional<StopReason> stop;  // set when the turn ended with this step
    };
    // One step from the logits after the last token. Throws ember::Error when a grammar allows
    // no token (and GrammarLimitError past set_limits' bounds). When the step ends the turn,
    // its text includes whatever was held back.
    Step next(const float* logits, int n_vocab);

    // Speculative decoding's check (draft.h): the caller evaluated [last, draft...] in one
    // batch, logits(i) being the logits after its token i. The turn steps through the rows in
    // order, each step as next() takes it, while its token is the next drafted one (whose row
    // is then already computed); on_step(step) hands each step on and returns false to stop.
    // taken: the drafted tokens the turn took (the caller's cache keeps `last` and those, and
    // drops the rest); next: the last step's token, to evaluate next (-1: none).
    struct Verified {
        int taken = 0;
        int32_t next = -1;
    };
    template <typename LogitsOf, typename OnStep>
    Verified verify(std::span<const int32_t> draft, const LogitsOf& logits, int n_vocab,
                    const OnStep& on_step) {
        Verified v;
        for (size_t row = 0;; ++row) {
            const Step step = next(logits(static_cast<int>(row)), n_vocab);
            v.next = step.token;
            if (!on_step(step) || done() || row == draft.size() || step.token != draft[row])
                return v;
            ++v.taken;
        }
    }

    // Ends the turn from outside (a callback, a cancel, a deadline, a full context, an error).
    // Returns what was held back where the text ended normally (Limit, ContextFull: the text
    // is whole so far; a stop string found in it makes the reason StopString), nothing where
    // it was cut (Callback, Cancelled, Timeout, Error). On a turn that ended already it
    // returns nothing and keeps the reason, except Callback (the caller stopped listening).
    std::string end(StopReason reason);

    // Room for the token `next` just returned, in a sequence of `context` holding `tokens`
    // (the same tokens, in order): true when it fits, perhaps after a context shift (rules);
    // false: the turn ended (ContextFull) and the text held back was returned in `*text`.
    bool make_room(Context& context, int seq, std::vector<int32_t>& tokens, std::string* text);

    bool done() const { return reason_.has_value(); }
    StopReason reason() const { return reason_.value_or(StopReason::Limit); }
    int n_generated() const { return static_cast<int>(piece_end_.size()); }
    // Of the tokens generated, how many carry text the caller was given (all but those behind
    // a stop string). A caller rewinds its sequence to them, so that the next turn continues
    // from exactly the text it saw.
    int n_kept() const;

  private:
    const Tokenizer& tokenizer_;
    Sampler& sampler_;
    TurnRules rules_;
    std::optional<TokenGrammar> grammar_;
    bool grammar_holds_ = true;  // false: waiting for rules_.grammar_trigger
    std::string free_text_;      // the text generated while waiting for the trigger
    Utf8Stream utf8_;
    StopStringFilter stops_;
    std::vector<size_t> piece_end_;  // bytes of generated text up to the end of each token
    size_t handed_on_ = 0;           // bytes of text returned so far
    std::optional<StopReason> reason_;
};

}  // namespace ember
