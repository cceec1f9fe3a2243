// The generation loop: evaluate the prompt as one batch, then sample and evaluate one token
// at a time, handing each new token to a callback as soon as it exists (streaming).
#pragma once

#include <cstdint>
#include <functional>
#include <span>

#include "engine/model/context.h"
#include "engine/generate/sampler.h"

namespace ember {

struct GenerationStats {
    int n_prompt = 0;        // prompt tokens evaluated
    double prompt_ms = 0;    // time to evaluate them
    int n_generated = 0;     // tokens sampled
    double generate_ms = 0;  // time from the first sample to the last token's evaluation
};

struct GenerateOptions {
    int n_predict = 128;      // most tokens to generate; < 0: until the context is full
    int32_t stop_token = -1;  // end of sequence (not passed to on_token); -1: none
};

// Returns false to stop generating.
using TokenCallback = std::function<bool(int32_t token)>;

GenerationStats generate(Context& context, Sampler& sampler, std::span<const int32_t> prompt,
                         const GenerateOptions& options, const TokenCallback& on_token);

}  // namespace ember
