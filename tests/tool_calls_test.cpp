// Tool calls: each family's style read from the real templates of ../shared/templates, the
// calls read back out of replies (whole and as they stream), and the grammars that hold a reply
// to calls of the given tools accept exactly such calls.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "engine/generate/reasoning.h"
#include "engine/generate/reply_reader.h"
#include "engine/generate/tool_calls.h"
#include "engine/grammar/grammar.h"
#include "tests/shared_data.h"

namespace ember {
namespace {

using Style = ToolCallFormat::Style;

std::string template_text(const std::string& name) {
    std::ifstream in(test::shared_path("templates/templates/" + name + ".jinja"));
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

const char* const kTools = R"([
  {"type": "function", "function": {"name": "get_weather", "description": "Weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                   "required": ["city", "days"]}}},
  {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}}
])";

bool grammar_accepts(const std::string& gbnf, std::string_view text) {
    GrammarMatcher m(Grammar::parse(gbnf));
    return m.advance(text) && m.can_end();
}

TEST(ToolCalls, EachFamilysStyleComesFromItsTemplate) {
    EXPECT_EQ(ToolCallFormat::for_template(template_text("Qwen-Qwen2.5-7B-Instruct")).style(),
              Style::Hermes);
    EXPECT_EQ(ToolCallFormat::for_template(template_text("Qwen-Qwen3-0.6B")).style(),
              Style::Hermes);
    EXPECT_EQ(
        ToolCallFormat::for_template(template_text("NousResearch-Hermes-3-Llama-3.1-8B-tool_use"))
            .style(),
        Style::Hermes);
    EXPECT_EQ(ToolCallFormat::for_template(template_text("Qwen3.5-4B")).style(), Style::QwenXml);
    EXPECT_EQ(
        ToolCallFormat::for_template(template_text("meta-llama-Llama-3.1-8B-Instruct")).style(),
        Style::Llama3);
    EXPECT_EQ(
        ToolCallFormat::for_template(template_text("meta-llama-Llama-3.2-3B-Instruct")).style(),
        Style::Llama3);
    EXPECT_EQ(
        ToolCallFormat::for_template(template_text("mistralai-Mistral-Nemo-Instruct-2407")).style(),
        Style::Mistral);
    EXPECT_EQ(
        ToolCallFormat::for_template(template_text("Mistral-Small-3.2-24B-Instruct-2506")).style(),
        Style::MistralArgs);
    EXPECT_EQ(
        ToolCallFormat::for_template(template_text("ibm-granite-granite-3.3-2B-Instruct")).style(),
        Style::ToolCallList);
    EXPECT_EQ(ToolCallFormat::for_template(template_text("ibm-granite-granite-4.0")).style(),
              Style::Hermes);
    EXPECT_EQ(ToolCallFormat::for_template(template_text("LFM2-8B-A1B")).style(), Style::Pythonic);
    EXPECT_EQ(ToolCallFormat::for_template(template_text("google-gemma-2-2b-it")).style(),
              Style::Generic);
}

// Granite 3.x and Phi-4-mini: <|tool_call|> and a JSON list; LFM2: Python calls.
TEST(ToolCalls, ListsOfCallsAndPythonCalls) {
    const ToolCallFormat list(Style::ToolCallList);
    auto r = list.parse(
        R"(Checking.<|tool_call|>[{"name": "get_weather", "arguments": {"city": "Oslo", "days": 2}}, {"name": "get_time", "arguments": {}}])");
    ASSERT_EQ(r.calls.size(), 2u);
    EXPECT_EQ(r.calls[0].arguments, R"({"city":"Oslo","days":2})");
    EXPECT_EQ(r.content, "Checking.");
    r = list.parse(R"(<|tool_call|>[{"name": "get_time", "arguments": {}}]<|/tool_call|>)");
    ASSERT_EQ(r.calls.size(), 1u);
    r = list.parse("<|tool_call|>[{\"oops\": 1}]");  // not calls: text
    EXPECT_TRUE(r.calls.empty());
    EXPECT_EQ(r.content, "<|tool_call|>[{\"oops\": 1}]");
    EXPECT_TRUE(grammar_accepts(list.grammar(parse_json(kTools), std::nullopt, true),
                                R"(<|tool_call|>[{"name": "get_time", "arguments": {}}])"));

    const ToolCallFormat python(Style::Pythonic);
    r = python.parse(
        "Let me see.<|tool_call_start|>[get_weather(city='It\\'s \\\"here\\\"', days=3), "
        "get_time()]<|tool_call_end|>");
    ASSERT_EQ(r.calls.size(), 2u) << r.content;
    EXPECT_EQ(r.calls[0].name, "get_weather");
    EXPECT_EQ(r.calls[0].arguments, R"({"city":"It's \"here\"","days":3})");
    EXPECT_EQ(r.calls[1].arguments, "{}");
    EXPECT_EQ(r.content, "Let me see.");
    r = python.parse(
        "<|tool_call_start|>[get_time(zone=\"UTC\", exact=True, offsets=[1, -2.5], "
        "opts={'a': None, \"b\": 'x'},)]<|tool_call_end|>");
    ASSERT_EQ(r.calls.size(), 1u);
    EXPECT_EQ(r.calls[0].arguments,
              R"({"zone":"UTC","exact":true,"offsets":[1,-2.5],"opts":{"a":null,"b":"x"}})");
    r = python.parse("<|tool_call_start|>[get_weather(city='Oslo', days=2)]<|tool_call_end|>");
    ASSERT_EQ(r.calls.size(), 1u);
    EXPECT_EQ(r.calls[0].arguments, R"({"city":"Oslo","days":2})");
    r = python.parse("<|tool_call_start|>[get_weather(city=Oslo)]");  // not Python: text
    EXPECT_TRUE(r.calls.empty());
    EXPECT_EQ(python.safe_prefix("Sure <|tool_call_st"), 5u);
    // \u escapes (as a grammar of JSON strings lets a model write them), \b and \f.
    r = python.parse(R"(<|tool_call_start|>[f(s="caf\u00e9 \ud83d\ude00\t\/")]<|tool_call_end|>)");
    ASSERT_EQ(r.calls.size(), 1u);
    EXPECT_EQ(r.calls[0].arguments, "{\"s\":\"caf\u00e9 \U0001F600\\t/\"}");
}

// LFM2's required calls: names, keyword arguments and Python literals held to the schemas.
TEST(ToolCalls, PythonCallGrammarsHoldArgumentsToTheSchemas) {
    const ToolCallFormat python(Style::Pythonic);
    const std::string any = python.grammar(parse_json(kTools), std::nullopt, true);
    for (
        const char* call : {
            R"(<|tool_call_start|>[get_weather(city="Oslo", days=2)]<|tool_call_end|>)",
            R"(<|tool_call_start|>[get_time()]<|tool_call_end|>)",
            R"(<|tool_call_start|>[get_time(), get_weather(city="\u00c5s", days=-1)]<|tool_call_end|>)",
        }) {
        EXPECT_TRUE(grammar_accepts(any, call)) << call;
        // and each reads back as a call
        EXPECT_FALSE(python.parse(call).calls.empty()) << call;
    }
    for (const char* not_a_call : {
             R"(<|tool_call_start|>[get_weather(city="Oslo")]<|tool_call_end|>)",  // days needed
             R"(<|tool_call_start|>[get_weather(city="Oslo", days=2.5)]<|tool_call_end|>)",
             R"(<|tool_call_start|>[get_weather("city": "Oslo", "days": 2)]<|tool_call_end|>)",
             R"(<|tool_call_start|>[get_weather({"city": "Oslo", "days": 2})]<|tool_call_end|>)",
             R"(<|tool_call_start|>[get_time(zone="UTC")]<|tool_call_end|>)",  // no such argument
             R"(<|tool_call_start|>[get_news()]<|tool_call_end|>)",
         }) {
        EXPECT_FALSE(grammar_accepts(any, not_a_call)) << not_a_call;
    }
    // Python's literals: True, False, None, lists and dicts; one named function, one call.
    const JsonValue tools = parse_json(R"([{"type": "function", "function": {"name": "set",
        "parameters": {"type": "object", "properties": {
          "on": {"type": "boolean"}, "level": {"type": ["integer", "null"]},
          "mode": {"enum": ["eco", true, null]}, "tags": {"type": "array", "items": {"type": "string"}},
          "extra": {"type": "object"}}, "required": ["on"]}}}, {"type": "function", "function":
        {"name": "other", "parameters": {"type": "object", "properties": {}}}}])");
    const std::string one = python.grammar(tools, std::string("set"), false);
    const std::string held =
        R"(<|tool_call_start|>[set(on=True, level=None, mode=True, tags=["a"], extra={"k": False})]<|tool_call_end|>)";
    EXPECT_TRUE(grammar_accepts(one, held));
    const ToolCallFormat::Reply reply = python.parse(held);
    ASSERT_EQ(reply.calls.size(), 1u);
    EXPECT_EQ(reply.calls[0].arguments,
              R"({"on":true,"level":null,"mode":true,"tags":["a"],"extra":{"k":false}})");
    EXPECT_TRUE(
        grammar_accepts(one, R"(<|tool_call_start|>[set(on=False, mode="eco")]<|tool_call_end|>)"));
    EXPECT_FALSE(grammar_accepts(one, R"(<|tool_call_start|>[set(on=true)]<|tool_call_end|>)"));
    EXPECT_FALSE(grammar_accepts(one, R"(<|tool_call_start|>[other()]<|tool_call_end|>)"));
    EXPECT_FALSE(grammar_accepts(
        one, R"(<|tool_call_start|>[set(on=True), set(on=False)]<|tool_call_end|>)"));
    // Parameters a Python call cannot take: not an object, a key that is no identifier.
    EXPECT_THROW(python.grammar(parse_json(R"([{"type": "function", "function": {"name": "f",
        "parameters": {"type": "string"}}}])"),
                                std::nullopt, false),
                 Error);
    EXPECT_THROW(python.grammar(parse_json(R"([{"type": "function", "function": {"name": "f",
        "parameters": {"type": "object", "properties": {"a-b": {}}}}}])"),
                                std::nullopt, false),
                 Error);
}

