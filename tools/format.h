// Small text helpers shared by the commands.
#pragma once

#include <cstdint>
#include <string>

namespace ember::cli {

// 4984064 -> "4,984,064"
inline std::string with_commas(uint64_t n) {
    std::string digits = std::to_string(n);
    std::string out;
    for (size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return out;
}

}  // namespace ember::cli
