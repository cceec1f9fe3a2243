// Tensor storage types as GGUF numbers them (the ggml type ids), and the size of their blocks.
//
// Every quantized type stores values in fixed-size blocks: `block_size` values packed into
// `bytes_per_block` bytes. A row of n values of a type takes n / block_size blocks, so n must be a
// multiple of block_size. The byte layouts themselves live beside each type's kernels.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace ember {

enum class TensorType : uint32_t {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    // 4 and 5 were Q4_2 and Q4_3, removed from the format.
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    IQ2_XXS = 16,
    IQ2_XS = 17,
    IQ3_XXS = 18,
    IQ1_S = 19,
    IQ4_NL = 20,
    IQ3_S = 21,
    IQ2_S = 22,
    IQ4_XS = 23,
    I8 = 24,
    I16 = 25,
    I32 = 26,
    I64 = 27,
    F64 = 28,
    IQ1_M = 29,
    BF16 = 30,
    // 31..33 were interleaved Q4_0 variants, never valid in files.
    TQ1_0 = 34,
    TQ2_0 = 35,
    // 36..38 were interleaved IQ4_NL variants, never valid in files.
    MXFP4 = 39,
};

struct TensorTypeInfo {
    TensorType type;
    std::string_view name;     // as llama.cpp prints it: "Q4_K", "F16"
    uint32_t block_size;       // values per block (1 for plain types)
    uint32_t bytes_per_block;  // storage bytes of one block
};

// The layout of a type id read from a file, or nothing if ember does not know the id.
std::optional<TensorTypeInfo> tensor_type_info(uint32_t type_id);

// The layout of a known type.
const TensorTypeInfo& tensor_type_info(TensorType type);

inline std::string_view tensor_type_name(TensorType type) {
    return tensor_type_info(type).name;
}

// Bytes taken by a row of n_values values; n_values must be a multiple of the block size.
inline uint64_t row_bytes(TensorType type, uint64_t n_values) {
    const TensorTypeInfo& info = tensor_type_info(type);
    return n_values / info.block_size * info.bytes_per_block;
}

}  // namespace ember
