#include "engine/generate/reasoning.h"

namespace ember {
namespace {

constexpr std::string_view kOpen = "<think>", kClose = "</think>";

bool space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
std::string_view ltrim(std::string_view s) {
    while (!s.empty() && space(s.front())) s.remove_prefix(1);
    return s;
}
std::string_view rtrim(std::string_view s) {
    while (!s.empty() && space(s.back())) s.remove_suffix(1);
    return s;
}
// The length of the longest end of s that begins `tag` (a tag still being written).
size_t partial_tag(std::string_view s, std::string_view tag) {
    for (size_t n = std::min(tag.size() - 1, s.size()); n > 0; --n) {
        if (s.substr(s.size() - n) == tag.substr(0, n)) return n;
    }
    return 0;
}

}  // namespace

ReasoningFormat ReasoningFormat::for_template(std::string_view jinja) {
    return ReasoningFormat(jinja.find(kClose) != std::string_view::npos);
}

std::vector<std::string_view> ReasoningFormat::markers() const {
    if (!thinks_) return {};
    return {kOpen, kClose};
}

bool ReasoningFormat::opens_thinking(std::string_view prompt) const {
    const std::string_view tail = rtrim(prompt);
    return thinks_ && tail.size() >= kOpen.size() &&
           tail.substr(tail.size() - kOpen.size()) == kOpen;
}

ReasoningFormat::Split ReasoningFormat::split(std::string_view reply, bool inside) const {
    if (!thinks_) return {"", std::string(reply)};
    std::string_view rest = ltrim(reply);
    if (rest.substr(0, kOpen.size()) == kOpen) {
        inside = true;
        rest.remove_prefix(kOpen.size());
    }
    if (!inside) return {"", std::string(reply)};
    const size_t close = rest.find(kClose);
    if (close == std::string_view::npos) return {std::string(rtrim(ltrim(rest))), ""};
    return {std::string(rtrim(ltrim(rest.substr(0, close)))),
            std::string(ltrim(rest.substr(close + kClose.size())))};
}

ReasoningFormat::Split ReasoningFormat::split_so_far(std::string_view reply, bool inside) const {
    if (!thinks_) return {"", std::string(reply)};
    std::string_view rest = ltrim(reply);
    // Nothing yet, or a tag being written ("<thi"): nothing is sure.
    if (rest.size() < kOpen.size() && kOpen.substr(0, rest.size()) == rest) return {"", ""};
    if (rest.substr(0, kOpen.size()) == kOpen) {
        inside = true;
        rest.remove_prefix(kOpen.size());
    }
    if (!inside) return {"", std::string(reply)};
    const size_t close = rest.find(kClose);
    if (close == std::string_view::npos) {
        rest.remove_suffix(partial_tag(rest, kClose));
        return {std::string(rtrim(ltrim(rest))), ""};
    }
    return {std::string(rtrim(ltrim(rest.substr(0, close)))),
            std::string(ltrim(rest.substr(close + kClose.size())))};
}

}  // namespace ember
