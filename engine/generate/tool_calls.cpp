// The call formats follow the families' chat templates (../shared/templates) and how
// llama.cpp's chat parser reads them (common/chat.cpp): Hermes-style <tool_call> blocks for
// Qwen and Hermes, a bare JSON object with "parameters" for Llama 3.x, [TOOL_CALLS] and a JSON
// list (or name[ARGS]arguments since Mistral Small 3.2) for Mistral, <|tool_call|> and a JSON
// list for Granite 3.x and Phi-4-mini, Python calls between <|tool_call_start|> and
// <|tool_call_end|> for LFM2.
#include "engine/generate/tool_calls.h"

#include <algorithm>
#include <cctype>

#include "engine/grammar/json_schema.h"
#include "engine/text/utf8.h"
#include "formats/error.h"

namespace ember {
namespace {

bool has(std::string_view text, std::string_view part) {
    return text.find(part) != std::string_view::npos;
}

std::string_view trim(std::string_view s) {
    const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
    while (!s.empty() && space(s.front())) s.remove_prefix(1);
    while (!s.empty() && space(s.back())) s.remove_suffix(1);
    return s;
}

// The end (one past) of the JSON object or array that starts at s[begin], or npos when it does
// not close.
size_t json_end(std::string_view s, size_t begin) {
    int depth = 0;
    bool in_string = false;
    for (size_t i = begin; i < s.size(); ++i) {
        const char c = s[i];
        if (in_string) {
            if (c == '\\') {
                ++i;
            } else if (c == '"') {
                in_string = false;
            }
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            ++depth;
        } else if (c == '}' || c == ']') {
            if (--depth == 0) return i + 1;
        }
    }
    return std::string_view::npos;
}

// A call object {"name": ..., "arguments" (or "parameters"): {...} or "..."}.
std::optional<ToolCall> read_call(const JsonValue& v) {
    if (!v.is_object()) return std::nullopt;
    const JsonValue* name = v.find("name");
    const JsonValue* args = v.find("arguments");
    if (args == nullptr) args = v.find("parameters");
    if (name == nullptr || !name->is_string() || name->as_string().empty()) return std::nullopt;
    ToolCall call{name->as_string(), "{}"};
    if (args != nullptr) call.arguments = args->is_string() ? args->as_string() : args->dump();
    return call;
}

std::optional<JsonValue> try_parse(std::string_view text) {
    try {
        return parse_json(text);
    } catch (const Error&) {
        return std::nullopt;
    }
}

// <function=name><parameter=p>value</parameter>...</function>: each value JSON where it reads as
// JSON (numbers, objects, true), else a string, as Qwen's templates write them.
std::optional<ToolCall> read_xml_call(std::string_view body) {
    body = trim(body);
    if (body.substr(0, 10) != "<function=") return std::nullopt;
    const size_t name_end = body.find('>');
    if (name_end == std::string_view::npos) return std::nullopt;
    ToolCall call{std::string(trim(body.substr(10, name_end - 10))), ""};
    if (call.name.empty()) return std::nullopt;
    std::string args = "{";
    size_t at = name_end + 1;
    while (true) {
        const size_t open = body.find("<parameter=", at);
        if (open == std::string_view::npos) break;
        const size_t key_end = body.find('>', open);
        const size_t close = body.find("</parameter>", open);
        if (key_end == std::string_view::npos || close == std::string_view::npos || close < key_end)
            return std::nullopt;
        std::string_view value = body.substr(key_end + 1, close - key_end - 1);
        if (!value.empty() && value.front() == '\n') value.remove_prefix(1);
        if (!value.empty() && value.back() == '\n') value.remove_suffix(1);
        if (args.size() > 1) args += ", ";
        append_json_string(args, trim(body.substr(open + 11, key_end - open - 11)));
        args += ": ";
        if (const auto v = try_parse(value); v && !v->is_string()) {
            args += v->dump();
        } else {
            append_json_string(args, value);
        }
        at = close + 12;
    }
    call.arguments = args + "}";
    return call;
}

// A <tool_call> block's JSON body as a call.
std::optional<ToolCall> read_json_call(std::string_view body) {
    const std::optional<JsonValue> v = try_parse(trim(body));
    return v ? read_call(*v) : std::nullopt;
}

// The <tool_call>...</tool_call> blocks of a reply read by `read` into *calls; returns the text
// outside them (a block that does not read as a call stays text, except an unclosed one after
// others: a reply cut short).
std::string read_blocks(std::string_view reply, std::optional<ToolCall> (*read)(std::string_view),
                        std::vector<ToolCall>* calls) {
    std::string text;
    size_t at = 0;
    while (true) {
        const size_t open = reply.find("<tool_call>", at);
        if (open == std::string_view::npos) return text + std::string(reply.substr(at));
        size_t close = reply.find("</tool_call>", open);
        const size_t end = close == std::string_view::npos ? reply.size() : close + 12;
        if (close == std::string_view::npos) close = reply.size();
        const std::optional<ToolCall> call = read(reply.substr(open + 11, close - open - 11));
        text += reply.substr(at, open - at);
        if (call) {
            calls->push_back(*call);
        } else if (!(close == reply.size() && !calls->empty())) {
            text += reply.substr(open, end - open);
        }
        at = end;
    }
}

// A schema's own "$ref": "#..." pointers made to point where the schema now stands, at
// `base` ("#/$defs/f0") of the document that holds every tool's.
void move_refs(JsonValue& schema, const std::string& base) {
    if (schema.is_object()) {
        for (auto& [key, value] : schema.members) {
            if (key == "$ref" && value.is_string() && !value.text.empty() && value.text[0] == '#') {
                value.text = base + value.text.substr(1);
            } else {
                move_refs(value, base);
            }
        }
    } else if (schema.is_array()) {
        for (JsonValue& item : schema.items) move_refs(item, base);
    }
}

// The tools' functions: name -> parameter schema text, each to stand at "#/$defs/f<index>" of
// the document the grammar is made from.
std::vector<std::pair<std::string, std::string>> functions_of(const JsonValue& tools) {
    if (!tools.is_array() || tools.as_array().empty())
        throw Error("'tools' must be a non-empty list");
    std::vector<std::pair<std::string, std::string>> out;
    for (const JsonValue& tool : tools.as_array()) {
        const JsonValue* type = tool.is_object() ? tool.find("type") : nullptr;
        const JsonValue* function = tool.is_object() ? tool.find("function") : nullptr;
        if (type == nullptr || !type->is_string() || type->as_string() != "function" ||
            function == nullptr || !function->is_object()) {
            throw Error("each tool must be {\"type\": \"function\", \"function\": {...}}");
        }
        const JsonValue* name = function->find("name");
        if (name == nullptr || !name->is_string() || name->as_string().empty()) {
            throw Error("a tool's function has no name");
        }
        JsonValue parameters = function->find("parameters") != nullptr
                                   ? *function->find("parameters")
                                   : parse_json(R"({"type": "object"})");
        move_refs(parameters, "#/$defs/f" + std::to_string(out.size()));
        out.emplace_back(name->as_string(), parameters.dump());
    }
    return out;
}

std::string gbnf_literal(std::string_view s) {
    std::string out = "\"";
    for (const char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out + "\"";
}

// LFM2's calls: Python syntax, [name(key=literal, ...), ...], the literals strings (single or
// double quotes, backslash escapes), numbers, True / False / None, lists and dicts; read into
// JSON. Each reader takes what it reads off the front of `s`; nothing on a syntax error.
class PythonCalls {
  public:
    explicit PythonCalls(std::string_view s) : s_(s) {}
    std::optional<std::vector<ToolCall>> list() {
        std::vector<ToolCall> calls;
        if (!eat('[')) return std::nullopt;
        while (!eat(']')) {
            if (!calls.empty() && !eat(',')) return std::nullopt;
            std::string name = identifier();
            if (name.empty() || !eat('(')) return std::nullopt;
            std::string arguments = "{";
            while (!eat(')')) {
                if (arguments.size() > 1 && !eat(',')) return std::nullopt;
                if (eat(')')) break;  // a trailing comma
                const std::string key = identifier();
                if (key.empty() || !eat('=')) return std::nullopt;
                const std::optional<std::string> value = literal(0);
                if (!value) return std::nullopt;
                if (arguments.size() > 1) arguments += ",";
                append_json_string(arguments, key);
                arguments += ":" + *value;
            }
            calls.push_back({std::move(name), arguments + "}"});
        }
        return calls;
    }
    std::string_view rest() const { return s_; }

  private:
    void space() { s_ = trim_front(s_); }
    static std::string_view trim_front(std::string_view s) {
        while (!s.empty() && (s[0] == ' ' || s[0] == '\n' || s[0] == '\t' || s[0] == '\r'))
            s.remove_prefix(1);
        return s;
    }
    bool eat(char c) {
        space();
        if (s_.empty() || s_[0] != c) return false;
        s_.remove_prefix(1);
        return true;
    }
    std::string identifier() {
        space();
        size_t n = 0;
        while (n < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[n])) || s_[n] == '_' ||
                                 s_[n] == '.' || s_[n] == '-'))
            ++n;
        std::string out(s_.substr(0, n));
        s_.remove_prefix(n);
        return out;
    }
    std::optional<std::string> literal(int depth) {
        space();
        if (s_.empty() || depth > 64) return std::nullopt;
        const char c = s_[0];
        if (c == '"' || c == '\'') return string_literal();
        if (c == '[' || c == '{') {
            const bool dict = c == '{';
            s_.remove_prefix(1);
            std::string out(1, dict ? '{' : '[');
            for (bool first = true; !eat(dict ? '}' : ']'); first = false) {
                if (!first && !eat(',')) return std::nullopt;
                if (eat(dict ? '}' : ']')) break;
                if (!first) out += ",";
                if (dict) {
                    space();
                    const std::optional<std::string> key =
                        !s_.empty() && (s_[0] == '"' || s_[0] == '\'') ? string_literal()
                                                                       : std::nullopt;
                    if (!key || !eat(':')) return std::nullopt;
                    out += *key + ":";
                }
                const std::optional<std::string> value = literal(depth + 1);
                if (!value) return std::nullopt;
                out += *value;
            }
            return out + (dict ? "}" : "]");
        }
        for (const auto& [python, json] :
             {std::pair{"True", "true"}, {"False", "false"}, {"None", "null"}}) {
            const std::string_view word = python;
            if (s_.substr(0, word.size()) == word) {
                s_.remove_prefix(word.size());
                return std::string(json);
            }
        }
        size_t n = 0;  // a number: its characters, checked by the JSON reader
        while (n < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[n])) || s_[n] == '-' ||
                                 s_[n] == '+' || s_[n] == '.' || s_[n] == 'e' || s_[n] == 'E'))
            ++n;
        const std::string number(s_.substr(0, n));
        if (n == 0 || !try_parse(number)) return std::nullopt;
        s_.remove_prefix(n);
        return number;
    }
    std::optional<std::string> string_literal() {
        const char quote = s_[0];
        std::string value;
        size_t i = 1;
        for (; i < s_.size() && s_[i] != quote; ++i) {
            if (s_[i] != '\\') {
                value += s_[i];
                continue;
            }
            if (++i == s_.size()) return std::nullopt;
            const char e = s_[i];
            if (e == 'u' || e == 'x') {  // \uXXXX (a surrogate pair as two), \xXX
                const size_t digits = e == 'u' ? 4 : 2;
                const std::optional<char32_t> cp = hex_at(i + 1, digits);
                if (!cp) return std::nullopt;
                i += digits;
                char32_t c = *cp;
                if (c >= 0xD800 && c < 0xDC00 && s_.substr(i + 1, 2) == "\\u") {
                    const std::optional<char32_t> low = hex_at(i + 3, 4);
                    if (low && *low >= 0xDC00 && *low < 0xE000) {
                        c = 0x10000 + ((c - 0xD800) << 10) + (*low - 0xDC00);
                        i += 6;
                    }
                }
                append_utf8(value, c >= 0xD800 && c < 0xE000 ? 0xFFFD : c);
                continue;
            }
            value += e == 'n'   ? '\n'
                     : e == 't' ? '\t'
                     : e == 'r' ? '\r'
                     : e == 'b' ? '\b'
                     : e == 'f' ? '\f'
                                : e;
        }
        if (i == s_.size()) return std::nullopt;
        s_.remove_prefix(i + 1);
        std::string out;
        append_json_string(out, value);
        return out;
    }

    // The code point of `digits` hex digits at s_[at], if they are there.
    std::optional<char32_t> hex_at(size_t at, size_t digits) const {
        if (at + digits > s_.size()) return std::nullopt;
        char32_t cp = 0;
        for (size_t k = 0; k < digits; ++k) {
            const char h = s_[at + k];
            if (!std::isxdigit(static_cast<unsigned char>(h))) return std::nullopt;
            cp = cp * 16 + static_cast<char32_t>(std::isdigit(static_cast<unsigned char>(h))
                                                     ? h - '0'
                                                     : std::tolower(h) - 'a' + 10);
        }
        return cp;
    }

    std::string_view s_;
};

