// Choosing the next token from logits: a chain of filters, then a draw.
//   penalties (repetition, frequency, presence over the last N tokens)
//   -> top-k -> top-p (nucleus) -> min-p -> temperature -> weighted draw
// as llama.cpp orders them. temperature <= 0 is greedy (argmax of the penalised logits).
// Each step costs O(vocab) or less: candidates are found by partial selection, never by
// sorting the whole vocabulary. Under a grammar (token_grammar.h) the drawn token is checked
// and, only if the grammar refuses it, the chain runs again on the tokens it allows: the best
// top_k of them found among the best few hundred candidates, else through a mask of the whole
// vocabulary (both give what masking first would).
#pragma once

#include <cstdint>
#include <deque>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ember {

class TokenGrammar;

struct SamplerParams {
    float temperature = 0.8f;        // <= 0: greedy
    int top_k = 40;                  // keep the k most likely tokens; <= 0: off
    float top_p = 0.95f;             // keep the smallest set with probability >= p; 1: off
    float min_p = 0.05f;             // drop tokens below min_p x the top probability; 0: off
    float repeat_penalty = 1.0f;     // divide positive (multiply negative) logits of recent tokens
    float frequency_penalty = 0.0f;  // subtract count x this from recent tokens' logits
    float presence_penalty = 0.0f;   // subtract this once from recent tokens' logits
    int repeat_last_n = 64;          // how many recent tokens the penalties look at
    uint64_t seed = 0;               // same seed, same logits -> same tokens
    // Added to these tokens' logits after the penalties (OpenAI's logit_bias: -100 bans a token,
    // +100 all but forces it). Ids outside the vocabulary are ignored.
    std::vector<std::pair<int32_t, float>> logit_bias;
};

class Sampler {
  public:
    explicit Sampler(const SamplerParams& params);

    // Picks a token from n_vocab logits (the logits are not modified); with a grammar, one it
    // allows, or -1 if it allows none.
    int32_t sample(const float* logits, int n_vocab, TokenGrammar* grammar = nullptr);
    // Records a token as part of the sequence (for the penalties); sample() does not do this.
    void accept(int32_t token);
    void reset();

    // What the sampler carries from token to token (its random generator's state and the
    // recent tokens the penalties look at), as text, for saving a session; set_state() takes
    // it back and throws ember::Error for text that is not such a state.
    std::string state() const;
    void set_state(std::string_view state);

    const SamplerParams& params() const { return params_; }
    // The logits after the penalties (what the rest of the chain sees); for tests and tools.
    std::vector<float> penalized(const float* logits, int n_vocab) const;

  private:
    struct Candidate {
        int32_t id;
        float logit;
    };
    // candidates_ = the logits after the penalties (without -infinity ones when masked).
    void prepare(const float* logits, int n_vocab, bool masked);
    // The rest of the chain on candidates_ (any order): top-k, top-p, min-p, temperature, draw.
    int32_t choose();
    void apply_penalties(std::vector<Candidate>& candidates) const;
    // Sorts the `keep` best candidates to the front, descending; others stay behind unsorted.
    static void partial_sort_best(std::vector<Candidate>& candidates, size_t keep);

    SamplerParams params_;
    std::mt19937_64 rng_;
    std::deque<int32_t> recent_;  // the last repeat_last_n accepted tokens
    std::vector<Candidate> candidates_;
    std::vector<float> probs_;
    std::vector<float> masked_;  // the logits with a grammar's refused tokens at -infinity
};

}  // namespace ember
