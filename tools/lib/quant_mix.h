// llama.cpp's file types ("mixes"): a file type names a base weight type plus rules that give a
// few sensitive tensors more bits. Q4_K_M, for example, is Q4_K with output.weight in Q6_K and
// attn_v / ffn_down in Q6_K on a third of the layers. The rules are llama.cpp's
// (src/llama-quant.cpp, llama_tensor_get_type) for the Llama architecture without an
// importance matrix, so `ember quantize` and `ember synth` choose the same type per tensor as
// llama-quantize does.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/tensor_type.h"

namespace ember {

struct FileType {
    std::string_view name;  // as llama-quantize spells it: "Q4_K_M"
    uint32_t llama_ftype;   // general.file_type (llama.cpp's LLAMA_FTYPE_MOSTLY_*)
    TensorType base;        // the type of most matrices
};

// F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K Q3_K_S Q3_K_M Q3_K_L Q4_K_S Q4_K_M Q5_K_S Q5_K_M Q6_K
// IQ4_NL IQ4_XS TQ1_0 TQ2_0 IQ3_XS IQ3_XXS IQ3_S IQ3_M IQ2_XXS IQ2_XS IQ2_S IQ2_M IQ1_S IQ1_M.
const std::vector<FileType>& file_types();
// By name; also llama-quantize's aliases Q3_K, Q4_K, Q5_K (the _M mixes). nullptr if unknown.
const FileType* find_file_type(std::string_view name);
// "F32 F16 ... Q6_K", for help texts and errors.
std::string_view file_type_names();
// The message for a name find_file_type does not know, with the known names.
std::string unknown_file_type(std::string_view name);

// What the rules look at besides the tensor's own name and width.
struct MixModel {
    int n_layer = 0;  // the number of blk.N layers
    // A hybrid's layers with attention (lfm2, qwen35), in order: llama.cpp counts its V rules
    // over these. Empty: every layer.
    std::vector<int> attention_layers;
    int n_gqa = 1;             // query heads per KV head
    bool has_output = true;    // false: token_embd.weight is also the output matrix
    int n_expert = 0;          // experts of a mixture (llama.cpp gives 8-expert models more bits)
    bool has_imatrix = false;  // quantized with an importance matrix (IQ4's ffn_down rule)
};

// The type llama.cpp gives `tensor_name` (a matrix with rows of `row_width` values) in a file of
// `file_type`. Widths that do not fit the chosen type's blocks fall back to a smaller block type
// (or F16), as llama.cpp does.
TensorType mix_tensor_type(const FileType& file_type, std::string_view tensor_name,
                           uint64_t row_width, const MixModel& model);

}  // namespace ember
