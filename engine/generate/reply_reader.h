// A reply read as it streams: the thinking apart from the answer, the answer's text as soon as
// it is surely not the start of a tool call, the calls at the end. One rule for every caller
// that shows or returns a reply (ember serve's routes, ember chat, the C API).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/generate/reasoning.h"
#include "engine/generate/tool_calls.h"

namespace ember {

class ReplyReader {
  public:
    // calls: the family's call format when tools were offered (nullopt: no calls are read);
    // parallel: more than one call kept; inside: the prompt leaves the model inside a thinking
    // block (ReasoningFormat::opens_thinking).
    ReplyReader(ReasoningFormat reasoning, std::optional<ToolCallFormat> calls, bool parallel,
                bool inside);

    struct Parts {
        std::string reasoning, content;
        std::vector<ToolCall> calls;
    };
    // The text generated since the last call -> the thinking and answer text safe to show now.
    Parts add(std::string_view text);
    // At the end: what is left to show, and the calls (then the rest of the text is theirs).
    Parts finish();
    // A reply in one piece: its thinking, its answer without the calls' text, the calls.
    Parts whole(std::string_view text) const;

  private:
    ReasoningFormat reasoning_;
    std::optional<ToolCallFormat> calls_;
    bool parallel_, inside_;
    std::string full_;
    size_t sent_content_ = 0, sent_reasoning_ = 0;
};

}  // namespace ember
