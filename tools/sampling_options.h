// Sampling flags, with llama.cpp's names and defaults.
#pragma once

#include <CLI/CLI.hpp>
#include <limits>
#include <random>

#include "engine/generate/sampler.h"
#include "tools/option_checks.h"

namespace ember::cli {

struct SamplingOptions {
    SamplerParams params;
    int64_t seed = -1;  // -1: a random seed

    void add_to(CLI::App& app) {
        app.add_option("--temp", params.temperature, "Temperature (0: greedy)")
            ->check(number_in(0, 100, "0: greedy"))
            ->capture_default_str();
        app.add_option("--top-k", params.top_k, "Top-k sampling (0: off)")
            ->check(number_in(0, std::numeric_limits<int>::max(), "0: off"))
            ->capture_default_str();
        app.add_option("--top-p", params.top_p, "Top-p (nucleus) sampling (1: off)")
            ->check(number_in(0, 1, "1: off"))
            ->capture_default_str();
        app.add_option("--min-p", params.min_p, "Min-p sampling (0: off)")
            ->check(number_in(0, 1, "0: off"))
            ->capture_default_str();
        app.add_option("--repeat-penalty", params.repeat_penalty, "Repetition penalty (1: off)")
            ->check(number_in(0.01, 100, "1: off"))
            ->capture_default_str();
        app.add_option("--repeat-last-n", params.repeat_last_n, "Tokens the penalties look back")
            ->check(number_in(0, std::numeric_limits<int>::max(), "0: off"))
            ->capture_default_str();
        app.add_option("--frequency-penalty", params.frequency_penalty,
                       "Frequency penalty (0: off)")
            ->check(number_in(-2, 2, "0: off"));
        app.add_option("--presence-penalty", params.presence_penalty, "Presence penalty (0: off)")
            ->check(number_in(-2, 2, "0: off"));
        app.add_option("-s,--seed", seed, "Random seed (-1: random)")
            ->check(number_in(-1, 18446744073709551615.0, "-1: random"))
            ->capture_default_str();
    }
    SamplerParams sampler_params() const {
        SamplerParams p = params;
        p.seed = seed >= 0 ? static_cast<uint64_t>(seed) : std::random_device{}();
        return p;
    }
};

}  // namespace ember::cli
