// `ember perplexity -m FILE -f TEXT [-c N]`: llama.cpp's perplexity measurement
// (engine/perplexity.h), with a progress bar on stderr and `PPL = X +/- Y` on stdout.
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>

#include "engine/perplexity.h"
#include "engine/tokenizer.h"
#include "formats/error.h"
#include "tools/command.h"
#include "tools/model_options.h"
#include "tools/progress.h"

namespace ember::cli {
namespace {

struct PerplexityOptions {
    ModelOptions model;
    std::string text_path;
};

int run_perplexity(PerplexityOptions options) {
    std::ifstream in(options.text_path, std::ios::binary);
    if (!in) throw Error("cannot read " + options.text_path);
    const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};

    const Model model(options.model.model_path);
    const Tokenizer tokenizer(model.file());
    const std::vector<int32_t> tokens =
        tokenizer.encode(text, /*add_special=*/true, /*parse_special=*/false);
    if (options.model.n_ctx == 0) options.model.n_ctx = 512;  // llama.cpp's default chunk
    ContextParams params = options.model.context_params();
    params.n_batch = params.n_ctx;
    Context context(model, params);
    std::fprintf(stderr, "perplexity: %zu tokens, chunks of %d, %d threads\n", tokens.size(),
                 context.n_ctx(), context.n_threads());

    ProgressBar bar("perplexity");
    const PerplexityResult r = perplexity(
        context, tokens, tokenizer.vocab().bos, [&](int done, int total, double running) {
            bar.update(done, total, "PPL " + std::to_string(running));
        });
    bar.finish();
    std::string running;
    for (size_t i = 0; i < r.running_ppl.size(); ++i) {
        char item[32];
        std::snprintf(item, sizeof(item), "[%zu]%.4f ", i + 1, r.running_ppl[i]);
        running += item;
    }
    std::fprintf(stderr, "%s\n", running.c_str());
    std::printf("PPL = %.4f +/- %.5f\n", r.ppl, r.ppl_error);
    return 0;
}

}  // namespace

Runner add_perplexity_command(CLI::App& app) {
    auto options = std::make_shared<PerplexityOptions>();
    CLI::App* sub = app.add_subcommand("perplexity", "Perplexity of a model on a text file");
    options->model.add_to(*sub);
    sub->add_option("-f,--file", options->text_path, "Text file")->required();
    return [options] { return run_perplexity(*options); };
}

}  // namespace ember::cli
