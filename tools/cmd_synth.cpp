// `ember synth --shape NAME --type TYPE -o OUT.gguf [--seed S] [--vocab VOCAB.gguf]`:
// a random-weight model of a real shape (engine/synth.h), for benchmarks.
#include <cstdio>
#include <memory>
#include <string>

#include "formats/error.h"
#include "tools/command.h"
#include "tools/lib/synth.h"
#include "tools/option_checks.h"
#include "tools/progress.h"

namespace ember::cli {
namespace {

struct SynthCliOptions {
    std::string shape;
    std::string type = "Q4_0";
    std::string output;
    uint64_t seed = 1;
    std::string vocab;
    int layers = 0;
};

int run_synth(const SynthCliOptions& o) {
    const FileType* file_type = find_file_type(o.type);
    if (file_type == nullptr) {
        throw UsageError(unknown_file_type(o.type));
    }
    std::unique_ptr<gguf::File> vocab;
    if (!o.vocab.empty()) vocab = std::make_unique<gguf::File>(o.vocab);
    SynthOptions options;
    options.file_type = file_type;
    options.seed = o.seed;
    options.vocab = vocab.get();
    options.n_layer_override = o.layers;
    const ModelShape& shape = shape_by_name(o.shape);
    if (o.layers > shape.n_layer) {
        throw UsageError("--layers " + std::to_string(o.layers) + ": the shape " + o.shape +
                         " has " + std::to_string(shape.n_layer) + " layers");
    }
    ProgressBar bar("synth " + o.shape + " " + o.type);
    write_synthetic_model(shape, options, o.output, [&](size_t done, size_t total) {
        bar.update(static_cast<long>(done), static_cast<long>(total));
    });
    bar.finish();
    std::fprintf(stderr, "wrote %s\n", o.output.c_str());
    return 0;
}

}  // namespace

Runner add_synth_command(CLI::App& app) {
    auto options = std::make_shared<SynthCliOptions>();
    CLI::App* sub =
        app.add_subcommand("synth", "Write a random-weight model of a real shape (benchmarks)");
    sub->add_option("--shape", options->shape, known_shape_names())->required();
    sub->add_option("--type", options->type, "File type: " + std::string(file_type_names()))
        ->capture_default_str();
    sub->add_option("-o,--output", options->output, "Output GGUF file")->required();
    sub->add_option("--seed", options->seed, "Random seed")->capture_default_str();
    sub->add_option("--vocab", options->vocab, "Copy the tokenizer from this GGUF file");
    sub->add_option("--layers", options->layers,
                    "Fewer layers than the shape has (quick tests; 0: all)")
        ->check(number_in(0, 1000, "0: all"));
    return [options] { return run_synth(*options); };
}

}  // namespace ember::cli
