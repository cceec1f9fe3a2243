// `ember quantize IN.gguf OUT.gguf TYPE [--threads N]`: re-encode a model's weights
// (engine/quantize.h), with a progress bar.
#include <cstdio>
#include <memory>
#include <optional>

#include "engine/quantize.h"
#include "formats/error.h"
#include "tools/command.h"
#include "tools/progress.h"

namespace ember::cli {
namespace {

struct QuantizeCliOptions {
    std::string input, output, type;
    int n_threads = 0;
};

int run_quantize(const QuantizeCliOptions& o) {
    std::optional<TensorType> type;
    for (uint32_t id = 0; id < 64; ++id) {
        if (const auto info = tensor_type_info(id); info && info->name == o.type) type = info->type;
    }
    if (!type) throw Error("unknown type '" + o.type + "'");
    const gguf::File in(o.input);
    QuantizeOptions options;
    options.type = *type;
    options.n_threads = o.n_threads;
    ProgressBar bar("quantize " + o.type);
    quantize_model(in, o.output, options, [&](size_t done, size_t total) {
        bar.update(static_cast<long>(done), static_cast<long>(total));
    });
    bar.finish();
    std::fprintf(stderr, "wrote %s\n", o.output.c_str());
    return 0;
}

}  // namespace

Runner add_quantize_command(CLI::App& app) {
    auto options = std::make_shared<QuantizeCliOptions>();
    CLI::App* sub = app.add_subcommand("quantize", "Re-encode a model's weights (F32/F16/BF16 in)");
    sub->add_option("input", options->input, "Input GGUF (F32, F16 or BF16 weights)")->required();
    sub->add_option("output", options->output, "Output GGUF")->required();
    sub->add_option("type", options->type, "F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0")->required();
    sub->add_option("--threads", options->n_threads, "Threads (default: physical cores)");
    return [options] { return run_quantize(*options); };
}

}  // namespace ember::cli
