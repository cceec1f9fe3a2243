// `ember template (-m MODEL | --template FILE.jinja) --messages FILE.json [--tools-json FILE |
// --tools-none] [--no-generation-prompt] [--bos TEXT] [--eos TEXT] [--var NAME=JSON ...]
// [--now TIME]`: prints a chat template's rendering of a conversation, byte for byte what
// transformers' apply_chat_template renders (no newline added), for a user debugging a
// template and for the tests. A template that raises ends with its message and status 1.
#include <cstdio>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/text/jinja/template.h"
#include "engine/text/json.h"
#include "engine/text/tokenizer.h"
#include "formats/error.h"
#include "formats/gguf.h"
#include "tools/command.h"
#include "tools/lib/chat_format_option.h"
#include "tools/stdout.h"

namespace ember::cli {
namespace {

struct TemplateOptions {
    std::string model_path;
    std::string template_path;
    std::string messages_path;
    std::string tools_path;
    bool tools_none = false;
    bool no_generation_prompt = false;
    std::optional<std::string> bos, eos;
    std::vector<std::string> vars;
    std::string now;
};

JsonValue read_json(const std::string& path, const char* what) {
    try {
        return parse_json(read_template_file(path, std::string("the ") + what + " file"));
    } catch (const FileError&) {
        throw;
    } catch (const Error& e) {
        throw Error(std::string(what) + " " + path + ": " + e.what());
    }
}

// A list given as is, or the `key` member of an object (a file holding a whole case).
JsonValue list_in(JsonValue json, const char* key, const std::string& path) {
    if (json.is_object()) {
        const JsonValue* member = json.find(key);
        if (member == nullptr) throw Error(path + " has no \"" + std::string(key) + "\" list");
        JsonValue copy = *member;
        json = std::move(copy);
    }
    if (!json.is_array()) throw Error(path + ": \"" + std::string(key) + "\" must be a list");
    return json;
}

// "YYYY-MM-DD" or "YYYY-MM-DD HH:MM:SS", local time.
std::time_t parse_now(const std::string& text) {
    std::tm t{};
    int n = 0;
    if (std::sscanf(text.c_str(), "%d-%d-%d%n", &t.tm_year, &t.tm_mon, &t.tm_mday, &n) != 3) {
        throw UsageError("--now: expected YYYY-MM-DD [HH:MM:SS], got '" + text + "'");
    }
    if (static_cast<size_t>(n) < text.size() &&
        std::sscanf(text.c_str() + n, " %d:%d:%d", &t.tm_hour, &t.tm_min, &t.tm_sec) != 3) {
        throw UsageError("--now: expected YYYY-MM-DD [HH:MM:SS], got '" + text + "'");
    }
    t.tm_year -= 1900;
    t.tm_mon -= 1;
    t.tm_isdst = -1;
    return std::mktime(&t);
}

int run_template(const TemplateOptions& options) {
    std::string source;
    std::optional<std::string> bos = options.bos, eos = options.eos;
    if (!options.model_path.empty()) {
        const gguf::File file(options.model_path);
        source = std::string(file.get_string("tokenizer.chat_template", ""));
        if (source.empty()) {
            throw Error(
                options.model_path +
                " has no chat template (tokenizer.chat_template): ember chat and ember serve "
                "use its family's built-in format");
        }
        const Tokenizer tokenizer(file);
        const Vocab& vocab = tokenizer.vocab();
        if (!bos && vocab.bos >= 0) bos = std::string(vocab.text(vocab.bos));
        if (!eos && vocab.eos >= 0) eos = std::string(vocab.text(vocab.eos));
    } else {
        source = read_template_file(options.template_path);
    }

    using jinja::Value;
    std::vector<std::pair<std::string, Value>> vars;
    const JsonValue messages =
        list_in(read_json(options.messages_path, "--messages"), "messages", options.messages_path);
    vars.emplace_back("messages", Value::from_json(messages, true));
    if (!options.tools_path.empty()) {
        const JsonValue tools =
            list_in(read_json(options.tools_path, "--tools-json"), "tools", options.tools_path);
        vars.emplace_back("tools", Value::from_json(tools, true));
    } else if (options.tools_none) {
        vars.emplace_back("tools", Value::none());
    }
    vars.emplace_back("documents", Value::none());
    vars.emplace_back("add_generation_prompt", Value::boolean(!options.no_generation_prompt));
    if (bos) vars.emplace_back("bos_token", Value::string(*bos));
    if (eos) vars.emplace_back("eos_token", Value::string(*eos));
    for (const std::string& var : options.vars) {
        const size_t eq = var.find('=');
        if (eq == std::string::npos || eq == 0) {
            throw UsageError("--var: expected NAME=JSON, got '" + var + "'");
        }
        JsonValue value;
        try {
            value = parse_json(var.substr(eq + 1));
        } catch (const Error& e) {
            throw UsageError("--var " + var.substr(0, eq) + ": the value must be JSON (" +
                             e.what() + ")");
        }
        vars.emplace_back(var.substr(0, eq), Value::from_json(value, true));
    }
    jinja::RenderOptions render;
    if (!options.now.empty()) render.now = parse_now(options.now);
    std::string text;
    try {
        text = jinja::Template(source).render(vars, render).s;
    } catch (const jinja::TemplateError& e) {
        if (e.kind() == jinja::TemplateError::Kind::Raised) {
            throw Error(e.message() + " (raised by the template at line " +
                        std::to_string(e.where().line) + ", column " +
                        std::to_string(e.where().column) + ")");
        }
        throw Error("chat template: " + std::string(e.what()));
    }
    write_stdout(text);
    return 0;
}

}  // namespace

Runner add_template_command(CLI::App& app) {
    auto options = std::make_shared<TemplateOptions>();
    CLI::App* sub = app.add_subcommand(
        "template", "Render a conversation with a chat template, exactly as transformers does");
    auto* model =
        sub->add_option("-m,--model", options->model_path,
                        "GGUF file whose tokenizer.chat_template to render (its BOS and EOS "
                        "tokens are bos_token and eos_token)");
    auto* file = sub->add_option("--template", options->template_path, "A Jinja template file");
    model->excludes(file);
    sub->add_option("--messages", options->messages_path,
                    "JSON file: a list of messages, or an object with a \"messages\" list")
        ->required();
    auto* tools = sub->add_option("--tools-json", options->tools_path,
                                  "JSON file: a list of tools, or an object with a \"tools\" list "
                                  "(default: tools not defined)");
    auto* none =
        sub->add_flag("--tools-none", options->tools_none,
                      "Define tools as none, as transformers does when it is given no tools");
    tools->excludes(none);
    sub->add_flag("--no-generation-prompt", options->no_generation_prompt,
                  "add_generation_prompt = false (do not open the assistant's turn)");
    sub->add_option("--bos", options->bos,
                    "bos_token (default: the model's; none with --template)");
    sub->add_option("--eos", options->eos,
                    "eos_token (default: the model's; none with --template)");
    sub->add_option(
        "--var", options->vars,
        "A variable for the template as NAME=JSON (e.g. enable_thinking=false); repeatable");
    sub->add_option("--now", options->now,
                    "The time strftime_now() reads, YYYY-MM-DD [HH:MM:SS] (default: now)");
    return [options] {
        if (options->model_path.empty() && options->template_path.empty()) {
            throw UsageError("ember template needs -m MODEL or --template FILE.jinja");
        }
        return run_template(*options);
    };
}

}  // namespace ember::cli
