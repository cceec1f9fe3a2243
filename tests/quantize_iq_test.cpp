// The i-quant weight quantizers against llama.cpp's bytes (../shared/reference/quantize-iq:
// rows of two F32 tensors quantized by ggml_quantize_chunk, with and without the shared
// importance matrices): rows are quantized independently, so the bytes must match exactly.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "kernels/reference.h"
#include "kernels/tensor_type.h"
#include "tests/shared_data.h"

namespace ember {
namespace {

std::vector<float> read_floats(const std::filesystem::path& path) {
    const auto bytes = test::read_file(path);
    std::vector<float> out(bytes.size() / 4);
    std::memcpy(out.data(), bytes.data(), out.size() * 4);
    return out;
}

using Quantizer = void (*)(const float*, void*, int64_t, const float*);

// Every reference of `type_name` quantized by `quantize` row by row; returns how many files
// were compared.
void check_type(const std::string& type_name, TensorType type, Quantizer quantize, int& n_checked) {
    const auto dir = test::shared_path("reference/quantize-iq");
    std::ifstream index_file(dir / "index.json");
    const auto index = nlohmann::json::parse(index_file);
    for (const auto& [file, entry] : index["quantized"].items()) {
        if (entry["type"].get<std::string>() != type_name) continue;
        SCOPED_TRACE(file);
        const auto& source = index["sources"][entry["source"].get<std::string>()];
        const auto src = read_floats(dir / source["src"].get<std::string>());
        const bool with_imatrix = entry["imatrix"].get<bool>();
        const auto importance = with_imatrix
                                    ? read_floats(dir / source["imatrix"].get<std::string>())
                                    : std::vector<float>();
        const int64_t n = source["n_per_row"].get<int64_t>();
        const int64_t rows = source["n_rows"].get<int64_t>();
        const size_t row_size = row_bytes(type, n);
        std::vector<uint8_t> ours(row_size * rows);
        for (int64_t r = 0; r < rows; ++r) {
            quantize(src.data() + r * n, ours.data() + r * row_size, n,
                     with_imatrix ? importance.data() : nullptr);
        }
        const auto expected = test::read_file(dir / file);
        ASSERT_EQ(expected.size(), ours.size());
        size_t first_diff = ours.size();
        for (size_t i = 0; i < ours.size() && first_diff == ours.size(); ++i)
            if (ours[i] != expected[i]) first_diff = i;
        EXPECT_EQ(first_diff, ours.size())
            << "first different byte in row " << first_diff / row_size;
        ++n_checked;
    }
}

TEST(QuantizeIQ, IQ4EqualsLlamaCppByteForByteWithAndWithoutAnImatrix) {
    int n_checked = 0;
    check_type("IQ4_NL", TensorType::IQ4_NL, ref::quantize_iq4_nl, n_checked);
    check_type("IQ4_XS", TensorType::IQ4_XS, ref::quantize_iq4_xs, n_checked);
    EXPECT_EQ(n_checked, 8);  // 2 sources x 2 types x with and without
}

// The legacy and K-quant types under an importance matrix (llama.cpp's quantize_row_*_impl), and
// without one (its quantize_row_*_ref), from the same rows.
TEST(QuantizeIQ, LegacyAndKQuantsEqualLlamaCppWithAndWithoutAnImatrix) {
    int n_checked = 0;
    check_type("Q4_0", TensorType::Q4_0, ref::quantize_q4_0, n_checked);
    check_type("Q4_1", TensorType::Q4_1, ref::quantize_q4_1, n_checked);
    check_type("Q5_0", TensorType::Q5_0, ref::quantize_q5_0, n_checked);
    check_type("Q5_1", TensorType::Q5_1, ref::quantize_q5_1, n_checked);
    check_type("Q2_K", TensorType::Q2_K, ref::quantize_q2_k, n_checked);
    check_type("Q3_K", TensorType::Q3_K, ref::quantize_q3_k, n_checked);
    check_type("Q4_K", TensorType::Q4_K, ref::quantize_q4_k, n_checked);
    check_type("Q5_K", TensorType::Q5_K, ref::quantize_q5_k, n_checked);
    check_type("Q6_K", TensorType::Q6_K, ref::quantize_q6_k, n_checked);
    EXPECT_EQ(n_checked, 36);  // 2 sources x 9 types x with and without
}

TEST(QuantizeIQ, LatticeTypesEqualLlamaCpp) {
    int n_checked = 0;
    check_type("IQ2_XXS", TensorType::IQ2_XXS, ref::quantize_iq2_xxs, n_checked);
    check_type("IQ2_XS", TensorType::IQ2_XS, ref::quantize_iq2_xs, n_checked);
    check_type("IQ3_XXS", TensorType::IQ3_XXS, ref::quantize_iq3_xxs, n_checked);
    check_type("IQ3_S", TensorType::IQ3_S, ref::quantize_iq3_s, n_checked);
    check_type("IQ2_S", TensorType::IQ2_S, ref::quantize_iq2_s, n_checked);
    check_type("IQ1_S", TensorType::IQ1_S, ref::quantize_iq1_s, n_checked);
    check_type("IQ1_M", TensorType::IQ1_M, ref::quantize_iq1_m, n_checked);
    // 2 sources x (3 types with an imatrix + 4 with and without)
    EXPECT_EQ(n_checked, 22);
}

TEST(QuantizeIQ, TernaryTypesEqualLlamaCpp) {
    int n_checked = 0;
    check_type(
        "TQ1_0", TensorType::TQ1_0,
        [](const float* in, void* out, int64_t n, const float*) {
            ref::quantize_weights_tq1_0(in, out, n);
        },
        n_checked);
    check_type(
        "TQ2_0", TensorType::TQ2_0,
        [](const float* in, void* out, int64_t n, const float*) {
            ref::quantize_weights_tq2_0(in, out, n);
        },
        n_checked);
    EXPECT_EQ(n_checked, 8);  // 2 sources x 2 types x with and without (the same bytes)
}

}  // namespace
}  // namespace ember
