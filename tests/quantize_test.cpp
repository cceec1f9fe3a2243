// Weight quantizers against llama.cpp's: quantizing mini-F32.gguf's tensors must give the bytes
// of llama.cpp's own quantization of the same file (../shared/models/mini/mini-TYPE.gguf).
#include <gtest/gtest.h>

#include <cctype>
#include <cstring>
#include <filesystem>
#include <utility>

#include "formats/error.h"
#include "formats/gguf.h"
#include "kernels/kernels.h"
#include "tests/shared_data.h"
#include "tools/lib/quantize.h"

namespace ember {
namespace {

// (file, type): every tensor of `type` in mini-FILE.gguf is compared.
class TensorQuantizer : public ::testing::TestWithParam<std::pair<std::string, std::string>> {};

TEST_P(TensorQuantizer, GivesLlamaCppsBytes) {
    const auto& [file, type] = GetParam();
    const gguf::File f32(test::shared_path("models/mini/mini-F32.gguf").string());
    const gguf::File quantized(test::shared_path("models/mini/mini-" + file + ".gguf").string());
    int compared = 0;
    for (const gguf::TensorInfo& t : quantized.tensors()) {
        if (tensor_type_name(t.type) != type) continue;  // the mix also has Q6_K, F32, ...
        SCOPED_TRACE(std::string(t.name));
        const gguf::TensorInfo* source = f32.find_tensor(t.name);
        ASSERT_NE(source, nullptr);
        const TypeKernels& k = *reference_kernels(t.type);
        ASSERT_NE(k.quantize_weights, nullptr);
        std::vector<uint8_t> ours(t.n_bytes);
        const size_t bytes_per_row = row_bytes(t.type, t.ne[0]);
        for (uint64_t r = 0; r < t.n_rows(); ++r) {
            k.quantize_weights(reinterpret_cast<const float*>(source->data) + r * t.ne[0],
                               ours.data() + r * bytes_per_row, static_cast<int64_t>(t.ne[0]));
        }
        size_t differing_blocks = 0;
        const size_t block_bytes = tensor_type_info(t.type).bytes_per_block;
        for (size_t at = 0; at < ours.size(); at += block_bytes) {
            differing_blocks += std::memcmp(ours.data() + at, t.data + at, block_bytes) != 0;
        }
        EXPECT_EQ(differing_blocks, 0u) << "of " << ours.size() / block_bytes;
        ++compared;
    }
    EXPECT_GT(compared, 0);
}

INSTANTIATE_TEST_SUITE_P(Types, TensorQuantizer,
                         ::testing::Values(std::pair{"Q4_0", "Q4_0"}, std::pair{"Q4_1", "Q4_1"},
                                           std::pair{"Q5_0", "Q5_0"}, std::pair{"Q5_1", "Q5_1"},
                                           std::pair{"Q8_0", "Q8_0"}, std::pair{"Q2_K", "Q2_K"},
                                           std::pair{"Q3_K_S", "Q3_K"}, std::pair{"Q4_K_S", "Q4_K"},
                                           std::pair{"Q5_K_S", "Q5_K"}, std::pair{"Q6_K", "Q6_K"}),
                         [](const auto& p) { return p.param.second; });

}  // namespace
}  // namespace ember

