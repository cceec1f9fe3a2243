#include "engine/quantize.h"

#include <vector>

#include "engine/thread_pool.h"
#include "formats/error.h"
#include "formats/gguf_writer.h"
#include "kernels/kernels.h"

namespace ember {

uint32_t llama_file_type(TensorType type) {
    switch (type) {
        case TensorType::F32:
            return 0;
        case TensorType::F16:
            return 1;
        case TensorType::Q4_0:
            return 2;
        case TensorType::Q4_1:
            return 3;
        case TensorType::Q8_0:
            return 7;
        case TensorType::Q5_0:
            return 8;
        case TensorType::Q5_1:
            return 9;
        case TensorType::BF16:
            return 32;
        default:
            throw Error("no llama.cpp file type for " + std::string(tensor_type_name(type)));
    }
}

void quantize_model(const gguf::File& in, const std::string& out, const QuantizeOptions& options,
                    const std::function<void(size_t, size_t)>& on_tensor) {
    const TypeKernels* target = reference_kernels(options.type);
    if (target == nullptr || target->quantize_weights == nullptr) {
        throw Error("ember quantize cannot write " + std::string(tensor_type_name(options.type)) +
                    " yet (supported: F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0)");
    }
    gguf::Writer w;
    for (const gguf::Value& v : in.metadata()) w.copy(v);
    w.set_u32("general.file_type", llama_file_type(options.type));
    w.set_u32("general.quantization_version", 2);
    if (in.alignment() != gguf::kDefaultAlignment) w.set_alignment(in.alignment());

    auto pool = std::make_shared<ThreadPool>(options.n_threads > 0 ? options.n_threads
                                                                   : physical_core_count());
    for (const gguf::TensorInfo& t : in.tensors()) {
        const TypeKernels* source = reference_kernels(t.type);
        if (t.type != TensorType::F32 && t.type != TensorType::F16 && t.type != TensorType::BF16) {
            throw Error(in.name() + ": tensor '" + std::string(t.name) + "' is " +
                        std::string(tensor_type_name(t.type)) +
                        "; ember quantize reads F32, F16 or BF16 weights");
        }
        TensorType type = options.type;
        if (t.n_dims < 2) type = TensorType::F32;  // norms and other vectors stay exact
        const bool quantized_target = tensor_type_info(type).block_size > 1;
        if (t.name == "output.weight" && quantized_target && type != TensorType::Q8_0) {
            type = TensorType::Q8_0;  // llama.cpp uses Q6_K here; the closest ember can write
        }
        if (t.ne[0] % tensor_type_info(type).block_size != 0) type = TensorType::F16;  // odd rows
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
    w.write(out, on_tensor);
}

}  // namespace ember
