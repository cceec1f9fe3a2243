// --chat-template VALUE (ember chat, ember serve, ember template): a built-in format's name,
// or a file holding a Jinja chat template; empty: the model's own (ChatFormat::for_model).
#pragma once

#include <string>

#include "engine/model/model.h"
#include "engine/text/chat_format.h"
#include "engine/text/tokenizer.h"

namespace ember::cli {

// Throws ember::Error for a name that is neither a format nor a readable file, and
// ChatTemplateError for a file that does not parse (with line and column).
ChatFormat chat_format_option(const std::string& value, const Model& model,
                              const Tokenizer& tokenizer);

// A Jinja template file's text, or another small file beside it (a conversation or tools as
// JSON: `what` names it in errors), at most 1 MiB. Throws FileError.
std::string read_template_file(const std::string& path,
                               const std::string& what = "the chat template");

}  // namespace ember::cli
