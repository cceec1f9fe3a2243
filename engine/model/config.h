// The hyper-parameters of a Llama-family model, read from GGUF metadata (`llama.*` keys, as
// llama.cpp's converter writes them).
#pragma once

#include "formats/gguf.h"

namespace ember {

struct LlamaConfig {
    int n_vocab = 0;                  // tokens in the vocabulary
    int n_ctx_train = 0;              // context length the model was trained for
    int n_embd = 0;                   // width of the residual stream (embedding_length)
    int n_layer = 0;                  // transformer blocks
    int n_ff = 0;                     // hidden width of the feed-forward network
    int n_head = 0;                   // query heads
    int n_head_kv = 0;                // key/value heads: n_head is MHA, 1 is MQA, in between is GQA
    int head_dim = 0;                 // values per head: n_embd / n_head
    int n_rot = 0;                    // leading values of each head that RoPE rotates
    float rope_freq_base = 10000.0f;  // RoPE's theta base
    float rope_freq_scale = 1.0f;     // position scale: 1 / factor of linear RoPE scaling
    float rms_eps = 1e-5f;            // epsilon inside RMSNorm's square root

    int q_dim() const { return n_head * head_dim; }      // width of all query heads
    int kv_dim() const { return n_head_kv * head_dim; }  // width of all key (or value) heads

    // Reads and checks the metadata; throws ember::Error naming the file and the key.
    static LlamaConfig from_gguf(const gguf::File& file);
};

}  // namespace ember
