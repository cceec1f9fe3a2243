// Every GGUF file in ../shared (written by llama.cpp's tools) reads without error.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <map>

#include "formats/gguf.h"
#include "tests/shared_data.h"

namespace ember::gguf {
namespace {

TEST(GgufSharedFiles, EverySharedModelAndVocabularyParses) {
    size_t n_files = 0;
    for (const char* folder : {"models", "vocab"}) {
        for (const auto& entry :
             std::filesystem::recursive_directory_iterator(test::shared_path(folder))) {
            if (entry.path().extension() != ".gguf") continue;
            SCOPED_TRACE(entry.path().string());
            const File file(entry.path().string());
            EXPECT_EQ(file.version(), 3u);
            EXPECT_FALSE(file.metadata().empty());
            ++n_files;
        }
    }
    EXPECT_GE(n_files, 29u);  // 1 + 17 mini + 9 ember-stories-5M + 2 vocabularies
}

TEST(GgufSharedFiles, MiniQ4KMHasLlamaCppsTensorMix) {
    const File file(test::shared_path("models/mini/mini-Q4_K_M.gguf").string());
    ASSERT_EQ(file.tensors().size(), 30u);
    std::map<TensorType, int> count;
    for (const TensorInfo& t : file.tensors()) ++count[t.type];
    EXPECT_EQ(count[TensorType::F32], 7);
    EXPECT_EQ(count[TensorType::Q4_K], 20);
    EXPECT_EQ(count[TensorType::Q6_K], 3);
    const TensorInfo* output = file.find_tensor("output.weight");
    ASSERT_NE(output, nullptr);
    EXPECT_EQ(output->type, TensorType::Q6_K);
    EXPECT_EQ(output->ne[0], 256u);
    EXPECT_EQ(output->ne[1], 512u);
    EXPECT_EQ(file.get_string("general.architecture"), "llama");
    EXPECT_EQ(file.get_u32("llama.block_count"), 3u);
    EXPECT_FLOAT_EQ(file.get_f32("llama.rope.freq_base"), 10000.0f);
    EXPECT_EQ(file.get_array("tokenizer.ggml.tokens", ValueType::STRING).array_size(), 512u);
    EXPECT_EQ(file.get_array("tokenizer.ggml.tokens", ValueType::STRING).string_at(1), "<s>");
}

TEST(GgufSharedFiles, TensorsAreViewsIntoTheMapping) {
    const auto path = test::shared_path("models/stories260K.gguf");
    const File file(path.string());
    const auto bytes = test::read_file(path);
    const TensorInfo* embd = file.find_tensor("token_embd.weight");
    ASSERT_NE(embd, nullptr);
    EXPECT_EQ(embd->type, TensorType::F32);
    EXPECT_EQ(
        std::memcmp(embd->data, bytes.data() + file.data_offset() + embd->offset, embd->n_bytes),
        0);
}

}  // namespace
}  // namespace ember::gguf
