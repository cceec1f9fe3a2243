// `ember chat -m FILE [--system TEXT] [--chat-template NAME]`: an interactive conversation.
// Reads one message per line (a terminal or a pipe), streams each reply. Ctrl-C stops the
// current reply; at the prompt it ends the program. /reset clears the history, /quit ends.
//
// The session keeps its KV cache between turns: each turn renders the whole conversation with
// the chat template and evaluates only the text past what the session already holds. With
// --prompt-cache FILE the conversation (KV cache, tokens, messages) is saved after every reply
// and resumed from FILE on the next start, evaluating nothing again.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <limits>
#include <memory>
#include <string>

#include "engine/generate/reasoning.h"
#include "engine/generate/session.h"
#include "engine/text/chat_format.h"
#include "tools/command.h"
#include "tools/generation_options.h"
#include "tools/lib/chat_format_option.h"
#include "tools/memory_report.h"
#include "tools/model_options.h"
#include "tools/option_checks.h"
#include "tools/prompt_cache.h"
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
    std::string prompt_cache;  // --prompt-cache FILE
    bool show_thinking = false;
};

// The conversation saved beside the session state: the text the session holds as rendered,
// then role and content of each message, each string as "<bytes>:<bytes of text>".
std::string encode_conversation(const std::string& held, const std::vector<ChatMessage>& history) {
    std::string out;
    const auto put = [&](const std::string& s) { out += std::to_string(s.size()) + ":" + s; };
    put(held);
    for (const ChatMessage& m : history) {
        put(m.role);
        put(m.content);
    }
    return out;
}

