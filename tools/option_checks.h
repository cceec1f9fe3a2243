// Domains of the numeric options: each validator names what the option accepts, so a value
// outside it is a usage error (exit 2) with one clear line, never a silent odd run.
#pragma once

#include <CLI/CLI.hpp>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>
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

// A size in bytes: a number with an optional K, M, G or T (powers of 1024; "B" or "iB" may
// follow): "512M", "1.5G", "300000000". Nothing for anything else.
inline std::optional<uint64_t> parse_byte_size(std::string text) {
    for (const char* tail : {"iB", "ib", "B", "b"}) {
        const std::string t(tail);
        if (text.size() > t.size() && text.compare(text.size() - t.size(), t.size(), t) == 0) {
            text.resize(text.size() - t.size());
            break;
        }
    }
    double scale = 1;
    if (!text.empty()) {
        const char unit = static_cast<char>(std::toupper(static_cast<unsigned char>(text.back())));
        const char* units = "KMGT";
        if (const char* at = std::strchr(units, unit); at != nullptr && unit != '\0') {
            scale = std::pow(1024.0, static_cast<double>(at - units + 1));
            text.pop_back();
        }
    }
    double v = 0;
    if (text.empty() || !CLI::detail::lexical_cast(text, v) || !std::isfinite(v) || v < 0)
        return std::nullopt;
    const double bytes = v * scale;
    if (bytes > 1e18) return std::nullopt;
    return static_cast<uint64_t>(bytes);
}

// --max-memory: a byte size (parse_byte_size).
inline CLI::Validator byte_size() {
    return CLI::Validator(
        [](std::string& input) -> std::string {
            if (parse_byte_size(input)) return std::string();
            return "'" + input +
                   "' is not a size: give bytes, or a number with K, M or G (512M, 1.5G)";
        },
        "SIZE");
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
