// The memory line the model commands print on load: weights, KV cache (its type), scratch and
// their total, and a note when --max-memory lowered the default context.
#pragma once

#include <cstdio>
#include <string>

#include "engine/model/context.h"
#include "engine/runtime/system_memory.h"

namespace ember::cli {

inline void print_memory_use(const Context& context, const ContextParams& asked) {
    const MemoryUse use = context.memory();
    const ModelConfig& c = context.model().config();
    std::string reads;  // a mixture of experts: what a generated token reads of its weights
    if (c.n_expert > 0) {
        const std::string experts =
            std::to_string(c.n_expert_used) + " of " + std::to_string(c.n_expert) + " experts";
        reads = context.model().experts_mapped()
                    ? " (the experts stay mapped from the " +
                          megabytes(weight_bytes(context.model().file())) +
                          " file, counted as the " + experts + " a token reads)"
                    : " (a token reads " + megabytes(token_reads(c, context.model().file()).bytes) +
                          ": " + experts + ")";
    }
    // A short convolution's state is a few kilobytes a layer.
    const std::string state =
        use.state == 0 ? std::string()
        : use.state < 1000000
            ? " + recurrent state " + std::to_string((use.state + 1023) / 1024) + " KB"
            : " + recurrent state " + megabytes(use.state);
    std::fprintf(stderr, "memory: weights %s%s + KV cache %s (%s)%s + scratch %s = %s\n",
                 megabytes(use.weights).c_str(), reads.c_str(), megabytes(use.kv_cache).c_str(),
                 std::string(tensor_type_name(context.kv_cache().type())).c_str(), state.c_str(),
                 megabytes(use.scratch).c_str(), megabytes(use.total()).c_str());
    const int default_ctx = default_context(context.model().config());
    if (asked.max_memory > 0 && asked.n_ctx == 0 && context.n_ctx() < default_ctx) {
        std::fprintf(stderr,
                     "memory: context lowered from %d to %d tokens to fit --max-memory %s\n",
                     default_ctx, context.n_ctx(), megabytes(asked.max_memory).c_str());
    }
}

}  // namespace ember::cli
