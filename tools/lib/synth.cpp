#include "tools/lib/synth.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/model/architecture.h"
#include "engine/runtime/thread_pool.h"
#include "formats/error.h"
#include "formats/gguf_writer.h"
#include "kernels/kernels.h"

namespace ember {
namespace {

// splitmix64: a fast, well-mixed generator; two uniform floats per call.
struct Random {
    uint64_t state;
    uint64_t next() {
        uint64_t z = (state += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    float uniform() { return static_cast<float>(next() >> 40) * (1.0f / 16777216.0f); }  // [0, 1)
};

// Fills a matrix of `rows` x `cols` in `type` through F32: the random values drawn in row
// order (the same file whatever the thread count), each batch of rows quantized on the
// threads (the i-quants' searches are slow).
gguf::Writer::Fill random_matrix(TensorType type, int64_t cols, float spread, uint64_t seed) {
    return [=](std::span<uint8_t> out) {
        static ThreadPool pool(default_thread_count());
        const TypeKernels* k = reference_kernels(type);
        const size_t bytes_per_row = row_bytes(type, cols);
        const int64_t rows = static_cast<int64_t>(out.size() / bytes_per_row);
        constexpr int64_t kBatch = 256;
        std::vector<float> values(static_cast<size_t>(std::min(rows, kBatch) * cols));
        Random rng{seed};
        for (int64_t first = 0; first < rows; first += kBatch) {
            const int64_t n = std::min(kBatch, rows - first);
            for (int64_t i = 0; i < n * cols; ++i)
                values[i] = (2.0f * rng.uniform() - 1.0f) * spread;
            pool.parallel_for(n, [&](int64_t begin, int64_t end) {
                for (int64_t r = begin; r < end; ++r) {
                    k->quantize_weights(values.data() + r * cols,
                                        out.data() + (first + r) * bytes_per_row, cols);
                }
            });
        }
    };
}

gguf::Writer::Fill random_vector(int64_t n, float low, uint64_t seed) {
    return [=](std::span<uint8_t> out) {
        Random rng{seed};
        std::vector<float> v(n);
        for (float& x : v) x = low + rng.uniform();  // [low, low + 1)
        std::memcpy(out.data(), v.data(), out.size());
    };
}

}  // namespace

const std::vector<ModelShape>& known_shapes() {
    // The dimensions of the published models (their config.json), with the vocabulary sizes
    // of their GGUF files.
    // clang-format off
    static const std::vector<ModelShape> shapes = {
        // name, arch, vocab, ctx, embd, ff, layers, heads, kv heads, head size (0: embd / heads),
        // rope base, rms eps, tied, rope_freqs
        {"tinyllama-1.1b", "llama", 32000, 2048, 2048, 5632, 22, 32, 4, 0, 1e4f, 1e-5f, false,
         false},
        {"llama2-7b", "llama", 32000, 4096, 4096, 11008, 32, 32, 32, 0, 1e4f, 1e-5f, false, false},
        {"mistral-7b", "llama", 32000, 32768, 4096, 14336, 32, 32, 8, 0, 1e6f, 1e-5f, false, false},
        {"llama3-8b", "llama", 128256, 8192, 4096, 14336, 32, 32, 8, 0, 5e5f, 1e-5f, false, false},
        {"smollm-135m", "llama", 49152, 2048, 576, 1536, 30, 9, 3, 0, 1e4f, 1e-5f, true, false},
        {"llama3.2-1b", "llama", 128256, 131072, 2048, 8192, 16, 32, 8, 0, 5e5f, 1e-5f, true, true},
        {"qwen2.5-0.5b", "qwen2", 151936, 32768, 896, 4864, 24, 14, 2, 0, 1e6f, 1e-6f, true, false},
        {"qwen2.5-1.5b", "qwen2", 151936, 32768, 1536, 8960, 28, 12, 2, 0, 1e6f, 1e-6f, true,
         false},
        {"phi3.5-mini", "phi3", 32064, 131072, 3072, 8192, 32, 32, 32, 0, 1e4f, 1e-5f, false,
         false},
        {"gemma2-2b", "gemma2", 256000, 8192, 2304, 9216, 26, 8, 4, 256, 1e4f, 1e-6f, true, false},
        {"smollm2-360m", "llama", 49152, 8192, 960, 2560, 32, 15, 5, 0, 1e5f, 1e-5f, true, false},
        // The 2025-2026 families (their config.json).
        {"qwen3-0.6b", "qwen3", 151936, 40960, 1024, 3072, 28, 16, 8, 128, 1e6f, 1e-6f, true,
         false},
        {"qwen3-1.7b", "qwen3", 151936, 40960, 2048, 6144, 28, 16, 8, 128, 1e6f, 1e-6f, true,
         false},
        {"gemma3-270m", "gemma3", 262144, 32768, 640, 2048, 18, 4, 1, 256, 1e6f, 1e-6f, true,
         false},
        {"gemma3-1b", "gemma3", 262144, 32768, 1152, 6912, 26, 4, 1, 256, 1e6f, 1e-6f, true, false},
        {"smollm3-3b", "smollm3", 128256, 65536, 2048, 11008, 36, 16, 4, 0, 5e6f, 1e-6f, true,
         false},
        // 128 experts of 768, 8 per token (give --layers to keep the file small: 48 layers of
        // Q4_K_M are 17 GB).
        {"qwen3-30b-a3b", "qwen3moe", 151936, 40960, 2048, 768, 48, 32, 4, 128, 1e6f, 1e-6f, false,
         false, 128, 8},
        // Short convolutions with attention in 6 of 16 layers (its config.json's layer_types).
        {"lfm2-1.2b", "lfm2", 65536, 128000, 2048, 8192, 16, 32, 8, 0, 1e6f, 1e-5f, true, false,
         0, 0, {2, 5, 8, 10, 12, 14}},
        // Gated DeltaNet (16 key and 16 value heads of 128) on 3 layers of 4, gated attention
        // with RoPE on a quarter of each head on the fourth.
        {"qwen3.5-0.8b", "qwen35", 248320, 262144, 1024, 3584, 24, 8, 2, 256, 1e7f, 1e-6f, true,
         false, 0, 0, {}, 16, 16, 128, 64},
        {"qwen3.5-2b", "qwen35", 248320, 262144, 2048, 6144, 24, 8, 2, 256, 1e7f, 1e-6f, true,
         false, 0, 0, {}, 16, 16, 128, 64},
        // Encoders (sentence embeddings): all-MiniLM-L6-v2 and bge-small-en-v1.5, with BERT's
        // WordPiece vocabulary size (give --vocab a bert vocabulary to embed real text).
        {"minilm-l6", "bert", 30522, 512, 384, 1536, 6, 12, 12, 0, 1e4f, 1e-12f, true, false},
        {"bge-small", "bert", 30522, 512, 384, 1536, 12, 12, 12, 0, 1e4f, 1e-12f, true, false},
    };
    // clang-format on
    return shapes;
}

std::string known_shape_names() {
    std::string names;
    for (const ModelShape& s : known_shapes()) names += (names.empty() ? "" : ", ") + s.name;
    return names;
}

const ModelShape& shape_by_name(const std::string& name) {
    for (const ModelShape& s : known_shapes()) {
        if (s.name == name) return s;
    }
    throw Error("unknown model shape '" + name + "' (known: " + known_shape_names() + ")");
}

void write_synthetic_model(const ModelShape& shape, const SynthOptions& options,
                           const std::string& path,
                           const std::function<void(size_t, size_t)>& on_tensor) {
    if (options.file_type == nullptr) throw Error("ember synth: no file type");
    const FileType& file_type = *options.file_type;
    if (options.n_layer_override < 0 || options.n_layer_override > shape.n_layer) {
        throw Error("--layers " + std::to_string(options.n_layer_override) + ": the shape " +
                    shape.name + " has " + std::to_string(shape.n_layer) + " layers (give 1.." +
                    std::to_string(shape.n_layer) + ", or 0 for all)");
    }
    const int n_layer = options.n_layer_override > 0 ? options.n_layer_override : shape.n_layer;
    const Architecture* arch = find_architecture(shape.arch);
    if (arch == nullptr)
        throw Error("shape " + shape.name + ": unknown architecture " + shape.arch);
    const int head_dim = shape.head_dim > 0 ? shape.head_dim : shape.n_embd / shape.n_head;
    const int q_dim = head_dim * shape.n_head;
    const int kv_dim = head_dim * shape.n_head_kv;
    gguf::Writer w;
    const auto key = [&](const char* suffix) { return shape.arch + "." + suffix; };
    const auto u32 = [](int v) { return static_cast<uint32_t>(v); };
    w.set_string("general.architecture", shape.arch);
    // The shape goes in the description: llama.cpp sets token attributes by the model's name
    // ("phi3" asks for phi3's special tokens, which the byte vocabulary has not).
    w.set_string("general.name", "ember-synth");
    w.set_string("general.description", "random weights in the shape of " + shape.name);
    w.set_u32(key("context_length"), u32(shape.n_ctx));
    w.set_u32(key("embedding_length"), u32(shape.n_embd));
    w.set_u32(key("block_count"), u32(n_layer));
    w.set_u32(key("feed_forward_length"), u32(shape.n_ff));
    if (arch->experts) {
        w.set_u32(key("expert_feed_forward_length"), u32(shape.n_ff));
        w.set_u32(key("expert_count"), u32(shape.n_expert));
        w.set_u32(key("expert_used_count"), u32(shape.n_expert_used));
    }
    w.set_u32(key("attention.head_count"), u32(shape.n_head));
    const auto has_attention = [&](int l) {
        if (arch->delta_net_layers) return (l + 1) % 4 == 0;  // full_attention_interval
        return shape.attention_layers.empty() ||
               std::find(shape.attention_layers.begin(), shape.attention_layers.end(), l) !=
                   shape.attention_layers.end();
    };
    const int key_dim = shape.ssm_k_heads * shape.ssm_head_dim;
    const int value_dim = shape.ssm_v_heads * shape.ssm_head_dim;
    const int channels = 2 * key_dim + value_dim;  // the DeltaNet's q, k, v
    if (arch->delta_net_layers) {
        w.set_u32(key("full_attention_interval"), 4);
        w.set_u32(key("ssm.conv_kernel"), 4);
        w.set_u32(key("ssm.state_size"), u32(shape.ssm_head_dim));
        w.set_u32(key("ssm.group_count"), u32(shape.ssm_k_heads));
        w.set_u32(key("ssm.time_step_rank"), u32(shape.ssm_v_heads));
        w.set_u32(key("ssm.inner_size"), u32(value_dim));
        const std::vector<int32_t> sections = {11, 11, 10, 0};
        w.set_array_i32(key("rope.dimension_sections"), sections);
    }
    if (arch->short_conv_layers) {  // per layer: 0 marks a short convolution
        std::vector<int32_t> kv_heads;
        for (int l = 0; l < n_layer; ++l)
            kv_heads.push_back(has_attention(l) ? shape.n_head_kv : 0);
        w.set_array_i32(key("attention.head_count_kv"), kv_heads);
        w.set_u32(key("shortconv.l_cache"), 3);
    } else {
        w.set_u32(key("attention.head_count_kv"), u32(shape.n_head_kv));
    }
    if (shape.head_dim > 0) {
        w.set_u32(key("attention.key_length"), u32(head_dim));
        w.set_u32(key("attention.value_length"), u32(head_dim));
    }
    if (arch->rope != RopeKind::None) {
        w.set_u32(key("rope.dimension_count"), u32(shape.n_rot > 0 ? shape.n_rot : head_dim));
        w.set_f32(key("rope.freq_base"), shape.rope_freq_base);
    }
    if (arch->encoder) {
        w.set_f32(key("attention.layer_norm_epsilon"), shape.rms_eps);
        w.set_bool(key("attention.causal"), false);
        w.set_u32(key("pooling_type"), 1);  // mean, as all-MiniLM and bge's GGUF files say
    } else {
        w.set_f32(key("attention.layer_norm_rms_epsilon"), shape.rms_eps);
    }
    // The families' own settings, with the released models' values.
    if (arch->window_pattern == 1) {  // Phi-3.5 mini: LongRoPE, a window past its context
        w.set_u32(key("attention.sliding_window"), 262144);
        w.set_u32(key("rope.scaling.original_context_length"), 4096);
        w.set_f32(key("rope.scaling.attn_factor"), 1.190238f);  // sqrt(1 + ln 32 / ln 4096)
    }
    if (arch->window_pattern == 2) w.set_u32(key("attention.sliding_window"), 4096);
    if (arch->local_rope_base) {  // Gemma 3 (270M, 1B): a 512-position window on local layers
        w.set_u32(key("attention.sliding_window"), 512);
        w.set_f32(key("rope.freq_base_swa"), 10000.0f);
    }
    if (arch->soft_caps) {
        w.set_f32(key("attn_logit_softcapping"), 50.0f);
        w.set_f32(key("final_logit_softcapping"), 30.0f);
    }

    int n_vocab = shape.n_vocab;
    if (options.vocab != nullptr) {
        for (const gguf::Value& v : options.vocab->metadata()) {
            if (v.key().rfind("tokenizer.", 0) == 0) w.copy(v);
        }
        n_vocab = static_cast<int>(
            options.vocab->get_array("tokenizer.ggml.tokens", gguf::ValueType::STRING)
                .array_size());
    } else {  // a SentencePiece vocabulary of the 256 byte tokens plus fillers
        std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
        std::vector<int32_t> types = {2, 3, 3};
        char name[16];
        for (int b = 0; b < 256; ++b) {
            std::snprintf(name, sizeof(name), "<0x%02X>", b);
            tokens.emplace_back(name);
            types.push_back(6);
        }
        while (static_cast<int>(tokens.size()) < n_vocab) {
            tokens.push_back("\xe2\x96\x81tok" + std::to_string(tokens.size()));
            types.push_back(1);
        }
        std::vector<float> scores(tokens.size(), 0.0f);
        w.set_string("tokenizer.ggml.model", "llama");
        w.set_array_strings("tokenizer.ggml.tokens", tokens);
        w.set_array_f32("tokenizer.ggml.scores", scores);
        w.set_array_i32("tokenizer.ggml.token_type", types);
        w.set_u32("tokenizer.ggml.bos_token_id", 1);
        w.set_u32("tokenizer.ggml.eos_token_id", 2);
        w.set_u32("tokenizer.ggml.unknown_token_id", 0);
    }
    w.set_u32("general.file_type", file_type.llama_ftype);
    w.set_u32("general.quantization_version", 2);

    MixModel mix;
    mix.n_layer = n_layer;
    mix.n_gqa = shape.n_head / shape.n_head_kv;
    mix.has_output = !shape.tied_embeddings;
    mix.n_expert = shape.n_expert;
    for (int l = 0; l < n_layer && (arch->short_conv_layers || arch->delta_net_layers); ++l) {
        if (has_attention(l)) mix.attention_layers.push_back(l);
    }
    uint64_t seed = options.seed * 1000003ull;
    const auto matrix = [&](const std::string& name, int64_t cols, int64_t rows, float spread) {
        const uint64_t ne[] = {static_cast<uint64_t>(cols), static_cast<uint64_t>(rows)};
        const TensorType type = mix_tensor_type(file_type, name, ne[0], mix);
        w.add_tensor(name, type, ne, random_matrix(type, cols, spread, ++seed));
    };
    // count matrices (rows, cols) in one 3-D tensor: a mixture's experts.
    const auto matrices = [&](const std::string& name, int64_t cols, int64_t rows, int count,
                              float spread) {
        const uint64_t ne[] = {static_cast<uint64_t>(cols), static_cast<uint64_t>(rows),
                               static_cast<uint64_t>(count)};
        const TensorType type = mix_tensor_type(file_type, name, ne[0], mix);
        w.add_tensor(name, type, ne, random_matrix(type, cols, spread, ++seed));
    };
    // An F32 vector of values in [low, low + 1): norms near 1, biases near 0, rope factors.
    const auto vector = [&](const std::string& name, int64_t n, float low) {
        const uint64_t ne[] = {static_cast<uint64_t>(n)};
        w.add_tensor(name, TensorType::F32, ne, random_vector(n, low, ++seed));
    };
    const auto norm = [&](const std::string& name) { vector(name, shape.n_embd, 0.5f); };
    // Uniform in [-a, a] has standard deviation a / sqrt(3): a = sqrt(3 / fan_in) gives
    // 1/sqrt(fan_in).
    const auto spread = [](int fan_in) { return std::sqrt(3.0f / static_cast<float>(fan_in)); };
    // Tied, the embeddings are also the output head: scaled like a projection, so the logits
    // stay near 1 instead of saturating (the residual stream is normalised before use anyway).
    matrix("token_embd.weight", shape.n_embd, n_vocab,
           shape.tied_embeddings ? spread(shape.n_embd) : 1.0f);
    if (arch->encoder) {  // token types, learned positions, the embeddings' LayerNorm
        const uint64_t types_ne[] = {static_cast<uint64_t>(shape.n_embd), 2};
        w.add_tensor("token_types.weight", TensorType::F32, types_ne,
                     random_matrix(TensorType::F32, shape.n_embd, 0.1f, ++seed));
        if (arch->position_embeddings) {
            const uint64_t pos_ne[] = {static_cast<uint64_t>(shape.n_embd),
                                       static_cast<uint64_t>(shape.n_ctx)};
            w.add_tensor("position_embd.weight", TensorType::F32, pos_ne,
                         random_matrix(TensorType::F32, shape.n_embd, 0.1f, ++seed));
        }
        norm("token_embd_norm.weight");
        vector("token_embd_norm.bias", shape.n_embd, -0.5f);
    } else {
        norm(std::string(arch->output_norm) + ".weight");
    }
    if (!shape.tied_embeddings)
        matrix("output.weight", shape.n_embd, n_vocab, spread(shape.n_embd));
    if (shape.rope_freqs) vector("rope_freqs.weight", head_dim / 2, 1.0f);
    if (arch->window_pattern == 1) {  // phi3's LongRoPE factors
        vector("rope_factors_short.weight", head_dim / 2, 1.0f);
        vector("rope_factors_long.weight", head_dim / 2, 1.0f);
    }
    const int d = shape.n_embd;
    for (int l = 0; l < n_layer; ++l) {
        const std::string p = "blk." + std::to_string(l) + ".";
        if (!arch->encoder) norm(p + "attn_norm.weight");
        if (!has_attention(l) && arch->delta_net_layers) {  // a Gated DeltaNet
            matrix(p + "attn_qkv.weight", d, channels, spread(d));
            matrix(p + "attn_gate.weight", d, value_dim, spread(d));
            const uint64_t kernel_ne[] = {4, static_cast<uint64_t>(channels)};
            w.add_tensor(p + "ssm_conv1d.weight", TensorType::F32, kernel_ne,
                         random_matrix(TensorType::F32, 4, spread(4), ++seed));
            vector(p + "ssm_dt.bias", shape.ssm_v_heads, 0.0f);
            vector(p + "ssm_a", shape.ssm_v_heads, -1.5f);  // -exp(A_log) < 0
            matrix(p + "ssm_beta.weight", d, shape.ssm_v_heads, spread(d));
            matrix(p + "ssm_alpha.weight", d, shape.ssm_v_heads, spread(d));
            vector(p + "ssm_norm.weight", shape.ssm_head_dim, 0.5f);
            matrix(p + "ssm_out.weight", value_dim, d, spread(value_dim));
        } else if (!has_attention(
                       l)) {  // lfm2's short convolution: in_proj, a 3-tap kernel, out_proj
            matrix(p + "shortconv.in_proj.weight", d, 3 * d, spread(d));
            const uint64_t kernel_ne[] = {3, static_cast<uint64_t>(d)};
            w.add_tensor(p + "shortconv.conv.weight", TensorType::F32, kernel_ne,
                         random_matrix(TensorType::F32, 3, spread(3), ++seed));
            matrix(p + "shortconv.out_proj.weight", d, d, spread(d));
        } else if (arch->fused_qkv) {
            matrix(p + "attn_qkv.weight", d, q_dim + 2 * kv_dim, spread(d));
        } else {
            // qwen35: each head's query rows, then its gate rows
            matrix(p + "attn_q.weight", d, (arch->gated_attention ? 2 : 1) * q_dim, spread(d));
            matrix(p + "attn_k.weight", d, kv_dim, spread(d));
            matrix(p + "attn_v.weight", d, kv_dim, spread(d));
        }
        if (has_attention(l)) {
            if (arch->qkv_bias) {
                vector(p + "attn_q.bias", q_dim, -0.5f);
                vector(p + "attn_k.bias", kv_dim, -0.5f);
                vector(p + "attn_v.bias", kv_dim, -0.5f);
            }
            if (arch->qk_norm) {
                vector(p + "attn_q_norm.weight", head_dim, 0.5f);
                vector(p + "attn_k_norm.weight", head_dim, 0.5f);
            }
            matrix(p + "attn_output.weight", q_dim, d, spread(q_dim));
        }
        if (arch->encoder && arch->qkv_bias) vector(p + "attn_output.bias", d, -0.5f);
        if (arch->post_norms) norm(p + "post_attention_norm.weight");
        if (arch->encoder) {  // post-norm: after the residual add
            norm(p + "attn_output_norm.weight");
            vector(p + "attn_output_norm.bias", d, -0.5f);
        } else {
            norm(p + std::string(arch->ffn_norm) + ".weight");
        }
        if (arch->experts) {
            matrix(p + "ffn_gate_inp.weight", d, shape.n_expert, spread(d));
            matrices(p + "ffn_gate_exps.weight", d, shape.n_ff, shape.n_expert, spread(d));
            matrices(p + "ffn_up_exps.weight", d, shape.n_ff, shape.n_expert, spread(d));
            matrices(p + "ffn_down_exps.weight", shape.n_ff, d, shape.n_expert, spread(shape.n_ff));
        } else if (arch->fused_gate_up) {
            matrix(p + "ffn_up.weight", d, 2 * shape.n_ff, spread(d));
        } else {
            if (arch->gated_ffn) matrix(p + "ffn_gate.weight", d, shape.n_ff, spread(d));
            matrix(p + "ffn_up.weight", d, shape.n_ff, spread(d));
        }
        if (!arch->gated_ffn) vector(p + "ffn_up.bias", shape.n_ff, -0.5f);
        if (!arch->experts) matrix(p + "ffn_down.weight", shape.n_ff, d, spread(shape.n_ff));
        if (!arch->gated_ffn) vector(p + "ffn_down.bias", d, -0.5f);
        if (arch->post_norms) norm(p + "post_ffw_norm.weight");
        if (arch->encoder) {
            norm(p + "layer_output_norm.weight");
            vector(p + "layer_output_norm.bias", d, -0.5f);
        }
    }
    std::vector<std::string> inputs;
    if (options.vocab != nullptr) inputs.push_back(options.vocab->name());
    w.write(path, inputs, on_tensor);
}

}  // namespace ember
