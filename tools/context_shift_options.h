// --keep N and --no-context-shift, shared by the commands that generate (run, chat).
#pragma once

#include <CLI/CLI.hpp>
#include <limits>

#include "engine/generate/session.h"
#include "tools/option_checks.h"

namespace ember::cli {

struct ContextShiftOptions {
    int keep = 0;
    bool off = false;

    void add_to(CLI::App& app) {
        app.add_option("--keep", keep,
                       "Tokens at the start (after the BOS) that a context shift never drops")
            ->check(number_in(0, std::numeric_limits<int>::max(), ""))
            ->capture_default_str();
        app.add_flag("--no-context-shift", off,
                     "Stop at a full context instead of dropping half of the older tokens");
    }
    void apply(TurnOptions& turn) const {
        turn.context_shift = !off;
        turn.n_keep = keep;
    }
};

}  // namespace ember::cli
