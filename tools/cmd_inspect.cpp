// `ember inspect FILE`: what a GGUF file holds — metadata, the tensor table, and totals.
#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "engine/model/config.h"
#include "engine/model/context.h"
#include "engine/model/kv_cache.h"
#include "engine/runtime/system_memory.h"
#include "engine/runtime/thread_pool.h"
#include "formats/error.h"
#include "formats/gguf.h"
#include "tools/command.h"
#include "tools/format.h"
#include "tools/option_checks.h"

namespace ember::cli {
namespace {

struct InspectOptions {
    std::string path;
    size_t max_items = 8;
    bool memory = false;  // --memory: what running the model would take
    int n_ctx = 0;
    int n_threads = 0;
};

// --memory: weights, scratch and the KV cache for a few contexts in each cache type, as a
// model command would allocate them (engine/model/context.h: memory_use).
void print_memory(const gguf::File& file, const InspectOptions& options) {
    const ModelConfig c = ModelConfig::from_gguf(file);
    ContextParams p;
    p.n_threads = options.n_threads > 0 ? options.n_threads : default_thread_count();
    const int default_ctx = default_context(c);
    p.n_ctx = options.n_ctx > 0 ? options.n_ctx : default_ctx;
    p.n_batch = std::min(512, p.n_ctx);
    const uint64_t weights = weight_bytes(file);
    const MemoryUse use = memory_use(c, weights, p);
    std::printf(
        "\nmemory:    weights %s (mapped from the file, or packed copies in place of "
        "their pages)\n",
        megabytes(weights).c_str());
    if (const uint64_t unpacked = unpacked_bytes(file); unpacked > 0) {
        std::printf(
            "           + %s on this CPU: IQ1_M's grid lookups done once at load, for speed "
            "(--no-repack: none)\n",
            megabytes(unpacked).c_str());
    }
    if (c.n_expert > 0) {
        std::printf(
            "           under --max-memory %s (the experts stay mapped, counted as the %d "
            "of %d a token reads)\n",
            megabytes(resident_weight_bytes(c, file, /*experts_mapped=*/true)).c_str(),
            c.n_expert_used, c.n_expert);
    }
    std::printf("           scratch %s (context %d, batch %d, %d threads)\n",
                megabytes(use.scratch).c_str(), p.n_ctx, p.n_batch, p.n_threads);
    std::vector<TensorType> types = {TensorType::F32, TensorType::F16};
    for (TensorType t : {TensorType::Q8_0, TensorType::Q4_0}) {
        if (KvCache::check_type(t, c.head_dim).empty()) types.push_back(t);
    }
    std::vector<int> contexts = {512, 2048, 4096};
    for (int n : {c.n_ctx_train, p.n_ctx}) {
        if (std::find(contexts.begin(), contexts.end(), n) == contexts.end()) contexts.push_back(n);
    }
    std::sort(contexts.begin(), contexts.end());
    std::printf("           KV cache by context and type%s:\n",
                c.arch->encoder ? " (an encoder keeps F32 keys and values of one pass)" : "");
    std::printf("  %10s", "context");
    for (TensorType t : types) std::printf("  %10s", std::string(tensor_type_name(t)).c_str());
    std::printf("\n");
    for (int n : contexts) {
        const std::string label = std::to_string(n) + (n == default_ctx ? "*" : "");
        std::printf("  %10s", label.c_str());
        for (TensorType t : types) {
            ContextParams q = p;
            q.n_ctx = n;
            q.kv_type = t;
            std::printf("  %10s", megabytes(memory_use(c, weights, q).kv_cache).c_str());
        }
        std::printf("\n");
    }
    std::printf("  * the default context (the training context, at most %d); trained for %d\n",
                kDefaultMaxContext, c.n_ctx_train);
    p.kv_type = TensorType::F16;
    std::printf("           total at context %d with an F16 cache: %s\n", p.n_ctx,
                megabytes(memory_use(c, weights, p).total()).c_str());
}

std::string shape_string(const gguf::TensorInfo& t) {
    std::string out = "[";
    for (uint32_t d = 0; d < t.n_dims; ++d) {
        if (d > 0) out += ", ";
        out += std::to_string(t.ne[d]);
    }
    return out + "]";
}

int run_inspect(const InspectOptions& options) {
    const gguf::File file(options.path);

    std::printf("file:      %s\n", file.name().c_str());
    std::printf("format:    GGUF v%u, little-endian, %s bytes, alignment %u, data at byte %s\n",
                file.version(), with_commas(file.file_size()).c_str(), file.alignment(),
                with_commas(file.data_offset()).c_str());

    std::printf("\nmetadata:  %zu keys\n", file.metadata().size());
    size_t key_width = 0;
    for (const gguf::Value& v : file.metadata()) key_width = std::max(key_width, v.key().size());
    for (const gguf::Value& v : file.metadata()) {
        std::printf("  %-*.*s  %-14s = %s\n", static_cast<int>(key_width),
                    static_cast<int>(v.key().size()), v.key().data(), v.type_string().c_str(),
                    v.to_string(options.max_items).c_str());
    }

    std::printf("\ntensors:   %zu\n", file.tensors().size());
    size_t name_width = 4;
    for (const auto& t : file.tensors()) name_width = std::max(name_width, t.name.size());
    std::printf("  %5s  %-*s  %-7s  %-22s  %14s  %14s\n", "#", static_cast<int>(name_width), "name",
                "type", "shape", "bytes", "offset");
    uint64_t n_params = 0, n_bytes = 0;
    std::map<std::string_view, size_t> count_by_type;
    for (size_t i = 0; i < file.tensors().size(); ++i) {
        const gguf::TensorInfo& t = file.tensors()[i];
        std::printf("  %5zu  %-*.*s  %-7s  %-22s  %14s  %14s\n", i, static_cast<int>(name_width),
                    static_cast<int>(t.name.size()), t.name.data(),
                    std::string(tensor_type_name(t.type)).c_str(), shape_string(t).c_str(),
                    with_commas(t.n_bytes).c_str(),
                    with_commas(file.data_offset() + t.offset).c_str());
        n_params += t.n_elements;
        n_bytes += t.n_bytes;
        ++count_by_type[tensor_type_name(t.type)];
    }

    std::printf(
        "\ntotals:    %s parameters, %s bytes (%.2f MiB), %.2f bits per weight\n",
        with_commas(n_params).c_str(), with_commas(n_bytes).c_str(),
        static_cast<double>(n_bytes) / (1024.0 * 1024.0),
        n_params ? 8.0 * static_cast<double>(n_bytes) / static_cast<double>(n_params) : 0.0);
    std::string by_type;
    for (const auto& [name, count] : count_by_type) {
        if (!by_type.empty()) by_type += ", ";
        by_type += std::string(name) + " " + std::to_string(count);
    }
    std::printf("by type:   %s\n", by_type.empty() ? "(no tensors)" : by_type.c_str());
    // A mixture of experts: what one token runs through (a file ember cannot run says nothing).
    const ModelConfig* config = nullptr;
    ModelConfig read;
    try {
        read = ModelConfig::from_gguf(file);
        config = &read;
    } catch (const Error&) {
    }
    if (config != nullptr && config->n_expert > 0) {
        const TokenReads reads = token_reads(*config, file);
        std::printf(
            "active:    %s parameters, %s bytes per token (%d of %d experts; the "
            "embedding table counts when it is also the output)\n",
            with_commas(reads.params).c_str(), with_commas(reads.bytes).c_str(),
            config->n_expert_used, config->n_expert);
    }
    if (options.memory) print_memory(file, options);
    return 0;
}

}  // namespace

Runner add_inspect_command(CLI::App& app) {
    auto options = std::make_shared<InspectOptions>();
    CLI::App* sub =
        app.add_subcommand("inspect", "Show a GGUF file's metadata, tensors and totals");
    sub->add_option("file", options->path, "GGUF file")->required();
    sub->add_option("--max-items", options->max_items, "Array elements to show per key")
        ->capture_default_str();
    sub->add_flag("--memory", options->memory,
                  "What running the model takes: weights, scratch, and the KV cache by context "
                  "and cache type");
    sub->add_option("-c,--ctx-size", options->n_ctx, "Context for --memory (default: the model's)")
        ->check(number_in(0, 1 << 30, "0: the default"));
    sub->add_option("-t,--threads", options->n_threads, "Threads for --memory's scratch")
        ->check(thread_count());
    return [options] { return run_inspect(*options); };
}

}  // namespace ember::cli
