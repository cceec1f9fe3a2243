// `ember template` against the shared renderings of transformers (through the command's
// options: tools as a list, as none or not defined, keyword variables, BOS and EOS given or
// not, the generation prompt off), a model's own template, and `ember chat` on a model whose
// file carries a Jinja template.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "engine/text/json.h"
#include "formats/gguf_writer.h"
#include "tests/broken_gguf.h"
#include "tests/cli_run.h"
#include "tests/shared_data.h"

namespace ember::test {
namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// Single-quoted for /bin/sh.
std::string quote(const std::string& s) {
    std::string out = "'";
    for (const char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

std::string bundled_model() {
    return std::string(EMBER_SOURCE_DIR) + "/models/stories260K.gguf";
}

TEST(TemplateCommand, RendersTheSharedCasesAsTransformers) {
    const fs::path dir = shared_path("templates");
    const JsonValue index = parse_json(read_text(dir / "index.json"));
    const auto& renderings = index.find("renderings")->as_array();
    size_t checked = 0;
    // Every fifth rendering: the interpreter itself runs all of them (jinja_template_test).
    for (size_t i = 0; i < renderings.size(); i += 5) {
        const JsonValue& r = renderings[i];
        const fs::path case_file = dir / "cases" / (r.find("case")->as_string() + ".json");
        std::string args =
            "template --template " +
            quote((dir / "templates" / (r.find("template")->as_string() + ".jinja")).string()) +
            " --messages " + quote(case_file.string()) + " --now '2026-07-26 12:00:00'";
        const std::string tools = r.find("tools_variable")->as_string();
        if (tools == "list") args += " --tools-json " + quote(case_file.string());
        if (tools == "none") args += " --tools-none";
        if (!r.find("add_generation_prompt")->as_bool()) args += " --no-generation-prompt";
        for (const char* token : {"bos", "eos"}) {
            const JsonValue* v = r.find(std::string(token) + "_token");
            if (v != nullptr && v->is_string())
                args += std::string(" --") + token + " " + quote(v->as_string());
        }
        for (const auto& [key, value] : r.find("kwargs")->as_object()) {
            args += " --var " + quote(key + "=" + value.dump());
        }
        const CliResult result = run_ember(args);
        const std::string label = r.find("expected")->as_string();
        if (const JsonValue* error = r.find("error")) {
            EXPECT_EQ(result.status, 1) << label;
            if (r.find("error_kind")->as_string() == "raise_exception") {
                EXPECT_NE(result.err.find(error->as_string()), std::string::npos)
                    << label << ": " << result.err;
            }
        } else {
            EXPECT_EQ(result.status, 0) << label << ": " << result.err;
            EXPECT_EQ(result.out, read_text(dir / label)) << label;
        }
        ++checked;
    }
    EXPECT_GT(checked, 180u);
}

TEST(TemplateCommand, ReadsTheModelsOwnTemplateAndTokens) {
    const fs::path dir = temp_dir("cli-template-model");
    const std::string model = (dir / "with-template.gguf").string();
    copy_with(bundled_model(), model, [](gguf::Writer& w) {
        w.set_string(
            "tokenizer.chat_template",
            "{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}"
            "{% if add_generation_prompt %}<assistant>{% endif %}{{ eos_token }}");
    });
    const std::string messages = (dir / "messages.json").string();
    std::ofstream(messages) << R"([{"role": "user", "content": "Hi"}])";
    CliResult r = run_ember("template -m " + model + " --messages " + messages);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "<s><user>Hi<assistant></s>");
    r = run_ember("template -m " + model + " --messages " + messages +
                  " --no-generation-prompt --bos '' --eos X");
    EXPECT_EQ(r.out, "<user>HiX");
    // A model without a template says so; a file that is not JSON, a bad --var and a template
    // that does not parse are errors with their reasons.
    r = run_ember("template -m " + bundled_model() + " --messages " + messages);
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("has no chat template"), std::string::npos) << r.err;
    r = run_ember("template -m " + model + " --messages " + model);
    EXPECT_EQ(r.status, 1);
    r = run_ember("template -m " + model + " --messages " + messages + " --var 'x=nope'");
    EXPECT_EQ(r.status, 2) << r.err;
    r = run_ember("template --messages " + messages);
    EXPECT_EQ(r.status, 2) << r.err;
    const std::string broken = (dir / "broken.jinja").string();
    std::ofstream(broken) << "line one\n{% for m in messages %}{{ m.content }";
    r = run_ember("template --template " + broken + " --messages " + messages);
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("line 2"), std::string::npos) << r.err;
    fs::remove_all(dir);
}

