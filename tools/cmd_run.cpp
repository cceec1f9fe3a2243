// `ember run`: generate a continuation of a prompt and stream it to stdout.
// Logs and speed go to stderr, so stdout holds only the generated text (or ids).
#include <cstdio>
#include <limits>
#include <memory>
#include <random>

#include "engine/model/context.h"
#include "engine/generate.h"
#include "engine/text/tokenizer.h"
#include "engine/text/utf8.h"
#include "formats/error.h"
#include "tools/command.h"
#include "tools/model_options.h"
#include "tools/option_checks.h"
#include "tools/sampling_options.h"
#include "tools/stdout.h"
#include "tools/token_ids.h"

namespace ember::cli {
namespace {

struct RunOptions {
    ModelOptions model;
    SamplingOptions sampling;
    std::string prompt;
    std::string prompt_ids;
    int n_predict = 128;
    bool print_ids = false;
    bool no_bos = false;
    bool ignore_eos = false;
};

int run_run(const RunOptions& options) {
    const Model model(options.model.model_path, options.model.model_options());
    const Tokenizer tokenizer(model.file());
    std::vector<int32_t> prompt;
    if (!options.prompt_ids.empty()) {
        prompt = parse_token_ids(options.prompt_ids);
    } else {
        prompt = tokenizer.encode(options.prompt, /*add_special=*/!options.no_bos,
                                  /*parse_special=*/true);
    }
    if (prompt.empty()) throw UsageError("the prompt is empty (give -p TEXT or --prompt-ids)");
    for (int32_t id : prompt) {
        if (id < 0 || id >= model.config().n_vocab) {
            throw Error("token id " + std::to_string(id) + " is outside the vocabulary (0.." +
                        std::to_string(model.config().n_vocab - 1) + ")");
        }
    }

    Context context(model, options.model.context_params());
    // The last token generated is never evaluated, so a full context of n_ctx positions gives
    // n_ctx - prompt + 1 new tokens: what -n -1 reaches, and the most -n may ask for.
    if (options.n_predict >= 0 &&
        static_cast<int64_t>(prompt.size()) + options.n_predict > context.n_ctx() + 1) {
        throw UsageError("the prompt (" + std::to_string(prompt.size()) + " tokens) plus -n " +
                         std::to_string(options.n_predict) + " exceeds the context size " +
                         std::to_string(context.n_ctx()) +
                         " (raise it with -c, or -n -1 to "
                         "generate until it is full)");
    }
    const SamplerParams sampler_params = options.sampling.sampler_params();
    Sampler sampler(sampler_params);
    std::fprintf(stderr, "ember: %s, %d threads, context %d, seed %llu\n",
                 options.model.model_path.c_str(), context.n_threads(), context.n_ctx(),
                 static_cast<unsigned long long>(sampler_params.seed));

    GenerateOptions generate_options;
    generate_options.n_predict = options.n_predict;
    generate_options.stop_token = options.ignore_eos ? -1 : tokenizer.vocab().eos;
    Utf8Stream stream;
    bool first_id = true;
    const GenerationStats stats =
        generate(context, sampler, prompt, generate_options, [&](int32_t token) {
            if (options.print_ids) {
                write_stdout((first_id ? "" : " ") + std::to_string(token));
                first_id = false;
            } else {
                write_stdout(stream.push(tokenizer.piece(token)));
            }
            return true;
        });
    write_stdout(options.print_ids ? "\n" : stream.flush());

    const auto per_second = [](int n, double ms) { return ms > 0 ? 1000.0 * n / ms : 0.0; };
    std::fprintf(stderr,
                 "\nprompt: %d tokens in %.1f ms (%.1f tokens/s) | generation: %d tokens in %.1f "
                 "ms (%.1f tokens/s)\n",
                 stats.n_prompt, stats.prompt_ms, per_second(stats.n_prompt, stats.prompt_ms),
                 stats.n_generated, stats.generate_ms,
                 per_second(stats.n_generated, stats.generate_ms));
    return 0;
}

}  // namespace

Runner add_run_command(CLI::App& app) {
    auto options = std::make_shared<RunOptions>();
    CLI::App* sub = app.add_subcommand("run", "Generate text from a prompt");
    options->model.add_to(*sub);
    auto* prompt = sub->add_option("-p,--prompt", options->prompt, "Prompt text");
    auto* ids =
        sub->add_option("--prompt-ids", options->prompt_ids, "Prompt as token ids: 1,403,407");
    prompt->excludes(ids);
    sub->add_option("-n,--n-predict", options->n_predict,
                    "Tokens to generate (-1: until the end of text or of the context)")
        ->check(number_in(-1, std::numeric_limits<int>::max(), "-1: until the end"))
        ->capture_default_str();
    options->sampling.add_to(*sub);
    sub->add_flag("--print-ids", options->print_ids, "Print generated token ids instead of text");
    sub->add_flag("--no-bos", options->no_bos, "Do not add the BOS token to a text prompt");
    sub->add_flag("--ignore-eos", options->ignore_eos, "Keep generating after end-of-sequence");
    return [options] { return run_run(*options); };
}

}  // namespace ember::cli
