// The `ember` command line. Errors are one line on stderr, `ember: error: ...`: usage errors
// (unknown commands and options, values out of range) exit with status 2, failures while
// running with status 1.
#if defined(_WIN32)
#include <fcntl.h>
#include <io.h>
#endif

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <exception>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "ember.h"
#include "formats/output_file.h"
#include "tools/command.h"
#include "tools/stdout.h"

namespace {

constexpr int kUsageError = 2;
constexpr int kRuntimeError = 1;

// SIGINT, SIGTERM, SIGHUP: remove the temporary files of outputs being written, then end as
// the signal would have.
extern "C" void on_fatal_signal(int signal) {
    ember::remove_unfinished_outputs();
    std::signal(signal, SIG_DFL);
    std::raise(signal);
}

int usage_error(const std::string& message) {
    std::fprintf(stderr, "ember: error: %s\n", message.c_str());
    return kUsageError;
}

}  // namespace

int main(int argc, char** argv) {
#if defined(_WIN32)
    // Text as written: no "\r\n" for "\n" (the output equals the Linux build's, byte for byte).
    _setmode(_fileno(stdout), _O_BINARY);
    for (int s : {SIGINT, SIGTERM}) std::signal(s, on_fatal_signal);
#else
    std::signal(SIGPIPE, SIG_IGN);  // a closed stdout is seen as EPIPE (tools/stdout.h)
    for (int s : {SIGINT, SIGTERM, SIGHUP}) std::signal(s, on_fatal_signal);
#endif

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
    add(ember::cli::add_imatrix_command);
    add(ember::cli::add_tokenize_command);
    add(ember::cli::add_chat_command);
    add(ember::cli::add_template_command);
    add(ember::cli::add_synth_command);
    add(ember::cli::add_bench_command);
    add(ember::cli::add_quantize_command);
    add(ember::cli::add_embed_command);
    add(ember::cli::add_serve_command);

    // A first word that is not an option must name a command.
    if (argc > 1 && argv[1][0] != '-') {
        bool known = false;
        std::string names;
        for (const auto& [subcommand, run] : commands) {
            known = known || subcommand->get_name() == argv[1];
            names += (names.empty() ? "" : ", ") + subcommand->get_name();
        }
        if (!known) {
            return usage_error("unknown command '" + std::string(argv[1]) +
                               "' (commands: " + names + ")");
        }
    }
    // llama.cpp's two-letter single-dash flags, which CLI11 cannot name: -np (ember serve).
    std::vector<std::string> args(argv + 1, argv + argc);
    for (std::string& a : args) {
        if (a == "-np") a = "--parallel";
    }
    std::reverse(args.begin(), args.end());  // CLI11 takes a vector in reverse order
    try {
        app.parse(args);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::RequiredError& e) {
        if (argc <= 1) return usage_error("a command is required");
        return usage_error(e.what());
    } catch (const CLI::ParseError& e) {
        return usage_error(e.what());
    }
    try {
        for (auto& [subcommand, run] : commands) {
            if (!subcommand->parsed()) continue;
            const int status = run();
            std::fflush(stdout);
            ember::cli::check_stdout();
            return status;
        }
    } catch (const ember::cli::UsageError& e) {
        return usage_error(e.what());
    } catch (const ember::cli::StdoutClosed&) {
        return 0;  // the reader has all it wanted
    } catch (const std::bad_alloc&) {
        std::fprintf(stderr, "ember: error: out of memory\n");
        return kRuntimeError;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ember: error: %s\n", e.what());
        return kRuntimeError;
    }
    return kRuntimeError;
}
