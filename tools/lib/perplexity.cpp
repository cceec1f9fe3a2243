#include "tools/lib/perplexity.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "formats/error.h"

namespace ember {

double negative_log_likelihood(const float* logits, int n_vocab, int32_t token) {
    const float max = *std::max_element(logits, logits + n_vocab);
    double sum = 0;
    for (int i = 0; i < n_vocab; ++i) sum += std::exp(static_cast<double>(logits[i] - max));
    return -(static_cast<double>(logits[token] - max) - std::log(sum));
}

const float* evaluate_chunk(Context& context, std::span<const int32_t> chunk, int32_t bos) {
    std::vector<int32_t> input(chunk.begin(), chunk.end());
    if (bos >= 0) input[0] = bos;
    context.truncate(0);
    context.decode(input, /*all_logits=*/true);
    return context.logits(static_cast<int>(input.size()) / 2);
}

PerplexityResult perplexity(Context& context, std::span<const int32_t> tokens, int32_t bos,
                            const PerplexityProgress& progress,
                            const ScoredLogitsObserver& on_scored) {
    const int n_ctx = context.n_ctx();
    const int n_chunks = static_cast<int>(tokens.size() / n_ctx);
    if (n_ctx < 4) {
        throw Error(
            "perplexity needs a context of at least 4 tokens (it scores the second half "
            "of each chunk); the context is " +
            std::to_string(n_ctx));
    }
    if (n_chunks < 2) {
        throw Error("perplexity needs at least " + std::to_string(2 * n_ctx) +
                    " tokens for a context of " + std::to_string(n_ctx) + "; the text has " +
                    std::to_string(tokens.size()));
    }
    const int first = n_ctx / 2;  // the first scored logit position in each chunk
    PerplexityResult result;
    result.n_chunks = n_chunks;
    double nll_sum = 0, nll_squares = 0;
    const int n_vocab = context.n_vocab();
    for (int c = 0; c < n_chunks; ++c) {
        const auto chunk = tokens.subspan(static_cast<size_t>(c) * n_ctx, n_ctx);
        const float* scored = evaluate_chunk(context, chunk, bos);
        for (int pos = first; pos < n_ctx - 1; ++pos) {
            const double nll = negative_log_likelihood(
                scored + static_cast<size_t>(pos - first) * n_vocab, n_vocab, chunk[pos + 1]);
            nll_sum += nll;
            nll_squares += nll * nll;
            ++result.n_scored;
        }
        if (on_scored) on_scored(scored, n_ctx - 1 - first);
        result.running_ppl.push_back(std::exp(nll_sum / result.n_scored));
        if (progress) progress(c + 1, n_chunks, result.running_ppl.back());
    }
    const double n = result.n_scored;
    const double mean = nll_sum / n;
    const double variance = nll_squares / n - mean * mean;
    result.ppl = std::exp(mean);
    result.ppl_error = variance > 0 && n > 1 ? std::sqrt(variance / (n - 1)) * result.ppl : 0;
    return result;
}

}  // namespace ember
