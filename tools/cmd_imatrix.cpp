// `ember imatrix -m MODEL -f TEXT -o OUT [-c N] [--chunks N]`: an importance matrix as
// llama-imatrix computes it, in its file format (formats/imatrix.h), for `llama-quantize
// --imatrix` (and ember's quantizers that take one). The text is cut into chunks as perplexity
// cuts it (tools/lib/perplexity.h: BOS first, each chunk from an empty cache with BOS in place
// of its first token); every product by a blk.* weight over at least 16 tokens adds the squares
// of its input columns, as llama-imatrix's collector does (token_embd and the output head are
// left out, as it leaves them without --process-output). Stored: the mean square times the
// number of passes, as llama-imatrix stores it.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>

#include "engine/text/tokenizer.h"
#include "formats/error.h"
#include "formats/imatrix.h"
#include "tools/command.h"
#include "tools/lib/perplexity.h"
#include "tools/model_options.h"
#include "tools/progress.h"

namespace ember::cli {
namespace {

struct ImatrixOptions {
    ModelOptions model;
    std::string text_path, output_path;
    int chunks = 0;  // 0: all
};

// llama-imatrix skips products over fewer tokens than this.
constexpr int kMinTokens = 16;

struct ColumnSquares {
    std::vector<float> sums;
    std::vector<int> counts;
    int32_t ncall = 0;
};

int run_imatrix(ImatrixOptions o) {
    std::ifstream in(o.text_path, std::ios::binary);
    if (!in) throw FileError("cannot read " + o.text_path);
    const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};

    const Model model(o.model.model_path, o.model.model_options());
    if (model.config().n_expert > 0) {
        throw Error("ember imatrix does not collect a mixture's experts yet (" +
                    std::string(model.config().arch->name) + ")");
    }
    const Tokenizer tokenizer(model.file());
    const std::vector<int32_t> tokens =
        tokenizer.encode(text, /*add_special=*/true, /*parse_special=*/false);
    if (o.model.n_ctx == 0) o.model.n_ctx = 512;  // llama.cpp's default chunk
    ContextParams params = o.model.context_params();
    params.n_batch = params.n_ctx;
    Context context(model, params);
    const int n_ctx = context.n_ctx();
    if (tokens.size() < 2 * static_cast<size_t>(n_ctx)) {
        throw Error(o.text_path + " has " + std::to_string(tokens.size()) +
                    " tokens: a context of " + std::to_string(n_ctx) + " needs at least " +
                    std::to_string(2 * n_ctx) + " (lower -c)");
    }
    int n_chunks = static_cast<int>(tokens.size() / static_cast<size_t>(n_ctx));
    if (o.chunks > 0) n_chunks = std::min(n_chunks, o.chunks);

    std::map<std::string, ColumnSquares, std::less<>> stats;
    context.set_activation_observer(
        [&](std::string_view name, const float* x, int n, int64_t cols) {
            if (n < kMinTokens || !name.starts_with("blk.")) return;
            auto it = stats.find(name);
            if (it == stats.end()) it = stats.emplace(std::string(name), ColumnSquares{}).first;
            ColumnSquares& s = it->second;
            if (s.sums.empty()) s.sums.assign(cols, 0.0f), s.counts.assign(cols, 0);
            ++s.ncall;
            for (int r = 0; r < n; ++r) {
                const float* row = x + static_cast<size_t>(r) * cols;
                for (int64_t j = 0; j < cols; ++j) {
                    s.sums[j] += row[j] * row[j];
                    s.counts[j]++;
                }
            }
            for (int64_t j = 0; j < cols; ++j) {
                if (!std::isfinite(s.sums[j])) {
                    throw Error("a non-finite square sum in the input of " + std::string(name) +
                                ": the model's activations overflow on this text");
                }
            }
        });
    std::fprintf(stderr, "imatrix: %zu tokens, %d chunks of %d, %d threads\n", tokens.size(),
                 n_chunks, n_ctx, context.n_threads());
    ProgressBar bar("imatrix");
    const int32_t bos = tokenizer.vocab().bos;
    for (int i = 0; i < n_chunks; ++i) {
        evaluate_chunk(context, std::span(tokens).subspan(static_cast<size_t>(i) * n_ctx, n_ctx),
                       bos);
        bar.update(i + 1, n_chunks);
    }
    bar.finish();
    context.set_activation_observer({});

    Imatrix m;
    m.chunks = n_chunks;
    m.dataset = o.text_path;
    for (const auto& [name, s] : stats) {
        ImatrixEntry e{name, s.ncall, std::vector<float>(s.sums.size())};
        for (size_t j = 0; j < s.sums.size(); ++j) {
            e.values[j] =
                (s.sums[j] / static_cast<float>(s.counts[j])) * static_cast<float>(s.ncall);
        }
        m.entries.push_back(std::move(e));
    }
    const std::string inputs[] = {o.model.model_path, o.text_path};
    write_imatrix(o.output_path, m, inputs);
    std::fprintf(stderr, "wrote %s: %zu matrices, %d chunks of %d tokens\n", o.output_path.c_str(),
                 m.entries.size(), n_chunks, n_ctx);
    return 0;
}

}  // namespace

Runner add_imatrix_command(CLI::App& app) {
    auto options = std::make_shared<ImatrixOptions>();
    CLI::App* sub = app.add_subcommand(
        "imatrix", "Importance matrix of a model on a text (llama-imatrix's file format)");
    options->model.add_to(*sub, "Tokens per chunk (default: 512, as llama.cpp)");
    sub->add_option("-f,--file", options->text_path, "Text file")->required();
    sub->add_option("-o,--output", options->output_path, "Output file")->required();
    sub->add_option("--chunks", options->chunks, "At most this many chunks (default: all)")
        ->check(CLI::NonNegativeNumber);
    return [options] { return run_imatrix(*options); };
}

}  // namespace ember::cli
