#include "engine/model/config.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "formats/error.h"

namespace ember {

ModelConfig ModelConfig::from_gguf(const gguf::File& file) {
    const std::string arch_name(file.get_string("general.architecture", ""));
    ModelConfig c;
    c.arch = find_architecture(arch_name);
    if (c.arch == nullptr) {
        throw Error(file.name() + ": architecture '" + arch_name +
                    "' is not supported (ember runs: " + supported_architectures() + ")");
    }
    // Keys are prefixed by the architecture: qwen2.context_length, gemma2.attention.key_length.
    const auto key = [&](const char* suffix) { return arch_name + "." + suffix; };
    const auto positive = [&](const char* suffix) {
        const std::string k = key(suffix);
        const uint32_t v = file.get_u32(k);
        if (v == 0 || v > (1u << 24)) {
            throw Error(file.name() + ": metadata " + k + " = " + std::to_string(v) +
                        " is out of range");
        }
        return static_cast<int>(v);
    };
    const auto optional = [&](const char* suffix, int fallback) {
        return file.find(key(suffix)) ? positive(suffix) : fallback;
    };
    c.n_ctx_train = positive("context_length");
    c.n_embd = positive("embedding_length");
    c.n_layer = positive("block_count");
    // ARCH: qwen35's block_count also counts its multi-token-prediction layers, which follow
    // the stack and which ember does not run.
    if (c.arch->delta_net_layers && file.find(key("nextn_predict_layers")) != nullptr) {
        const uint32_t nextn = file.get_u32(key("nextn_predict_layers"));
        if (nextn >= static_cast<uint32_t>(c.n_layer)) {
            throw Error(file.name() + ": " + key("nextn_predict_layers") + " = " +
                        std::to_string(nextn) + " leaves no layer of " + std::to_string(c.n_layer));
        }
        c.n_layer -= static_cast<int>(nextn);
    }
    if (c.arch->experts) {  // ARCH: feed_forward_length is the dense width, unused here
        c.n_ff = positive("expert_feed_forward_length");
        c.n_expert = positive("expert_count");
        c.n_expert_used = positive("expert_used_count");
        if (c.n_expert_used > c.n_expert || c.n_expert > 4096) {
            throw Error(file.name() + ": expert_used_count " + std::to_string(c.n_expert_used) +
                        " of expert_count " + std::to_string(c.n_expert) + " is out of range");
        }
    } else {
        c.n_ff = positive("feed_forward_length");
    }
    c.n_head = positive("attention.head_count");
    // ARCH: lfm2 gives head_count_kv per layer, 0 for a short-convolution layer; its attention
    // layers share one count (the KV cache is laid out by it).
    std::vector<int> kv_heads(static_cast<size_t>(c.n_layer), 0);
    const gguf::Value* kv_key = file.find(key("attention.head_count_kv"));
    if (kv_key != nullptr && kv_key->type() == gguf::ValueType::ARRAY) {
        if (!c.arch->short_conv_layers ||
            kv_key->array_size() != static_cast<uint64_t>(c.n_layer)) {
            throw Error(file.name() + ": " + key("attention.head_count_kv") +
                        " is an array, which a " + arch_name + " model of " +
                        std::to_string(c.n_layer) + " layers cannot use");
        }
        for (int l = 0; l < c.n_layer; ++l) {
            const int64_t v = kv_key->int_at(static_cast<uint64_t>(l));
            if (v < 0 || v > c.n_head || (c.n_head_kv > 0 && v > 0 && v != c.n_head_kv)) {
                throw Error(file.name() + ": " + key("attention.head_count_kv") + "[" +
                            std::to_string(l) + "] = " + std::to_string(v) +
                            (v > 0 && v <= c.n_head
                                 ? ": attention layers with different KV head counts are not "
                                   "supported"
                                 : " is out of range"));
            }
            kv_heads[static_cast<size_t>(l)] = static_cast<int>(v);
            if (v > 0) c.n_head_kv = static_cast<int>(v);
        }
        if (c.n_head_kv == 0) c.n_head_kv = c.n_head;  // no attention layer at all
    } else {
        c.n_head_kv = optional("attention.head_count_kv", c.n_head);
        std::fill(kv_heads.begin(), kv_heads.end(), c.n_head_kv);
    }
    if (c.n_head % c.n_head_kv != 0) {
        throw Error(file.name() + ": head_count " + std::to_string(c.n_head) +
                    " is not a multiple of head_count_kv " + std::to_string(c.n_head_kv));
    }
    // Gemma's heads are not n_embd / n_head wide (Gemma 2 2B: 8 heads of 256 over 2304).
    if (!file.find(key("attention.key_length")) && c.n_embd % c.n_head != 0) {
        throw Error(file.name() + ": embedding_length " + std::to_string(c.n_embd) +
                    " is not a multiple of head_count " + std::to_string(c.n_head));
    }
    c.head_dim = optional("attention.key_length", c.n_embd / c.n_head);
    if (optional("attention.value_length", c.head_dim) != c.head_dim) {
        throw Error(file.name() +
                    ": attention.value_length differs from key_length (ember's KV "
                    "cache needs keys and values of one size)");
    }
    c.n_rot = c.arch->rope == RopeKind::None ? 0 : optional("rope.dimension_count", c.head_dim);
    if (c.n_rot > c.head_dim || c.n_rot % 2 != 0) {
        throw Error(file.name() + ": rope.dimension_count " + std::to_string(c.n_rot) +
                    " must be even and at most the head size " + std::to_string(c.head_dim));
    }
    c.rope_freq_base = file.get_f32(key("rope.freq_base"), 10000.0f);
    c.norm_eps = c.arch->norm == NormKind::RMS
                     ? file.get_f32(key("attention.layer_norm_rms_epsilon"), 1e-5f)
                     : file.get_f32(key("attention.layer_norm_epsilon"), 1e-12f);
    c.causal = file.get_bool(key("attention.causal"), !c.arch->encoder);
    if (c.causal == c.arch->encoder) {
        throw Error(file.name() + ": " + key("attention.causal") + " = " +
                    (c.causal ? "true" : "false") + " is not supported for " + arch_name);
    }
    if (const gguf::Value* pooling = file.find(key("pooling_type"))) {
        const int64_t p = pooling->get_int();
        if (p < 0 || p > 3) {
            throw Error(file.name() + ": " + key("pooling_type") + " = " + std::to_string(p) +
                        " is not supported (0 none, 1 mean, 2 cls, 3 last)");
        }
        c.pooling_type = static_cast<int>(p);
    }
    // As llama.cpp: scaling "none" never scales; otherwise (the default is linear) the
    // position scale is 1 / rope.scaling.factor when the file gives one.
    const std::string scaling(file.get_string(key("rope.scaling.type"), "linear"));
    if (scaling != "none" && scaling != "linear" && scaling != "longrope") {
        throw Error(file.name() + ": rope scaling '" + scaling +
                    "' is not supported (ember supports none, linear and longrope)");
    }
    const float factor = file.get_f32(key("rope.scaling.factor"), 0.0f);
    if (factor < 0 || !std::isfinite(factor)) {
        throw Error(file.name() + ": rope.scaling.factor must be positive");
    }
    if (scaling != "none" && factor > 0) c.rope_freq_scale = 1.0f / factor;
    c.rope_n_ctx_orig = optional("rope.scaling.original_context_length", c.n_ctx_train);
    c.rope_attn_factor = file.get_f32(key("rope.scaling.attn_factor"), 1.0f);
    if (!(c.rope_freq_base > 0) || !(c.norm_eps > 0) || !(c.rope_attn_factor > 0)) {
        throw Error(file.name() +
                    ": rope.freq_base, layer_norm_rms_epsilon and rope.scaling.attn_factor must "
                    "be positive");
    }

    // Sliding windows. Without the key llama.cpp assumes Gemma 2's 4096, and for phi3 the
    // windows of the first Phi-3 releases, whose files predate the key.
    if (c.arch->window_pattern > 0) {
        int fallback = 0;
        if (c.arch->name == "gemma2") fallback = 4096;
        if (c.arch->name == "phi3") {
            if ((c.n_layer == 32 || c.n_layer == 40) && c.n_ctx_train == 4096) fallback = 2047;
            if (c.n_layer == 32 && c.n_head_kv == 32 && c.n_ctx_train == 131072) fallback = 262144;
            if (c.n_layer == 40 && c.n_ctx_train == 131072) fallback = 131072;
        }
        c.sliding_window = optional("attention.sliding_window", fallback);
        if (c.sliding_window == 0 && c.arch->window_required) {
            throw Error(file.name() + ": missing metadata " + key("attention.sliding_window"));
        }
    }
    if (c.arch->soft_caps) {
        c.attn_softcap = file.get_f32(key("attn_logit_softcapping"), 0.0f);
        c.final_softcap = file.get_f32(key("final_logit_softcapping"), 0.0f);
        if (!(c.attn_softcap > 0) || !(c.final_softcap > 0)) {
            throw Error(file.name() +
                        ": attn_logit_softcapping and final_logit_softcapping must "
                        "be positive");
        }
    } else if (file.find(key("final_logit_softcapping"))) {  // gemma3: only if the file says
        c.final_softcap = file.get_f32(key("final_logit_softcapping"), 0.0f);
        if (!(c.final_softcap > 0)) {
            throw Error(file.name() + ": final_logit_softcapping must be positive");
        }
    }
    // Each layer: its window (of the architecture's pattern, or the file's) and its RoPE.
    const int pattern = c.arch->window_pattern > 0
                            ? optional("attention.sliding_window_pattern", c.arch->window_pattern)
                            : 0;
    // ARCH: gemma3's local layers rotate with their own base and no position scaling.
    const float local_base =
        c.arch->local_rope_base ? file.get_f32(key("rope.freq_base_swa"), 10000.0f) : 0.0f;
    if (c.arch->local_rope_base && !(local_base > 0)) {
        throw Error(file.name() + ": rope.freq_base_swa must be positive");
    }
    // ARCH: qwen35: DeltaNet where attention.recurrent_layers says so (one flag a layer, the
    // multi-token-prediction layers included), else on all but every
    // full_attention_interval-th layer.
    const int full_attention_interval =
        c.arch->delta_net_layers ? optional("full_attention_interval", 4) : 0;
    std::vector<bool> recurrent_flags;
    if (const gguf::Value* flags = file.find(key("attention.recurrent_layers"));
        flags != nullptr && c.arch->delta_net_layers) {
        const bool bools =
            flags->type() == gguf::ValueType::ARRAY && flags->array_type() == gguf::ValueType::BOOL;
        if (flags->type() != gguf::ValueType::ARRAY ||
            flags->array_size() < static_cast<uint64_t>(c.n_layer)) {
            throw Error(file.name() + ": " + key("attention.recurrent_layers") +
                        " must be an array of a flag per layer");
        }
        for (int l = 0; l < c.n_layer; ++l) {
            recurrent_flags.push_back(bools ? flags->raw_data()[l] != 0
                                            : flags->int_at(static_cast<uint64_t>(l)) != 0);
        }
    }
    c.layers.resize(static_cast<size_t>(c.n_layer));
    for (int l = 0; l < c.n_layer; ++l) {
        LayerSpec& layer = c.layers[static_cast<size_t>(l)];
        const bool windowed = pattern == 1 || (pattern >= 2 && l % pattern < pattern - 1);
        layer.window = windowed ? c.sliding_window : 0;
        const int every = c.arch->no_rope_every;  // ARCH: smollm3
        layer.rope = c.n_rot > 0 && !(every > 0 && (l + 1) % every == 0);
        const bool local = windowed && c.sliding_window > 0 && c.arch->local_rope_base;
        layer.rope_freq_base = local ? local_base : c.rope_freq_base;
        layer.rope_freq_scale = local ? 1.0f : c.rope_freq_scale;
        if (kv_heads[static_cast<size_t>(l)] == 0) {  // ARCH: lfm2's short convolutions
            layer.kind = LayerKind::ShortConv;
        } else if (c.arch->delta_net_layers &&
                   (recurrent_flags.empty() ? (l + 1) % full_attention_interval != 0
                                            : recurrent_flags[static_cast<size_t>(l)])) {
            layer.kind = LayerKind::DeltaNet;  // ARCH: qwen35
        }
        layer.slot =
            layer.kind == LayerKind::Attention ? c.n_attention_layers++ : c.n_recurrent_layers++;
    }
    const auto in_range = [&](const char* suffix, int v, int lo, int hi) {
        if (v < lo || v > hi) {
            throw Error(file.name() + ": " + key(suffix) + " = " + std::to_string(v) +
                        " is out of range (" + std::to_string(lo) + ".." + std::to_string(hi) +
                        ")");
        }
        return v;
    };
    if (c.arch->short_conv_layers && c.n_recurrent_layers > 0) {  // ARCH: lfm2
        c.n_conv = in_range("shortconv.l_cache", positive("shortconv.l_cache"), 2, 64);
        c.conv_channels = c.n_embd;
        c.state_floats = (c.n_conv - 1) * c.conv_channels;
    }
    if (c.arch->delta_net_layers && c.n_recurrent_layers > 0) {  // ARCH: qwen35
        c.n_conv = in_range("ssm.conv_kernel", positive("ssm.conv_kernel"), 2, 64);
        c.ssm_head_dim = in_range("ssm.state_size", positive("ssm.state_size"), 1, 1024);
        c.ssm_k_heads = positive("ssm.group_count");
        c.ssm_v_heads = positive("ssm.time_step_rank");
        if (c.ssm_v_heads % c.ssm_k_heads != 0 || c.ssm_v_heads > 1024 ||
            positive("ssm.inner_size") != c.ssm_value_dim()) {
            throw Error(file.name() + ": the DeltaNet's heads do not fit together (" +
                        key("ssm.group_count") + " " + std::to_string(c.ssm_k_heads) + ", " +
                        key("ssm.time_step_rank") + " " + std::to_string(c.ssm_v_heads) + ", " +
                        key("ssm.state_size") + " " + std::to_string(c.ssm_head_dim) + ", " +
                        key("ssm.inner_size") + ")");
        }
        c.conv_channels = 2 * c.ssm_key_dim() + c.ssm_value_dim();
        c.state_floats =
            (c.n_conv - 1) * c.conv_channels + c.ssm_v_heads * c.ssm_head_dim * c.ssm_head_dim;
    }
    // The attention scale is 1 / sqrt(head size), except Gemma 2 and 3 27B (46 and 62 layers),
    // which divide by sqrt(n_embd / n_head) (llama.cpp picks by layer count, after
    // gemma_pytorch).
    c.query_scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
    if ((c.arch->name == "gemma2" && c.n_layer == 46) ||
        (c.arch->name == "gemma3" && c.n_layer == 62)) {
        c.query_scale = 1.0f / std::sqrt(static_cast<float>(c.n_embd / c.n_head));
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
