// Small UTF-8 helpers for tokenizers and streaming output.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ember {

// Length of the UTF-8 sequence a lead byte starts (1 for ASCII, continuation or invalid bytes).
inline size_t utf8_sequence_length(uint8_t lead) {
    if (lead < 0xc0) return 1;
    if (lead < 0xe0) return 2;
    if (lead < 0xf0) return 3;
    return lead < 0xf8 ? 4 : 1;
}

// Appends the UTF-8 encoding of one code point.
void append_utf8(std::string& out, char32_t cp);

// Decodes UTF-8 into code points; each byte that does not start a valid sequence becomes
// U+FFFD, as llama.cpp does before pre-tokenizing.
std::vector<char32_t> decode_utf8(std::string_view text);

// Holds back an incomplete UTF-8 sequence at the end of streamed bytes until the bytes that
// complete it arrive, so a printed chunk never ends inside a character.
class Utf8Stream {
  public:
    // Appends bytes; returns what can be printed now.
    std::string push(std::string_view bytes);
    // Whatever is still held (an incomplete sequence at the very end), for the final flush.
    std::string flush() { return std::exchange(pending_, {}); }

  private:
    std::string pending_;
};

}  // namespace ember
