// Perplexity of a model on a text, computed the way llama.cpp's perplexity tool does, so the
// numbers compare directly:
//   the text is tokenized with BOS and cut into floor(n / n_ctx) chunks of n_ctx tokens;
//   each chunk is evaluated from an empty cache, with BOS in place of its first token;
//   only the second half of each chunk is scored (the first half gives context): logits at
//   positions n_ctx/2 .. n_ctx-2 predict the tokens at n_ctx/2+1 .. n_ctx-1;
//   PPL = exp(mean negative log-likelihood), +/- PPL x the standard error of that mean.
#pragma once

#include <functional>
#include <span>
#include <vector>

#include "engine/model/context.h"

namespace ember {

struct PerplexityResult {
    double ppl = 0;
    double ppl_error = 0;  // PPL x standard error of the mean NLL
    int n_chunks = 0;
    int n_scored = 0;                 // tokens whose likelihood counted
    std::vector<double> running_ppl;  // after each chunk
};

// Called after each chunk with the chunk count so far and the running estimate.
using PerplexityProgress = std::function<void(int done, int total, double running_ppl)>;
// Called after each chunk with the scored positions' logits (n_positions rows of n_vocab).
using ScoredLogitsObserver = std::function<void(const float* logits, int n_positions)>;

// tokens: the whole text, BOS first. The context's size is the chunk length. Throws
// ember::Error if the text has fewer than two chunks.
PerplexityResult perplexity(Context& context, std::span<const int32_t> tokens, int32_t bos,
                            const PerplexityProgress& progress = {},
                            const ScoredLogitsObserver& on_scored = {});

// One chunk as perplexity() evaluates it: an empty cache, BOS (if >= 0) in place of the first
// token, all logits kept. Returns the logits of the first scored position (n_ctx / 2); the
// n_ctx - 1 - n_ctx / 2 scored rows follow it.
const float* evaluate_chunk(Context& context, std::span<const int32_t> chunk, int32_t bos);

// -log softmax(logits)[token], in double.
double negative_log_likelihood(const float* logits, int n_vocab, int32_t token);

}  // namespace ember
