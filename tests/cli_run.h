// Runs the `ember` binary built beside the tests and captures what it printed.
#pragma once

#include <string>

namespace ember::test {

struct CliResult {
    int status;       // exit status, or -1 if it did not exit normally
    std::string out;  // stdout
    std::string err;  // stderr
};

// `args` is appended to the binary's path and run through /bin/sh, with `input` as stdin.
CliResult run_ember(const std::string& args, const std::string& input = "");

// Runs a /bin/sh script in which $EMBER is the binary's path (pipes, signals, several steps).
CliResult run_shell(const std::string& script);

}  // namespace ember::test
