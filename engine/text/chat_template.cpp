// The formats below follow each model family's published chat template; llama.cpp's
// llm_chat_apply_template (llama-chat.cpp, MIT) renders the same strings.
#include "engine/text/chat_template.h"

#include <array>
#include <utility>

#include "formats/error.h"

namespace ember {
namespace {

constexpr std::array<std::pair<std::string_view, ChatTemplate>, 11> kNames = {{
    {"llama2", ChatTemplate::Llama2},
    {"llama2-sys", ChatTemplate::Llama2Sys},
    {"chatml", ChatTemplate::ChatML},
    {"llama3", ChatTemplate::Llama3},
    {"zephyr", ChatTemplate::Zephyr},
    {"mistral", ChatTemplate::MistralV3},
    {"mistral-v1", ChatTemplate::MistralV1},
    {"mistral-v3", ChatTemplate::MistralV3},
    {"mistral-v7", ChatTemplate::MistralV7},
    {"phi3", ChatTemplate::Phi3},
    {"gemma", ChatTemplate::Gemma},
}};

std::string trim(std::string_view s) {
    const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
    while (!s.empty() && space(s.front())) s.remove_prefix(1);
    while (!s.empty() && space(s.back())) s.remove_suffix(1);
    return std::string(s);
}

}  // namespace

ChatTemplate chat_template_from_name(std::string_view name) {
    for (const auto& [n, t] : kNames) {
        if (n == name) return t;
    }
    std::string known;
    for (const auto& [n, t] : kNames) known += (known.empty() ? "" : ", ") + std::string(n);
    throw Error("unknown chat template '" + std::string(name) + "' (known: " + known + ")");
}

std::string_view chat_template_name(ChatTemplate t) {
    for (const auto& [n, value] : kNames) {
        if (value == t && n != "mistral") return n;
    }
    return "?";
}

std::optional<ChatTemplate> recognise_chat_template(std::string_view jinja) {
    const auto has = [&](std::string_view marker) {
        return jinja.find(marker) != std::string_view::npos;
    };
    if (has("<|im_start|>")) return ChatTemplate::ChatML;
    if (has("[INST]")) {
        if (has("[SYSTEM_PROMPT]")) return ChatTemplate::MistralV7;
        if (has("' [INST] ' + system_message") || has("[AVAILABLE_TOOLS]")) {
            return has(" [INST]") ? ChatTemplate::MistralV1 : ChatTemplate::MistralV3;
        }
        return has("<<SYS>>") ? ChatTemplate::Llama2Sys : ChatTemplate::Llama2;
    }
    if (has("<|assistant|>") && has("<|end|>")) return ChatTemplate::Phi3;
    if (has("<|user|>") && has("<|endoftext|>")) return ChatTemplate::Zephyr;
    if (has("<start_of_turn>")) return ChatTemplate::Gemma;
    if (has("<|start_header_id|>") && has("<|end_header_id|>")) return ChatTemplate::Llama3;
    return std::nullopt;
}

ChatTemplate detect_chat_template(std::string_view jinja, std::string_view family) {
    if (const auto recognised = recognise_chat_template(jinja)) return *recognised;
    return family.empty() ? ChatTemplate::ChatML : chat_template_from_name(family);
}

namespace {

// A prompt being written: the format's own text, and the messages' texts (whose byte ranges
// are kept, so that the tokenizer reads them as plain text).
class PromptWriter {
  public:
    PromptWriter& operator<<(std::string_view format_text) {
        prompt_.text += format_text;
        return *this;
    }
    PromptWriter& content(std::string_view message_text) {
        const size_t begin = prompt_.text.size();
        prompt_.text += message_text;
        if (!message_text.empty()) prompt_.content.push_back({begin, prompt_.text.size()});
        return *this;
    }
    ChatPrompt take() { return std::move(prompt_); }

