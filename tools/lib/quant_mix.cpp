#include "tools/lib/quant_mix.h"

#include <algorithm>
#include <charconv>
#include <string>

namespace ember {
namespace {

using T = TensorType;

// "blk.12.ffn_down.weight" -> 12; -1 when the name has no layer.
int layer_of(std::string_view name) {
    if (name.substr(0, 4) != "blk.") return -1;
    int layer = -1;
    std::from_chars(name.data() + 4, name.data() + name.size(), layer);
    return layer;
}

bool contains(std::string_view name, std::string_view part) {
    return name.find(part) != std::string_view::npos;
}

bool one_of(std::string_view name, std::initializer_list<std::string_view> names) {
    return std::find(names.begin(), names.end(), name) != names.end();
}

// The layers llama.cpp's mixes favour: the first and last eighth, and every third in between.
bool use_more_bits(int layer, int n_layer) {
    return layer < n_layer / 8 || layer >= 7 * n_layer / 8 || (layer - n_layer / 8) % 3 == 2;
}

// A smaller block for rows that the chosen type's 256-value super-blocks do not divide.
TensorType fallback_for_width(TensorType type, uint64_t row_width) {
    if (row_width % static_cast<uint64_t>(tensor_type_info(type).block_size) == 0) return type;
    switch (type) {
        case T::Q2_K:
        case T::Q3_K:
        case T::IQ4_XS:
            type = T::IQ4_NL;  // a 32-value block type of about the same size
            break;
        case T::Q4_K:
            type = T::Q5_0;
            break;
        case T::Q5_K:
            type = T::Q5_1;
            break;
        case T::Q6_K:
            type = T::Q8_0;
            break;
        case T::TQ1_0:
        case T::TQ2_0:
            type = T::Q4_0;
            break;
        case T::IQ2_XXS:
        case T::IQ2_XS:
        case T::IQ2_S:
        case T::IQ3_XXS:
        case T::IQ3_S:
        case T::IQ1_S:
        case T::IQ1_M:
            type = T::IQ4_NL;
            break;
        default:
            break;
    }
    if (row_width % static_cast<uint64_t>(tensor_type_info(type).block_size) != 0) type = T::F16;
    return type;
}

}  // namespace

const std::vector<FileType>& file_types() {
    static const std::vector<FileType> kTypes = {
        {"F32", 0, T::F32},        {"F16", 1, T::F16},          {"BF16", 32, T::BF16},
        {"Q4_0", 2, T::Q4_0},      {"Q4_1", 3, T::Q4_1},        {"Q5_0", 8, T::Q5_0},
        {"Q5_1", 9, T::Q5_1},      {"Q8_0", 7, T::Q8_0},        {"Q2_K", 10, T::Q2_K},
        {"Q3_K_S", 11, T::Q3_K},   {"Q3_K_M", 12, T::Q3_K},     {"Q3_K_L", 13, T::Q3_K},
        {"Q4_K_S", 14, T::Q4_K},   {"Q4_K_M", 15, T::Q4_K},     {"Q5_K_S", 16, T::Q5_K},
        {"Q5_K_M", 17, T::Q5_K},   {"Q6_K", 18, T::Q6_K},       {"IQ4_NL", 25, T::IQ4_NL},
        {"IQ4_XS", 30, T::IQ4_XS}, {"TQ1_0", 36, T::TQ1_0},     {"TQ2_0", 37, T::TQ2_0},
        {"IQ3_XS", 22, T::IQ3_S},  {"IQ3_XXS", 23, T::IQ3_XXS}, {"IQ3_S", 26, T::IQ3_S},
        {"IQ3_M", 27, T::IQ3_S},   {"IQ2_XXS", 19, T::IQ2_XXS}, {"IQ2_XS", 20, T::IQ2_XS},
        {"IQ2_S", 28, T::IQ2_XS},  {"IQ2_M", 29, T::IQ2_S},     {"IQ1_S", 24, T::IQ1_S},
        {"IQ1_M", 31, T::IQ1_M},
    };
    return kTypes;
}

const FileType* find_file_type(std::string_view name) {
    if (name == "Q3_K" || name == "Q4_K" || name == "Q5_K") {
        return find_file_type(std::string(name) + "_M");
    }
    for (const FileType& t : file_types()) {
        if (t.name == name) return &t;
    }
    return nullptr;
}

std::string_view file_type_names() {
    static const std::string kNames = [] {
        std::string names;
        for (const FileType& t : file_types())
            names += (names.empty() ? "" : " ") + std::string(t.name);
        return names;
    }();
    return kNames;
}

std::string unknown_file_type(std::string_view name) {
    return "unknown type '" + std::string(name) + "' (known: " + std::string(file_type_names()) +
           ")";
}

TensorType mix_tensor_type(const FileType& file_type, std::string_view name, uint64_t row_width,
                           const MixModel& model) {
    TensorType type = file_type.base;
    if (tensor_type_info(type).block_size == 1) return type;  // F32 / F16 / BF16: no mix rules
    const std::string_view ftype = file_type.name;
    const int layer = layer_of(name);
    const int n_layer = model.n_layer;

    if (contains(name, "ffn_gate_inp") || contains(name, "ssm_conv1d") ||
        contains(name, "shortconv.conv")) {
        // A mixture's router and a recurrent layer's convolution taps stay F32, as
        // llama-quantize leaves them: small tensors that the engine reads as floats.
        return T::F32;
    } else if (name == "output.weight" || (!model.has_output && name == "token_embd.weight")) {
        // The output matrix decides every logit: 6 bits unless the file is already 8-bit.
        if (row_width % static_cast<uint64_t>(tensor_type_info(type).block_size) != 0) {
            type = T::Q8_0;
        } else if (one_of(ftype,
                          {"IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ2_S", "IQ2_M", "IQ1_M"})) {
            type = T::Q5_K;
        } else if (type != T::Q8_0) {
            type = T::Q6_K;
        }
    } else if (name == "token_embd.weight") {
        // The lowest-bit mixes keep the embedding at 2-3 bits, the ternary ones at 4.
        if (one_of(ftype, {"IQ2_XXS", "IQ2_XS", "IQ1_S", "IQ1_M"})) {
            type = T::Q2_K;
        } else if (one_of(ftype, {"IQ2_S", "IQ2_M", "IQ3_XXS"})) {
            type = T::IQ3_S;
        } else if (type == T::TQ1_0 || type == T::TQ2_0) {
            type = T::Q4_K;
        }
    } else if (one_of(ftype, {"IQ2_XXS", "IQ2_XS", "IQ1_S", "IQ2_S", "IQ2_M", "IQ1_M"})) {
        // The 1.5-2.5 bit mixes: V, the first eighth of ffn_down and attn_output get more bits.
        const bool to_iq3_s = ftype == "IQ2_S" || ftype == "IQ2_M";
        if (contains(name, "attn_v.weight")) {
            type = model.n_gqa >= 4 || model.n_expert >= 4 ? T::Q4_K
                   : to_iq3_s                              ? T::IQ3_S
                                                           : T::Q2_K;
        } else if (contains(name, "attn_k.weight") && model.n_expert == 8) {
            type = T::Q4_K;
        } else if (contains(name, "ffn_down")) {
            if (layer < n_layer / 8) type = to_iq3_s ? T::IQ3_S : T::Q2_K;
        } else if (contains(name, "attn_output.weight")) {
            if (model.n_expert == 8) {
                type = T::Q5_K;
            } else if (ftype == "IQ1_S" || ftype == "IQ1_M") {
                type = T::IQ2_XXS;
            } else if (to_iq3_s) {
                type = T::IQ3_S;
            }
        }
    } else if (contains(name, "attn_v.weight")) {
        // V is small with grouped-query attention, and its errors pass straight to the output.
        // (Counted over the layers that have attention.)
        const auto& att = model.attention_layers;
        const int i_v =
            att.empty()
                ? layer_of(name)
                : static_cast<int>(std::find(att.begin(), att.end(), layer_of(name)) - att.begin());
        const int n_v = att.empty() ? model.n_layer : static_cast<int>(att.size());
        if (ftype == "Q2_K") {
            type = model.n_gqa >= 4 ? T::Q4_K : T::Q3_K;
        } else if (ftype == "IQ3_XXS") {
            type = model.n_gqa >= 4 ? T::Q4_K : !model.has_imatrix ? T::IQ3_S : T::IQ3_XXS;
        } else if ((ftype == "IQ3_XS" || ftype == "IQ3_S") && model.n_gqa >= 4) {
            type = T::Q4_K;
        } else if (ftype == "IQ3_M") {
            type = T::Q4_K;
        } else if (ftype == "Q3_K_M") {
            type = i_v < 2 ? T::Q5_K : T::Q4_K;
        } else if (ftype == "Q3_K_L") {
            type = T::Q5_K;
        } else if ((ftype == "Q4_K_M" || ftype == "Q5_K_M") && use_more_bits(i_v, n_v)) {
            type = T::Q6_K;
        } else if (ftype == "Q4_K_S" && i_v < 4) {
            type = T::Q5_K;
        } else if ((ftype == "IQ4_NL" || ftype == "IQ4_XS") && model.n_gqa >= 4) {
            type = T::Q5_K;
        }
        // Llama 70B (80 layers) shares each V among 8 heads: more bits cost almost nothing.
        if (n_layer == 80 && (type == T::Q3_K || type == T::Q4_K)) type = T::Q5_K;
        // An 8-expert mixture (Mixtral's rule in llama.cpp): V is a tiny share of the weights.
        if (model.n_expert == 8) type = T::Q8_0;
    } else if (contains(name, "attn_k.weight") && model.n_expert == 8) {
        type = T::Q8_0;  // the same for K
    } else if (contains(name, "attn_k.weight") || contains(name, "attn_q.weight")) {
        // The 3-bit i-quant mixes give Q and K a little less.
        if (ftype == "IQ3_XS") {
            type = T::IQ3_XXS;
        } else if (ftype == "IQ3_XXS") {
            type = T::IQ2_S;
        }
    } else if (contains(name, "attn_qkv.weight")) {
        // A fused Q, K, V matrix (phi3) carries V's rows: a step up, as for V.
        if (ftype == "Q3_K_M" || ftype == "Q3_K_L" || ftype == "IQ3_M") {
            type = T::Q4_K;
        } else if (ftype == "Q4_K_M") {
            type = T::Q5_K;
        } else if (ftype == "Q5_K_M") {
            type = T::Q6_K;
        }
    } else if (contains(name, "ffn_down")) {
        if (ftype == "Q2_K") {
            type = T::Q3_K;
        } else if (ftype == "IQ3_XXS" && !model.has_imatrix) {
            type = layer < n_layer / 8 ? T::Q4_K : T::Q3_K;
        } else if (ftype == "Q3_K_M") {
            type = layer < n_layer / 16 ? T::Q5_K : T::Q4_K;
        } else if (ftype == "IQ3_M" && (layer < n_layer / 8 ||
                                        (model.n_expert == 8 && use_more_bits(layer, n_layer)))) {
            type = T::Q4_K;
        } else if (ftype == "Q3_K_L") {
            type = T::Q5_K;
        } else if ((ftype == "Q4_K_M" || ftype == "Q5_K_M") && use_more_bits(layer, n_layer)) {
            type = T::Q6_K;
        } else if (ftype == "Q4_K_S" && layer < n_layer / 8) {
            type = T::Q5_K;
        } else if ((ftype == "IQ4_NL" || ftype == "IQ4_XS") && layer < n_layer / 8 &&
                   !model.has_imatrix) {
            type = T::Q5_K;
        } else if ((ftype == "Q4_0" || ftype == "Q5_0") && model.has_imatrix &&
                   layer < n_layer / 8) {
            // llama-quantize's guard for the first ffn_down layers under an importance matrix.
            type = ftype == "Q4_0" ? T::Q4_1 : T::Q5_1;
        }
    } else if (contains(name, "attn_output.weight") && model.n_expert == 8) {
        if (one_of(ftype, {"Q2_K", "IQ3_XS", "IQ3_XXS", "Q3_K_S", "Q3_K_M", "IQ4_NL", "Q4_K_S",
                           "Q4_K_M", "IQ3_S", "IQ3_M", "IQ4_XS"})) {
            type = T::Q5_K;
        }
    } else if (contains(name, "attn_output.weight")) {
        if (ftype == "Q2_K") {
            type = T::Q3_K;
        } else if (ftype == "IQ3_XXS") {
            type = T::IQ3_S;
        } else if (ftype == "Q3_K_M" || ftype == "IQ3_M") {
            type = T::Q4_K;
        } else if (ftype == "Q3_K_L") {
            type = T::Q5_K;
        }
    } else if (contains(name, "ffn_gate") || contains(name, "ffn_up")) {
        // IQ3_XS: the middle three quarters of the layers' gate and up at IQ3_XXS.
        if (ftype == "IQ3_XS" && layer >= n_layer / 8 && layer < 7 * n_layer / 8) type = T::IQ3_XXS;
    }
    return fallback_for_width(type, row_width);
}

}  // namespace ember
