// Continuous batching: N slots over one Context with N sequences, one engine thread.
//
// Each HTTP request becomes a Generation: its prompt tokens, sampling and limits. The engine
// thread admits waiting generations into free slots, then repeats one step:
//
//   batch = [next token of every generating slot] + [chunks of prompts, up to n_batch tokens]
//   Context::decode_sequences(batch)          // every weight is read once for all slots
//   for each slot whose input ended: sample, stream the text, stop or continue
//
// so a slot that arrives while others generate starts at once instead of waiting for them.
//
// Prompt cache: a slot keeps the KV of its last conversation after it finishes. A generation
// goes to the free slot whose tokens share the longest prefix with its prompt and evaluates only
// the rest (the next turn of a chat re-reads nothing it already sent). When another slot, busy
// or not, holds more of the prompt (the n choices of one request, one long system prompt), its
// rows are copied over instead (not for recurrent models).
//
// Memory: the KV cache is n_slots x n_ctx positions, allocated at start; each slot's
// conversation may grow to n_ctx (ember serve's -c is per slot, unlike llama-server's -c,
// which is divided among its slots), then shifts (half of its older tokens go).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/generate/draft.h"
#include "engine/generate/sampler.h"
#include "engine/generate/turn.h"
#include "engine/model/context.h"
#include "engine/text/tokenizer.h"
#include "formats/error.h"

namespace ember::serve {

// Why a generation ended (engine/generate/turn.h's StopReason), in OpenAI's words where it
// has them: "stop" (end of text, stop string), "length" (max_tokens, full context),
// "cancelled", "timeout", "error".
const char* finish_reason(StopReason reason);
// The reply ended as a reply may ("stop" or "length"), not by a cancel, timeout or error.
bool ended_whole(StopReason reason);

struct GenerationRequest {
    std::vector<int32_t> prompt;  // at least one token
    SamplerParams sampling;
    // The reply's rules (turn.h): max_tokens (< 0: until the end of the text or the context),
    // stop strings, end tokens (a chat's end of turn), ignore_eos, grammar (response_format,
    // ollama's format), n_keep. context_shift comes from SchedulerParams.
    TurnRules rules;
    std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
    // Log-probabilities of each generated token (log-softmax of the model's logits, before the
    // sampler's changes) with this many of the likeliest alternatives; < 0: none.
    int top_logprobs = -1;
};

// A generated token's log-probability, and the likeliest tokens' at that step.
struct TokenLogprob {
    int32_t token = -1;
    float logprob = 0.0f;
    std::vector<std::pair<int32_t, float>> top;  // most likely first
};

// What the engine thread reports to the request's thread, in order.
struct GenerationEvent {
    std::string text;  // new text (whole UTF-8 characters, never part of a stop string)
    std::vector<TokenLogprob> logprobs;  // the tokens sampled since the last event (if asked)
    bool done = false;                   // the last event of the generation
    StopReason finish = StopReason::EndOfSequence;
    std::string error;  // StopReason::Error: what went wrong
    int n_prompt = 0;   // prompt tokens
    int n_cached = 0;   // of them, found in the slot's cache (not evaluated again)
    int n_generated = 0;
    double queue_ms = 0;     // waiting for a slot
    double prompt_ms = 0;    // from taking a slot to the first token
    double generate_ms = 0;  // from the first token to the end
};

// One generation in flight, shared by the request's thread (reads events, may cancel) and the
// engine thread (writes events).
class Generation {
  public:
    // Waits up to `timeout` for the next event; nothing when none came.
    std::optional<GenerationEvent> next(std::chrono::milliseconds timeout);
    // Ends the generation soon (a closed connection): its slot is freed at the next step.
    void cancel() { cancelled_.store(true); }
    bool cancelled() const { return cancelled_.load(); }

  private:
    friend class Scheduler;
    void push(GenerationEvent event);

