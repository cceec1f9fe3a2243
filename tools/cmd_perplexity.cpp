// `ember perplexity -m FILE -f TEXT [-c N] [--kl-divergence-base OUT]`: llama.cpp's perplexity
// measurement (engine/perplexity.h), with a progress bar on stderr and `PPL = X +/- Y` on stdout;
// with --kl-divergence-base it also saves the model's log-probabilities for a later
// `ember perplexity -m QUANTIZED --kl-divergence-base FILE --kl-divergence`, which compares a
// model with them (engine/kl_divergence.h) and prints llama.cpp's statistics.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>

#include "engine/text/tokenizer.h"
#include "formats/error.h"
#include "tools/command.h"
#include "tools/lib/kl_divergence.h"
#include "tools/lib/perplexity.h"
#include "tools/model_options.h"
#include "tools/progress.h"

namespace ember::cli {
namespace {

struct PerplexityOptions {
    ModelOptions model;
    std::string text_path;
    std::string kld_base_path;
    bool kl_divergence = false;
};

int run_perplexity(PerplexityOptions options) {
    std::ifstream in(options.text_path, std::ios::binary);
    if (!in) throw Error("cannot read " + options.text_path);
    const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};

    const Model model(options.model.model_path, options.model.model_options());
    const Tokenizer tokenizer(model.file());
    const std::vector<int32_t> tokens =
        tokenizer.encode(text, /*add_special=*/true, /*parse_special=*/false);
    if (options.model.n_ctx == 0) options.model.n_ctx = 512;  // llama.cpp's default chunk
    ContextParams params = options.model.context_params();
    params.n_batch = params.n_ctx;
    Context context(model, params);
    std::fprintf(stderr, "perplexity: %zu tokens, chunks of %d, %d threads\n", tokens.size(),
                 context.n_ctx(), context.n_threads());

