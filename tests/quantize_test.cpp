// Weight quantizers against llama.cpp's: quantizing mini-F32.gguf's tensors must give the bytes
// of llama.cpp's own quantization of the same file (../shared/models/mini/mini-TYPE.gguf).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "engine/quantize.h"
#include "formats/error.h"
#include "formats/gguf.h"
#include "kernels/kernels.h"
#include "tests/shared_data.h"

namespace ember {
namespace {

class LegacyQuantizer : public ::testing::TestWithParam<std::string> {};

TEST_P(LegacyQuantizer, GivesLlamaCppsBytes) {
    const gguf::File f32(test::shared_path("models/mini/mini-F32.gguf").string());
    const gguf::File quantized(
        test::shared_path("models/mini/mini-" + GetParam() + ".gguf").string());
    int compared = 0;
    for (const gguf::TensorInfo& t : quantized.tensors()) {
        if (tensor_type_name(t.type) != GetParam()) continue;  // the mix also has Q6_K, F32, ...
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

INSTANTIATE_TEST_SUITE_P(Types, LegacyQuantizer,
                         ::testing::Values("Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0"),
                         [](const auto& p) { return p.param; });

}  // namespace
}  // namespace ember

namespace ember {
namespace {

// `ember quantize` on the whole mini model: every tensor llama.cpp stores in the same type comes
// out byte for byte as llama.cpp wrote it (only output.weight differs: Q6_K there, Q8_0 here).
class QuantizeModel : public ::testing::TestWithParam<std::string> {};

TEST_P(QuantizeModel, MatchesLlamaCppsFile) {
    const gguf::File f32(test::shared_path("models/mini/mini-F32.gguf").string());
    const gguf::File reference(
        test::shared_path("models/mini/mini-" + GetParam() + ".gguf").string());
    const auto dir = test::temp_dir("quantize-" + GetParam());
    QuantizeOptions options;
    for (uint32_t id = 0; id < 64; ++id) {
        if (const auto info = tensor_type_info(id); info && info->name == GetParam())
            options.type = info->type;
    }
    quantize_model(f32, (dir / "out.gguf").string(), options);
    const gguf::File ours((dir / "out.gguf").string());
    EXPECT_EQ(ours.get_u32("general.file_type"), reference.get_u32("general.file_type"));
    ASSERT_EQ(ours.tensors().size(), reference.tensors().size());
    int identical = 0;
    for (const gguf::TensorInfo& t : ours.tensors()) {
        SCOPED_TRACE(std::string(t.name));
        const gguf::TensorInfo* r = reference.find_tensor(t.name);
        ASSERT_NE(r, nullptr);
        if (r->type != t.type) {
            EXPECT_EQ(t.name, "output.weight");  // the one tensor llama.cpp stores in Q6_K
            continue;
        }
        ASSERT_EQ(t.n_bytes, r->n_bytes);
        EXPECT_EQ(std::memcmp(t.data, r->data, t.n_bytes), 0);
        ++identical;
    }
    EXPECT_GE(identical, 29);
    std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Types, QuantizeModel, ::testing::Values("Q8_0", "Q4_0", "Q5_1", "F16"),
                         [](const auto& p) { return p.param; });

TEST(QuantizeModelErrors, RefusesTypesItCannotWriteAndQuantizedInput) {
    const gguf::File q4(test::shared_path("models/mini/mini-Q4_0.gguf").string());
    QuantizeOptions options;
    options.type = TensorType::Q8_0;
    EXPECT_THROW(quantize_model(q4, "/tmp/never.gguf", options), Error);
    const gguf::File f32(test::shared_path("models/mini/mini-F32.gguf").string());
    options.type = TensorType::Q4_K;
    EXPECT_THROW(quantize_model(f32, "/tmp/never.gguf", options), Error);
}

}  // namespace
}  // namespace ember
