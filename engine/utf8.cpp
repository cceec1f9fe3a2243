#include "engine/utf8.h"

#include <utility>

namespace ember {

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
