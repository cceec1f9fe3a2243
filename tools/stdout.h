// Standard output that reports its failures: a full disk or a closed file is an error (exit 1
// with a message), and a reader that has gone away (`ember run | head -c 10`) ends the command
// quietly. main() ignores SIGPIPE, so a closed pipe shows up here as EPIPE.
#pragma once

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "formats/error.h"

namespace ember::cli {

// Thrown when the reader of standard output has closed it: main() ends with status 0.
struct StdoutClosed {};

// Throws StdoutClosed or ember::Error if standard output has failed.
inline void check_stdout() {
    if (std::ferror(stdout) == 0) return;
    if (errno == EPIPE) throw StdoutClosed{};
    throw Error(std::string("cannot write standard output: ") + std::strerror(errno));
}

// Writes and flushes (generated text is shown as it comes); throws as check_stdout().
inline void write_stdout(std::string_view text) {
    if (!text.empty()) std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    check_stdout();
}

}  // namespace ember::cli
