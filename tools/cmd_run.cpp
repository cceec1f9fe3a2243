// `ember run`: generate a continuation of a prompt and stream it to stdout.
// Logs and speed go to stderr, so stdout holds only the generated text (or ids).
#include <chrono>
#include <cstdio>
#include <limits>
#include <memory>
#include <optional>
#include <random>

#include "engine/generate/session.h"
#include "engine/generate/turn.h"
#include "engine/model/context.h"
#include "engine/text/tokenizer.h"
#include "formats/error.h"
#include "platform/cpu.h"
#include "tools/command.h"
#include "tools/generation_options.h"
#include "tools/lib/chat_format_option.h"
#include "tools/memory_report.h"
#include "tools/model_options.h"
#include "tools/option_checks.h"
#include "tools/prompt_cache.h"
#include "tools/sampling_options.h"
#include "tools/speculation_options.h"
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
    GenerationOptions generation;
    SpeculationOptions speculation;
    bool print_ids = false;
    bool no_bos = false;
    bool ignore_eos = false;
    std::string prompt_cache;   // --prompt-cache FILE
    bool chat = false;          // --chat: -p is a user message in the model's chat template
    std::string chat_template;  // --chat-template NAME|FILE.jinja (implies --chat)
    std::string system;         // --system: a system message before it
};

