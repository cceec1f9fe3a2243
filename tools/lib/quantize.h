// Re-encoding a model's weights into another file type (`ember quantize`). Matrices get the
// types llama.cpp's mix rules give them (engine/quant_mix.h); vectors (norm weights) are F32. The
// numbers are rounded exactly as llama.cpp's quantizer rounds them (without an importance matrix),
// so a tensor of the same type comes out byte for byte the same.
#pragma once

#include <functional>
#include <string>

#include "formats/gguf.h"
#include "formats/imatrix.h"
#include "tools/lib/quant_mix.h"

namespace ember {

struct QuantizeOptions {
    const FileType* file_type = find_file_type("Q4_K_M");
    int n_threads = 0;  // 0: physical cores
    // An importance matrix (formats/imatrix.h) and its file's name, or null. Its entries weight
    // the rounding of the tensors they name, as llama-quantize --imatrix does; so far for
    // IQ4_NL and IQ4_XS tensors only (a tensor with an entry that would become another
    // quantized type is refused, never quantized without it).
    const Imatrix* imatrix = nullptr;
    std::string imatrix_path;
};

// Reads `in` (F32, F16 or BF16 weights), writes `out`. on_tensor(i, n) after each tensor.
// Throws ember::Error.
void quantize_model(const gguf::File& in, const std::string& out, const QuantizeOptions& options,
                    const std::function<void(size_t, size_t)>& on_tensor = {});

// The model facts the mix rules need (layers, grouped-query ratio, tied output), from a file.
MixModel mix_model_of(const gguf::File& file);

}  // namespace ember
