// `ember chat -m FILE [--system TEXT] [--chat-template NAME] [--tools-json FILE]`: an
// interactive conversation. Reads one message per line (a terminal or a pipe), streams each
// reply. Ctrl-C stops the current reply; at the prompt it ends the program. /reset clears the
// history, /quit ends.
//
// With --tools-json the template shows the model the tools (OpenAI's tool objects); a reply
// that calls them prints each call, and the next line read is that call's result (a tool
// message), after which the model goes on.
//
// The session keeps its KV cache between turns: each turn renders the whole conversation with
// the chat template and evaluates only the text past what the session already holds. With
// --prompt-cache FILE the conversation (KV cache, tokens, messages) is saved after every reply
// and resumed from FILE on the next start, evaluating nothing again.
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <limits>
#include <memory>
#include <string>

#include "engine/generate/reasoning.h"
#include "engine/generate/reply_reader.h"
#include "engine/generate/session.h"
#include "engine/generate/tool_calls.h"
#include "engine/text/chat_format.h"
#include "engine/text/json.h"
#include "engine/text/utf8.h"
#include "tools/command.h"
#include "tools/generation_options.h"
#include "tools/lib/chat_format_option.h"
#include "tools/memory_report.h"
#include "tools/model_options.h"
#include "tools/option_checks.h"
#include "tools/prompt_cache.h"
#include "tools/sampling_options.h"
#include "tools/speculation_options.h"
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
    SpeculationOptions speculation;
    std::string prompt_cache;  // --prompt-cache FILE
    bool show_thinking = false;
    std::string tools_path;  // --tools-json FILE
};

// Text with each byte that starts no valid UTF-8 sequence as U+FFFD: JSON holds nothing else,
// and a model may sample a lone byte.
std::string valid_utf8(std::string_view text) {
    std::string out;
    for (const char32_t c : decode_utf8(text)) append_utf8(out, c);
    return out;
}

// A message as the template reads it: OpenAI's shape, as JSON text.
std::string message_json(std::string_view role, std::string_view content) {
    std::string out = "{\"role\":";
    append_json_string(out, valid_utf8(role));
    out += ",\"content\":";
    append_json_string(out, valid_utf8(content));
    return out + "}";
}

// A call's arguments as compact JSON object text ({} when the model wrote no object).
std::string arguments_json(const ToolCall& call) {
    try {
        const JsonValue parsed = parse_json(call.arguments);
        if (parsed.is_object()) return parsed.dump();
    } catch (const Error&) {
    }
    return "{}";
}

// An assistant's turn that calls tools: {"role": "assistant", "content", "tool_calls": [{"id",
// "type": "function", "function": {"name", "arguments": {...}}}]} (arguments as an object, as
// templates read them).
std::string calls_message_json(std::string_view content, const std::vector<ToolCall>& calls,
                               const std::vector<std::string>& ids) {
    std::string out = message_json("assistant", content);
    out.pop_back();
    out += ",\"tool_calls\":[";
    for (size_t i = 0; i < calls.size(); ++i) {
        if (i > 0) out += ',';
        out += "{\"id\":";
        append_json_string(out, ids[i]);
        out += ",\"type\":\"function\",\"function\":{\"name\":";
        append_json_string(out, valid_utf8(calls[i].name));
        out += ",\"arguments\":" + arguments_json(calls[i]) + "}}";
    }
    return out + "]}";
}

std::string tool_result_json(std::string_view id, std::string_view result) {
    std::string out = message_json("tool", result);
    out.pop_back();
    out += ",\"tool_call_id\":";
    append_json_string(out, id);
    return out + "}";
}

// The messages as the list the template reads.
JsonValue conversation_json(const std::vector<std::string>& history) {
    std::string list = "[";
    for (size_t i = 0; i < history.size(); ++i) list += (i > 0 ? "," : "") + history[i];
    return parse_json(list + "]");
}

// Call ids: 9 letters and digits (Mistral's templates accept nothing else), counted.
std::string call_id(int n) {
    char id[16];
    std::snprintf(id, sizeof id, "call%05d", n % 100000);
    return id;
}

// --tools-json FILE: a list of OpenAI tool objects ({"type": "function", "function": {"name",
// "description", "parameters"}}), or of bare functions ({"name", ...}), which are wrapped.
JsonValue read_tools(const std::string& path) {
    JsonValue list;
    try {
        list = parse_json(read_template_file(path, "the --tools-json file"));
    } catch (const FileError&) {
        throw;
    } catch (const Error& e) {
        throw Error("--tools-json " + path + ": " + e.what());
    }
    const JsonValue* tools = list.is_object() ? list.find("tools") : &list;
    if (tools == nullptr || !tools->is_array() || tools->as_array().empty()) {
        throw Error("--tools-json " + path +
                    ": expected a list of tools ([{\"type\": \"function\", \"function\": "
                    "{\"name\": ..., \"parameters\": {...}}}, ...])");
    }
    std::string out = "[";
    for (size_t i = 0; i < tools->as_array().size(); ++i) {
        const JsonValue& tool = tools->as_array()[i];
        const JsonValue* function = tool.is_object() ? tool.find("function") : nullptr;
        const JsonValue& named = function != nullptr ? *function : tool;
        const JsonValue* name = named.is_object() ? named.find("name") : nullptr;
        if (name == nullptr || !name->is_string() || name->as_string().empty()) {
            throw Error("--tools-json " + path + ": tool " + std::to_string(i) +
                        " has no function name");
        }
        if (i > 0) out += ',';
        out += function != nullptr ? tool.dump()
                                   : "{\"type\":\"function\",\"function\":" + tool.dump() + "}";
    }
    return parse_json(out + "]");
}

