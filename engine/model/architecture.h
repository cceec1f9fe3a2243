// What differs between the decoder families ember runs, as data. There is one forward pass
// (forward.cpp); each field below is read at a hook there or in attention.cpp, marked with a
// comment starting "ARCH:" (grep for it). The values follow llama.cpp's graphs for each
// `general.architecture` (src/llama.cpp, build_llama / build_qwen2 / build_phi3 / build_gemma /
// build_gemma2 / build_bert, at commit c392e50; qwen3, qwen3moe, gemma3 and smollm3 from
// src/models/ of the August 2026 llama.cpp, d32676d, as ../shared/arch2/SURVEY.md sums them up).
#pragma once

#include <string>
#include <string_view>

namespace ember {

// Which values of a head RoPE rotates together.
enum class RopeKind {
    None,      // no rotary embedding (BERT: learned absolute positions instead)
    Adjacent,  // (x[2i], x[2i+1]): the original Llama / GPT-J layout
    NeoX,      // (x[i], x[i + n_rot/2]): halves of the head, as GPT-NeoX and HF's rotate_half
};

// The activation of the feed-forward network: gated, out = W_down (act(W_gate h) * (W_up h));
// plain (BERT), out = W_down act(W_up h).
enum class FfnActivation {
    SiLU,      // SwiGLU (Shazeer, 2020)
    GeluTanh,  // GeGLU with the tanh approximation of GELU (Gemma); plain GELU in BERT
};

// How a block normalises: RMSNorm (Zhang and Sennrich, 2019) with a weight, or LayerNorm (Ba
// et al., 2016) with a weight and a bias.
enum class NormKind { RMS, Layer };

struct Architecture {
    std::string_view name;  // general.architecture, also the prefix of the metadata keys
    RopeKind rope = RopeKind::Adjacent;
    FfnActivation activation = FfnActivation::SiLU;
    bool gated_ffn = true;  // W_gate exists (false: BERT's plain up -> GELU -> down)
    NormKind norm = NormKind::RMS;
    // An encoder (BERT family): post-norm blocks, x = Norm(x + sublayer(x)), instead of
    // x += sublayer(Norm(x)); attention over the whole text, not causal; no output head (it
    // makes embeddings, not logits); token-type row 0 added to the embeddings and a LayerNorm
    // after them.
    bool encoder = false;
    bool position_embeddings = false;  // learned absolute positions (position_embd): BERT
    bool fused_qkv = false;            // one attn_qkv matrix: Q rows, then K rows, then V rows
    bool fused_gate_up = false;        // ffn_up holds the gate rows, then the up rows; no ffn_gate
    bool qkv_bias = false;             // attn_{q,k,v}.bias required (any file may carry them)
    bool tied_output = false;          // no output.weight: the logits reuse token_embd
    bool scale_embeddings = false;     // x = token_embd[t] * sqrt(n_embd)
    bool post_norms = false;           // RMSNorm of each sub-layer's output before the residual add
    bool soft_caps = false;            // cap * tanh(s / cap) on attention scores and final logits
    // The query is multiplied by the attention scale right after RoPE, before Q K^T (so its
    // F16 rounding for the cache's dot products sees the scaled value), instead of scaling
    // the scores; the same product, rounded as llama.cpp rounds it for these families.
    bool query_prescaled = false;
    // QK-norm: each query and key head goes through RMSNorm (weights attn_q_norm, attn_k_norm
    // of head_dim) after its projection, before RoPE.
    bool qk_norm = false;
    // Which layers attend only to the last `sliding_window` positions (ModelConfig::layers):
    // 0 none; 1 every layer (phi3); n >= 2 the first n - 1 layers of every n, the n-th
    // attending to everything (gemma2: 2, so layers 0, 2, 4, ...; gemma3: 6, five local
    // layers, one global). attention.sliding_window_pattern in the file overrides it.
    int window_pattern = 0;
    // The windowed (local) layers rotate with their own base, rope.freq_base_swa, and no
    // position scaling; the global ones with rope.freq_base and the file's scaling (gemma3).
    bool local_rope_base = false;
    // Every n-th layer (l + 1 a multiple of n) has no RoPE at all; 0: none (smollm3: 4).
    int no_rope_every = 0;
    bool window_required = false;  // phi3: attention.sliding_window must be known
    // Mixture of experts: the feed-forward network is expert_count SwiGLU experts of
    // expert_feed_forward_length, a router (ffn_gate_inp) choosing expert_used_count of them per
    // token by softmax and top-k, their outputs summed with the chosen probabilities renormalised
    // to 1 (qwen3moe).
    bool experts = false;
    // Layers whose attention.head_count_kv entry is 0 (the key is an array, one per layer) are
    // gated short convolutions instead of attention (lfm2).
    bool short_conv_layers = false;
    // Gated DeltaNet layers except on every full_attention_interval-th layer (qwen35).
    bool delta_net_layers = false;
    // attn_q gives each head its query rows, then as many gate rows; the attention output is
    // multiplied by sigmoid(gate) before attn_output (qwen35).
    bool gated_attention = false;
    // The final norm's tensor (lfm2 stores it as token_embd_norm) and the one before the
    // feed-forward network (qwen35 names it post_attention_norm; it is not a post-norm).
    std::string_view output_norm = "output_norm";
    std::string_view ffn_norm = "ffn_norm";
    // The family's chat format (a chat_template.h name) for files that carry no
    // tokenizer.chat_template; empty where the family has several (llama: 2 or 3).
    std::string_view chat_template;
};

// The description for a `general.architecture` value, or nullptr.
const Architecture* find_architecture(std::string_view name);

// "llama, qwen2, qwen3, ...": for error messages.
std::string supported_architectures();

}  // namespace ember