  private:
    ChatPrompt prompt_;
};

}  // namespace

ChatPrompt render_chat_prompt(ChatTemplate t, const std::vector<ChatMessage>& messages,
                              bool add_assistant_start) {
    PromptWriter out;
    switch (t) {
        case ChatTemplate::ChatML:
            for (const auto& m : messages) {
                (out << "<|im_start|>" << m.role << "\n").content(m.content) << "<|im_end|>\n";
            }
            if (add_assistant_start) out << "<|im_start|>assistant\n";
            break;
        case ChatTemplate::Llama3:
            for (const auto& m : messages) {
                (out << "<|start_header_id|>" << m.role << "<|end_header_id|>\n\n")
                        .content(trim(m.content))
                    << "<|eot_id|>";
            }
            if (add_assistant_start) out << "<|start_header_id|>assistant<|end_header_id|>\n\n";
            break;
        case ChatTemplate::Llama2:
        case ChatTemplate::Llama2Sys: {
            // The first [INST] opens right away (the BOS before it comes from the tokenizer);
            // every later user turn opens a new one.
            bool inside_turn = true;
            out << "[INST] ";
            for (const auto& m : messages) {
                if (!inside_turn) {
                    inside_turn = true;
                    out << "[INST] ";
                }
                if (m.role == "system") {
                    if (t == ChatTemplate::Llama2Sys) {
                        (out << "<<SYS>>\n").content(m.content) << "\n<</SYS>>\n\n";
                    } else {
                        out.content(m.content) << "\n";
                    }
                } else if (m.role == "user") {
                    out.content(m.content) << " [/INST]";
                } else {
                    out.content(m.content) << "</s>";
                    inside_turn = false;
                }
            }
            break;
        }
        case ChatTemplate::MistralV1:
        case ChatTemplate::MistralV3: {
            const std::string lead = t == ChatTemplate::MistralV1 ? " " : "";
            bool inside_turn = false;
            for (const auto& m : messages) {
                if (!inside_turn) {
                    out << lead << "[INST] ";
                    inside_turn = true;
                }
                if (m.role == "system") {
                    out.content(m.content) << "\n\n";
                } else if (m.role == "user") {
                    out.content(m.content) << lead << "[/INST]";
                } else {
                    (out << " ").content(t == ChatTemplate::MistralV3 ? trim(m.content) : m.content)
                        << "</s>";
                    inside_turn = false;
                }
            }
            break;
        }
        case ChatTemplate::MistralV7:
            for (const auto& m : messages) {
                if (m.role == "system") {
                    (out << "[SYSTEM_PROMPT] ").content(m.content) << "[/SYSTEM_PROMPT]";
                } else if (m.role == "user") {
                    (out << "[INST] ").content(m.content) << "[/INST]";
                } else {
                    (out << " ").content(m.content) << "</s>";
                }
            }
            break;
        case ChatTemplate::Zephyr:
            for (const auto& m : messages) {
                (out << "<|" << m.role << "|>\n").content(m.content) << "<|endoftext|>\n";
            }
            if (add_assistant_start) out << "<|assistant|>\n";
            break;
        case ChatTemplate::Phi3:
            for (const auto& m : messages) {
                (out << "<|" << m.role << "|>\n").content(m.content) << "<|end|>\n";
            }
            if (add_assistant_start) out << "<|assistant|>\n";
            break;
        case ChatTemplate::Gemma: {
            // No system role: its text opens the next user turn. "assistant" is "model".
            std::string system;
            for (const auto& m : messages) {
                if (m.role == "system") {
                    system = trim(m.content);
                    continue;
                }
                const std::string role = m.role == "assistant" ? "model" : m.role;
                out << "<start_of_turn>" << role << "\n";
                if (!system.empty() && role != "model") {
                    out.content(system) << "\n\n";
                    system.clear();
                }
                out.content(trim(m.content)) << "<end_of_turn>\n";
            }
            if (add_assistant_start) out << "<start_of_turn>model\n";
            break;
        }
    }
    return out.take();
}

std::string apply_chat_template(ChatTemplate t, const std::vector<ChatMessage>& messages,
                                bool add_assistant_start) {
    return render_chat_prompt(t, messages, add_assistant_start).text;
}

std::vector<std::string> chat_stop_strings(ChatTemplate t) {
    switch (t) {
        case ChatTemplate::ChatML:
            return {"<|im_end|>", "<|im_start|>"};
        case ChatTemplate::Llama3:
            return {"<|eot_id|>", "<|start_header_id|>"};
        case ChatTemplate::Llama2:
        case ChatTemplate::Llama2Sys:
        case ChatTemplate::MistralV1:
        case ChatTemplate::MistralV3:
        case ChatTemplate::MistralV7:
            return {"</s>", "[INST]"};
        case ChatTemplate::Zephyr:
            return {"<|endoftext|>", "<|user|>"};
        case ChatTemplate::Phi3:
            return {"<|end|>", "<|user|>"};
        case ChatTemplate::Gemma:
            return {"<end_of_turn>", "<start_of_turn>"};
    }
    return {};
}

}  // namespace ember
