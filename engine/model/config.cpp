#include "engine/model/config.h"

#include <string>

#include "formats/error.h"

namespace ember {

LlamaConfig LlamaConfig::from_gguf(const gguf::File& file) {
    const std::string arch(file.get_string("general.architecture", ""));
    if (arch != "llama") {
        throw Error(file.name() + ": architecture '" + arch +
                    "' is not supported (ember runs Llama-family models: 'llama')");
    }
    const auto positive = [&](const char* key) {
        const uint32_t v = file.get_u32(key);
        if (v == 0 || v > (1u << 24)) {
            throw Error(file.name() + ": metadata " + key + " = " + std::to_string(v) +
                        " is out of range");
        }
        return static_cast<int>(v);
    };
    LlamaConfig c;
    c.n_ctx_train = positive("llama.context_length");
    c.n_embd = positive("llama.embedding_length");
    c.n_layer = positive("llama.block_count");
    c.n_ff = positive("llama.feed_forward_length");
    c.n_head = positive("llama.attention.head_count");
    c.n_head_kv = file.find("llama.attention.head_count_kv")
                      ? positive("llama.attention.head_count_kv")
                      : c.n_head;
    if (c.n_embd % c.n_head != 0) {
        throw Error(file.name() + ": embedding_length " + std::to_string(c.n_embd) +
                    " is not a multiple of head_count " + std::to_string(c.n_head));
    }
    if (c.n_head % c.n_head_kv != 0) {
        throw Error(file.name() + ": head_count " + std::to_string(c.n_head) +
                    " is not a multiple of head_count_kv " + std::to_string(c.n_head_kv));
    }
    c.head_dim = c.n_embd / c.n_head;
    c.n_rot = file.find("llama.rope.dimension_count") ? positive("llama.rope.dimension_count")
                                                      : c.head_dim;
    if (c.n_rot > c.head_dim || c.n_rot % 2 != 0) {
        throw Error(file.name() + ": rope.dimension_count " + std::to_string(c.n_rot) +
                    " must be even and at most the head size " + std::to_string(c.head_dim));
    }
    c.rope_freq_base = file.get_f32("llama.rope.freq_base", 10000.0f);
    c.rms_eps = file.get_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
    const std::string scaling(file.get_string("llama.rope.scaling.type", "none"));
    if (scaling == "linear") {
        const float factor = file.get_f32("llama.rope.scaling.factor", 1.0f);
        if (!(factor > 0)) throw Error(file.name() + ": rope.scaling.factor must be positive");
        c.rope_freq_scale = 1.0f / factor;
    } else if (scaling != "none") {
        throw Error(file.name() + ": rope scaling '" + scaling +
                    "' is not supported (ember supports none and linear)");
    }
    if (!(c.rope_freq_base > 0) || !(c.rms_eps > 0)) {
        throw Error(file.name() + ": rope.freq_base and layer_norm_rms_epsilon must be positive");
    }
    if (file.find("tokenizer.ggml.tokens")) {
        c.n_vocab = static_cast<int>(
            file.get_array("tokenizer.ggml.tokens", gguf::ValueType::STRING).array_size());
    } else if (const gguf::TensorInfo* embd = file.find_tensor("token_embd.weight")) {
        c.n_vocab = static_cast<int>(embd->ne[1]);
    }
    if (c.n_vocab <= 0) throw Error(file.name() + ": no vocabulary (tokenizer.ggml.tokens)");
    return c;
}

}  // namespace ember
