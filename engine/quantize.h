// Re-encoding a model's weights into another type (`ember quantize`). Matrices get the target
// type; vectors (norm weights) stay F32. The numbers are rounded exactly as llama.cpp's
// quantizer rounds them, so tensors of the same type come out byte for byte the same.
//
// Not yet: the K-quants and llama.cpp's mixes (Q4_K_M, ...). llama.cpp stores output.weight in
// Q6_K for every non-Q8_0 file; until ember can write Q6_K, that tensor is written in Q8_0.
#pragma once

#include <functional>
#include <string>

#include "formats/gguf.h"
#include "kernels/tensor_type.h"

namespace ember {

struct QuantizeOptions {
    TensorType type = TensorType::Q4_0;
    int n_threads = 0;  // 0: physical cores
};

// Reads `in` (F32, F16 or BF16 weights), writes `out`. on_tensor(i, n) after each tensor.
// Throws ember::Error.
void quantize_model(const gguf::File& in, const std::string& out, const QuantizeOptions& options,
                    const std::function<void(size_t, size_t)>& on_tensor = {});

// llama.cpp's general.file_type number for a file whose weights are all `type` (LLAMA_FTYPE_*).
uint32_t llama_file_type(TensorType type);

}  // namespace ember
