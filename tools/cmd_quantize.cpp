// `ember quantize IN.gguf OUT.gguf TYPE [--threads N]`: re-encode a model's weights
// (engine/quantize.h), with a progress bar.
#include <cstdio>
#include <memory>
#include <string>

#include "formats/error.h"
#include "formats/imatrix.h"
#include "tools/command.h"
#include "tools/lib/quantize.h"
#include "tools/option_checks.h"
#include "tools/progress.h"

namespace ember::cli {
namespace {

struct QuantizeCliOptions {
    std::string input, output, type, imatrix;
    int n_threads = 0;
};

int run_quantize(const QuantizeCliOptions& o) {
    QuantizeOptions options;
    options.file_type = find_file_type(o.type);
    if (options.file_type == nullptr) {
        throw UsageError(unknown_file_type(o.type));
    }
    const gguf::File in(o.input);
    options.n_threads = o.n_threads;
    Imatrix imatrix;
    if (!o.imatrix.empty()) {
        imatrix = read_imatrix(o.imatrix);
        options.imatrix = &imatrix;
        options.imatrix_path = o.imatrix;
        std::fprintf(stderr, "imatrix: %zu entries from %s (%d chunks of %s)\n",
                     imatrix.entries.size(), o.imatrix.c_str(), imatrix.chunks,
                     imatrix.dataset.c_str());
    }
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
    sub->add_option("type", options->type, std::string(file_type_names()))->required();
    sub->add_option("-t,--threads", options->n_threads,
                    "Threads (default: the physical cores this process may use)")
        ->check(thread_count());
    sub->add_option("--imatrix", options->imatrix,
                    "Importance matrix (llama-imatrix's or ember imatrix's file): weights the "
                    "rounding of every quantized type as llama-quantize does");
    return [options] { return run_quantize(*options); };
}

}  // namespace ember::cli
