// Options shared by the commands that run a model: -m, -t, -c, --kv-type, --max-memory,
// --no-repack.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "engine/model/context.h"
#include "engine/model/model.h"
#include "tools/option_checks.h"

namespace ember::cli {

struct ModelOptions {
    std::string model_path;
    int n_threads = 0;
    int n_ctx = 0;
    std::string kv_type = "f16";
    bool no_repack = false;
    std::string max_memory;  // --max-memory SIZE

    // `ctx_help` replaces -c's description where the command has its own default.
    void add_to(CLI::App& app, const std::string& ctx_help = "") {
        app.add_option("-m,--model", model_path, "GGUF model file")->required();
        app.add_option("-t,--threads", n_threads,
                       "Threads (default: the physical cores this process may use)")
            ->check(thread_count());
        app.add_option("-c,--ctx-size", n_ctx,
                       !ctx_help.empty() ? ctx_help
                                         : "Context size in tokens (default: the model's training "
                                           "context, at most 4096)")
            ->check(number_in(0, 1 << 30, "0: the default"));
        app.add_option("--kv-type", kv_type,
                       "KV cache type: f16 (as llama.cpp), f32, q8_0 (half of f16's memory) or "
                       "q4_0 (a quarter)")
            ->check(CLI::IsMember({"f16", "f32", "q8_0", "q4_0"}))
            ->capture_default_str();
        app.add_option("--max-memory", max_memory,
                       "Memory budget for weights, KV cache and scratch (512M, 1.5G): a default "
                       "context shrinks to fit, a given -c that does not fit is refused; a "
                       "mixture's experts stay mapped and count as what a token reads")
            ->check(byte_size());
        app.add_flag("--no-repack", no_repack,
                     "Compute from the mapped file only: no load-time packing of the weights");
    }
    ember::ModelOptions model_options() const {
        ember::ModelOptions o;
        o.repack = !no_repack;
        // Under a budget a mixture's experts stay mapped: the budget counts what a token reads.
        o.pack_experts = max_memory.empty();
        // ... and a type that unpacks beyond its bytes (IQ1_M on x86) stays mapped.
        o.unpack = max_memory.empty();
        return o;
    }
    ContextParams context_params() const {
        ContextParams p;
        p.n_threads = n_threads;
        p.n_ctx = n_ctx;
        if (!max_memory.empty()) p.max_memory = parse_byte_size(max_memory).value_or(0);
        p.kv_type = kv_type == "f32"    ? TensorType::F32
                    : kv_type == "q8_0" ? TensorType::Q8_0
                    : kv_type == "q4_0" ? TensorType::Q4_0
                                        : TensorType::F16;
        return p;
    }
};

}  // namespace ember::cli
