// The hyper-parameters of a model, read from GGUF metadata (`ARCH.*` keys, as llama.cpp's
// converter writes them, ARCH being general.architecture).
#pragma once

#include "engine/model/architecture.h"
#include "formats/gguf.h"

#include <vector>

namespace ember {

// What mixes the tokens in a layer (its first block; the feed-forward block follows): attention
// over the KV cache, or in a hybrid family a recurrent layer whose state per sequence is kept
// beside the KV cache (Context::state_): lfm2's gated short convolution over the last few
// tokens, qwen35's Gated DeltaNet (a short convolution, then a matrix state per head).
enum class LayerKind { Attention, ShortConv, DeltaNet };

// What one layer is, where the layers of a model differ: a sliding window on some (phi3,
// gemma2), RoPE bases per layer (the local and global layers of newer families). Read by the
// forward pass (the kind, RoPE) and attention (the window). Head counts and sizes are the
// model's (ModelConfig) for every layer: the KV cache is laid out by them.
struct LayerSpec {
    LayerKind kind = LayerKind::Attention;
    int window = 0;                   // positions it attends to, itself included; 0: all
    bool rope = true;                 // its queries and keys rotate (smollm3: not every layer)
    float rope_freq_base = 10000.0f;  // RoPE's theta base
    float rope_freq_scale = 1.0f;     // position scale: 1 / factor of linear RoPE scaling
    // Its place among the layers of its kind: the KV cache holds the attention layers only,
    // the recurrent state the short-convolution layers only.
    int slot = 0;
};

struct ModelConfig {
    const Architecture* arch = nullptr;  // what differs between families (architecture.h)
    int n_vocab = 0;                     // tokens in the vocabulary
    int n_ctx_train = 0;                 // context length the model was trained for
    int n_embd = 0;                      // width of the residual stream (embedding_length)
    int n_layer = 0;                     // transformer blocks
    int n_ff = 0;                        // hidden width of the feed-forward network (of each
                                         // expert in a mixture of experts)
    int n_expert = 0;                    // experts of each feed-forward network; 0: a dense network
    int n_expert_used = 0;               // experts each token goes through
    int n_head = 0;                      // query heads
    int n_head_kv = 0;                // key/value heads: n_head is MHA, 1 is MQA, in between is GQA
    int head_dim = 0;                 // values per head: attention.key_length, else n_embd / n_head
    int n_rot = 0;                    // leading values of each head that RoPE rotates
    float rope_freq_base = 10000.0f;  // RoPE's theta base
    float rope_freq_scale = 1.0f;     // position scale: 1 / factor of linear RoPE scaling
    // LongRoPE (phi3): a context longer than this uses rope_factors_long, else _short.
    int rope_n_ctx_orig = 0;
    float rope_attn_factor = 1.0f;  // rope.scaling.attn_factor: scales the rotated values
    float norm_eps = 1e-5f;         // epsilon inside the norm's square root (RMSNorm or LayerNorm)
    bool causal = true;             // attention.causal: false for encoders (the whole text)
    int pooling_type = -1;          // pooling_type: 0 none, 1 mean, 2 cls, 3 last; -1: not given
    int sliding_window = 0;         // positions a windowed layer sees (itself included); 0: none
    float attn_softcap = 0;         // gemma2: scores become cap * tanh(score / cap); 0: off
    float final_softcap = 0;        // gemma2: the same on the logits
    float query_scale = 1.0f;       // attention scale, 1 / sqrt(head_dim) for most families
    // Recurrent layers (lfm2, qwen35): the tokens their causal convolution reads
    // (shortconv.l_cache, ssm.conv_kernel) over how many channels (lfm2: n_embd; qwen35: the
    // DeltaNet's q, k and v); qwen35's DeltaNet heads (ssm.group_count key heads,
    // ssm.time_step_rank value heads, each of ssm.state_size values).
    int n_conv = 0;
    int conv_channels = 0;
    int ssm_k_heads = 0, ssm_v_heads = 0, ssm_head_dim = 0;
    int state_floats = 0;        // one recurrent layer's state of one sequence
    int n_attention_layers = 0;  // layers with a KV cache
    int n_recurrent_layers = 0;  // layers with a state
    // Whether some layer keeps a state that summarises every token so far (not a row per
    // position): such a sequence cannot drop its last positions or shift, only be evaluated
    // again (Context::truncate, Context::shift).
    bool recurrent() const { return n_recurrent_layers > 0; }

    int q_dim() const { return n_head * head_dim; }                   // width of all query heads
    int ssm_key_dim() const { return ssm_k_heads * ssm_head_dim; }    // DeltaNet q, k widths
    int ssm_value_dim() const { return ssm_v_heads * ssm_head_dim; }  // DeltaNet v width
    int kv_dim() const { return n_head_kv * head_dim; }  // width of all key (or value) heads
    std::vector<LayerSpec> layers;                       // n_layer of them

    // Reads and checks the metadata; throws ember::Error naming the file and the key.
    static ModelConfig from_gguf(const gguf::File& file);
};

}  // namespace ember