namespace ember {
namespace {

// `ember quantize` on whole models: llama.cpp's quantizations of the same F32 file
// (../shared/models/DIR/DIR-TYPE.gguf) are the reference. Every tensor must get llama.cpp's
// type (the mix rules), an error against F32 at most 1.02x that of llama.cpp's tensor (the
// speed issue's bound), and - what ember's quantizers actually achieve - the same bytes.
struct ModelCase {
    std::string dir, type;
};

double squared_error(const gguf::TensorInfo& quantized, const gguf::TensorInfo& f32) {
    const TypeKernels& k = *reference_kernels(quantized.type);
    const int64_t cols = static_cast<int64_t>(quantized.ne[0]);
    const size_t bytes_per_row = row_bytes(quantized.type, cols);
    std::vector<float> row(cols);
    double sum = 0;
    for (uint64_t r = 0; r < quantized.n_rows(); ++r) {
        k.dequantize_row(quantized.data + r * bytes_per_row, row.data(), cols);
        const float* x = reinterpret_cast<const float*>(f32.data) + r * cols;
        for (int64_t c = 0; c < cols; ++c) sum += (row[c] - x[c]) * double(row[c] - x[c]);
    }
    return sum;
}

class QuantizeModel : public ::testing::TestWithParam<ModelCase> {};

TEST_P(QuantizeModel, MatchesLlamaCppsFile) {
    const auto& [dir, type] = GetParam();
    // "arch2/NAME": the 2025-2026 families, quantized by the llama.cpp of August 2026.
    const bool arch2 = dir.starts_with("arch2/");
    const std::string stem =
        arch2 ? "arch2/models/" + dir.substr(6) + "-" : "models/" + dir + "/" + dir + "-";
    const gguf::File f32(test::shared_path(stem + "F32.gguf").string());
    const gguf::File reference(test::shared_path(stem + type + ".gguf").string());
    const auto out_dir =
        test::temp_dir("quantize-" + std::string(arch2 ? dir.substr(6) : dir) + "-" + type);
    QuantizeOptions options;
    options.file_type = find_file_type(type);
    ASSERT_NE(options.file_type, nullptr);
    quantize_model(f32, (out_dir / "out.gguf").string(), options);
    const gguf::File ours((out_dir / "out.gguf").string());
    EXPECT_EQ(ours.get_u32("general.file_type"), reference.get_u32("general.file_type"));
    ASSERT_EQ(ours.tensors().size(), reference.tensors().size());
    for (const gguf::TensorInfo& t : ours.tensors()) {
        SCOPED_TRACE(std::string(t.name));
        const gguf::TensorInfo* r = reference.find_tensor(t.name);
        const gguf::TensorInfo* source = f32.find_tensor(t.name);
        ASSERT_NE(r, nullptr);
        ASSERT_NE(source, nullptr);
        ASSERT_EQ(tensor_type_name(t.type), tensor_type_name(r->type));
        ASSERT_EQ(t.n_bytes, r->n_bytes);
        EXPECT_LE(squared_error(t, *source), 1.02 * 1.02 * squared_error(*r, *source));
        EXPECT_EQ(std::memcmp(t.data, r->data, t.n_bytes), 0);
    }
    std::filesystem::remove_all(out_dir);
}

std::vector<ModelCase> model_cases() {
    std::vector<ModelCase> cases;
    for (const char* type :
         {"F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K_S", "Q3_K_M",
          "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K"}) {
        cases.push_back({"mini", type});
    }
    for (const char* type : {"F16", "Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q4_0", "Q3_K_M", "Q2_K"}) {
        cases.push_back({"ember-stories-5M", type});
    }
    // A mixture's router, a recurrent layer's convolution taps: kept F32; 3-D expert tensors.
    for (const char* name : {"arch2/mini-qwen3moe", "arch2/mini-lfm2", "arch2/mini-qwen35"}) {
        cases.push_back({name, "Q8_0"});
    }
    for (const char* name : {"arch2/mini-qwen3moe", "arch2/mini-qwen3", "arch2/mini-smollm3"}) {
        cases.push_back({name, "Q4_K_M"});
    }
    return cases;
}

INSTANTIATE_TEST_SUITE_P(Files, QuantizeModel, ::testing::ValuesIn(model_cases()),
                         [](const auto& p) {
                             std::string name = p.param.dir + "_" + p.param.type;
                             for (char& c : name)
                                 c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                             return name;
                         });

TEST(QuantizeModelErrors, RefusesQuantizedInputAndUnknownTypes) {
    const gguf::File q4(test::shared_path("models/mini/mini-Q4_0.gguf").string());
    QuantizeOptions options;
    options.file_type = find_file_type("Q8_0");
    EXPECT_THROW(quantize_model(q4, "/tmp/never.gguf", options), Error);
    EXPECT_EQ(find_file_type("Q7_K"), nullptr);
    EXPECT_EQ(find_file_type("Q4_K"), find_file_type("Q4_K_M"));  // llama-quantize's alias
}

}  // namespace
}  // namespace ember
