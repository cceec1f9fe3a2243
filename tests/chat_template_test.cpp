// Every chat template against the exact prompt text its model family expects, and detection
// from the Jinja templates models ship.
#include <gtest/gtest.h>

#include "engine/text/chat_template.h"
#include "formats/error.h"

namespace ember {
namespace {

const std::vector<ChatMessage> kChat = {
    {"system", "You are a helpful assistant"},
    {"user", "Hello"},
    {"assistant", "Hi there"},
    {"user", "Who are you"},
};

struct Expected {
    const char* name;
    const char* text;
};

class ChatTemplates : public ::testing::TestWithParam<Expected> {};

TEST_P(ChatTemplates, RenderTheExactPrompt) {
    const Expected& e = GetParam();
    EXPECT_EQ(apply_chat_template(chat_template_from_name(e.name), kChat, true), e.text);
}

INSTANTIATE_TEST_SUITE_P(
    Named, ChatTemplates,
    ::testing::Values(
        Expected{
            "chatml",
            "<|im_start|>system\nYou are a helpful "
            "assistant<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n"
            "<|im_start|>assistant\nHi there<|im_end|>\n<|im_start|>user\nWho are you<|im_end|>\n"
            "<|im_start|>assistant\n"},
        Expected{"llama2",
                 "[INST] You are a helpful assistant\nHello [/INST]Hi there</s>[INST] Who are you "
                 "[/INST]"},
        Expected{
            "llama2-sys",
            "[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST]Hi there</s>"
            "[INST] Who are you [/INST]"},
        Expected{
            "llama3",
            "<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nWho are you<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n"},
        Expected{
            "zephyr",
            "<|system|>\nYou are a helpful assistant<|endoftext|>\n<|user|>\nHello<|endoftext|>\n"
            "<|assistant|>\nHi there<|endoftext|>\n<|user|>\nWho are "
            "you<|endoftext|>\n<|assistant|>\n"},
        Expected{"mistral-v1",
                 " [INST] You are a helpful assistant\n\nHello [/INST] Hi there</s> [INST] Who are "
                 "you [/INST]"},
        Expected{"mistral-v3",
                 "[INST] You are a helpful assistant\n\nHello[/INST] Hi there</s>[INST] Who are "
                 "you[/INST]"},
        Expected{"mistral-v7",
                 "[SYSTEM_PROMPT] You are a helpful assistant[/SYSTEM_PROMPT][INST] Hello[/INST] "
                 "Hi there</s>"
                 "[INST] Who are you[/INST]"},
        Expected{"phi3",
                 "<|system|>\nYou are a helpful "
                 "assistant<|end|>\n<|user|>\nHello<|end|>\n<|assistant|>\n"
                 "Hi there<|end|>\n<|user|>\nWho are you<|end|>\n<|assistant|>\n"},
        Expected{"gemma",
                 "<start_of_turn>user\nYou are a helpful assistant\n\nHello<end_of_turn>\n"
                 "<start_of_turn>model\nHi there<end_of_turn>\n<start_of_turn>user\nWho are "
                 "you<end_of_turn>\n"
                 "<start_of_turn>model\n"}),
    [](const auto& p) {
        std::string name = p.param.name;
        for (char& c : name) {
            if (c == '-') c = '_';
        }
        return name;
    });

TEST(ChatTemplates, DetectedFromTheJinjaTemplatesModelsShip) {
    EXPECT_EQ(detect_chat_template(
                  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n'}}"),
              ChatTemplate::ChatML);
    EXPECT_EQ(
        detect_chat_template("{{ bos_token }}{% if messages[0]['role'] == 'system' %}<<SYS>>\\n"
                             "{% endif %}{{ '[INST] ' + content + ' [/INST]' }}"),
        ChatTemplate::Llama2Sys);
    EXPECT_EQ(detect_chat_template("{{ '[INST] ' + message['content'] + ' [/INST]' }}"),
              ChatTemplate::Llama2);
    EXPECT_EQ(detect_chat_template(
                  "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}"),
              ChatTemplate::Llama3);
    EXPECT_EQ(detect_chat_template(
                  "{{ '<|user|>\\n' + message['content'] + '<|end|>\\n<|assistant|>\\n' }}"),
              ChatTemplate::Phi3);
    EXPECT_EQ(detect_chat_template("{{ '<|user|>\\n' + message['content'] + '<|endoftext|>' }}"),
              ChatTemplate::Zephyr);
    EXPECT_EQ(detect_chat_template("{{ '<start_of_turn>' + role + '\\n' }}"), ChatTemplate::Gemma);
    EXPECT_EQ(detect_chat_template("[SYSTEM_PROMPT]{{ system }}[/SYSTEM_PROMPT][INST]"),
              ChatTemplate::MistralV7);
    EXPECT_EQ(detect_chat_template(""), ChatTemplate::ChatML);
    EXPECT_EQ(detect_chat_template("something else entirely"), ChatTemplate::ChatML);
    // Without the fallback, so that a caller can say the template was not recognised.
    EXPECT_EQ(recognise_chat_template("something else entirely"), std::nullopt);
    EXPECT_EQ(recognise_chat_template(""), std::nullopt);
    EXPECT_EQ(recognise_chat_template("<|im_start|>"), ChatTemplate::ChatML);
}

TEST(ChatTemplates, UnknownNameIsAnError) {
    EXPECT_THROW(chat_template_from_name("no-such-template"), Error);
    EXPECT_EQ(chat_template_from_name("mistral"), ChatTemplate::MistralV3);
    EXPECT_EQ(chat_template_name(ChatTemplate::Gemma), "gemma");
}

}  // namespace
}  // namespace ember
