// How a model's conversations become its prompt, the one rule every caller uses (ember chat,
// ember serve, ember template, the C API): the file's own Jinja template
// (tokenizer.chat_template), rendered as transformers renders it (jinja/template.h), or for a
// file without one the built-in format of its family (chat_template.h).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/text/json.h"
#include "engine/text/chat_template.h"
#include "engine/text/tokenizer.h"
#include "formats/error.h"

namespace ember {

namespace jinja {
class Template;
}

// A chat template refused a conversation: the template's own message (raise_exception), or
// where its evaluation failed. Callers show it as is (a CLI error, an HTTP 400).
class ChatTemplateError : public Error {
  public:
    explicit ChatTemplateError(const std::string& message) : Error(message) {}
};

// What a template sees beside the messages.
struct ChatInputs {
    bool add_generation_prompt = true;
    const JsonValue* tools = nullptr;  // a list of OpenAI tool objects; null: tools = none
    // Other variables the template reads (enable_thinking, reasoning_effort, ...), as JSON.
    std::vector<std::pair<std::string, JsonValue>> variables;
};

class ChatFormat {
  public:
    // A built-in format.
    explicit ChatFormat(ChatTemplate builtin);
    // A Jinja template; bos/eos_token are the texts of the model's tokens, strip_bos removes a
    // leading bos_token from the prompt for a tokenizer that adds its own (as llama.cpp does,
    // so the prompt never starts with two). Throws ChatTemplateError for a template that does
    // not parse (with its line and column).
    ChatFormat(std::string_view source, std::string bos_token, std::string eos_token,
               bool strip_bos, std::string origin);
    ~ChatFormat();
    ChatFormat(ChatFormat&&) noexcept;
    ChatFormat& operator=(ChatFormat&&) noexcept;

    // The model's format: `name` when given (a built-in format's name), else the file's Jinja
    // template, else (none, or one ember cannot parse: warning() says so) the family's format
    // or the format recognised from the template's markers, else ChatML.
    static ChatFormat for_model(const gguf::File& file, const Tokenizer& tokenizer,
                                std::string_view family, std::string_view name = "");
    // A Jinja template from elsewhere (--chat-template FILE.jinja), with the model's tokens;
    // the ends of a reply from the template's markers, else from `family`'s format.
    static ChatFormat from_source(std::string_view source, const Tokenizer& tokenizer,
                                  std::string origin, std::string_view family = "");

    bool is_jinja() const { return jinja_ != nullptr; }
    // The Jinja template's text (empty for a built-in format).
    const std::string& source() const { return source_; }
    // "chatml", or where the Jinja template came from ("the model's Jinja template").
    const std::string& describe() const { return description_; }
    // Why the model's own template is not used (empty: nothing to say).
    const std::string& warning() const { return warning_; }
    // The built-in format, or the one the Jinja template's markers resemble (ChatML when
    // none): what the chat ends of a reply are read from.
    ChatTemplate family() const { return family_; }

    // The prompt of a conversation, with the byte ranges of what the messages held (the
    // tokenizer reads those as plain text). Throws ChatTemplateError.
    ChatPrompt render(const std::vector<ChatMessage>& messages,
                      const ChatInputs& inputs = {}) const;
    // The same from OpenAI-style message objects (tool calls, tool results, content parts).
    ChatPrompt render_json(const JsonValue& messages, const ChatInputs& inputs = {}) const;

    // Text that ends an assistant's turn (see add_chat_ends in turn.h).
    std::vector<std::string> stop_strings() const;

  private:
    ChatTemplate family_ = ChatTemplate::ChatML;
    std::unique_ptr<jinja::Template> jinja_;
    std::string source_, bos_token_, eos_token_;
    bool strip_bos_ = false;
    std::string description_, warning_;
};

}  // namespace ember
