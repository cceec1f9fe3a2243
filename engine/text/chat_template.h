// Chat prompt formats: turning a list of messages into the exact text a chat model was
// trained on. Recognised from the file's tokenizer.chat_template (a Jinja template, matched by
// its telltale markers, as llama.cpp does) or chosen by name.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/text/tokenizer.h"

namespace ember {

struct ChatMessage {
    std::string role;  // "system", "user" or "assistant"
    std::string content;
};

enum class ChatTemplate {
    Llama2,     // [INST] ... [/INST], system folded into the first turn
    Llama2Sys,  // the same with <<SYS>> ... <</SYS>>
    ChatML,     // <|im_start|>role\n...<|im_end|>
    Llama3,     // <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|>
    Zephyr,     // <|role|>\n...<|endoftext|>
    MistralV1,  // " [INST] ... [/INST]"
    MistralV3,  // "[INST] ... [/INST]"
    MistralV7,  // [SYSTEM_PROMPT] ... [/SYSTEM_PROMPT][INST] ... [/INST]
    Phi3,       // <|role|>\n...<|end|>
    Gemma,      // <start_of_turn>role\n...<end_of_turn>
};

// By name: llama2, llama2-sys, chatml, llama3, zephyr, mistral (= mistral-v3), mistral-v1,
// mistral-v3, mistral-v7, phi3, gemma. Throws ember::Error for an unknown name.
ChatTemplate chat_template_from_name(std::string_view name);
std::string_view chat_template_name(ChatTemplate t);

// Recognises a Jinja chat template by its markers; nothing when none matches (or it is empty).
std::optional<ChatTemplate> recognise_chat_template(std::string_view jinja);
// The same; when nothing matches, the format named `family` (a model family's own, from its
// architecture; empty: none), else ChatML.
ChatTemplate detect_chat_template(std::string_view jinja, std::string_view family = "");

// The prompt text for a conversation. add_assistant_start: end with the opening of the
// assistant's turn, ready for generation.
std::string apply_chat_template(ChatTemplate t, const std::vector<ChatMessage>& messages,
                                bool add_assistant_start);

// The same text, with the byte ranges that came from the messages (not from the format), so
// that a caller can tokenize them as plain text (Tokenizer::encode with `plain` ranges): control
// tokens then come only from the format, never from what a user typed.
struct ChatPrompt {
    std::string text;
    std::vector<TextRange> content;  // in order, not overlapping
};
ChatPrompt render_chat_prompt(ChatTemplate t, const std::vector<ChatMessage>& messages,
                              bool add_assistant_start);

// Text that marks the end of an assistant turn in this format (stop strings for models whose
// vocabulary lacks the marker as a special token).
std::vector<std::string> chat_stop_strings(ChatTemplate t);

}  // namespace ember
