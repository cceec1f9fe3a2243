// A one-line progress bar on stderr, redrawn in place when stderr is a terminal and printed
// as plain lines otherwise (logs, CI).
#pragma once

#include <unistd.h>

#include <cstdio>
#include <string>

namespace ember::cli {

class ProgressBar {
  public:
    explicit ProgressBar(std::string label) : label_(std::move(label)), tty_(isatty(2) != 0) {}

    void update(long done, long total, const std::string& note = "") {
        constexpr int kWidth = 30;
        const int filled = total > 0 ? static_cast<int>(kWidth * done / total) : kWidth;
        std::string bar(static_cast<size_t>(filled), '#');
        bar.resize(kWidth, '.');
        std::fprintf(stderr, "%s%s [%s] %ld/%ld %s%s", tty_ ? "\r" : "", label_.c_str(),
                     bar.c_str(), done, total, note.c_str(), tty_ ? "\033[K" : "\n");
        std::fflush(stderr);
    }
    void finish() {
        if (tty_) std::fprintf(stderr, "\n");
    }

  private:
    std::string label_;
    bool tty_;
};

}  // namespace ember::cli
