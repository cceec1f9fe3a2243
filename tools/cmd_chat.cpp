// `ember chat -m FILE [--system TEXT] [--chat-template NAME]`: an interactive conversation.
// Reads one message per line (a terminal or a pipe), streams each reply. Ctrl-C stops the
// current reply; at the prompt it ends the program. /reset clears the history, /quit ends.
//
// The session keeps its KV cache between turns: each turn renders the whole conversation with
// the chat template and evaluates only the text past what the session already holds.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <limits>
#include <memory>
#include <string>

#include "engine/generate/session.h"
#include "engine/text/chat_template.h"
#include "tools/command.h"
#include "tools/generation_options.h"
#include "tools/model_options.h"
#include "tools/option_checks.h"
#include "tools/sampling_options.h"
#include "tools/stdout.h"

namespace ember::cli {
namespace {

struct ChatOptions {
    ModelOptions model;
    SamplingOptions sampling;
    std::string system;
    std::string template_name;
    int n_predict = 256;
    GenerationOptions generation;
};

std::atomic<Session*> g_active_session{nullptr};  // the session generating a reply, if any

extern "C" void on_interrupt(int) {
    Session* session = g_active_session.load();
    if (session != nullptr) {
        session->cancel();  // an atomic store: safe in a signal handler
    } else {
        std::signal(SIGINT, SIG_DFL);
        std::raise(SIGINT);
    }
}

int run_chat(const ChatOptions& options) {
    const Model model(options.model.model_path, options.model.model_options());
    const Tokenizer tokenizer(model.file());
    const std::string jinja(model.file().get_string("tokenizer.chat_template", ""));
    const std::optional<ChatTemplate> recognised = recognise_chat_template(jinja);
    // Without a recognised template, the format of the model's family where it has one.
    const std::string_view family = model.config().arch->chat_template;
    const ChatTemplate chat_template = !options.template_name.empty()
                                           ? chat_template_from_name(options.template_name)
                                           : detect_chat_template(jinja, family);
    // Where the template came from, so a guess never looks like a detection.
    std::string origin;
    if (options.template_name.empty()) {
        const std::string guess = family.empty()
                                      ? std::string("; choose one with --chat-template")
                                      : "; " + std::string(model.config().arch->name) + "'s format";
        origin = jinja.empty() ? " (the model names none" + guess + ")"
                 : !recognised ? " (the model's template was not recognised" + guess + ")"
                               : " (from the model)";
    }
    SessionParams params;
    params.context = options.model.context_params();
    params.sampling = options.sampling.sampler_params();
    Session session(model, tokenizer, params);
    const bool interactive = isatty(0) != 0;
    std::fprintf(
        stderr,
        "ember chat: %s, template %s%s, context %d. /reset clears, /quit ends, Ctrl-C stops a "
        "reply.\n",
        options.model.model_path.c_str(), std::string(chat_template_name(chat_template)).c_str(),
        origin.c_str(), session.n_ctx());

    std::vector<ChatMessage> history;
    if (!options.system.empty()) history.push_back({"system", options.system});
    std::string held;  // the text the session holds, as rendered
    TurnOptions turn;
    turn.n_predict = options.n_predict;
    turn.stop_strings = chat_stop_strings(chat_template);
    options.generation.apply(turn);
    std::signal(SIGINT, on_interrupt);

    std::string line;
    for (;;) {
        if (interactive) std::fputs("\n> ", stdout);
        std::fflush(stdout);
        if (!std::getline(std::cin, line)) break;
        if (line == "/quit" || line == "/exit") break;
        if (line == "/reset") {
            history.resize(options.system.empty() ? 0 : 1);
            session.reset();
            held.clear();
            std::fputs("(history cleared)\n", stdout);
            continue;
        }
        if (line.empty()) continue;
        history.push_back({"user", line});
        const std::string rendered = apply_chat_template(chat_template, history, true);
        std::string delta;
        if (rendered.compare(0, held.size(), held) == 0) {
            delta = rendered.substr(held.size());
        } else {  // the template rewrote earlier text: start over from the whole conversation
            session.reset();
            delta = rendered;
        }
        if (!interactive) std::printf("> %s\n", line.c_str());
        g_active_session.store(&session);
        TurnResult result;
        try {
            result = session.generate(delta, turn, [](std::string_view text) {
                write_stdout(text);
                return true;
            });
        } catch (const ContextFullError&) {
            g_active_session.store(nullptr);
            std::fputs("\n(the context is full: /reset to start over)\n", stdout);
            history.pop_back();
            continue;
        } catch (const CancelledError&) {
            result.reason = StopReason::Cancelled;
        }
        g_active_session.store(nullptr);
        std::fputs("\n", stdout);
        if (result.reason == StopReason::Cancelled) std::fputs("(stopped)\n", stdout);
        history.push_back({"assistant", result.text});
        held = rendered + result.text;
    }
    std::signal(SIGINT, SIG_DFL);
    return 0;
}

}  // namespace

Runner add_chat_command(CLI::App& app) {
    auto options = std::make_shared<ChatOptions>();
    CLI::App* sub =
        app.add_subcommand("chat", "Chat with a model in the terminal (or through a pipe)");
    options->model.add_to(*sub);
    options->sampling.add_to(*sub);
    options->generation.add_to(*sub);
    sub->add_option("--system", options->system, "System message");
    sub->add_option("--chat-template", options->template_name,
                    "llama2, llama2-sys, chatml, llama3, zephyr, mistral, mistral-v1, mistral-v3, "
                    "mistral-v7, phi3, gemma (default: from the model)");
    sub->add_option("-n,--n-predict", options->n_predict,
                    "Most tokens per reply (-1: until the end of the reply or the context)")
        ->check(number_in(-1, std::numeric_limits<int>::max(), "-1: until the end"))
        ->capture_default_str();
    return [options] { return run_chat(*options); };
}

}  // namespace ember::cli