// gpt-oss's Harmony messages: the analysis channel is the thinking, the final channel the
// answer, a message to functions.NAME a call (its header either way round); whole replies and
// streamed ones read alike; the grammar of a required call ties each name to its arguments.
TEST(ToolCalls, HarmonyMessagesSplitIntoThinkingAnswerAndCalls) {
    const std::string jinja = template_text("openai-gpt-oss-120b");
    const ToolCallFormat calls = ToolCallFormat::for_template(jinja);
    const ReasoningFormat reasoning = ReasoningFormat::for_template(jinja);
    ASSERT_EQ(calls.style(), Style::Harmony);
    ASSERT_TRUE(reasoning.thinks());
    const ReplyReader reader(reasoning, calls, true, false);
    const std::string call =
        "<|channel|>analysis<|message|>User wants weather.<|end|><|start|>assistant<|channel|>"
        "commentary to=functions.get_weather <|constrain|>json<|message|>{\"city\": \"Oslo\", "
        "\"days\": 2}";
    ReplyReader::Parts p = reader.whole(call);
    EXPECT_EQ(p.reasoning, "User wants weather.");
    EXPECT_EQ(p.content, "");
    ASSERT_EQ(p.calls.size(), 1u);
    EXPECT_EQ(p.calls[0].name, "get_weather");
    EXPECT_EQ(p.calls[0].arguments, R"({"city":"Oslo","days":2})");
    p = reader.whole(
        "<|start|>assistant to=functions.get_time<|channel|>commentary json"
        "<|message|>{}");
    ASSERT_EQ(p.calls.size(), 1u);
    EXPECT_EQ(p.calls[0].name, "get_time");
    const std::string answer =
        "<|channel|>analysis<|message|>Think.\nMore.<|end|><|start|>assistant<|channel|>final"
        "<|message|>Hello there.";
    p = reader.whole(answer);
    EXPECT_EQ(p.reasoning, "Think.\nMore.");
    EXPECT_EQ(p.content, "Hello there.");
    EXPECT_TRUE(p.calls.empty());
    EXPECT_EQ(reader.whole("Just text.").content, "Just text.");
    // A message to a function whose body is not an object stays text.
    p = reader.whole("<|channel|>commentary to=functions.get_time <|message|>oops");
    EXPECT_TRUE(p.calls.empty());
    // Streamed in pieces of 3 bytes: the same parts, and no marker's text in them.
    for (const std::string& reply : {answer, call}) {
        ReplyReader streaming(reasoning, calls, true, false);
        std::string thought, said;
        for (size_t i = 0; i < reply.size(); i += 3) {
            const ReplyReader::Parts part = streaming.add(reply.substr(i, 3));
            thought += part.reasoning;
            said += part.content;
            EXPECT_TRUE(part.calls.empty());
        }
        const ReplyReader::Parts rest = streaming.finish();
        thought += rest.reasoning;
        said += rest.content;
        const ReplyReader::Parts whole = reader.whole(reply);
        EXPECT_EQ(thought, whole.reasoning) << reply;
        EXPECT_EQ(said, whole.content) << reply;
        EXPECT_EQ(rest.calls.size(), whole.calls.size()) << reply;
        EXPECT_EQ(said.find("<|"), std::string::npos) << said;
    }
    const std::string gbnf = calls.grammar(parse_json(kTools), std::nullopt, true);
    EXPECT_TRUE(grammar_accepts(gbnf,
                                "<|channel|>commentary to=functions.get_weather "
                                "<|constrain|>json<|message|>{\"city\":\"Oslo\",\"days\":2}"));
    EXPECT_TRUE(grammar_accepts(
        gbnf, "<|channel|>commentary to=functions.get_time <|constrain|>json<|message|>{}"));
    EXPECT_FALSE(grammar_accepts(
        gbnf, "<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{}"));
    EXPECT_FALSE(grammar_accepts(gbnf, "<|channel|>final<|message|>Hi"));
}

