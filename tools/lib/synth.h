// Synthetic models: random weights in the shapes of real models (TinyLlama 1.1B, Llama 2 7B,
// ...), written tensor by tensor so the memory used stays near one tensor, not the file. This
// is how benchmarks get 1-7B files without downloads. The numbers are random but scaled as in
// a trained network (projections ~ 1/sqrt(fan_in), norms near 1), so activations stay sane.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "formats/gguf.h"
#include "tools/lib/quant_mix.h"

namespace ember {

struct ModelShape {
    std::string name;
    int n_vocab, n_ctx, n_embd, n_ff, n_layer, n_head, n_head_kv;
    float rope_freq_base;
    bool tied_embeddings;  // no output.weight: the output reuses token_embd
};

// tinyllama-1.1b, llama2-7b, mistral-7b, llama3-8b, smollm-135m.
const std::vector<ModelShape>& known_shapes();
const ModelShape& shape_by_name(const std::string& name);  // throws ember::Error

struct SynthOptions {
    const FileType* file_type = find_file_type("Q4_0");  // matrices (with its mix); norms F32
    uint64_t seed = 1;
    const gguf::File* vocab =
        nullptr;               // copy tokenizer.* from here (its size wins); else a byte vocabulary
    int n_layer_override = 0;  // > 0: fewer layers (quick tests)
};

// Writes the model; on_tensor(i, n) reports progress. Throws ember::Error.
void write_synthetic_model(const ModelShape& shape, const SynthOptions& options,
                           const std::string& path,
                           const std::function<void(size_t, size_t)>& on_tensor = {});

}  // namespace ember
