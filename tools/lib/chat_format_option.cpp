#include "tools/lib/chat_format_option.h"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace ember::cli {

std::string read_template_file(const std::string& path, const std::string& what) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec))
        throw FileError("cannot read " + what + " " + path + ": not a file");
    const auto size = std::filesystem::file_size(path, ec);
    if (ec || size > (1u << 20))
        throw FileError("cannot read " + what + " " + path + ": larger than 1 MiB");
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) throw FileError("cannot read " + what + " " + path);
    return text.str();
}

ChatFormat chat_format_option(const std::string& value, const Model& model,
                              const Tokenizer& tokenizer) {
    const std::string_view family = model.config().arch->chat_template;
    if (value.empty()) return ChatFormat::for_model(model.file(), tokenizer, family);
    try {
        return ChatFormat(chat_template_from_name(value));
    } catch (const Error& unknown) {
        std::error_code ec;
        if (!std::filesystem::exists(value, ec)) {
            throw Error(std::string(unknown.what()) + ", or a Jinja template file");
        }
    }
    return ChatFormat::from_source(read_template_file(value), tokenizer, value, family);
}

}  // namespace ember::cli
