// Jinja chat templates, rendered as Hugging Face transformers renders them with Python's
// jinja2 (apply_chat_template: ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loop
// controls, its own tojson, raise_exception and strftime_now). A small interpreter of ember's
// own: no Python, no files, no environment; output, loop steps and nesting are bounded, so a
// hostile template in a downloaded file ends with an error, never a hang or a crash.
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/text/jinja/syntax.h"
#include "engine/text/jinja/value.h"

namespace ember::jinja {

struct RenderOptions {
    size_t max_output = size_t{8} << 20;  // bytes of any one string, the output included
    uint64_t max_steps = 2'000'000;       // loop iterations, macro and filter calls
    int max_depth = 64;                   // nested macro calls
    // What strftime_now() reads: 0 = the current local time (as transformers does).
    std::time_t now = 0;
};

class Template {
  public:
    // Parses the source; throws TemplateError (Kind::Syntax) with line and column.
    explicit Template(std::string_view source);

    // Renders with these variables (messages, tools, add_generation_prompt, bos_token, ...).
    // The result keeps the byte ranges that came from data strings (Value::from_json with
    // as_data). Throws TemplateError: Raised with the template's own message for
    // raise_exception(), Runtime for an error of evaluation, Limit for a bound reached.
    Text render(const std::vector<std::pair<std::string, Value>>& variables,
                const RenderOptions& options = {}) const;

  private:
    Body body_;
};

}  // namespace ember::jinja