// The marker a style's calls start with (empty: a call is a JSON object at the reply's start).
std::string_view marker_of(ToolCallFormat::Style style) {
    switch (style) {
        case ToolCallFormat::Style::Hermes:
        case ToolCallFormat::Style::QwenXml:
            return "<tool_call>";
        case ToolCallFormat::Style::Mistral:
        case ToolCallFormat::Style::MistralArgs:
            return "[TOOL_CALLS]";
        case ToolCallFormat::Style::ToolCallList:
            return "<|tool_call|>";
        case ToolCallFormat::Style::Pythonic:
            return "<|tool_call_start|>";
        case ToolCallFormat::Style::Harmony:
            return "<|start|>";
        default:
            return "";
    }
}

}  // namespace

ToolCallFormat ToolCallFormat::for_template(std::string_view jinja) {
    if (has(jinja, "<|channel|>") && has(jinja, "<|message|>") && has(jinja, "functions."))
        return ToolCallFormat(Style::Harmony);
    if (has(jinja, "[TOOL_CALLS]"))
        return ToolCallFormat(has(jinja, "[ARGS]") ? Style::MistralArgs : Style::Mistral);
    if (has(jinja, "<tool_call>"))
        return ToolCallFormat(has(jinja, "<function=") ? Style::QwenXml : Style::Hermes);
    if (has(jinja, "<|tool_call|>")) return ToolCallFormat(Style::ToolCallList);
    if (has(jinja, "<|tool_list_start|>") || has(jinja, "<|tool_call_start|>"))
        return ToolCallFormat(Style::Pythonic);
    if (has(jinja, "<|python_tag|>") ||
        (has(jinja, "<|start_header_id|>") && has(jinja, "parameters"))) {
        return ToolCallFormat(Style::Llama3);
    }
    return ToolCallFormat(Style::Generic);
}

