#include "engine/generate/reply_reader.h"

#include <utility>

namespace ember {

ReplyReader::ReplyReader(ReasoningFormat reasoning, std::optional<ToolCallFormat> calls,
                         bool parallel, bool inside)
    : reasoning_(reasoning), calls_(calls), parallel_(parallel), inside_(inside) {}

ReplyReader::Parts ReplyReader::add(std::string_view text) {
    if (!calls_ && !reasoning_.thinks()) return {"", std::string(text), {}};
    full_ += text;
    Parts out;
    const ReasoningFormat::Split split = reasoning_.split_so_far(full_, inside_);
    if (split.reasoning.size() > sent_reasoning_) {
        out.reasoning = split.reasoning.substr(sent_reasoning_);
        sent_reasoning_ = split.reasoning.size();
    }
    const size_t safe = calls_ ? calls_->safe_prefix(split.content) : split.content.size();
    if (safe > sent_content_) {
        out.content = split.content.substr(sent_content_, safe - sent_content_);
        sent_content_ = safe;
    }
    return out;
}

ReplyReader::Parts ReplyReader::finish() {
    if (!calls_ && !reasoning_.thinks()) return {};
    Parts all = whole(full_);
    Parts out;
    if (all.reasoning.size() > sent_reasoning_)
        out.reasoning = all.reasoning.substr(sent_reasoning_);
    if (!all.calls.empty()) {
        out.calls = std::move(all.calls);
    } else if (all.content.size() > sent_content_) {
        out.content = all.content.substr(sent_content_);
    }
    return out;
}

ReplyReader::Parts ReplyReader::whole(std::string_view text) const {
    ReasoningFormat::Split split = reasoning_.split(text, inside_);
    Parts out{std::move(split.reasoning), std::move(split.content), {}};
    if (!calls_) return out;
    ToolCallFormat::Reply reply = calls_->parse(out.content);
    if (!parallel_ && reply.calls.size() > 1) reply.calls.resize(1);
    if (!reply.calls.empty()) {
        out.calls = std::move(reply.calls);
        out.content = std::move(reply.content);
    }
    return out;
}

}  // namespace ember
