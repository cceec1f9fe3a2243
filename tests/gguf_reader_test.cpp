// The GGUF reader against broken files: every class of damage gives an ember::Error that names
// the file and the byte offset, never a crash (the sanitizer build runs these too).
#include <gtest/gtest.h>

#include "formats/error.h"
#include "formats/gguf.h"
#include "tests/broken_gguf.h"

namespace ember::gguf {
namespace {

std::string parse_error(const std::vector<uint8_t>& bytes) {
    try {
        File file(bytes, "broken.gguf");
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

TEST(GgufReader, GoodFileParses) {
    const auto bytes = test::good_gguf_bytes();
    File file(bytes, "good.gguf");
    EXPECT_EQ(file.version(), 3u);
    EXPECT_EQ(file.alignment(), 64u);
    EXPECT_EQ(file.get_string("general.architecture"), "llama");
    EXPECT_EQ(file.get_array("test.ints", ValueType::I32).int_at(2), 3);
    EXPECT_EQ(file.get_array("test.strs", ValueType::STRING).string_at(1), "bc");
    EXPECT_TRUE(file.get_bool("test.flag", false));
    ASSERT_EQ(file.tensors().size(), 2u);
    EXPECT_EQ(file.tensors()[1].type, TensorType::Q8_0);
    EXPECT_EQ(file.tensors()[1].n_bytes, 68u);
    EXPECT_EQ(file.tensors()[1].data[0], 2);
}

TEST(GgufReader, EveryBrokenFileClassIsRefusedWithItsReason) {
    const auto cases = test::broken_gguf_cases();
    EXPECT_GE(cases.size(), 25u);
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        const std::string message = parse_error(c.bytes);
        ASSERT_FALSE(message.empty()) << "accepted a broken file";
        EXPECT_NE(message.find("broken.gguf: byte "), std::string::npos) << message;
        EXPECT_NE(message.find(c.expected), std::string::npos) << message;
    }
}

TEST(GgufReader, EveryTruncationBeforeTheLastTensorEndIsRefused) {
    const auto good = test::good_gguf_bytes();
    File file(good, "good.gguf");
    uint64_t end_of_data = 0;
    for (const auto& t : file.tensors()) {
        end_of_data = std::max(end_of_data, file.data_offset() + t.offset + t.n_bytes);
    }
    for (size_t size = 0; size < good.size(); ++size) {
        // A copy of exactly `size` bytes, so the sanitizers catch any read past it.
        const std::vector<uint8_t> cut(good.begin(), good.begin() + static_cast<ptrdiff_t>(size));
        if (size < end_of_data) {
            EXPECT_FALSE(parse_error(cut).empty()) << "accepted a file cut to " << size << " bytes";
        } else {
            EXPECT_EQ(parse_error(cut), "") << "refused a file cut only in its final padding";
        }
    }
}

TEST(GgufReader, TypedGettersRefuseTheWrongType) {
    const auto bytes = test::good_gguf_bytes();
    File file(bytes, "good.gguf");
    EXPECT_THROW(file.get_u32("general.architecture"), Error);
    EXPECT_THROW(file.get_f32("test.flag"), Error);
    EXPECT_THROW(file.get_array("test.ints", ValueType::F32), Error);
    EXPECT_THROW(file.at("no.such.key"), Error);
    EXPECT_EQ(file.get_u32("no.such.key", 7u), 7u);
    EXPECT_EQ(file.get_string("no.such.key", "x"), "x");
    try {
        file.get_u32("general.architecture");
    } catch (const Error& e) {
        EXPECT_STREQ(e.what(),
                     "good.gguf: metadata key 'general.architecture' has type str, "
                     "expected u32");
    }
}

TEST(GgufReader, MissingFileNamesThePath) {
    try {
        File file("/nonexistent/model.gguf");
        FAIL() << "opened a missing file";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("/nonexistent/model.gguf"), std::string::npos);
    }
    EXPECT_THROW(File("/"), Error);  // a directory
}

}  // namespace
}  // namespace ember::gguf