bool decode_conversation(std::string_view in, std::string& held,
                         std::vector<ChatMessage>& history) {
    const auto get = [&](std::string& s) {
        const size_t colon = in.find(':');
        if (colon == std::string_view::npos || colon == 0 || colon > 12) return false;
        size_t n = 0;
        for (char c : in.substr(0, colon)) {
            if (c < '0' || c > '9') return false;
            n = n * 10 + static_cast<size_t>(c - '0');
        }
        if (n > in.size() - colon - 1) return false;
        s.assign(in.substr(colon + 1, n));
        in.remove_prefix(colon + 1 + n);
        return true;
    };
    std::vector<ChatMessage> messages;
    if (!get(held)) return false;
    while (!in.empty()) {
        ChatMessage m;
        if (!get(m.role) || !get(m.content)) return false;
        messages.push_back(std::move(m));
    }
    history = std::move(messages);
    return true;
}

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
    std::vector<std::string> inputs = options.generation.input_files();
    inputs.push_back(options.model.model_path);
    if (!options.prompt_cache.empty()) check_prompt_cache_path(options.prompt_cache, inputs);
    const std::shared_ptr<const Grammar> grammar = options.generation.compile_grammar();
    const Model model(options.model.model_path, options.model.model_options());
    const Tokenizer tokenizer(model.file());
    const ChatFormat chat_format = chat_format_option(options.template_name, model, tokenizer);
    // Where the format came from, so a guess never looks like the model's own.
    std::string origin;
    if (options.template_name.empty() && !chat_format.is_jinja()) {
        const std::string_view family = model.config().arch->chat_template;
        const std::string guess = family.empty()
                                      ? std::string("; choose one with --chat-template")
                                      : "; " + std::string(model.config().arch->name) + "'s format";
        origin = !chat_format.warning().empty() ? " (" + chat_format.warning() + ")"
                                                : " (the model names none" + guess + ")";
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
        options.model.model_path.c_str(), chat_format.describe().c_str(), origin.c_str(),
        session.n_ctx());
    print_memory_use(session.context(), params.context);

    std::vector<ChatMessage> history;
    if (!options.system.empty()) history.push_back({"system", options.system});
    std::string held;  // the text the session holds, as rendered
    if (!options.prompt_cache.empty()) {
        std::string saved;
        if (load_prompt_cache(session, options.prompt_cache, /*restore_sampler=*/true, &saved)) {
            if (decode_conversation(saved, held, history)) {
                std::fprintf(stderr,
                             "ember chat: resumed a conversation of %zu messages (%d tokens) "
                             "from %s\n",
                             history.size(), session.n_tokens(), options.prompt_cache.c_str());
            } else {
                std::fprintf(stderr,
                             "ember: %s holds no ember chat conversation; starting afresh\n",
                             options.prompt_cache.c_str());
                session.reset();
                held.clear();
                history.clear();
                if (!options.system.empty()) history.push_back({"system", options.system});
            }
        }
    }
    const auto save = [&] {
        if (!options.prompt_cache.empty())
            save_prompt_cache(session, options.prompt_cache, inputs,
                              encode_conversation(held, history));
    };
    TurnOptions turn;
    turn.max_tokens = options.n_predict;
    add_chat_ends(turn, chat_format, tokenizer);  // the template's end of turn ends a reply
    const ReasoningFormat reasoning = ReasoningFormat::for_template(chat_format.source());
    const std::string dim = interactive ? "\x1b[2m" : "", undim = interactive ? "\x1b[0m" : "";
    options.generation.apply(turn);
    turn.grammar = grammar;  // every reply follows it
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
            save();
            std::fputs("(history cleared)\n", stdout);
            continue;
        }
        if (line.empty()) continue;
        history.push_back({"user", line});
        std::string rendered;
        try {
            rendered = chat_format.render(history).text;
        } catch (const ChatTemplateError& e) {
            std::printf("(the chat template refused this conversation: %s)\n", e.what());
            history.pop_back();
            continue;
        }
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
            if (!reasoning.thinks()) {
                result = session.generate(delta, turn, [](std::string_view text) {
                    write_stdout(text);
                    return true;
                });
            } else {
                // A thinking model: the thinking hidden, or shown dimmed (--show-thinking), and
                // the answer as it comes.
                const bool inside = reasoning.opens_thinking(rendered);
                std::string reply;
                size_t shown_thinking = 0, shown_answer = 0;
                result = session.generate(delta, turn, [&](std::string_view text) {
                    reply += text;
                    const ReasoningFormat::Split split = reasoning.split_so_far(reply, inside);
                    if (options.show_thinking && split.reasoning.size() > shown_thinking) {
                        write_stdout(dim + split.reasoning.substr(shown_thinking) + undim);
                        shown_thinking = split.reasoning.size();
                    }
                    if (split.content.size() > shown_answer) {
                        if (shown_answer == 0 && shown_thinking > 0) write_stdout("\n");
                        write_stdout(split.content.substr(shown_answer));
                        shown_answer = split.content.size();
                    }
                    return true;
                });
            }
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
        // The answer goes into the history (a thinking model's template leaves old thinking out).
        history.push_back(
            {"assistant",
             reasoning.thinks()
                 ? reasoning.split(result.text, reasoning.opens_thinking(rendered)).content
                 : result.text});
        held = rendered + result.text;
        save();
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
                    "A Jinja template file (FILE.jinja), or a built-in format: llama2, llama2-sys, "
                    "chatml, llama3, zephyr, mistral, mistral-v1, mistral-v3, mistral-v7, phi3, "
                    "gemma (default: the model's own template)");
    sub->add_option("-n,--n-predict", options->n_predict,
                    "Most tokens per reply (-1: until the end of the reply or the context)")
        ->check(number_in(-1, std::numeric_limits<int>::max(), "-1: until the end"))
        ->capture_default_str();
    sub->add_flag("--show-thinking", options->show_thinking,
                  "Show a thinking model's thinking (dimmed on a terminal) before its answer; by "
                  "default only the answer is shown");
    sub->add_option("--prompt-cache", options->prompt_cache,
                    "Session file: resume the conversation saved there, and save it after every "
                    "reply");
    return [options] { return run_chat(*options); };
}

}  // namespace ember::cli
