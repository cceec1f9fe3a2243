#include "engine/generate.h"

#include <chrono>

namespace ember {
namespace {

double ms_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
        .count();
}

}  // namespace

GenerationStats generate(Context& context, Sampler& sampler, std::span<const int32_t> prompt,
                         const GenerateOptions& options, const TokenCallback& on_token) {
    GenerationStats stats;
    auto start = std::chrono::steady_clock::now();
    context.decode(prompt);
    for (int32_t t : prompt) sampler.accept(t);
    stats.n_prompt = static_cast<int>(prompt.size());
    stats.prompt_ms = ms_since(start);

    start = std::chrono::steady_clock::now();
    const int limit = options.n_predict < 0 ? context.n_ctx() : options.n_predict;
    while (stats.n_generated < limit) {
        const int32_t token = sampler.sample(context.logits(), context.n_vocab());
        sampler.accept(token);
        if (token == options.stop_token) break;
        ++stats.n_generated;
        if (!on_token(token)) break;
        if (stats.n_generated == limit || context.n_past() == context.n_ctx()) break;
        const int32_t next[] = {token};
        context.decode(next);
    }
    stats.generate_ms = ms_since(start);
    return stats;
}

}  // namespace ember
