// Weight quantizers against llama.cpp's: quantizing mini-F32.gguf's tensors must give the bytes
// of llama.cpp's own quantization of the same file (../shared/models/mini/mini-TYPE.gguf).
#include <gtest/gtest.h>

#include <cstring>

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
