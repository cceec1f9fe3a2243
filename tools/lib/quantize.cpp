#include "tools/lib/quantize.h"

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/runtime/thread_pool.h"
#include "formats/error.h"
#include "formats/gguf_writer.h"
#include "kernels/kernels.h"

namespace ember {

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
    const MixModel mix = mix_model_of(in);
    gguf::Writer w;
    for (const gguf::Value& v : in.metadata()) w.copy(v);
    w.set_u32("general.file_type", file_type.llama_ftype);
    w.set_u32("general.quantization_version", 2);
    if (in.alignment() != gguf::kDefaultAlignment) w.set_alignment(in.alignment());

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
        w.add_tensor(
            std::string(t.name), type, std::span(t.ne.data(), t.n_dims),
            [=](std::span<uint8_t> bytes) {
                pool->parallel_for(static_cast<int64_t>(rows), [&](int64_t begin, int64_t end) {
                    std::vector<float> row(cols);
                    for (int64_t r = begin; r < end; ++r) {
                        source->dequantize_row(data + r * in_row, row.data(), cols);
                        dest->quantize_weights(row.data(), bytes.data() + r * out_row, cols);
                    }
                });
            });
    }
    const std::string inputs[] = {in.name()};
    w.write(out, inputs, on_tensor);
}

}  // namespace ember