TEST(ToolCalls, RepliesSplitIntoTextAndCalls) {
    const ToolCallFormat hermes(Style::Hermes);
    auto r = hermes.parse(
        "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": "
        "\"Paris\", \"days\": 2}}\n"
        "</tool_call>\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>");
    EXPECT_EQ(r.content, "Let me check.");
    ASSERT_EQ(r.calls.size(), 2u);
    EXPECT_EQ(r.calls[0].name, "get_weather");
    EXPECT_EQ(r.calls[0].arguments, R"({"city":"Paris","days":2})");
    EXPECT_EQ(r.calls[1].name, "get_time");
    r = hermes.parse("No tools needed: <tool_call> is just a word here.");  // not a call
    EXPECT_TRUE(r.calls.empty());
    EXPECT_EQ(r.content, "No tools needed: <tool_call> is just a word here.");

    r = ToolCallFormat(Style::Llama3)
            .parse(R"(<|python_tag|>{"name": "get_time", "parameters": {"zone": "UTC"}})");
    ASSERT_EQ(r.calls.size(), 1u);
    EXPECT_EQ(r.calls[0].arguments, R"({"zone":"UTC"})");
    EXPECT_TRUE(r.content.empty());
    r = ToolCallFormat(Style::Llama3).parse("{\"a\": 1} is a JSON object.");
    EXPECT_TRUE(r.calls.empty());

    r = ToolCallFormat(Style::Mistral)
            .parse(
                R"([TOOL_CALLS][{"name": "get_time", "arguments": {}}, {"name": "get_weather", "arguments": {"city": "Oslo", "days": 1}}])");
    ASSERT_EQ(r.calls.size(), 2u);
    EXPECT_EQ(r.calls[1].arguments, R"({"city":"Oslo","days":1})");
    r = ToolCallFormat(Style::MistralArgs)
            .parse(R"(Sure.[TOOL_CALLS]get_weather[ARGS]{"city": "Oslo", "days": 1})");
    ASSERT_EQ(r.calls.size(), 1u);
    EXPECT_EQ(r.calls[0].name, "get_weather");
    EXPECT_EQ(r.calls[0].arguments, R"({"city": "Oslo", "days": 1})");
    EXPECT_EQ(r.content, "Sure.");

    r = ToolCallFormat(Style::QwenXml)
            .parse(
                "<tool_call>\n<function=get_weather>\n<parameter=city>\nSan "
                "José\n</parameter>\n<parameter=days>\n3\n"
                "</parameter>\n</function>\n</tool_call>");
    ASSERT_EQ(r.calls.size(), 1u);
    EXPECT_EQ(r.calls[0].arguments, R"({"city": "San José", "days": 3})");
}

