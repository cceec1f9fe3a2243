#include "engine/generate/reasoning.h"

#include <algorithm>
#include <cstdint>

namespace ember {
namespace {

constexpr std::string_view kOpen = "<think>", kClose = "</think>";

// Harmony (OpenAI's gpt-oss format): messages of a header and a body,
//   <|start|>assistant<|channel|>analysis<|message|>...<|end|>
//   <|start|>assistant<|channel|>final<|message|>...<|return|>
//   <|start|>assistant<|channel|>commentary to=functions.NAME
//   <|constrain|>json<|message|>{...}<|call|>
// (the recipient may also stand before <|channel|>); the reply's first message has no
// <|start|>assistant, which the prompt wrote.
constexpr std::string_view kStart = "<|start|>", kChannel = "<|channel|>", kMessage = "<|message|>",
                           kEnd = "<|end|>", kConstrain = "<|constrain|>", kCall = "<|call|>",
                           kReturn = "<|return|>";

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

struct HarmonyMessage {
    std::string_view header, body;
};

// The channel a header names ("analysis", "final", "commentary"; empty: none).
std::string_view channel_of(std::string_view header) {
    const size_t at = header.find(kChannel);
    if (at == std::string_view::npos) return {};
    std::string_view rest = header.substr(at + kChannel.size());
    size_t n = 0;
    while (n < rest.size() && !space(rest[n]) && rest[n] != '<') ++n;
    return rest.substr(0, n);
}

// A reply's messages; one whose header is not finished (no <|message|> yet) is left out. One
// pass: each search starts where the last one ended (a reply may be any text the C API is
// given, so no search may run to the end again and again).
std::vector<HarmonyMessage> harmony_messages(std::string_view s) {
    std::vector<HarmonyMessage> out;
    while (!s.empty()) {
        if (s.substr(0, kStart.size()) == kStart) s.remove_prefix(kStart.size());
        const size_t message = s.find(kMessage);
        if (message == std::string_view::npos) break;  // no header finishes after here
        // Headers cut short by a later <|start|>: the message is the last one's.
        const size_t next = s.substr(0, message).rfind(kStart);
        if (next != std::string_view::npos) {
            s.remove_prefix(next);
            continue;
        }
        HarmonyMessage m;
        m.header = s.substr(0, message);
        s.remove_prefix(message + kMessage.size());
        // The body runs to the first terminator; <|start|> stays for the next message.
        size_t end = s.size(), skip = 0;
        for (size_t at = s.find("<|"); at != std::string_view::npos; at = s.find("<|", at + 2)) {
            const std::string_view rest = s.substr(at);
            for (const std::string_view terminator : {kEnd, kCall, kReturn, kStart}) {
                if (rest.substr(0, terminator.size()) == terminator) {
                    end = at;
                    skip = terminator == kStart ? 0 : terminator.size();
                    break;
                }
            }
            if (end != s.size()) break;
        }
        m.body = s.substr(0, end);
        out.push_back(m);
        s.remove_prefix(std::min(s.size(), end + skip));
    }
    return out;
}

ReasoningFormat::Split split_harmony(std::string_view reply, bool so_far) {
    const std::string_view text = ltrim(reply);
    // Plain text (the model wrote no channels): all answer.
    if (text.substr(0, 2) != std::string_view("<|").substr(0, std::min<size_t>(2, text.size())))
        return {"", std::string(reply)};
    if (so_far) {  // a marker half written at the end is held back
        size_t held = 0;
        for (const std::string_view tag :
             {kStart, kChannel, kMessage, kEnd, kConstrain, kCall, kReturn})
            held = std::max(held, partial_tag(reply, tag));
        reply.remove_suffix(held);
    }
    ReasoningFormat::Split out;
    for (const HarmonyMessage& m : harmony_messages(reply)) {
        const std::string_view channel = channel_of(m.header);
        if (m.header.find("to=") != std::string_view::npos &&
            m.header.find("to=assistant") == std::string_view::npos) {
            // A message to a function: a tool call, left for ToolCallFormat to read.
            out.content += std::string(kStart) + std::string(m.header) + std::string(kMessage) +
                           std::string(m.body);
        } else if (channel == "analysis") {
            if (!out.reasoning.empty()) out.reasoning += "\n\n";
            out.reasoning += rtrim(ltrim(m.body));
        } else {
            out.content += m.body;
        }
    }
    // (Trimmed like the think tags' parts, but not while streaming: a space at the end may be
    // the answer's.)
    if (!so_far) out.reasoning = std::string(rtrim(out.reasoning));
    return out;
}

}  // namespace

ReasoningFormat ReasoningFormat::for_template(std::string_view jinja) {
    if (jinja.find(kChannel) != std::string_view::npos &&
        jinja.find(kMessage) != std::string_view::npos)
        return ReasoningFormat(Style::Harmony);
    return ReasoningFormat(jinja.find(kClose) != std::string_view::npos ? Style::ThinkTags
                                                                        : Style::None);
}

std::vector<std::string_view> ReasoningFormat::markers() const {
    switch (style_) {
        case Style::ThinkTags:
            return {kOpen, kClose};
        case Style::Harmony:
            return {kStart, kChannel, kMessage, kEnd, kConstrain};
        default:
            return {};
    }
}

bool ReasoningFormat::opens_thinking(std::string_view prompt) const {
    const std::string_view tail = rtrim(prompt);
    return style_ == Style::ThinkTags && tail.size() >= kOpen.size() &&
           tail.substr(tail.size() - kOpen.size()) == kOpen;
}

ReasoningFormat::Split ReasoningFormat::split(std::string_view reply, bool inside) const {
    if (style_ == Style::Harmony) return split_harmony(reply, false);
    return split_think_tags(reply, inside, false);
}

ReasoningFormat::Split ReasoningFormat::split_so_far(std::string_view reply, bool inside) const {
    if (style_ == Style::Harmony) return split_harmony(reply, true);
    return split_think_tags(reply, inside, true);
}

ReasoningFormat::Split ReasoningFormat::split_think_tags(std::string_view reply, bool inside,
                                                         bool so_far) const {
    if (style_ == Style::None) return {"", std::string(reply)};
    std::string_view rest = ltrim(reply);
    // Nothing yet, or a tag being written ("<thi"): nothing is sure.
    if (so_far && rest.size() < kOpen.size() && kOpen.substr(0, rest.size()) == rest)
        return {"", ""};
    if (rest.substr(0, kOpen.size()) == kOpen) {
        inside = true;
        rest.remove_prefix(kOpen.size());
    }
    if (!inside) return {"", std::string(reply)};
    const size_t close = rest.find(kClose);
    if (close == std::string_view::npos) {
        if (so_far) rest.remove_suffix(partial_tag(rest, kClose));
        return {std::string(rtrim(ltrim(rest))), ""};
    }
    return {std::string(rtrim(ltrim(rest.substr(0, close)))),
            std::string(ltrim(rest.substr(close + kClose.size())))};
}

}  // namespace ember