    std::optional<LogProbWriter> writer;
    if (!options.kld_base_path.empty()) {
        const size_t n_used = tokens.size() / static_cast<size_t>(context.n_ctx()) *
                              static_cast<size_t>(context.n_ctx());
        const std::string inputs[] = {options.model.model_path, options.text_path};
        writer.emplace(options.kld_base_path, context.n_ctx(), context.n_vocab(),
                       std::span(tokens).first(n_used), inputs);
    }
    ProgressBar bar("perplexity");
    const PerplexityResult r = perplexity(
        context, tokens, tokenizer.vocab().bos,
        [&](int done, int total, double running) {
            bar.update(done, total, "PPL " + std::to_string(running));
        },
        [&](const float* logits, int n_positions) {
            if (writer) writer->add_chunk(logits, n_positions);
        });
    bar.finish();
    if (writer) writer->finish();
    std::string running;
    for (size_t i = 0; i < r.running_ppl.size(); ++i) {
        char item[32];
        std::snprintf(item, sizeof(item), "[%zu]%.4f ", i + 1, r.running_ppl[i]);
        running += item;
    }
    std::fprintf(stderr, "%s\n", running.c_str());
    if (writer)
        std::fprintf(stderr, "saved log-probabilities to %s\n", options.kld_base_path.c_str());
    std::printf("PPL = %.4f +/- %.5f\n", r.ppl, r.ppl_error);
    return 0;
}

int run_kl_divergence(PerplexityOptions options) {
    if (options.kld_base_path.empty()) {
        throw UsageError(
            "--kl-divergence needs --kl-divergence-base FILE (from a run on the base model)");
    }
    const Model model(options.model.model_path, options.model.model_options());
    const Tokenizer tokenizer(model.file());
    LogProbReader base(options.kld_base_path, model.config().n_vocab);
    options.model.n_ctx = base.n_ctx();
    ContextParams params = options.model.context_params();
    params.n_batch = params.n_ctx;
    Context context(model, params);
    std::fprintf(stderr, "kl-divergence: %d chunks of %d tokens from %s, %d threads\n",
                 base.n_chunks(), base.n_ctx(), options.kld_base_path.c_str(), context.n_threads());

    ProgressBar bar("kl-divergence");
    const KlDivergenceResult r =
        kl_divergence(context, base, tokenizer.vocab().bos, [&](int done, int total, double kld) {
            bar.update(done, total, "KLD " + std::to_string(kld));
        });
    bar.finish();
    // llama.cpp's labels, so the two tools' reports line up.
    std::printf("====== Perplexity statistics ======\n");
    std::printf("Mean PPL(Q)                   : %10.6f +/- %10.6f\n", r.ppl, r.ppl_error);
    std::printf("Mean PPL(base)                : %10.6f +/- %10.6f\n", r.ppl_base,
                r.ppl_base_error);
    std::printf("Mean ln(PPL(Q)/PPL(base))     : %10.6f +/- %10.6f\n", r.log_ppl_ratio,
                r.log_ppl_ratio_error);
    std::printf("Mean PPL(Q)/PPL(base)         : %10.6f +/- %10.6f\n", std::exp(r.log_ppl_ratio),
                std::exp(r.log_ppl_ratio) * r.log_ppl_ratio_error);
    std::printf("\n====== KL divergence statistics ======\n");
    std::printf("Mean    KLD: %10.6f +/- %10.6f\n", r.kld_mean, r.kld_error);
    const std::pair<const char*, double> kld_rows[] = {
        {"Maximum KLD", 1.0}, {"99.9%   KLD", 0.999}, {"99.0%   KLD", 0.99}, {"Median  KLD", 0.5},
        {"10.0%   KLD", 0.1}, {" 5.0%   KLD", 0.05},  {" 1.0%   KLD", 0.01}, {"Minimum KLD", 0.0}};
    for (const auto& [label, fraction] : kld_rows)
        std::printf("%s: %10.6f\n", label, percentile(r.kld_sorted, fraction));
    std::printf("\n====== Token probability statistics ======\n");
    std::printf("Mean    Δp: %6.3f %%\n", 100.0 * r.p_diff_mean);
    std::printf("Maximum Δp: %6.3f%%\n", 100.0 * percentile(r.p_diff_sorted, 1.0));
    std::printf("Median  Δp: %6.3f%%\n", 100.0 * percentile(r.p_diff_sorted, 0.5));
    std::printf("Minimum Δp: %6.3f%%\n", 100.0 * percentile(r.p_diff_sorted, 0.0));
    std::printf("RMS Δp    : %6.3f %%\n", 100.0 * r.p_diff_rms);
    std::printf("Same top p: %6.3f +/- %5.3f %%\n", 100.0 * r.same_top, 100.0 * r.same_top_error);
    return 0;
}

}  // namespace

Runner add_perplexity_command(CLI::App& app) {
    auto options = std::make_shared<PerplexityOptions>();
    CLI::App* sub = app.add_subcommand("perplexity", "Perplexity of a model on a text file");
    options->model.add_to(*sub,
                          "Tokens per chunk (default: 512, as llama.cpp; at least 4; with "
                          "--kl-divergence: the base file's)");
    sub->add_option("-f,--file", options->text_path, "Text file (not needed with --kl-divergence)");
    sub->add_option("--kl-divergence-base", options->kld_base_path,
                    "Log-probability file: written by a perplexity run, read with --kl-divergence");
    sub->add_flag("--kl-divergence", options->kl_divergence,
                  "Compare with the log-probabilities in --kl-divergence-base");
    return [options] {
        if (options->kl_divergence) return run_kl_divergence(*options);
        if (options->text_path.empty()) throw UsageError("perplexity needs a text: -f FILE");
        if (options->model.n_ctx != 0 && options->model.n_ctx < 4) {
            throw UsageError("-c " + std::to_string(options->model.n_ctx) +
                             ": perplexity needs chunks of at least 4 tokens (it scores the "
                             "second half of each)");
        }
        return run_perplexity(*options);
    };
}

}  // namespace ember::cli
