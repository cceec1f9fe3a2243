#include "engine/text/chat_format.h"

#include "engine/text/jinja/template.h"
#include "formats/gguf.h"

namespace ember {

namespace {

std::string token_text(const Tokenizer& tokenizer, int32_t id) {
    const Vocab& vocab = tokenizer.vocab();
    return id >= 0 && id < vocab.size() ? std::string(vocab.text(id)) : std::string();
}

ChatPrompt to_prompt(jinja::Text text) {
    return ChatPrompt{std::move(text.s), std::move(text.data)};
}

// A message's content as plain text: a string, or the text parts of a list of parts.
std::string content_text(const JsonValue* content) {
    if (content == nullptr || content->is_null()) return {};
    if (content->is_string()) return content->as_string();
    if (content->is_array()) {
        std::string text;
        for (const JsonValue& part : content->as_array()) {
            const JsonValue* type = part.find("type");
            const JsonValue* t = part.find("text");
            if (type == nullptr || !type->is_string() || type->as_string() != "text" ||
                t == nullptr || !t->is_string()) {
                throw ChatTemplateError(
                    "a content part that is not {\"type\": \"text\", \"text\": ...}");
            }
            text += t->as_string();
        }
        return text;
    }
    throw ChatTemplateError("a message's content must be a string or a list of text parts");
}

}  // namespace

ChatFormat::ChatFormat(ChatTemplate builtin)
    : family_(builtin), description_(std::string(chat_template_name(builtin))) {}

ChatFormat::ChatFormat(std::string_view source, std::string bos_token, std::string eos_token,
                       bool strip_bos, std::string origin)
    : family_(recognise_chat_template(source).value_or(ChatTemplate::ChatML)),
      source_(source),
      bos_token_(std::move(bos_token)),
      eos_token_(std::move(eos_token)),
      strip_bos_(strip_bos),
      description_(std::move(origin)) {
    try {
        jinja_ = std::make_unique<jinja::Template>(source);
    } catch (const jinja::TemplateError& e) {
        throw ChatTemplateError("chat template: " + std::string(e.what()));
    }
}

ChatFormat::~ChatFormat() = default;
ChatFormat::ChatFormat(ChatFormat&&) noexcept = default;
ChatFormat& ChatFormat::operator=(ChatFormat&&) noexcept = default;

ChatFormat ChatFormat::for_model(const gguf::File& file, const Tokenizer& tokenizer,
                                 std::string_view family, std::string_view name) {
    if (!name.empty()) return ChatFormat(chat_template_from_name(name));
    const std::string_view source = file.get_string("tokenizer.chat_template", "");
    if (!source.empty()) {
        try {
            return from_source(source, tokenizer, "the model's Jinja template", family);
        } catch (const ChatTemplateError& e) {
            ChatFormat fallback(detect_chat_template(source, family));
            fallback.warning_ = "the model's chat template cannot be read (" +
                                std::string(e.what()) + "); using the " + fallback.description_ +
                                " format instead";
            return fallback;
        }
    }
    return ChatFormat(family.empty() ? ChatTemplate::ChatML : chat_template_from_name(family));
}

ChatFormat ChatFormat::from_source(std::string_view source, const Tokenizer& tokenizer,
                                   std::string origin, std::string_view family) {
    const Vocab& vocab = tokenizer.vocab();
    ChatFormat format(source, token_text(tokenizer, vocab.bos), token_text(tokenizer, vocab.eos),
                      vocab.add_bos, std::move(origin));
    if (!recognise_chat_template(source) && !family.empty())
        format.family_ = chat_template_from_name(family);
    return format;
}

ChatPrompt ChatFormat::render(const std::vector<ChatMessage>& messages,
                              const ChatInputs& inputs) const {
    if (!jinja_) return render_chat_prompt(family_, messages, inputs.add_generation_prompt);
    JsonValue list;
    list.kind = JsonValue::Kind::Array;
    for (const ChatMessage& m : messages) {
        JsonValue object, role, content;
        object.kind = JsonValue::Kind::Object;
        role.kind = content.kind = JsonValue::Kind::String;
        role.text = m.role;
        content.text = m.content;
        object.members.emplace_back("role", std::move(role));
        object.members.emplace_back("content", std::move(content));
        list.items.push_back(std::move(object));
    }
    return render_json(list, inputs);
}

ChatPrompt ChatFormat::render_json(const JsonValue& messages, const ChatInputs& inputs) const {
    if (!messages.is_array()) throw ChatTemplateError("the messages must be a list");
    if (!jinja_) {
        std::vector<ChatMessage> plain;
        for (const JsonValue& m : messages.as_array()) {
            const JsonValue* role = m.is_object() ? m.find("role") : nullptr;
            if (role == nullptr || !role->is_string())
                throw ChatTemplateError("a message without a role");
            if (m.find("tool_calls") != nullptr || role->as_string() == "tool") {
                throw ChatTemplateError(
                    "the " + description_ +
                    " format has no way to show tool calls; use a model with a chat "
                    "template that does (or --chat-template FILE.jinja)");
            }
            plain.push_back({role->as_string(), content_text(m.find("content"))});
        }
        return render_chat_prompt(family_, plain, inputs.add_generation_prompt);
    }
    using jinja::Value;
    std::vector<std::pair<std::string, Value>> vars;
    vars.emplace_back("messages", Value::from_json(messages, true));
    vars.emplace_back(
        "tools", inputs.tools != nullptr ? Value::from_json(*inputs.tools, true) : Value::none());
    vars.emplace_back("documents", Value::none());
    vars.emplace_back("add_generation_prompt", Value::boolean(inputs.add_generation_prompt));
    if (!bos_token_.empty()) vars.emplace_back("bos_token", Value::string(bos_token_));
    if (!eos_token_.empty()) vars.emplace_back("eos_token", Value::string(eos_token_));
    for (const auto& [name, value] : inputs.variables)
        vars.emplace_back(name, Value::from_json(value, true));
    jinja::Text text;
    try {
        text = jinja_->render(vars);
    } catch (const jinja::TemplateError& e) {
        throw ChatTemplateError(e.kind() == jinja::TemplateError::Kind::Raised
                                    ? e.message()
                                    : "chat template: " + std::string(e.what()));
    }
    if (strip_bos_ && !bos_token_.empty() &&
        text.s.compare(0, bos_token_.size(), bos_token_) == 0) {
        text = text.substr(bos_token_.size(), text.s.size());
    }
    return to_prompt(std::move(text));
}

std::vector<std::string> ChatFormat::stop_strings() const {
    // Harmony (gpt-oss): a reply ends with <|return|> (an answer) or <|call|> (a tool call);
    // <|end|> only ends one of its messages (the analysis before the answer).
    if (source_.find("<|channel|>") != std::string::npos &&
        source_.find("<|message|>") != std::string::npos) {
        return {"<|return|>", "<|call|>"};
    }
    return chat_stop_strings(family_);
}

}  // namespace ember
