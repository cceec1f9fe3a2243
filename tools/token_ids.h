// Parsing "--prompt-ids 1,403,407" into token ids.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ember::cli {

// Ids separated by commas and/or spaces. Throws ember::Error on anything else.
std::vector<int32_t> parse_token_ids(const std::string& text);

}  // namespace ember::cli