std::string_view ToolCallFormat::marker() const {
    return marker_of(style_);
}

std::vector<std::string_view> ToolCallFormat::markers() const {
    switch (style_) {
        case Style::Hermes:
        case Style::QwenXml:
            return {"<tool_call>", "</tool_call>"};
        case Style::Llama3:
            return {"<|python_tag|>"};
        case Style::Mistral:
            return {"[TOOL_CALLS]"};
        case Style::MistralArgs:
            return {"[TOOL_CALLS]", "[ARGS]"};
        case Style::ToolCallList:
            return {"<|tool_call|>", "<|/tool_call|>"};
        case Style::Pythonic:
            return {"<|tool_call_start|>", "<|tool_call_end|>"};
        case Style::Harmony:
            return {"<|start|>", "<|channel|>", "<|message|>", "<|constrain|>", "<|end|>"};
        default:
            return {};
    }
}

std::string_view ToolCallFormat::name() const {
    switch (style_) {
        case Style::Hermes:
            return "hermes";
        case Style::QwenXml:
            return "qwen-xml";
        case Style::Llama3:
            return "llama3";
        case Style::Mistral:
            return "mistral";
        case Style::MistralArgs:
            return "mistral-args";
        case Style::ToolCallList:
            return "tool-call-list";
        case Style::Pythonic:
            return "pythonic";
        case Style::Harmony:
            return "harmony";
        case Style::Generic:
            return "generic";
    }
    return "?";
}

