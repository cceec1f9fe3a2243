#include "tools/lib/synth.h"

#include <cmath>
#include <cstring>

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

// Fills a matrix of `rows` x `cols` in `type`, one row at a time through F32.
gguf::Writer::Fill random_matrix(TensorType type, int64_t cols, float spread, uint64_t seed) {
    return [=](std::span<uint8_t> out) {
        const TypeKernels* k = reference_kernels(type);
        const size_t bytes_per_row = row_bytes(type, cols);
        std::vector<float> row(cols);
        Random rng{seed};
        for (size_t at = 0; at < out.size(); at += bytes_per_row) {
            for (float& v : row) v = (2.0f * rng.uniform() - 1.0f) * spread;
            k->quantize_weights(row.data(), out.data() + at, cols);
        }
    };
}

gguf::Writer::Fill random_norm(int64_t n, uint64_t seed) {
    return [=](std::span<uint8_t> out) {
        Random rng{seed};
        std::vector<float> v(n);
        for (float& x : v) x = 0.5f + rng.uniform();  // [0.5, 1.5)
        std::memcpy(out.data(), v.data(), out.size());
    };
}

}  // namespace

const std::vector<ModelShape>& known_shapes() {
    static const std::vector<ModelShape> shapes = {
        // name            vocab   ctx   embd   ff     layers heads kv  rope base  tied
        {"tinyllama-1.1b", 32000, 2048, 2048, 5632, 22, 32, 4, 10000.0f, false},
        {"llama2-7b", 32000, 4096, 4096, 11008, 32, 32, 32, 10000.0f, false},
        {"mistral-7b", 32000, 32768, 4096, 14336, 32, 32, 8, 1000000.0f, false},
        {"llama3-8b", 128256, 8192, 4096, 14336, 32, 32, 8, 500000.0f, false},
        {"smollm-135m", 49152, 2048, 576, 1536, 30, 9, 3, 10000.0f, true},
    };
    return shapes;
}

const ModelShape& shape_by_name(const std::string& name) {
    std::string known;
    for (const ModelShape& s : known_shapes()) {
        if (s.name == name) return s;
        known += (known.empty() ? "" : ", ") + s.name;
    }
    throw Error("unknown model shape '" + name + "' (known: " + known + ")");
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
    const int head_dim = shape.n_embd / shape.n_head;
    const int kv_dim = head_dim * shape.n_head_kv;
    gguf::Writer w;
    w.set_string("general.architecture", "llama");
    w.set_string("general.name", "ember-synth " + shape.name);
    w.set_u32("llama.context_length", static_cast<uint32_t>(shape.n_ctx));
    w.set_u32("llama.embedding_length", static_cast<uint32_t>(shape.n_embd));
    w.set_u32("llama.block_count", static_cast<uint32_t>(n_layer));
    w.set_u32("llama.feed_forward_length", static_cast<uint32_t>(shape.n_ff));
    w.set_u32("llama.attention.head_count", static_cast<uint32_t>(shape.n_head));
    w.set_u32("llama.attention.head_count_kv", static_cast<uint32_t>(shape.n_head_kv));
    w.set_u32("llama.rope.dimension_count", static_cast<uint32_t>(head_dim));
    w.set_f32("llama.rope.freq_base", shape.rope_freq_base);
    w.set_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);

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
    uint64_t seed = options.seed * 1000003ull;
    const auto matrix = [&](const std::string& name, int64_t cols, int64_t rows, float spread) {
        const uint64_t ne[] = {static_cast<uint64_t>(cols), static_cast<uint64_t>(rows)};
        const TensorType type = mix_tensor_type(file_type, name, ne[0], mix);
        w.add_tensor(name, type, ne, random_matrix(type, cols, spread, ++seed));
    };
    const auto norm = [&](const std::string& name) {
        const uint64_t ne[] = {static_cast<uint64_t>(shape.n_embd)};
        w.add_tensor(name, TensorType::F32, ne, random_norm(shape.n_embd, ++seed));
    };
    // Uniform in [-a, a] has standard deviation a / sqrt(3): a = sqrt(3 / fan_in) gives
    // 1/sqrt(fan_in).
    const auto spread = [](int fan_in) { return std::sqrt(3.0f / static_cast<float>(fan_in)); };
    matrix("token_embd.weight", shape.n_embd, n_vocab, 1.0f);
    norm("output_norm.weight");
    if (!shape.tied_embeddings)
        matrix("output.weight", shape.n_embd, n_vocab, spread(shape.n_embd));
    for (int l = 0; l < n_layer; ++l) {
        const std::string p = "blk." + std::to_string(l) + ".";
        norm(p + "attn_norm.weight");
        matrix(p + "attn_q.weight", shape.n_embd, shape.n_embd, spread(shape.n_embd));
        matrix(p + "attn_k.weight", shape.n_embd, kv_dim, spread(shape.n_embd));
        matrix(p + "attn_v.weight", shape.n_embd, kv_dim, spread(shape.n_embd));
        matrix(p + "attn_output.weight", shape.n_embd, shape.n_embd, spread(shape.n_embd));
        norm(p + "ffn_norm.weight");
        matrix(p + "ffn_gate.weight", shape.n_embd, shape.n_ff, spread(shape.n_embd));
        matrix(p + "ffn_up.weight", shape.n_embd, shape.n_ff, spread(shape.n_embd));
        matrix(p + "ffn_down.weight", shape.n_ff, shape.n_embd, spread(shape.n_ff));
    }
    std::vector<std::string> inputs;
    if (options.vocab != nullptr) inputs.push_back(options.vocab->name());
    w.write(path, inputs, on_tensor);
}

}  // namespace ember
