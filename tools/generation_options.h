// --keep N, --no-context-shift, --max-tps and --thermal-limit, shared by the commands that
// generate (run, chat).
#pragma once

#include <CLI/CLI.hpp>
#include <limits>

#include "engine/generate/session.h"
#include "tools/option_checks.h"

namespace ember::cli {

struct GenerationOptions {
    int keep = 0;
    bool no_shift = false;
    float max_tps = 0;
    float thermal_limit = 0;

    void add_to(CLI::App& app) {
        app.add_option("--keep", keep,
                       "Tokens at the start (after the BOS) that a context shift never drops")
            ->check(number_in(0, std::numeric_limits<int>::max(), ""))
            ->capture_default_str();
        app.add_flag("--no-context-shift", no_shift,
                     "Stop at a full context instead of dropping half of the older tokens");
        app.add_option("--max-tps", max_tps,
                       "Generate at most this many tokens/s, sleeping between tokens (a power "
                       "budget; 0: no cap)")
            ->check(number_in(0, 1e6, "0: no cap"))
            ->capture_default_str();
        app.add_option("--thermal-limit", thermal_limit,
                       "Above this many degrees Celsius (the hottest thermal zone), halve the "
                       "pace until 5 degrees below it (0: off)")
            ->check(number_in(0, 150, "0: off"))
            ->capture_default_str();
    }
    void apply(TurnOptions& turn) const {
        turn.context_shift = !no_shift;
        turn.n_keep = keep;
        turn.max_tokens_per_second = max_tps;
        turn.thermal_limit_celsius = thermal_limit;
    }
};

}  // namespace ember::cli
