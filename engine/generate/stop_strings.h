// Holding back generated text that could still turn into a stop string: a Session and the
// server's slots stream text through one of these, so a stop string never reaches the caller,
// not even its first half.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ember {

class StopStringFilter {
  public:
    explicit StopStringFilter(std::vector<std::string> stops) : stops_(std::move(stops)) {}

    // Adds text; returns what is safe to emit. Sets `stopped` once a stop string appeared
    // (the text before it is emitted, the stop string and anything after are dropped).
    std::string push(std::string_view text, bool* stopped);
    // What is held back, once generation ended without a stop string.
    std::string flush() { return std::exchange(pending_, {}); }

  private:
    std::vector<std::string> stops_;
    std::string pending_;
};

}  // namespace ember