TEST(ToolCalls, StreamingHoldsBackWhatMayBeginACall) {
    const ToolCallFormat hermes(Style::Hermes);
    EXPECT_EQ(hermes.safe_prefix("Hello there"), 11u);
    EXPECT_EQ(hermes.safe_prefix("Hello <tool"), 6u);
    EXPECT_EQ(hermes.safe_prefix("Hello <tool_call>{\"na"), 6u);
    EXPECT_EQ(hermes.safe_prefix("a < b"), 5u);
    const ToolCallFormat llama(Style::Llama3);
    EXPECT_EQ(llama.safe_prefix("  {\"name\""), 0u);
    EXPECT_EQ(llama.safe_prefix("<|python"), 0u);
    EXPECT_EQ(llama.safe_prefix("The weather"), 11u);
}

TEST(ToolCalls, GrammarsHoldRepliesToCallsOfTheTools) {
    const JsonValue tools = parse_json(kTools);
    const std::string hermes = ToolCallFormat(Style::Hermes).grammar(tools, std::nullopt, true);
    EXPECT_TRUE(grammar_accepts(hermes,
                                "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": "
                                "{\"city\": \"Oslo\", \"days\": 3}}\n</tool_call>"));
    EXPECT_TRUE(
        grammar_accepts(hermes,
                        "<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>\n"
                        "<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>"));
    EXPECT_FALSE(grammar_accepts(
        hermes,
        "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": 3}}\n</tool_call>"));
    EXPECT_FALSE(grammar_accepts(
        hermes, "<tool_call>\n{\"name\": \"delete_all\", \"arguments\": {}}\n</tool_call>"));
    EXPECT_FALSE(grammar_accepts(hermes, "Sure!"));
    const std::string one =
        ToolCallFormat(Style::Llama3).grammar(tools, std::string("get_time"), false);
    EXPECT_TRUE(grammar_accepts(one, "{\"name\": \"get_time\", \"parameters\": {}}"));
    EXPECT_FALSE(grammar_accepts(
        one, "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"a\", \"days\": 1}}"));
    const std::string mistral = ToolCallFormat(Style::Mistral).grammar(tools, std::nullopt, true);
    EXPECT_TRUE(
        grammar_accepts(mistral, "[TOOL_CALLS][{\"name\": \"get_time\", \"arguments\": {}}]"));
    const std::string args = ToolCallFormat(Style::MistralArgs).grammar(tools, std::nullopt, false);
    EXPECT_TRUE(grammar_accepts(args, "[TOOL_CALLS]get_time[ARGS]{}"));
    const std::string xml = ToolCallFormat(Style::QwenXml).grammar(tools, std::nullopt, false);
    EXPECT_TRUE(grammar_accepts(
        xml,
        "<tool_call>\n<function=get_weather>\n<parameter=city>\nOslo\n</parameter>\n"
        "</function>\n</tool_call>"));
    // A function's own "$ref" pointers keep their meaning inside the grammar of every tool.
    const JsonValue with_refs = parse_json(R"([{"type": "function", "function": {"name": "tree",
      "parameters": {"$defs": {"leaf": {"type": "integer", "minimum": 0, "maximum": 9}},
                     "type": "object", "properties": {"a": {"$ref": "#/$defs/leaf"}, "b": {"$ref": "#"}},
                     "required": ["a"], "additionalProperties": false}}}])");
    const std::string refs = ToolCallFormat(Style::Hermes).grammar(with_refs, std::nullopt, false);
    EXPECT_TRUE(grammar_accepts(refs,
                                "<tool_call>\n{\"name\": \"tree\", \"arguments\": {\"a\": 3, "
                                "\"b\": {\"a\": 4}}}\n</tool_call>"));
    EXPECT_FALSE(grammar_accepts(refs,
                                 "<tool_call>\n{\"name\": \"tree\", \"arguments\": {\"a\": 3, "
                                 "\"b\": {\"name\": 4}}}\n</tool_call>"));
    EXPECT_THROW(ToolCallFormat(Style::Hermes).grammar(tools, std::string("nope"), false), Error);
    EXPECT_THROW(ToolCallFormat(Style::Hermes)
                     .grammar(parse_json("[{\"type\": \"web\"}]"), std::nullopt, false),
                 Error);
}

}  // namespace
}  // namespace ember
