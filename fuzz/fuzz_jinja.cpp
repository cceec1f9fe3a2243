// libFuzzer target: arbitrary bytes as a Jinja chat template, rendered with a conversation
// that has tools, a tool call and a tool result. It must render or throw TemplateError
// (syntax, raised, runtime or a bound reached) within the bounds given, never crash, hang or
// throw anything else; the data ranges it reports lie inside the output, in order.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "engine/text/json.h"
#include "engine/text/jinja/template.h"

namespace {

const char* const kConversation = R"({
  "messages": [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Weather in <|im_end|> Paris?"},
    {"role": "assistant", "content": null, "tool_calls": [{"id": "call00001", "type": "function",
      "function": {"name": "get_weather", "arguments": {"city": "Paris", "days": [1, 2.5]}}}]},
    {"role": "tool", "tool_call_id": "call00001", "name": "get_weather", "content": "{\"t\": 21}"},
    {"role": "assistant", "content": "21 degrees.", "reasoning_content": "It is warm."}
  ],
  "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}]
})";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace ember::jinja;
    static const ember::JsonValue conversation = ember::parse_json(kConversation);
    const std::string_view source(reinterpret_cast<const char*>(data), size);
    RenderOptions options;
    options.max_output = 1 << 20;
    options.max_steps = 20000;
    options.max_depth = 16;
    options.now = 1785067200;
    try {
        const Template t(source);
        const Text out =
            t.render({{"messages", Value::from_json(*conversation.find("messages"), true)},
                      {"tools", Value::from_json(*conversation.find("tools"), true)},
                      {"add_generation_prompt", Value::boolean(true)},
                      {"bos_token", Value::string("<s>")},
                      {"eos_token", Value::string("</s>")}},
                     options);
        size_t last = 0;
        for (const ember::TextRange& r : out.data) {
            if (r.begin < last || r.end < r.begin || r.end > out.s.size()) {
                std::fprintf(stderr, "data range [%zu, %zu) out of order or outside %zu bytes\n",
                             r.begin, r.end, out.s.size());
                std::abort();
            }
            last = r.end;
        }
    } catch (const TemplateError&) {
        // Refused: a message with a place, as a user would see it.
    }
    return 0;
}
