// The `ember` command line. Errors are one line on stderr and exit status 1.
#include <cstdio>
#include <exception>
#include <utility>
#include <vector>

#include "ember.h"
#include "tools/command.h"

int main(int argc, char** argv) {
    CLI::App app{"ember: quantized Llama-family inference on CPUs, from GGUF files", "ember"};
    app.set_version_flag("--version", std::string("ember ") + ember_version());
    app.require_subcommand(1);

    std::vector<std::pair<CLI::App*, ember::cli::Runner>> commands;
    const auto add = [&](ember::cli::Runner (*adder)(CLI::App&)) {
        ember::cli::Runner runner = adder(app);
        commands.emplace_back(app.get_subcommands({}).back(), std::move(runner));
    };
    add(ember::cli::add_inspect_command);
    add(ember::cli::add_logits_command);
    add(ember::cli::add_run_command);
    add(ember::cli::add_perplexity_command);
    add(ember::cli::add_tokenize_command);
    add(ember::cli::add_chat_command);
    add(ember::cli::add_synth_command);
    add(ember::cli::add_bench_command);
    add(ember::cli::add_quantize_command);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    try {
        for (auto& [subcommand, run] : commands) {
            if (subcommand->parsed()) return run();
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ember: error: %s\n", e.what());
        return 1;
    }
    return 1;
}
