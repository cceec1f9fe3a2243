// Speculative decoding's drafts: a cheap guess at the next few tokens, which the target model
// then checks in one forward pass (its weights read once for all of them).
//
//   the sequence so far (its last token sampled, not yet evaluated)
//     -> a Drafter guesses up to draft_max tokens to follow it
//     -> the target evaluates [last, guess 1 .. guess k] as one batch, logits after each
//     -> the Turn samples from each row in order, as it would have one token at a time; while
//        its token is the guessed one, the next row is already computed (turn.h: verify)
//     -> the cache keeps what was taken, the first token that differs is the next "last"
//
// Every token is the target's own draw from its own logits, so the text is the one plain
// generation gives (with the same seed, at any temperature: the sampler draws once per token
// either way). For a drafter that proposes one token per position this is speculative
// sampling with rejection (Leviathan et al. 2023, Chen et al. 2023) for a proposal that puts
// all its probability on that token: the guess d is kept with probability p(d), and otherwise
// the token comes from p without d, renormalised; only how many guesses are kept depends on
// the drafter. Two drafters:
//   ModelDrafter: a small model of the same vocabulary, greedy, stopping where its own top
//     probability falls under draft_p_min (llama.cpp's --model-draft).
//   LookupDrafter: no model; the tokens that followed the latest earlier occurrence of the
//     sequence's last few tokens (prompt lookup, llama.cpp's lookup decoding), for replies
//     that copy from their input.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "engine/model/context.h"
#include "engine/model/model.h"

namespace ember {

struct DraftParams {
    int max = 16;         // most tokens guessed per step (llama.cpp's --draft-max)
    int min = 0;          // fewer guessed than this: generate one token plainly instead
    float p_min = 0.75f;  // a draft model stops where its top probability is below this
};

// How a session or a server speculates: with a draft model, or by lookup, or not at all.
struct SpeculationParams {
    const Model* draft_model = nullptr;  // a small model of the target's vocabulary (not owned)
    bool lookup = false;                 // or guesses from the sequence's own n-grams
    DraftParams draft;
    bool enabled() const { return draft_model != nullptr || lookup; }
};

// One sequence's request for guesses: up to `max` tokens to follow `tokens`, sequence `seq`'s
// tokens so far (its last one sampled and not yet evaluated by the target).
struct DraftRequest {
    int seq = 0;
    std::span<const int32_t> tokens;
    int max = 0;
    std::vector<int32_t> guesses;  // the answer: fewer than max, or none, without a good guess
};

class Drafter {
  public:
    virtual ~Drafter() = default;
    // Answers every request (each sequence at most once); a draft model evaluates all of
    // them in each of its forward passes, as the target does its sequences.
    virtual void draft(std::span<DraftRequest> requests) = 0;
    std::vector<int32_t> draft(int seq, std::span<const int32_t> tokens, int max) {
        DraftRequest request{seq, tokens, max, {}};
        draft({&request, 1});
        return std::move(request.guesses);
    }
};

// Refuses (ember::Error, saying what differs) a draft model whose vocabulary is not the
// target's: the guesses are token ids, so both must mean the same text by each id. The two
// may differ in size by padding (llama.cpp allows 128 ids) as long as every id both have is
// the same token; the draft never proposes one the target lacks.
void check_draft_vocabulary(const Model& target, const Model& draft);

// Refuses a target (or draft) that cannot take back tokens it evaluated: a model with
// recurrent layers (lfm2, qwen35) would have to evaluate its whole sequence again for every
// guess that misses.
void check_draft_rollback(const Model& model, const char* role);

// The drafter `params` asks for over a target (null when it asks for none), after the checks
// above; a draft model gets a context like `context` (its size, threads, n_seq). Throws
// ember::Error.
std::unique_ptr<Drafter> make_drafter(const SpeculationParams& params, const Model& target,
                                      const ContextParams& context);

// A draft model in its own context: one sequence per target sequence (n_seq), each holding
// the tokens last drafted from, so that a step evaluates only what is new (the target's tokens
// since, at least the last one). Greedy: the draft's most likely token, while its probability
// is at least p_min. The context may share its thread pool with the target's (they never run
// at once), so that no second set of threads waits for work on the same cores.
class ModelDrafter : public Drafter {
  public:
    // target_vocab: the target's vocabulary size (guesses at or past it are never made).
    ModelDrafter(const Model& draft, const ContextParams& params, int target_vocab, float p_min);
    void draft(std::span<DraftRequest> requests) override;
    Context& context() { return context_; }

  private:
    Context context_;
    int target_vocab_;
    float p_min_;
    std::vector<std::vector<int32_t>> held_;  // per sequence: the tokens its cache holds
};

// Prompt lookup: the longest of the sequence's last kMaxNgram .. kMinNgram tokens that occurred
// before, at its latest such place, and the tokens that followed it there.
class LookupDrafter : public Drafter {
  public:
    static constexpr int kMaxNgram = 4;
    static constexpr int kMinNgram = 2;  // a single repeated token says too little
    void draft(std::span<DraftRequest> requests) override;
};

}  // namespace ember
