// libFuzzer target: the chat template code on arbitrary input. The bytes are a Jinja template
// to recognise, then a conversation: messages separated by NUL bytes, each led by a byte that
// picks its role. Every template renders it without crashing; the rendering with the
// assistant's opening starts with the rendering without it.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "engine/text/chat_template.h"
#include "formats/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const size_t split = input.find('\x01');
    (void)ember::recognise_chat_template(input.substr(0, split));
    if (split == std::string_view::npos) return 0;

    static const char* const kRoles[] = {"system", "user", "assistant", "tool", ""};
    std::vector<ember::ChatMessage> messages;
    for (std::string_view rest = input.substr(split + 1); !rest.empty();) {
        const size_t end = rest.find('\0');
        const std::string_view m = rest.substr(0, end);
        if (!m.empty()) {
            messages.push_back({kRoles[static_cast<uint8_t>(m[0]) % 5], std::string(m.substr(1))});
        }
        if (end == std::string_view::npos) break;
        rest.remove_prefix(end + 1);
    }
    static const char* const kNames[] = {"llama2",     "llama2-sys", "chatml",     "llama3",
                                         "zephyr",     "mistral",    "mistral-v1", "mistral-v3",
                                         "mistral-v7", "phi3",       "gemma"};
    for (const char* name : kNames) {
        const ember::ChatTemplate t = ember::chat_template_from_name(name);
        try {
            const std::string open = ember::apply_chat_template(t, messages, true);
            const std::string closed = ember::apply_chat_template(t, messages, false);
            if (open.compare(0, closed.size(), closed) != 0) {
                std::fprintf(stderr, "%s: the assistant's opening rewrote the conversation\n",
                             name);
                std::abort();
            }
        } catch (const ember::Error&) {
            // A conversation the format cannot express (say, roles out of order) is refused.
        }
        (void)ember::chat_stop_strings(t);
    }
    return 0;
}
