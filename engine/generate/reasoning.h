// Thinking text in a reply, which apps show apart from the answer (OpenAI-style
// `reasoning_content`, as llama-server returns it): the <think> ... </think> block of Qwen3,
// Qwen3.5, DeepSeek-R1 and its distills, SmolLM3 and the like, or the analysis channel of
// gpt-oss's Harmony messages. One rule for every caller.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ember {

class ReasoningFormat {
  public:
    // Think tags when the chat template speaks of them (a "</think>" in its text); Harmony's
    // channels when it writes them ("<|channel|>").
    static ReasoningFormat for_template(std::string_view jinja_source);
    static ReasoningFormat none() { return ReasoningFormat(Style::None); }

    bool thinks() const { return style_ != Style::None; }
    // The texts that mark where thinking begins and ends (and, for Harmony, every message's
    // header): none when the format does not think.
    std::vector<std::string_view> markers() const;

    // Whether a rendered prompt leaves the model inside a thinking block (its template opened
    // one: DeepSeek-R1's generation prompt ends with "<think>\n").
    bool opens_thinking(std::string_view prompt) const;

    struct Split {
        std::string reasoning;  // the thinking, without its tags, trimmed
        std::string content;    // the answer after it
    };
    // A reply's thinking and answer. `inside`: the reply starts in a thinking block. Harmony:
    // the analysis channel's messages are the thinking; the final channel's (and commentary
    // to the user) the answer; a message to a function (a tool call) stays in the answer as
    // "<|start|>" header "<|message|>" body, for ToolCallFormat to read.
    Split split(std::string_view reply, bool inside) const;

    // The same for a reply still streaming: only what is sure (a tag half written at the end
    // is held back), so that each part only grows as more text comes.
    Split split_so_far(std::string_view reply, bool inside) const;

  private:
    enum class Style : uint8_t { None, ThinkTags, Harmony };
    explicit ReasoningFormat(Style style) : style_(style) {}
    Split split_think_tags(std::string_view reply, bool inside, bool so_far) const;
    Style style_;
};

}  // namespace ember
