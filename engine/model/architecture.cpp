#include "engine/model/architecture.h"

#include <array>

namespace ember {
namespace {

constexpr std::array<Architecture, 13> kArchitectures = [] {
    // llama: also Llama 2/3.x, Mistral, SmolLM, TinyLlama. Adjacent RoPE, SwiGLU, optional
    // rope_freqs.weight (Llama 3.1+) and optional biases.
    Architecture llama;
    llama.name = "llama";

    // qwen2 (Qwen 1.5, Qwen 2, Qwen 2.5): Q/K/V biases, NeoX RoPE.
    Architecture qwen2;
    qwen2.name = "qwen2";
    qwen2.rope = RopeKind::NeoX;
    qwen2.qkv_bias = true;
    qwen2.chat_template = "chatml";

    // phi3 (Phi-3, Phi-3.5 mini): fused QKV and gate/up, NeoX RoPE with LongRoPE factors,
    // sliding-window attention on every layer.
    Architecture phi3;
    phi3.name = "phi3";
    phi3.rope = RopeKind::NeoX;
    phi3.fused_qkv = true;
    phi3.fused_gate_up = true;
    phi3.query_prescaled = true;
    phi3.window_pattern = 1;
    phi3.window_required = true;
    phi3.chat_template = "phi3";

    // gemma: scaled embeddings, GeGLU, head size from key_length, tied output.
    Architecture gemma;
    gemma.name = "gemma";
    gemma.rope = RopeKind::NeoX;
    gemma.activation = FfnActivation::GeluTanh;
    gemma.tied_output = true;
    gemma.scale_embeddings = true;
    gemma.query_prescaled = true;
    gemma.chat_template = "gemma";

    // gemma2: gemma plus post-norms, soft-capping, and a sliding window on even layers.
    Architecture gemma2 = gemma;
    gemma2.name = "gemma2";
    gemma2.post_norms = true;
    gemma2.soft_caps = true;
    gemma2.window_pattern = 2;

    // qwen3 (Qwen3 0.6B-32B): qwen2 without the required biases, with QK-norm; heads of
    // key_length, whose total need not be n_embd.
    Architecture qwen3 = qwen2;
    qwen3.name = "qwen3";
    qwen3.qkv_bias = false;
    qwen3.qk_norm = true;

    // qwen3moe (Qwen3 30B-A3B, 235B-A22B): qwen3's attention, a mixture of experts for the
    // feed-forward network (128 experts, 8 per token).
    Architecture qwen3moe = qwen3;
    qwen3moe.name = "qwen3moe";
    qwen3moe.experts = true;

    // lfm2 (LFM2 350M-2.6B): short-convolution layers among attention layers with QK-norm and
    // NeoX RoPE; the final norm is token_embd_norm; tied output.
    Architecture lfm2;
    lfm2.name = "lfm2";
    lfm2.rope = RopeKind::NeoX;
    lfm2.qk_norm = true;
    lfm2.short_conv_layers = true;
    lfm2.output_norm = "token_embd_norm";
    lfm2.chat_template = "chatml";

    // qwen35 (Qwen3.5 0.8B-27B): Gated DeltaNet layers, and every fourth layer gated attention
    // with QK-norm and NeoX RoPE on part of each head.
    Architecture qwen35 = qwen3;
    qwen35.name = "qwen35";
    qwen35.delta_net_layers = true;
    qwen35.gated_attention = true;
    qwen35.ffn_norm = "post_attention_norm";

    // gemma3 (Gemma 3 270M-27B): gemma2's post-norms without its soft-caps (a final one only if
    // the file gives it), QK-norm, five local layers to a global one, the local layers with
    // their own RoPE base.
    Architecture gemma3 = gemma2;
    gemma3.name = "gemma3";
    gemma3.soft_caps = false;
    gemma3.qk_norm = true;
    gemma3.window_pattern = 6;
    gemma3.window_required = true;
    gemma3.local_rope_base = true;

    // smollm3 (SmolLM3 3B): llama with no RoPE on every fourth layer.
    Architecture smollm3 = llama;
    smollm3.name = "smollm3";
    smollm3.no_rope_every = 4;
    smollm3.chat_template = "chatml";

    // bert (BERT, MiniLM, bge, e5, gte): an encoder with learned positions, biases everywhere,
    // LayerNorm, and a plain GELU feed-forward network.
    Architecture bert;
    bert.name = "bert";
    bert.rope = RopeKind::None;
    bert.activation = FfnActivation::GeluTanh;
    bert.gated_ffn = false;
    bert.norm = NormKind::Layer;
    bert.encoder = true;
    bert.position_embeddings = true;
    bert.qkv_bias = true;

    // nomic-bert (nomic-embed-text): the encoder with fused QKV, NeoX RoPE, SwiGLU, no biases.
    Architecture nomic = bert;
    nomic.name = "nomic-bert";
    nomic.rope = RopeKind::NeoX;
    nomic.activation = FfnActivation::SiLU;
    nomic.gated_ffn = true;
    nomic.position_embeddings = false;
    nomic.qkv_bias = false;
    nomic.fused_qkv = true;

    return std::array<Architecture, 13>{llama,  qwen2,  qwen3,   qwen3moe, qwen35, phi3, gemma,
                                        gemma2, gemma3, smollm3, lfm2,     bert,   nomic};
}();

}  // namespace

const Architecture* find_architecture(std::string_view name) {
    for (const Architecture& a : kArchitectures) {
        if (a.name == name) return &a;
    }
    return nullptr;
}

std::string supported_architectures() {
    std::string names;
    for (const Architecture& a : kArchitectures) {
        if (!names.empty()) names += ", ";
        names += a.name;
    }
    return names;
}

}  // namespace ember
