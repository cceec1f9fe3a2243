// `ember inspect FILE`: what a GGUF file holds — metadata, the tensor table, and totals.
#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "formats/gguf.h"
#include "tools/command.h"
#include "tools/format.h"

namespace ember::cli {
namespace {

struct InspectOptions {
    std::string path;
    size_t max_items = 8;
};

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
    return [options] { return run_inspect(*options); };
}

}  // namespace ember::cli