std::string ToolCallFormat::grammar(const JsonValue& tools, const std::optional<std::string>& only,
                                    bool parallel) const {
    const std::vector<std::pair<std::string, std::string>> functions = functions_of(tools);
    const auto wanted = [&](const std::string& name) { return !only || name == *only; };
    if (std::none_of(functions.begin(), functions.end(),
                     [&](const auto& f) { return wanted(f.first); })) {
        throw Error("tool_choice names the function '" + *only + "', which 'tools' does not have");
    }
    if (style_ == Style::QwenXml) {
        // Parameter values are free text (no '<': the closing tags end them); the names are the
        // schema's properties.
        std::string calls;
        for (const auto& [name, schema] : functions) {
            if (!wanted(name)) continue;
            const JsonValue parsed = parse_json(schema);
            std::string params;
            if (const JsonValue* props = parsed.find("properties");
                props != nullptr && props->is_object()) {
                for (const auto& [param, unused] : props->as_object()) {
                    params +=
                        (params.empty() ? "" : " | ") + gbnf_literal("<parameter=" + param + ">\n");
                }
            }
            std::string call = gbnf_literal("<function=" + name + ">\n");
            if (!params.empty()) call += " ((" + params + ") [^<]* \"\\n</parameter>\\n\")*";
            calls += (calls.empty() ? "" : " | ") + ("(" + call + ")");
        }
        const std::string block =
            "\"<tool_call>\\n\" (" + calls + ") \"</function>\\n</tool_call>\"";
        return "root ::= " + block + (parallel ? " (\"\\n\" " + block + ")*" : "") + "\n";
    }
    // Every function's parameters stand in $defs (their own "#" pointers moved there by
    // functions_of); the calls refer to them.
    std::string defs;
    for (size_t i = 0; i < functions.size(); ++i) {
        defs += (i == 0 ? "" : ", ") + ("\"f" + std::to_string(i) + "\": ") + functions[i].second;
    }
    if (style_ == Style::Pythonic || style_ == Style::Harmony) {
        // Each wanted function's name beside its own arguments' rule (json_schema.h's def
        // rules): LFM2's [name(key=value, ...), ...], keyword arguments of Python literals;
        // Harmony's first message (the prompt began it) addressed to the function, its body
        // the arguments as JSON, one call (a call ends Harmony's turn).
        const bool python = style_ == Style::Pythonic;
        std::vector<std::string> defs_wanted, names;
        for (size_t i = 0; i < functions.size(); ++i) {
            if (!wanted(functions[i].first)) continue;
            defs_wanted.push_back("f" + std::to_string(i));
            names.push_back(functions[i].first);
        }
        const std::string all = "{\"$defs\": {" + defs + "}}";
        const DefRules arguments = python ? json_schema_python_arguments(all, defs_wanted)
                                          : json_schema_def_rules(all, defs_wanted);
        std::string calls;
        for (size_t i = 0; i < names.size(); ++i) {
            calls += (i == 0 ? "" : " | ") +
                     (python ? "(" + gbnf_literal(names[i] + "(") + " " + arguments.def_rules[i] +
                                   " \")\")"
                             : "(" + gbnf_literal(names[i] + " <|constrain|>json<|message|>") +
                                   " " + arguments.def_rules[i] + ")");
        }
        const std::string root =
            python ? std::string("root ::= \"<|tool_call_start|>[\" tool-call ") +
                         (parallel ? "(\", \" tool-call)* " : "") + "\"]<|tool_call_end|>\"\n"
                   : "root ::= \"<|channel|>commentary to=functions.\" tool-call\n";
        return root + "tool-call ::= " + calls + "\n" + arguments.rules;
    }
    const auto arguments_of = [](size_t i) {
        return "{\"$ref\": \"#/$defs/f" + std::to_string(i) + "\"}";
    };
    if (style_ == Style::MistralArgs) {
        // name[ARGS]arguments: the arguments of any of the functions (one schema per grammar).
        std::string names, schemas;
        for (size_t i = 0; i < functions.size(); ++i) {
            if (!wanted(functions[i].first)) continue;
            names += (names.empty() ? "" : " | ") + gbnf_literal(functions[i].first);
            schemas += (schemas.empty() ? "" : ", ") + arguments_of(i);
        }
        const std::string call = "\"[TOOL_CALLS]\" (" + names + ") \"[ARGS]\" tool-arguments";
        return json_schema_to_gbnf_rules(
            "{\"$defs\": {" + defs + "}, \"anyOf\": [" + schemas + "]}", "tool-arguments",
            "root ::= " + call + (parallel ? " (" + call + ")*" : "") + "\n");
    }
    const char* key = style_ == Style::Llama3 ? "parameters" : "arguments";
    std::string alternatives;
    for (size_t i = 0; i < functions.size(); ++i) {
        if (!wanted(functions[i].first)) continue;
        std::string quoted;
        append_json_string(quoted, functions[i].first);
        alternatives += std::string(alternatives.empty() ? "" : ", ") +
                        R"({"type": "object", "properties": {"name": {"const": )" + quoted +
                        "}, \"" + key + "\": " + arguments_of(i) + R"(}, "required": ["name", ")" +
                        key + R"("], "additionalProperties": false})";
    }
    const std::string schema = "{\"$defs\": {" + defs + "}, \"anyOf\": [" + alternatives + "]}";
    std::string root;
    switch (style_) {
        case Style::Hermes: {
            const std::string block = "\"<tool_call>\\n\" tool-call \"\\n</tool_call>\"";
            root = "root ::= " + block + (parallel ? " (\"\\n\" " + block + ")*" : "") + "\n";
            break;
        }
        case Style::Mistral:
            root = std::string("root ::= \"[TOOL_CALLS][\" tool-call ") +
                   (parallel ? "(\", \" tool-call)* " : "") + "\"]\"\n";
            break;
        case Style::ToolCallList:
            root = std::string("root ::= \"<|tool_call|>[\" tool-call ") +
                   (parallel ? "(\", \" tool-call)* " : "") + "\"]\"\n";
            break;
        default:  // Llama3, Generic: one JSON object
            root = "root ::= tool-call\n";
    }
    return json_schema_to_gbnf_rules(schema, "tool-call", root);
}

