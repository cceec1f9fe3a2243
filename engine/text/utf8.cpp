#include "engine/text/utf8.h"

#include <utility>

namespace ember {

void append_utf8(std::string& out, char32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xc0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xe0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
        out += static_cast<char>(0xf0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    }
}

std::vector<char32_t> decode_utf8(std::string_view text) {
    std::vector<char32_t> cps;
    cps.reserve(text.size());
    for (size_t i = 0; i < text.size();) {
        const auto lead = static_cast<uint8_t>(text[i]);
        const size_t length = utf8_sequence_length(lead);
        bool valid = (lead < 0x80) || (length > 1 && i + length <= text.size());
        char32_t cp = lead;
        if (length > 1 && valid) {
            cp = lead & (0xff >> (length + 1));
            for (size_t k = 1; k < length; ++k) {
                const auto c = static_cast<uint8_t>(text[i + k]);
                if ((c & 0xc0) != 0x80) valid = false;
                cp = (cp << 6) | (c & 0x3f);
            }
        }
        if (!valid || (lead >= 0x80 && length == 1)) {
            cps.push_back(0xfffd);
            i += 1;
        } else {
            cps.push_back(cp);
            i += length;
        }
    }
    return cps;
}

std::string Utf8Stream::push(std::string_view bytes) {
    pending_.append(bytes);
    // Find the start of the last sequence (at most 3 bytes back) and see if it is complete.
    size_t keep_from = pending_.size();
    for (size_t back = 1; back <= 4 && back <= pending_.size(); ++back) {
        const auto byte = static_cast<uint8_t>(pending_[pending_.size() - back]);
        if ((byte & 0xc0) == 0x80) continue;  // continuation byte: keep looking for the lead
        if (utf8_sequence_length(byte) > back) keep_from = pending_.size() - back;
        break;
    }
    std::string ready = pending_.substr(0, keep_from);
    pending_.erase(0, keep_from);
    return ready;
}

}  // namespace ember
