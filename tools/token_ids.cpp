#include "tools/token_ids.h"

#include <cctype>
#include <climits>

#include "formats/error.h"
#include "tools/command.h"

namespace ember::cli {

std::vector<int32_t> parse_token_ids(const std::string& text) {
    std::vector<int32_t> ids;
    size_t i = 0;
    while (i < text.size()) {
        if (text[i] == ',' || std::isspace(static_cast<unsigned char>(text[i]))) {
            ++i;
            continue;
        }
        if (!std::isdigit(static_cast<unsigned char>(text[i]))) {
            throw UsageError("--prompt-ids: expected token ids separated by commas, found '" +
                             text.substr(i, 10) + "'");
        }
        long long value = 0;
        while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
            value = value * 10 + (text[i++] - '0');
            if (value > INT32_MAX) throw UsageError("--prompt-ids: token id too large");
        }
        ids.push_back(static_cast<int32_t>(value));
    }
    if (ids.empty()) throw UsageError("--prompt-ids: no token ids given");
    return ids;
}

}  // namespace ember::cli
