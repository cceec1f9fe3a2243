// `ember logits -m FILE --prompt-ids IDS -o OUT.f32`: the logits of every prompt position from
// one batch, float32 little-endian, one row of n_vocab values per position.
#include <cstdio>
#include <memory>

#include "engine/model/context.h"
#include "formats/error.h"
#include "formats/output_file.h"
#include "tools/command.h"
#include "tools/model_options.h"
#include "tools/token_ids.h"

namespace ember::cli {
namespace {

struct LogitsOptions {
    ModelOptions model;
    std::string prompt_ids;
    std::string output_path;
};

int run_logits(const LogitsOptions& options) {
    const std::vector<int32_t> ids = parse_token_ids(options.prompt_ids);
    const Model model(options.model.model_path, options.model.model_options());
    ContextParams params = options.model.context_params();
    params.n_batch = static_cast<int>(ids.size());
    Context context(model, params);
    context.decode(ids, /*all_logits=*/true);

    const std::string inputs[] = {options.model.model_path};
    OutputFile out(options.output_path, inputs);
    out.write(context.logits(0), ids.size() * static_cast<size_t>(context.n_vocab()) * 4);
    out.commit();
    std::fprintf(stderr, "wrote %zu x %d logits to %s\n", ids.size(), context.n_vocab(),
                 options.output_path.c_str());
    return 0;
}

}  // namespace

Runner add_logits_command(CLI::App& app) {
    auto options = std::make_shared<LogitsOptions>();
    CLI::App* sub = app.add_subcommand("logits", "Write the logits of every prompt position");
    options->model.add_to(*sub);
    sub->add_option("--prompt-ids", options->prompt_ids, "Prompt token ids: 1,403,407")->required();
    sub->add_option("-o,--output", options->output_path, "Output file (float32 rows)")->required();
    return [options] { return run_logits(*options); };
}

}  // namespace ember::cli
