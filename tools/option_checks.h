// Domains of the numeric options: each validator names what the option accepts, so a value
// outside it is a usage error (exit 2) with one clear line, never a silent odd run.
#pragma once

#include <CLI/CLI.hpp>
#include <cmath>
#include <string>

#include "engine/runtime/thread_pool.h"

namespace ember::cli {

// A finite number in [lo, hi]; `meaning` says what the ends mean, e.g. "0: greedy".
inline CLI::Validator number_in(double lo, double hi, const std::string& meaning = "") {
    auto text = [](double v) {
        if (std::isinf(v)) return std::string(v > 0 ? "inf" : "-inf");
        std::string s = std::to_string(v);
        s.erase(s.find_last_not_of('0') + 1);
        if (!s.empty() && s.back() == '.') s.pop_back();
        return s;
    };
    std::string domain =
        std::isinf(hi) ? "at least " + text(lo) : "between " + text(lo) + " and " + text(hi);
    if (!meaning.empty()) domain += " (" + meaning + ")";
    return CLI::Validator(
        [lo, hi, domain](std::string& input) -> std::string {
            double v = 0;
            if (!CLI::detail::lexical_cast(input, v) || !std::isfinite(v) || v < lo || v > hi) {
                return "'" + input + "' is out of range: give a number " + domain;
            }
            return std::string();
        },
        domain);
}

// -t/--threads: 0 (the default) up to 4x the CPUs this process may use.
inline CLI::Validator thread_count() {
    return CLI::Validator(
        [](std::string& input) -> std::string {
            int v = 0;
            if (!CLI::detail::lexical_cast(input, v)) return "'" + input + "' is not a count";
            try {
                check_thread_count(v);
            } catch (const std::exception& e) {
                return e.what();
            }
            return std::string();
        },
        "0: default");
}

}  // namespace ember::cli
