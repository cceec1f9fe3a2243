#include "tools/lib/quantize.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "engine/runtime/thread_pool.h"
#include "formats/error.h"
#include "formats/gguf_writer.h"
#include "kernels/kernels.h"
#include "kernels/reference.h"

namespace ember {

namespace {

using QuantizeWithImportance = void (*)(const float*, void*, int64_t, const float*);

// The quantizers that weigh an importance matrix (llama.cpp's quantize_row_*_impl); null for a
// type that has none here.
QuantizeWithImportance quantizer_with_importance(TensorType type) {
    switch (type) {
        case TensorType::Q4_0:
            return ref::quantize_q4_0;
        case TensorType::Q4_1:
            return ref::quantize_q4_1;
        case TensorType::Q5_0:
            return ref::quantize_q5_0;
        case TensorType::Q5_1:
            return ref::quantize_q5_1;
        case TensorType::Q2_K:
            return ref::quantize_q2_k;
        case TensorType::Q3_K:
            return ref::quantize_q3_k;
        case TensorType::Q4_K:
            return ref::quantize_q4_k;
        case TensorType::Q5_K:
            return ref::quantize_q5_k;
        case TensorType::Q6_K:
            return ref::quantize_q6_k;
        case TensorType::IQ4_NL:
            return ref::quantize_iq4_nl;
        case TensorType::IQ4_XS:
            return ref::quantize_iq4_xs;
        case TensorType::IQ3_XXS:
            return ref::quantize_iq3_xxs;
        case TensorType::IQ3_S:
            return ref::quantize_iq3_s;
        case TensorType::IQ2_XXS:
            return ref::quantize_iq2_xxs;
        case TensorType::IQ2_XS:
            return ref::quantize_iq2_xs;
        case TensorType::IQ2_S:
            return ref::quantize_iq2_s;
        case TensorType::IQ1_S:
            return ref::quantize_iq1_s;
        case TensorType::IQ1_M:
            return ref::quantize_iq1_m;
        default:
            return nullptr;
    }
}

}  // namespace

MixModel mix_model_of(const gguf::File& file) {
    MixModel model;
    model.has_output = file.find_tensor("output.weight") != nullptr;
    std::vector<int> attention;
    for (const gguf::TensorInfo& t : file.tensors()) {
        model.n_layer += t.name.find("ffn_down") != std::string_view::npos;  // one a layer
        const std::string_view name = t.name;
        if (name.starts_with("blk.") && name.find(".attn_v.weight") != std::string_view::npos) {
            attention.push_back(std::atoi(std::string(name.substr(4)).c_str()));
        }
    }
    std::sort(attention.begin(), attention.end());
    if (static_cast<int>(attention.size()) < model.n_layer) model.attention_layers = attention;
    const std::string arch(file.get_string("general.architecture", "llama"));
    if (file.find(arch + ".expert_count") != nullptr) {
        model.n_expert = static_cast<int>(file.get_u32(arch + ".expert_count"));
    }
    const gguf::Value* kv = file.find(arch + ".attention.head_count_kv");
    if (file.find(arch + ".attention.head_count") != nullptr && kv != nullptr) {
        const uint32_t heads = file.get_u32(arch + ".attention.head_count");
        int64_t kv_heads = 0;
        if (kv->type() == gguf::ValueType::ARRAY) {  // per layer (lfm2): the attention layers'
            for (uint64_t l = 0; l < kv->array_size() && kv_heads == 0; ++l)
                kv_heads = kv->int_at(l);
        } else {
            kv_heads = kv->get_u32();
        }
        if (kv_heads > 0) model.n_gqa = static_cast<int>(heads / kv_heads);
    }
    return model;
}

void quantize_model(const gguf::File& in, const std::string& out, const QuantizeOptions& options,
                    const std::function<void(size_t, size_t)>& on_tensor) {
    if (options.file_type == nullptr) throw Error("no file type to quantize to");
    const FileType& file_type = *options.file_type;
    MixModel mix = mix_model_of(in);
    mix.has_imatrix = options.imatrix != nullptr;
    // The entries by name, each divided by its call count as llama-quantize does (v /= ncall).
    std::map<std::string, std::vector<float>, std::less<>> importance;
    if (options.imatrix != nullptr) {
        for (const ImatrixEntry& e : options.imatrix->entries) {
            std::vector<float> v = e.values;
            for (float& x : v) x /= static_cast<float>(e.ncall);
            importance[e.name] = std::move(v);
        }
    }
    gguf::Writer w;
    for (const gguf::Value& v : in.metadata()) w.copy(v);
    w.set_u32("general.file_type", file_type.llama_ftype);
    w.set_u32("general.quantization_version", 2);
    if (in.alignment() != gguf::kDefaultAlignment) w.set_alignment(in.alignment());
    if (options.imatrix != nullptr) {  // as llama-quantize records it
        w.set_string("quantize.imatrix.file", options.imatrix_path);
        w.set_string("quantize.imatrix.dataset", options.imatrix->dataset);
        w.set_i32("quantize.imatrix.entries_count",
                  static_cast<int32_t>(options.imatrix->entries.size()));
        w.set_i32("quantize.imatrix.chunks_count", options.imatrix->chunks);
    }

    auto pool = std::make_shared<ThreadPool>(options.n_threads > 0 ? options.n_threads
                                                                   : default_thread_count());
    for (const gguf::TensorInfo& t : in.tensors()) {
        const TypeKernels* source = reference_kernels(t.type);
        if (t.type != TensorType::F32 && t.type != TensorType::F16 && t.type != TensorType::BF16) {
            throw Error(in.name() + ": tensor '" + std::string(t.name) + "' is " +
                        std::string(tensor_type_name(t.type)) +
                        "; ember quantize reads F32, F16 or BF16 weights");
        }
        // Vectors (norm weights) go to F32: they are tiny, every value counts, and ember's
        // loader wants them in F32 (llama.cpp would keep an F16 norm as F16).
        const TensorType type =
            t.n_dims < 2 ? TensorType::F32 : mix_tensor_type(file_type, t.name, t.ne[0], mix);
        const TypeKernels* dest = reference_kernels(type);
        const int64_t cols = static_cast<int64_t>(t.ne[0]);
        const size_t in_row = row_bytes(t.type, cols), out_row = row_bytes(type, cols);
        const uint64_t rows = t.n_rows();
        const uint8_t* data = t.data;
        const float* weights = nullptr;  // the tensor's importance, one per column
        QuantizeWithImportance quantize_weighted = nullptr;
        if (const auto it = importance.find(t.name); it != importance.end() && t.n_dims >= 2) {
            if (it->second.size() != static_cast<size_t>(cols)) {
                throw Error(options.imatrix_path + ": the entry for '" + std::string(t.name) +
                            "' has " + std::to_string(it->second.size()) + " values, the tensor " +
                            std::to_string(cols) + " columns");
            }
            quantize_weighted = quantizer_with_importance(type);
            // llama.cpp's quantizers for these take no weights either.
            const bool ignores_it = type == TensorType::F32 || type == TensorType::F16 ||
                                    type == TensorType::BF16 || type == TensorType::Q8_0 ||
                                    type == TensorType::TQ1_0 || type == TensorType::TQ2_0;
            if (quantize_weighted == nullptr && !ignores_it) {
                throw Error("tensor '" + std::string(t.name) + "' becomes " +
                            std::string(tensor_type_name(type)) +
                            " in this mix, which ember cannot yet quantize with an importance "
                            "matrix");
            }
            weights = it->second.data();
        }
        // Below 2.5 bits a tensor without its importance is garbage: llama-quantize refuses it,
        // so does ember (IQ1_M's embedding and output excepted, as there).
        const bool needs_importance = type == TensorType::IQ2_XXS || type == TensorType::IQ2_XS ||
                                      type == TensorType::IQ2_S || type == TensorType::IQ1_S ||
                                      (type == TensorType::IQ1_M && t.name != "token_embd.weight" &&
                                       t.name != "output.weight");
        if (needs_importance && weights == nullptr) {
            throw Error(
                "tensor '" + std::string(t.name) + "' becomes " +
                std::string(tensor_type_name(type)) +
                " in this mix, which needs an importance matrix" +
                (options.imatrix == nullptr
                     ? ": give one with --imatrix FILE (ember imatrix makes one)"
                     : std::string(" entry for it, and ") + options.imatrix_path + " has none"));
        }
        w.add_tensor(
            std::string(t.name), type, std::span(t.ne.data(), t.n_dims),
            [=](std::span<uint8_t> bytes) {
                pool->parallel_for(static_cast<int64_t>(rows), [&](int64_t begin, int64_t end) {
                    std::vector<float> row(cols);
                    for (int64_t r = begin; r < end; ++r) {
                        source->dequantize_row(data + r * in_row, row.data(), cols);
                        if (quantize_weighted != nullptr) {
                            quantize_weighted(row.data(), bytes.data() + r * out_row, cols,
                                              weights);
                        } else {
                            dest->quantize_weights(row.data(), bytes.data() + r * out_row, cols);
                        }
                    }
                });
            });
    }
    const std::string inputs[] = {in.name()};
    w.write(out, inputs, on_tensor);
}

}  // namespace ember