TEST(TemplateCommand, ChatUsesTheModelsJinjaTemplate) {
    const fs::path dir = temp_dir("cli-template-chat");
    const std::string model = (dir / "with-template.gguf").string();
    // Llama 2's shape, written as Jinja, refusing a system message as Gemma's template does.
    copy_with(bundled_model(), model, [](gguf::Writer& w) {
        w.set_string(
            "tokenizer.chat_template",
            "{{ bos_token }}{% for m in messages %}{% if m.role == 'system' %}"
            "{{ raise_exception('System role not supported') }}{% elif m.role == 'user' %}"
            "[INST] {{ m.content }} [/INST]{% else %}{{ m.content }}{{ eos_token }}{% endif %}"
            "{% endfor %}");
    });
    CliResult r = run_ember("chat -m " + model + " --seed 1 -n 8", "Hello there\nTell me more\n");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("template the model's Jinja template"), std::string::npos) << r.err;
    EXPECT_NE(r.out.find("> Tell me more"), std::string::npos) << r.out;
    r = run_ember("chat -m " + model + " --seed 1 -n 8 --system 'Be kind'", "Hello\n");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("refused this conversation: System role not supported"), std::string::npos)
        << r.out;
    // ember run --chat: -p is the user's message in the same template (a system message refused
    // by it is the template's error); the reply ends with the turn.
    r = run_ember("run -m " + model + " --chat -p Hello -n 8 --seed 1");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("prompt: "), std::string::npos) << r.err;
    r = run_ember("run -m " + model + " --chat --system 'Be kind' -p Hello -n 8");
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("System role not supported"), std::string::npos) << r.err;
    EXPECT_EQ(run_ember("run -m " + model + " --system x -p Hello -n 2").status, 2);
    // --chat-template FILE.jinja overrides the model's.
    const std::string file = (dir / "plain.jinja").string();
    std::ofstream(file) << "{% for m in messages %}{{ m.content }}{% endfor %}";
    r = run_ember("chat -m " + model + " --seed 1 -n 4 --system 'Be kind' --chat-template " + file,
                  "Hello\n");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("template " + file), std::string::npos) << r.err;
    EXPECT_EQ(r.out.find("refused"), std::string::npos) << r.out;
    fs::remove_all(dir);
}

// A thinking model's thinking: hidden by default, shown with --show-thinking (a grammar makes
// the tiny model think through Qwen3's template).
TEST(TemplateCommand, ChatHidesThinkingUnlessAsked) {
    const fs::path dir = temp_dir("cli-template-think");
    const std::string grammar = (dir / "think.gbnf").string();
    std::ofstream(grammar)
        << "root ::= \"<think>\\n\" \"pondering\" \"\\n</think>\\n\\n\" [a-z]{2,6}\n";
    const std::string base =
        "chat -m " + bundled_model() + " --chat-template " +
        quote(shared_path("templates/templates/Qwen-Qwen3-0.6B.jinja").string()) +
        " --grammar-file " + grammar + " -n 40 --seed 1";
    CliResult r = run_ember(base, "Hello\n");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out.find("pondering"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("think>"), std::string::npos) << r.out;
    r = run_ember(base + " --show-thinking", "Hello\n");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("pondering"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("think>"), std::string::npos) << r.out;
    fs::remove_all(dir);
}

// ember chat --tools-json: a reply that calls a tool prints the call, the next line is its
// result (a tool message the template renders), and the model goes on. A grammar makes the
// tiny model call get_weather every time, through Qwen3's template.
TEST(TemplateCommand, ChatCallsToolsAndReadsTheirResults) {
    const fs::path dir = temp_dir("cli-template-tools");
    const std::string grammar = (dir / "call.gbnf").string();
    std::ofstream(grammar)
        << "root ::= \"<tool_call>\\n{\\\"name\\\": \\\"get_weather\\\", "
           "\\\"arguments\\\": {\\\"location\\\": \\\"Paris\\\"}}\\n</tool_call>\"\n";
    const std::string tools = (dir / "tools.json").string();
    std::ofstream(tools) << parse_json(read_text(shared_path("templates/cases/05_tools.json")))
                                .find("tools")
                                ->dump();
    const std::string cache = (dir / "chat.session").string();
    const std::string base =
        "chat -m " + bundled_model() + " --chat-template " +
        quote(shared_path("templates/templates/Qwen-Qwen3-0.6B.jinja").string()) +
        " --grammar-file " + grammar + " -n 400 --seed 1";
    CliResult r = run_ember(base + " --tools-json " + tools + " --prompt-cache " + cache,
                            "Weather in Paris?\nsunny, 21 C\n");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("2 tools, calls read as"), std::string::npos) << r.err;
    const std::string call = "[call get_weather {\"location\":\"Paris\"}]";
    const size_t first = r.out.find(call);
    ASSERT_NE(first, std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("<tool_call>"), std::string::npos) << r.out;  // the call's text held back
    EXPECT_NE(r.out.find("result of get_weather> sunny, 21 C\n", first), std::string::npos)
        << r.out;
    // The result went back to the model, which called again (the grammar leaves it no choice).
    EXPECT_NE(r.out.find(call, first + 1), std::string::npos) << r.out;
    // The saved conversation: the call, its result as a tool message, the template's rendering.
    const std::string saved = read_text(cache);
    EXPECT_NE(saved.find("\"tool_calls\":[{\"id\":\"call00001\""), std::string::npos);
    EXPECT_NE(saved.find("{\"role\":\"tool\",\"content\":\"sunny, 21 C\",\"tool_call_id\":"
                         "\"call00001\"}"),
              std::string::npos);
    EXPECT_NE(saved.find("<tool_response>\nsunny, 21 C\n</tool_response>"), std::string::npos);

    // Tools the template cannot show, and a file that is not a list of tools.
    r = run_ember("chat -m " + bundled_model() + " --chat-template chatml --tools-json " + tools,
                  "Hi\n");
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.err.find("shows no tools"), std::string::npos) << r.err;
    std::ofstream(dir / "bad.json") << "[{\"type\": \"function\"}]";
    r = run_ember(base + " --tools-json " + (dir / "bad.json").string(), "Hi\n");
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.err.find("tool 0 has no function name"), std::string::npos) << r.err;
    fs::remove_all(dir);
}

}  // namespace
}  // namespace ember::test
