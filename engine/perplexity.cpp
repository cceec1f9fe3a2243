#include "engine/perplexity.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "formats/error.h"

namespace ember {
namespace {

// -log softmax(logits)[token], in double.
double negative_log_likelihood(const float* logits, int n_vocab, int32_t token) {
    const float max = *std::max_element(logits, logits + n_vocab);
    double sum = 0;
    for (int i = 0; i < n_vocab; ++i) sum += std::exp(static_cast<double>(logits[i] - max));
    return -(static_cast<double>(logits[token] - max) - std::log(sum));
}

}  // namespace

PerplexityResult perplexity(Context& context, std::span<const int32_t> tokens, int32_t bos,
                            const PerplexityProgress& progress) {
    const int n_ctx = context.n_ctx();
    const int n_chunks = static_cast<int>(tokens.size() / n_ctx);
    if (n_chunks < 2 || n_ctx < 4) {
        throw Error("perplexity needs at least " + std::to_string(2 * n_ctx) +
                    " tokens for a context of " + std::to_string(n_ctx) + "; the text has " +
                    std::to_string(tokens.size()));
    }
    const int first = n_ctx / 2;  // the first scored logit position in each chunk
    PerplexityResult result;
    result.n_chunks = n_chunks;
    double nll_sum = 0, nll_squares = 0;
    std::vector<int32_t> chunk(n_ctx);
    for (int c = 0; c < n_chunks; ++c) {
        std::copy_n(tokens.begin() + static_cast<ptrdiff_t>(c) * n_ctx, n_ctx, chunk.begin());
        if (bos >= 0) chunk[0] = bos;
        context.truncate(0);
        context.decode(chunk, /*all_logits=*/true);
        for (int pos = first; pos < n_ctx - 1; ++pos) {
            const double nll =
                negative_log_likelihood(context.logits(pos), context.n_vocab(), chunk[pos + 1]);
            nll_sum += nll;
            nll_squares += nll * nll;
            ++result.n_scored;
        }
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
