// Synthetic models: random weights in the shapes of real models (TinyLlama 1.1B, Llama 3.2 1B,
// Qwen 2.5, Phi-3.5 mini, Gemma 2 2B, ...), in their architectures' tensors, written tensor by
// tensor so the memory used stays near one tensor, not the file. This is how benchmarks get 1-7B
// files without downloads. The numbers are random but scaled as in a trained network (projections ~
// 1/sqrt(fan_in), norms near 1), so activations stay sane.
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
    std::string arch;  // general.architecture: llama, qwen2, phi3, gemma2, bert (tensors follow)
    int n_vocab, n_ctx, n_embd, n_ff, n_layer, n_head, n_head_kv;
    int head_dim;  // attention.key_length where it is not n_embd / n_head (gemma2), else 0
    float rope_freq_base;
    float rms_eps;         // the norm's epsilon (RMSNorm, or LayerNorm for encoders)
    bool tied_embeddings;  // no output.weight: the output reuses token_embd
    bool rope_freqs;       // Llama 3.1+ frequency factors (rope_freqs.weight)
    // A mixture of experts (qwen3moe): n_ff is each expert's width.
    int n_expert = 0, n_expert_used = 0;
    // A hybrid (lfm2): the layers with attention; the others are short convolutions. Empty:
    // attention in every layer.
    std::vector<int> attention_layers = {};
    // Gated DeltaNet layers (qwen35): key heads, value heads, their size; and RoPE on the first
    // n_rot values of each attention head (0: all).
    int ssm_k_heads = 0, ssm_v_heads = 0, ssm_head_dim = 0;
    int n_rot = 0;
};

// tinyllama-1.1b, llama2-7b, mistral-7b, llama3-8b, smollm-135m, llama3.2-1b, qwen2.5-0.5b,
// qwen2.5-1.5b, phi3.5-mini, gemma2-2b, smollm2-360m; encoders minilm-l6, bge-small.
const std::vector<ModelShape>& known_shapes();
const ModelShape& shape_by_name(const std::string& name);  // throws ember::Error
std::string known_shape_names();                           // "tinyllama-1.1b, llama2-7b, ..."

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
