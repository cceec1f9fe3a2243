// `ember tokenize -m FILE (-p TEXT | -f FILE) [--no-bos] [--pieces]`: text to token ids.
// Needs only the vocabulary, so vocabulary-only GGUF files work too.
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>

#include "engine/text/tokenizer.h"
#include "formats/error.h"
#include "tools/command.h"

namespace ember::cli {
namespace {

struct TokenizeOptions {
    std::string model_path;
    std::string prompt;
    std::string file;
    bool no_bos = false;
    bool pieces = false;
    bool no_parse_special = false;
};

int run_tokenize(const TokenizeOptions& options) {
    std::string text = options.prompt;
    if (!options.file.empty()) {
        std::ifstream in(options.file, std::ios::binary);
        if (!in) throw Error("cannot read " + options.file);
        text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    const gguf::File file(options.model_path);
    const Tokenizer tokenizer(file);
    const std::vector<int32_t> ids =
        tokenizer.encode(text, !options.no_bos, !options.no_parse_special);
    if (options.pieces) {
        for (int32_t id : ids) {
            const std::string piece = tokenizer.piece(id, /*special=*/true);
            std::printf("%6d '%s'\n", id, piece.c_str());
        }
    } else {
        for (size_t i = 0; i < ids.size(); ++i) std::printf(i ? " %d" : "%d", ids[i]);
        std::printf("\n");
    }
    return 0;
}

}  // namespace

Runner add_tokenize_command(CLI::App& app) {
    auto options = std::make_shared<TokenizeOptions>();
    CLI::App* sub = app.add_subcommand("tokenize", "Turn text into token ids");
    sub->add_option("-m,--model", options->model_path, "GGUF file with a vocabulary")->required();
    auto* prompt = sub->add_option("-p,--prompt", options->prompt, "Text to tokenize");
    auto* file = sub->add_option("-f,--file", options->file, "File whose text to tokenize");
    prompt->excludes(file);
    sub->add_flag("--no-bos", options->no_bos, "Do not add BOS (or EOS) as the vocabulary asks");
    sub->add_flag("--pieces", options->pieces, "Print each id with its text, one per line");
    sub->add_flag("--no-parse-special", options->no_parse_special,
                  "Treat control tokens written in the text (<s>) as plain text");
    return [options] { return run_tokenize(*options); };
}

}  // namespace ember::cli
