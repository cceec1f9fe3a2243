// A session: one conversation with a model. It owns a context (KV cache, threads) and a
// sampler, keeps its tokens between calls (a second turn evaluates only its new tokens), and
// streams generated text, stopping at end-of-sequence, a stop string, a limit, the caller's
// word or a cancel() from another thread.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/generate/draft.h"
#include "engine/generate/pacer.h"
#include "engine/generate/sampler.h"
#include "engine/generate/turn.h"
#include "engine/grammar/grammar.h"
#include "engine/model/context.h"
#include "engine/text/tokenizer.h"
#include "formats/error.h"

namespace ember {

struct SessionParams {
    ContextParams context;
    SamplerParams sampling;
    SpeculationParams speculation;  // draft.h: guesses checked a batch at a time
};

// Receives each generated token as it is sampled (before its text); return false to stop.
using TokenCallback = std::function<bool(int32_t token)>;

// One reply: its rules (turn.h: limits, stop strings, end tokens, grammar, context shift),
// its pace (pacer.h) and an optional look at each token.
struct TurnOptions : TurnRules, PacingParams {
    TurnOptions() { max_tokens = 256; }  // < 0: until the end of the text or the context
    TokenCallback on_token;  // optional: the ids, for callers that want them (ember run)
};

struct TurnResult {
    StopReason reason = StopReason::Limit;
    int n_prompt = 0;  // tokens evaluated for the prompt
    double prompt_ms = 0;
    int n_generated = 0;  // tokens sampled
    double generate_ms = 0;
    int thermal_slowdowns = 0;  // times the thermal back-off halved the pace
    int n_drafted = 0;          // speculation: tokens guessed
    int n_accepted = 0;         // of those, the tokens taken (each saved a forward pass)
    std::string text;           // everything handed to the callback
};

// Receives text as it is generated: whole UTF-8 characters, never part of a stop string.
// Return false to stop.
using TextCallback = std::function<bool(std::string_view text)>;

class Session {
  public:
    Session(const Model& model, const Tokenizer& tokenizer, const SessionParams& params);

    // Tokenizes and evaluates text after what the session holds (BOS first if it is empty and
    // the vocabulary wants one; special tokens written in the text are parsed).
    void append(std::string_view text);
    void append_tokens(std::span<const int32_t> tokens);

    // Makes the session hold exactly `tokens` (at least one), as a new session given them
    // would: what it holds that begins `tokens` keeps its cache and only the rest is evaluated
    // (the last token always, for fresh logits), and the sampler starts over from its seed
    // (with `sampling` as its parameters when given), its penalties seeing `tokens`. For APIs
    // that send the whole conversation each time: the reply depends on it alone.
    void start_over(std::span<const int32_t> tokens, const SamplerParams* sampling = nullptr);

    // Appends `prompt` (may be empty), then generates.
    TurnResult generate(std::string_view prompt, const TurnOptions& options,
                        const TextCallback& on_text);

    // Safe to call from any thread: the running append/generate stops soon (between layers of
    // a long prompt evaluation, or before the next token).
    void cancel() { cancel_.raise(); }
    // Also stop calls once *flag is nonzero, a flag of the caller's for one call that may be
    // raised before the call starts (CancelFlag::watch; nullptr: none).
    void watch_cancel(const int32_t* flag) { cancel_.watch(flag); }

    void reset();        // forget every token
    void rewind(int n);  // keep only the first n tokens (of n_tokens())
    // Forgets half of what follows the first n_keep tokens (at least the BOS), shifting the
    // cache (Context::shift). Returns how many tokens went.
    int shift(int n_keep);
    // Tokens the session holds: every evaluated one, and the last generated token, which is
    // sampled but evaluated only with the next append or generate.
    int n_tokens() const { return static_cast<int>(tokens_.size()) + (pending_ >= 0 ? 1 : 0); }
    int n_past() const { return context_.n_past(); }
    int n_ctx() const { return context_.n_ctx(); }
    const std::vector<int32_t>& tokens() const { return tokens_; }
    Context& context() { return context_; }

    // Saved state (engine/generate/session_state.cpp): the tokens, their KV cache rows, the
    // logits after the last one and the sampler, named with the model's fingerprint, so that
    // a session restored later, even in another process, goes on exactly where this one is
    // without evaluating anything. load_state checks the whole state first (format version,
    // model, KV cache type, size, checksum) and throws ember::Error saying what is wrong,
    // leaving the session as it was. restore_sampler = false keeps this session's sampler
    // (its seed), fed the restored tokens for the penalties: for a prompt cache. app_data:
    // the caller's own bytes, saved with the state and handed back by load_state.
    std::vector<uint8_t> save_state(std::string_view app_data = {}) const;
    void load_state(std::span<const uint8_t> state, bool restore_sampler = true,
                    std::string* app_data = nullptr);
    // The same through a file, written whole or not at all (formats/output_file.h).
    void save_state_file(const std::string& path, std::string_view app_data = {}) const;
    void load_state_file(const std::string& path, bool restore_sampler = true,
                         std::string* app_data = nullptr);
    Sampler& sampler() { return sampler_; }

  private:
    // Evaluates tokens after the session's; the sampler's penalties see those from
    // `first_new` on (the ones before were generated: their turn showed them already).
    void evaluate(std::span<const int32_t> tokens, size_t first_new);
    // Evaluates tokens that were generated (the sampler saw them), with logits after each.
    void evaluate_generated(std::span<const int32_t> tokens);
    // Speculation: guesses to follow the session's tokens and pending_ (none: generate plainly).
    std::vector<int32_t> guess(const Turn& turn, int max_tokens);

    const Tokenizer& tokenizer_;
    std::shared_ptr<const GrammarVocabulary> grammar_vocabulary_;  // built at the first grammar
    Context context_;
    Sampler sampler_;
    std::unique_ptr<Drafter> drafter_;  // null: no speculation
    DraftParams draft_;
    CancelFlag cancel_;
    std::vector<int32_t> tokens_;  // every evaluated token, in order
    int32_t pending_ = -1;         // sampled last turn but not yet evaluated
};

}  // namespace ember