ToolCallFormat::Reply ToolCallFormat::parse(std::string_view reply) const {
    Reply out;
    std::string text;
    switch (style_) {
        case Style::Hermes:
        case Style::QwenXml:
            text = read_blocks(reply, style_ == Style::Hermes ? read_json_call : read_xml_call,
                               &out.calls);
            break;
        case Style::Mistral:
        case Style::MistralArgs: {
            const size_t marker = reply.find("[TOOL_CALLS]");
            if (marker == std::string_view::npos) {
                text = reply;
                break;
            }
            text = reply.substr(0, marker);
            std::string_view rest = reply.substr(marker);
            while (rest.substr(0, 12) == "[TOOL_CALLS]") {
                rest = trim(rest.substr(12));
                if (!rest.empty() && rest[0] == '[') {  // a JSON list of calls
                    const size_t end = json_end(rest, 0);
                    const std::optional<JsonValue> v = end == std::string_view::npos
                                                           ? std::nullopt
                                                           : try_parse(rest.substr(0, end));
                    if (!v || !v->is_array()) break;
                    for (const JsonValue& item : v->as_array()) {
                        if (const auto call = read_call(item)) out.calls.push_back(*call);
                    }
                    rest = trim(rest.substr(end));
                    continue;
                }
                const size_t args = rest.find("[ARGS]");  // name[ARGS]{...}
                if (args == std::string_view::npos) break;
                const std::string_view name = trim(rest.substr(0, args));
                rest = trim(rest.substr(args + 6));
                const size_t end =
                    rest.empty() || rest[0] != '{' ? std::string_view::npos : json_end(rest, 0);
                if (name.empty() || end == std::string_view::npos ||
                    !try_parse(rest.substr(0, end)))
                    break;
                out.calls.push_back({std::string(name), std::string(rest.substr(0, end))});
                rest = trim(rest.substr(end));
            }
            if (out.calls.empty()) text = reply;
            break;
        }
        case Style::ToolCallList:
        case Style::Pythonic: {
            // The marker, then a list of calls (JSON, or Python calls), then the closing
            // marker if any; text before the marker is the reply's text.
            const std::string_view marker = marker_of(style_);
            const size_t at = reply.find(marker);
            text = reply;
            if (at == std::string_view::npos) break;
            std::string_view rest = trim(reply.substr(at + marker.size()));
            std::optional<std::vector<ToolCall>> calls;
            if (style_ == Style::Pythonic) {
                PythonCalls reader(rest);
                calls = reader.list();
                rest = reader.rest();
            } else if (const size_t end = rest.empty() || rest[0] != '[' ? std::string_view::npos
                                                                         : json_end(rest, 0);
                       end != std::string_view::npos) {
                if (const std::optional<JsonValue> v = try_parse(rest.substr(0, end));
                    v && v->is_array()) {
                    calls.emplace();
                    for (const JsonValue& item : v->as_array()) {
                        const std::optional<ToolCall> call = read_call(item);
                        if (!call) {
                            calls.reset();
                            break;
                        }
                        calls->push_back(*call);
                    }
                }
                rest = rest.substr(end);
            }
            if (!calls || calls->empty()) break;
            const std::string_view closing =
                style_ == Style::Pythonic ? "<|tool_call_end|>" : "<|/tool_call|>";
            rest = trim(rest);
            if (rest.substr(0, closing.size()) == closing) rest = trim(rest.substr(closing.size()));
            if (!rest.empty()) break;  // more after the calls: not a reply of calls
            out.calls = std::move(*calls);
            text = reply.substr(0, at);
            break;
        }
        case Style::Harmony: {
            // Messages to functions as ReasoningFormat hands them on: <|start|>header
            // <|message|>arguments, up to the next <|start|>; anything else is text.
            constexpr std::string_view start = "<|start|>", message = "<|message|>",
                                       to = "to=functions.";
            size_t at = 0;
            while (at < reply.size()) {
                const size_t open = reply.find(start, at);
                if (open == std::string_view::npos) break;
                text += reply.substr(at, open - at);
                size_t next = reply.find(start, open + start.size());
                if (next == std::string_view::npos) next = reply.size();
                const std::string_view segment = reply.substr(open, next - open);
                at = next;
                const size_t body = segment.find(message);
                const std::string_view header =
                    segment.substr(0, body == std::string_view::npos ? 0 : body);
                const size_t name_at = header.find(to);
                std::optional<JsonValue> arguments;
                std::string name;
                if (name_at != std::string_view::npos) {
                    std::string_view rest = header.substr(name_at + to.size());
                    size_t n = 0;
                    while (n < rest.size() && rest[n] != ' ' && rest[n] != '<') ++n;
                    name = std::string(rest.substr(0, n));
                    arguments = try_parse(trim(segment.substr(body + message.size())));
                }
                if (name.empty() || !arguments || !arguments->is_object()) {
                    text += segment;
                    continue;
                }
                out.calls.push_back({std::move(name), arguments->dump()});
            }
            text += reply.substr(std::min(at, reply.size()));
            break;
        }
        case Style::Llama3:
        case Style::Generic: {
            std::string_view body = trim(reply);
            if (body.substr(0, 14) == "<|python_tag|>") body = trim(body.substr(14));
            if (body.substr(0, 7) == "```json" && body.size() >= 10 &&
                body.substr(body.size() - 3) == "```") {
                body = trim(body.substr(7, body.size() - 10));
            }
            // One object, or several separated by ';' (Llama 3.x's parallel calls).
            std::vector<ToolCall> calls;
            bool all = !body.empty() && body[0] == '{';
            while (all && !body.empty()) {
                const size_t end = json_end(body, 0);
                const std::optional<JsonValue> v =
                    end == std::string_view::npos ? std::nullopt : try_parse(body.substr(0, end));
                const std::optional<ToolCall> call = v ? read_call(*v) : std::nullopt;
                if (!call) {
                    all = false;
                    break;
                }
                calls.push_back(*call);
                body = trim(body.substr(end));
                if (!body.empty() && body[0] == ';') body = trim(body.substr(1));
            }
            if (all && !calls.empty()) {
                out.calls = std::move(calls);
            } else {
                text = reply;
            }
            break;
        }
    }
    out.content = std::string(trim(text));
    return out;
}

size_t ToolCallFormat::safe_prefix(std::string_view text) const {
    const std::string_view marker = marker_of(style_);
    if (marker.empty()) {
        // A call is the whole reply: hold everything while it may still become one.
        const std::string_view body = trim(text);
        if (body.empty()) return 0;
        const std::string_view tag = "<|python_tag|>";
        if (body[0] == '{' ||
            (style_ == Style::Llama3 && tag.substr(0, body.size()) == body.substr(0, tag.size())) ||
            body.substr(0, 3) == "```") {
            return 0;
        }
        return text.size();
    }
    const size_t at = text.find(marker);
    if (at != std::string_view::npos) return at;
    // A tail that may be the marker's beginning.
    for (size_t keep = std::min(marker.size() - 1, text.size()); keep > 0; --keep) {
        if (text.substr(text.size() - keep) == marker.substr(0, keep)) return text.size() - keep;
    }
    return text.size();
}

}  // namespace ember