// The conversation saved beside the session state: the text the session holds as rendered,
// a marker, then each message as JSON text; each string as "<bytes>:<bytes of text>". (Files
// of earlier versions hold role and content pairs after the text: still read.)
constexpr std::string_view kMessagesMarker = "\x01messages";

std::string encode_conversation(const std::string& held, const std::vector<std::string>& history) {
    std::string out;
    const auto put = [&](std::string_view s) {
        out += std::to_string(s.size()) + ":";
        out += s;
    };
    put(held);
    put(kMessagesMarker);
    for (const std::string& m : history) put(m);
    return out;
}

bool decode_conversation(std::string_view in, std::string& held,
                         std::vector<std::string>& history) {
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
    std::vector<std::string> messages;
    std::string text, first;
    if (!get(text)) return false;
    if (!in.empty() && (!get(first))) return false;
    if (first == kMessagesMarker) {
        while (!in.empty()) {
            std::string m;
            if (!get(m)) return false;
            try {  // each a message object with a role
                const JsonValue parsed = parse_json(m);
                const JsonValue* role = parsed.find("role");
                if (role == nullptr || !role->is_string()) return false;
            } catch (const Error&) {
                return false;
            }
            messages.push_back(std::move(m));
        }
    } else if (!first.empty()) {  // role, content pairs
        std::string content;
        if (!get(content)) return false;
        messages.push_back(message_json(first, content));
        while (!in.empty()) {
            std::string role;
            if (!get(role) || !get(content)) return false;
            messages.push_back(message_json(role, content));
        }
    }
    held = std::move(text);
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
    std::vector<std::string> inputs_files = options.generation.input_files();
    inputs_files.push_back(options.model.model_path);
    if (!options.speculation.draft_model.empty())
        inputs_files.push_back(options.speculation.draft_model);
    if (!options.tools_path.empty()) inputs_files.push_back(options.tools_path);
    if (!options.prompt_cache.empty()) check_prompt_cache_path(options.prompt_cache, inputs_files);
    const std::shared_ptr<const Grammar> grammar = options.generation.compile_grammar();
    const JsonValue tools =
        options.tools_path.empty() ? JsonValue() : read_tools(options.tools_path);
    const Model model(options.model.model_path, options.model.model_options());
    const Tokenizer tokenizer(model.file());
    const std::unique_ptr<const Model> draft_model =
        options.speculation.load(options.model.model_options());
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
    params.speculation = options.speculation.params(draft_model.get());
    Session session(model, tokenizer, params);
    const bool interactive = isatty(0) != 0;
    std::fprintf(
        stderr,
        "ember chat: %s, template %s%s, context %d. /reset clears, /quit ends, Ctrl-C stops a "
        "reply.\n",
        options.model.model_path.c_str(), chat_format.describe().c_str(), origin.c_str(),
        session.n_ctx());
    print_memory_use(session.context(), params.context);

    // With tools: the template must show them, and the family's calls are read back.
    std::optional<ToolCallFormat> calls;
    ChatInputs inputs;
    if (!options.tools_path.empty()) {
        if (!chat_format.is_jinja() || chat_format.source().find("tools") == std::string::npos) {
            throw Error("--tools-json: the chat template (" + chat_format.describe() +
                        ") shows no tools; give one that does with --chat-template FILE.jinja");
        }
        calls = ToolCallFormat::for_template(chat_format.source());
        inputs.tools = &tools;
        std::fprintf(stderr, "ember chat: %zu tools, calls read as %s\n", tools.as_array().size(),
                     std::string(calls->name()).c_str());
    }

    std::vector<std::string> history;  // the messages, each as JSON text
    const auto restart = [&] {
        history.clear();
        if (!options.system.empty()) history.push_back(message_json("system", options.system));
    };
    restart();
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
                restart();
            }
        }
    }
    const auto save = [&] {
        if (!options.prompt_cache.empty())
            save_prompt_cache(session, options.prompt_cache, inputs_files,
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
    // Calls so far (a resumed conversation's too: each call's result is one tool message), so
    // that a new call's id is not an earlier one's.
    int calls_made =
        static_cast<int>(std::count_if(history.begin(), history.end(), [](const std::string& m) {
            return m.find("\"role\":\"tool\"") != std::string::npos;
        }));

    // One line of input: false at the end of the input or on /quit.
    std::string line;
    const auto read_line = [&](const std::string& prompt) {
        if (interactive) std::fputs(prompt.c_str(), stdout);
        std::fflush(stdout);
        if (!std::getline(std::cin, line)) return false;
        return line != "/quit" && line != "/exit";
    };
    // The model's turn after the last message: streams the reply, then adds it to the history.
    // Returns the calls it made (empty: the turn is over), or nullopt when it could not answer.
    const auto reply = [&]() -> std::optional<std::vector<ToolCall>> {
        std::string rendered;
        try {
            rendered = chat_format.render_json(conversation_json(history), inputs).text;
        } catch (const ChatTemplateError& e) {
            std::printf("(the chat template refused this conversation: %s)\n", e.what());
            return std::nullopt;
        }
        std::string delta;
        if (rendered.compare(0, held.size(), held) == 0) {
            delta = rendered.substr(held.size());
        } else {  // the template rewrote earlier text: start over from the whole conversation
            session.reset();
            delta = rendered;
        }
        // The thinking hidden, or shown dimmed (--show-thinking); the answer as it comes, text
        // that may begin a call held back until the reply shows what it is.
        ReplyReader reader(reasoning, calls, /*parallel=*/true, reasoning.opens_thinking(rendered));
        bool thought = false, answered = false;
        const auto show = [&](const ReplyReader::Parts& parts) {
            if (options.show_thinking && !parts.reasoning.empty()) {
                write_stdout(dim + parts.reasoning + undim);
                thought = true;
            }
            if (!parts.content.empty()) {
                if (!answered && thought) write_stdout("\n");
                write_stdout(parts.content);
                answered = true;
            }
        };
        g_active_session.store(&session);
        TurnResult result;
        try {
            result = session.generate(delta, turn, [&](std::string_view text) {
                show(reader.add(text));
                return true;
            });
        } catch (const ContextFullError&) {
            g_active_session.store(nullptr);
            std::fputs("\n(the context is full: /reset to start over)\n", stdout);
            return std::nullopt;
        } catch (const CancelledError&) {
            result.reason = StopReason::Cancelled;
        }
        g_active_session.store(nullptr);
        ReplyReader::Parts rest = reader.finish();
        show({rest.reasoning, rest.content, {}});
        // The answer goes into the history (a thinking model's template leaves old thinking
        // out), with its calls; a stopped reply's calls are not made.
        ReplyReader::Parts whole = reader.whole(result.text);
        if (result.reason == StopReason::Cancelled) whole.calls.clear();
        if (answered || thought || whole.calls.empty()) std::fputs("\n", stdout);
        if (result.reason == StopReason::Cancelled) std::fputs("(stopped)\n", stdout);
        std::vector<std::string> ids;
        for (const ToolCall& call : whole.calls) {
            ids.push_back(call_id(++calls_made));
            std::printf("%s[call %s %s]%s\n", dim.c_str(), call.name.c_str(),
                        arguments_json(call).c_str(), undim.c_str());
        }
        history.push_back(whole.calls.empty()
                              ? message_json("assistant", whole.content)
                              : calls_message_json(whole.content, whole.calls, ids));
        held = rendered + result.text;
        save();
        // Each call's result, a line each, as the tool's message.
        for (size_t i = 0; i < whole.calls.size(); ++i) {
            const std::string prompt = "result of " + whole.calls[i].name + "> ";
            if (!read_line(prompt)) return std::nullopt;
            if (!interactive) std::printf("%s%s\n", prompt.c_str(), line.c_str());
            history.push_back(tool_result_json(ids[i], line));
        }
        return whole.calls;
    };

    for (;;) {
        if (!read_line("\n> ")) break;
        if (line == "/reset") {
            restart();
            session.reset();
            held.clear();
            save();
            std::fputs("(history cleared)\n", stdout);
            continue;
        }
        if (line.empty()) continue;
        if (!interactive) std::printf("> %s\n", line.c_str());
        const size_t before = history.size();
        history.push_back(message_json("user", line));
        std::optional<std::vector<ToolCall>> made;
        while ((made = reply()) && !made->empty()) {
        }
        if (!made) {
            if (std::cin.eof() || line == "/quit" || line == "/exit") break;
            history.resize(before);  // refused or no room: the message is not kept
        }
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
    options->speculation.add_to(*sub);
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
    sub->add_option("--tools-json", options->tools_path,
                    "Tools the model may call: a JSON file of OpenAI tool objects ({\"type\": "
                    "\"function\", \"function\": {\"name\", \"description\", "
                    "\"parameters\"}}); each call is printed and the next line is its result")
        ->check(CLI::ExistingFile);
    return [options] { return run_chat(*options); };
}

}  // namespace ember::cli
