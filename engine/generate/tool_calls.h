// Tool calls in a model's reply: how each family writes them (read from its chat template), the
// grammar that holds a reply to calls of the given tools (OpenAI's tool_choice "required" or a
// named function), and reading the calls back out of the text, whole or as it streams. One rule
// for every caller (ember serve's OpenAI and ollama routes, the C API).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/text/json.h"

namespace ember {

struct ToolCall {
    std::string name;
    std::string arguments;  // a JSON object's text
};

class ToolCallFormat {
  public:
    enum class Style : uint8_t {
        Hermes,        // <tool_call>{"name": ..., "arguments": {...}}</tool_call> (Qwen2.5, Qwen3,
                       // Hermes, SmolLM3)
        QwenXml,       // <tool_call><function=name><parameter=p>value</parameter>...</tool_call>
                       // (Qwen3-Coder, Qwen3.5)
        Llama3,        // {"name": ..., "parameters": {...}}, after <|python_tag|> or alone
                       // (Llama 3.1-3.3)
        Mistral,       // [TOOL_CALLS][{"name": ..., "arguments": {...}}, ...] (Mistral v3, Nemo)
        MistralArgs,   // [TOOL_CALLS]name[ARGS]{...} (Mistral Small 3.2, Ministral 3)
        ToolCallList,  // <|tool_call|>[{"name": ..., "arguments": {...}}, ...] (Granite 3.x,
                       // Phi-4-mini; a closing <|/tool_call|> allowed)
        Pythonic,      // <|tool_call_start|>[name(key="value", n=1), ...]<|tool_call_end|>
                       // (LFM2: Python call syntax, keyword arguments of Python literals)
        Harmony,       // <|channel|>commentary to=functions.name <|constrain|>json<|message|>{...}
                       // (gpt-oss: a message to the function; ReasoningFormat hands it on as
                       // <|start|>header<|message|>arguments; one call per turn)
        Generic,       // the reply is {"name": ..., "arguments": {...}}
    };

    // The style a chat template's own text shows (its markers); Generic when none.
    static ToolCallFormat for_template(std::string_view jinja_source);
    explicit ToolCallFormat(Style style) : style_(style) {}

    Style style() const { return style_; }
    // The text a call begins with ("<tool_call>", "[TOOL_CALLS]", ...); empty where a call is
    // the whole reply (Llama 3, Generic).
    std::string_view marker() const;
    // Every fixed text of the style's calls (openings, closings, separators): what a chat's
    // reply must show even where the vocabulary has it as a control token (TurnRules).
    std::vector<std::string_view> markers() const;
    std::string_view name() const;

    // GBNF whose sentences are calls of the tools (OpenAI "tools": a list of {"type":
    // "function", "function": {"name", "parameters"}}), their arguments held to each function's
    // parameter schema: of `only` when given, else of any; several in a row when `parallel`.
    // Throws ember::Error for tools it cannot read or a schema the grammar engine cannot hold.
    std::string grammar(const JsonValue& tools, const std::optional<std::string>& only,
                        bool parallel) const;

    struct Reply {
        std::string content;  // the text outside the calls (trimmed)
        std::vector<ToolCall> calls;
    };
    // A finished reply split into its text and its calls. Text that looks like a call but does
    // not read as one stays text.
    Reply parse(std::string_view reply) const;

    // Streaming: how much of `text` (the reply so far) is surely text, not the start of a call:
    // a caller sends that much as content and holds the rest until it knows.
    size_t safe_prefix(std::string_view text) const;

  private:
    Style style_;
};

}  // namespace ember