int run_run(const RunOptions& options) {
    std::vector<std::string> inputs = options.generation.input_files();
    inputs.push_back(options.model.model_path);
    if (!options.speculation.draft_model.empty()) inputs.push_back(options.speculation.draft_model);
    if (!options.prompt_cache.empty()) check_prompt_cache_path(options.prompt_cache, inputs);
    const std::shared_ptr<const Grammar> grammar = options.generation.compile_grammar();
    const Model model(options.model.model_path, options.model.model_options());
    const Tokenizer tokenizer(model.file());
    const std::unique_ptr<const Model> draft_model =
        options.speculation.load(options.model.model_options());
    std::vector<int32_t> prompt;
    std::optional<ChatFormat> chat_format;
    if (options.chat || !options.chat_template.empty()) {
        if (!options.prompt_ids.empty()) {
            throw UsageError(
                "--chat renders -p TEXT as a user message; --prompt-ids is a raw prompt");
        }
        chat_format = chat_format_option(options.chat_template, model, tokenizer);
        std::vector<ChatMessage> messages;
        if (!options.system.empty()) messages.push_back({"system", options.system});
        messages.push_back({"user", options.prompt});
        const ChatPrompt rendered = chat_format->render(messages);
        // The messages' text is read as text: control tokens only from the template.
        prompt = tokenizer.encode(rendered.text, /*add_special=*/!options.no_bos,
                                  /*parse_special=*/true, rendered.content);
    } else if (!options.system.empty()) {
        throw UsageError("--system needs --chat or --chat-template");
    } else if (!options.prompt_ids.empty()) {
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

    SessionParams params;
    params.context = options.model.context_params();
    params.sampling = options.sampling.sampler_params();
    params.speculation = options.speculation.params(draft_model.get());
    Session session(model, tokenizer, params);
    // The last token generated is never evaluated, so a full context of n_ctx positions gives
    // n_ctx - prompt + 1 new tokens: what -n -1 reaches, and the most -n may ask for without
    // a context shift. With one, only the prompt must fit.
    if (static_cast<int64_t>(prompt.size()) > session.n_ctx()) {
        throw UsageError("the prompt (" + std::to_string(prompt.size()) +
                         " tokens) exceeds the context size " + std::to_string(session.n_ctx()) +
                         " (raise it with -c)");
    }
    if (options.generation.no_shift && options.n_predict >= 0 &&
        static_cast<int64_t>(prompt.size()) + options.n_predict > session.n_ctx() + 1) {
        throw UsageError("the prompt (" + std::to_string(prompt.size()) + " tokens) plus -n " +
                         std::to_string(options.n_predict) + " exceeds the context size " +
                         std::to_string(session.n_ctx()) +
                         " and --no-context-shift is set (raise -c, or -n -1 to generate until "
                         "it is full)");
    }
    std::fprintf(stderr, "ember: %s, %d threads, context %d, seed %llu\n",
                 options.model.model_path.c_str(), session.context().n_threads(), session.n_ctx(),
                 static_cast<unsigned long long>(params.sampling.seed));
    print_memory_use(session.context(), params.context);

    const auto start = std::chrono::steady_clock::now();
    int n_cached = 0;  // prompt tokens taken from --prompt-cache instead of evaluated
    if (!options.prompt_cache.empty()) {
        load_prompt_cache(session, options.prompt_cache, /*restore_sampler=*/false);
        n_cached = append_with_prompt_cache(session, prompt);
        if (n_cached < static_cast<int>(prompt.size()))
            save_prompt_cache(session, options.prompt_cache, inputs);
    } else {
        session.append_tokens(prompt);
    }
    const double prompt_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();

    // One generation loop for the library and the command line: the session's. Text arrives
    // through the text callback; --print-ids takes the ids from the token callback instead.
    TurnOptions turn;
    turn.max_tokens = options.n_predict;
    turn.ignore_eos = options.ignore_eos;
    options.generation.apply(turn);
    turn.grammar = grammar;
    if (chat_format) add_chat_ends(turn, *chat_format, tokenizer);  // the reply ends with the turn
    bool first_id = true;
    if (options.print_ids) {
        turn.on_token = [&](int32_t token) {
            write_stdout((first_id ? "" : " ") + std::to_string(token));
            first_id = false;
            return true;
        };
    }
    const double cpu_before = platform::process_cpu_seconds();
    const TurnResult result = session.generate("", turn, [&](std::string_view text) {
        if (!options.print_ids) write_stdout(text);
        return true;
    });
    if (options.print_ids) write_stdout("\n");

    const auto per_second = [](int n, double ms) { return ms > 0 ? 1000.0 * n / ms : 0.0; };
    const int n_prompt = static_cast<int>(prompt.size()) - n_cached;  // evaluated
    const std::string cached =
        n_cached > 0 ? " (+" + std::to_string(n_cached) + " from the prompt cache)" : "";
    std::fprintf(stderr,
                 "\nprompt: %d tokens%s in %.1f ms (%.1f tokens/s) | generation: %d tokens in "
                 "%.1f ms (%.1f tokens/s)\n",
                 n_prompt, cached.c_str(), prompt_ms, per_second(n_prompt, prompt_ms),
                 result.n_generated, result.generate_ms,
                 per_second(result.n_generated, result.generate_ms));
    if (params.speculation.enabled()) {
        std::fprintf(stderr, "draft: %d drafted, %d accepted (%.0f%%)\n", result.n_drafted,
                     result.n_accepted,
                     result.n_drafted > 0 ? 100.0 * result.n_accepted / result.n_drafted : 0.0);
    }
    // CPU time of all threads while generating: what a power budget (--max-tps) saves.
    const double cpu_ms = 1000 * (platform::process_cpu_seconds() - cpu_before);
    if (result.n_generated > 0 && result.generate_ms > 0) {
        std::fprintf(stderr, "cpu: %.2f ms per generated token, %.0f%% of one core\n",
                     cpu_ms / result.n_generated, 100 * cpu_ms / result.generate_ms);
    }
    if (result.thermal_slowdowns > 0) {
        std::fprintf(stderr, "thermal: above %.0f degrees C, the pace was halved %d times\n",
                     options.generation.thermal_limit, result.thermal_slowdowns);
    }
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
    options->generation.add_to(*sub);
    options->speculation.add_to(*sub);
    sub->add_flag("--print-ids", options->print_ids, "Print generated token ids instead of text");
    sub->add_flag("--no-bos", options->no_bos, "Do not add the BOS token to a text prompt");
    sub->add_flag("--ignore-eos", options->ignore_eos, "Keep generating after end-of-sequence");
    sub->add_flag("--chat", options->chat,
                  "Read -p TEXT as a user message and render it with the model's chat template "
                  "(the reply ends with the assistant's turn)");
    sub->add_option("--chat-template", options->chat_template,
                    "The same with this chat template: a Jinja file (FILE.jinja) or a built-in "
                    "format (chatml, llama3, ...)");
    sub->add_option("--system", options->system,
                    "A system message before the user's (with --chat)");
    sub->add_option("--prompt-cache", options->prompt_cache,
                    "Session file: reuse the evaluated prompt saved there (a prompt it starts "
                    "with is not evaluated again), and save this prompt's state to it");
    return [options] { return run_run(*options); };
}

}  // namespace ember::cli
