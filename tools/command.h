// Each `ember` subcommand lives in its own file and registers itself here: it adds a CLI11
// subcommand with its options and returns the function that runs it.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace ember::cli {

using Runner = std::function<int()>;  // returns the process exit status

Runner add_inspect_command(CLI::App& app);
Runner add_logits_command(CLI::App& app);
Runner add_run_command(CLI::App& app);
Runner add_perplexity_command(CLI::App& app);
Runner add_tokenize_command(CLI::App& app);
Runner add_chat_command(CLI::App& app);
Runner add_synth_command(CLI::App& app);
Runner add_bench_command(CLI::App& app);
Runner add_quantize_command(CLI::App& app);

}  // namespace ember::cli
