#include "engine/generate/stop_strings.h"

#include <algorithm>

namespace ember {

std::string StopStringFilter::push(std::string_view text, bool* stopped) {
    pending_ += text;
    size_t first_stop = std::string::npos;
    for (const std::string& s : stops_) {
        if (!s.empty()) first_stop = std::min(first_stop, pending_.find(s));
    }
    if (first_stop != std::string::npos) {
        *stopped = true;
        std::string out = pending_.substr(0, first_stop);
        pending_.clear();
        return out;
    }
    // Keep the longest tail of pending_ that is a proper prefix of some stop string.
    size_t keep = 0;
    for (const std::string& s : stops_) {
        if (s.empty()) continue;
        for (size_t n = std::min(s.size() - 1, pending_.size()); n > keep; --n) {
            if (pending_.compare(pending_.size() - n, n, s, 0, n) == 0) {
                keep = n;
                break;
            }
        }
    }
    std::string out = pending_.substr(0, pending_.size() - keep);
    pending_.erase(0, pending_.size() - keep);
    return out;
}

}  // namespace ember
