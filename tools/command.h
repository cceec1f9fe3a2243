// Each `ember` subcommand lives in its own file and registers itself here: it adds a CLI11
// subcommand with its options and returns the function that runs it.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

#include "formats/error.h"

namespace ember::cli {

using Runner = std::function<int()>;  // returns the process exit status

// A usage error found once the command runs (options that contradict each other): main()
// reports it as it does a bad option, with exit status 2.
class UsageError : public Error {
  public:
    explicit UsageError(const std::string& message) : Error(message) {}
};

Runner add_inspect_command(CLI::App& app);
Runner add_logits_command(CLI::App& app);
Runner add_run_command(CLI::App& app);
Runner add_perplexity_command(CLI::App& app);
Runner add_imatrix_command(CLI::App& app);
Runner add_tokenize_command(CLI::App& app);
Runner add_chat_command(CLI::App& app);
Runner add_template_command(CLI::App& app);
Runner add_synth_command(CLI::App& app);
Runner add_bench_command(CLI::App& app);
Runner add_quantize_command(CLI::App& app);
Runner add_embed_command(CLI::App& app);
Runner add_serve_command(CLI::App& app);

}  // namespace ember::cli