    GenerationRequest request_;
    std::chrono::steady_clock::time_point submitted_;
    std::atomic<bool> cancelled_{false};
    std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<GenerationEvent> events_;
};

// Thrown by submit when the waiting queue is full (the server answers 503).
class QueueFullError : public Error {
  public:
    explicit QueueFullError(const std::string& message) : Error(message) {}
};

struct SchedulerParams {
    int n_slots = 4;
    ContextParams context;  // n_ctx per slot; n_seq is set to n_slots
    int max_queue = 64;     // generations waiting for a slot before submit refuses
    // A slot whose context is full drops half of its older tokens and goes on (Context::shift);
    // off: its reply ends with StopReason::ContextFull.
    bool context_shift = true;
    // Speculative decoding (draft.h): each generating slot's guesses go into the step's batch
    // with its next token, and the slot takes those its turn would have sampled. A draft
    // model's context holds one sequence per slot and guesses for all of them in each pass.
    SpeculationParams speculation;
};

struct SchedulerStats {
    int busy_slots = 0;
    int queued = 0;
    int64_t kv_positions_used = 0;  // over all slots, including the cache of idle ones
    int64_t kv_positions = 0;
    int64_t prompt_tokens = 0;     // evaluated (cache hits not counted)
    int64_t cached_tokens = 0;     // prompt tokens found in a slot's cache
    int64_t generated_tokens = 0;  // sampled
    int64_t shared_prompts = 0;    // prompts that began with rows copied from another slot
    int64_t drafted_tokens = 0;    // speculation: tokens guessed
    int64_t accepted_tokens = 0;   // of those, the tokens taken
};

class Scheduler {
  public:
    // Creates the context (throws ember::Error when it does not fit) and starts the thread.
    Scheduler(const Model& model, const Tokenizer& tokenizer, const SchedulerParams& params);
    ~Scheduler();  // cancels everything and joins the engine thread

    // Queues a generation. Throws QueueFullError when max_queue generations wait, ember::Error
    // for a prompt that is empty or longer than a slot's context.
    std::shared_ptr<Generation> submit(GenerationRequest request);

    // Stops admitting; waits until every generation ended or `deadline`, then cancels the rest.
    void drain(std::chrono::steady_clock::time_point deadline);

    SchedulerStats stats() const;
    int n_ctx() const { return context_.n_ctx(); }
    int n_slots() const { return static_cast<int>(slots_.size()); }

  private:
    struct Slot {
        std::vector<int32_t> tokens;             // what the slot's sequence holds in the KV cache
        std::shared_ptr<Generation> generation;  // null: free (its tokens stay as a cache)
        size_t n_evaluated = 0;                  // of generation's prompt
        int32_t pending = -1;                    // sampled, to be evaluated in the next step
        int n_cached = 0;
        std::unique_ptr<Sampler> sampler;
        std::optional<Turn> turn;  // the reply's rules, over `sampler`
        uint64_t last_used = 0;    // step counter, for least-recently-used choice
        std::chrono::steady_clock::time_point admitted, first_token;
    };

    void run();
    void admit();  // moves waiting generations into free slots (under mutex_)
    void step();   // one batched forward pass and its sampling
    // Ends slot s's generation with a last event (`text` first, then what the turn held back)
    // and frees the slot.
    void finish(int s, StopReason why, const std::string& error = "", std::string text = "");
    // Samples the next token of slot s from `logits`; finishes it when the text ends.
    void sample(int s, const float* logits);
    // Hands on one step of slot s's turn (its text, the log-probabilities from `logits`, the
    // end): false when the generation ended, else the token is the slot's pending one.
    bool deliver(int s, Turn::Step step, const float* logits);
    // Ends slot s on an error the turn threw (a grammar past its deadline, ...).
    void finish_on(int s, const std::exception& e);
    // Speculation: each generating slot's guesses for this step (empty: none).
    void guess(std::vector<std::vector<int32_t>>& guesses);
    // Slot s took its turn's steps from the logits of its batch input i: [pending, guesses...].
    void verify(int s, int i, const std::vector<int32_t>& guesses);

    const Tokenizer& tokenizer_;
    std::shared_ptr<const GrammarVocabulary> grammar_vocabulary_;  // built at the first grammar
    Context context_;
    std::vector<Slot> slots_;
    const int max_queue_;
    const int n_batch_;
    const bool context_shift_;
    uint64_t steps_ = 0;

    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::shared_ptr<Generation>> queue_;
    bool stopping_ = false;  // no new generations
    bool exit_ = false;      // the thread ends
    std::atomic<int> busy_{0};
    std::atomic<int64_t> kv_used_{0}, prompt_tokens_{0}, cached_tokens_{0}, generated_tokens_{0};
    std::atomic<int64_t> shared_prompts_{0};
    const bool recurrent_;  // the model has recurrent layers (no prompt copies between slots)
    std::unique_ptr<Drafter> drafter_;  // null: no speculation
    DraftParams draft_;
    std::atomic<int64_t> drafted_{0}, accepted_{0};
    std::thread thread_;
};

}  // namespace ember::serve
