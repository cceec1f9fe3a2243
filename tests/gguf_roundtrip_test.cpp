// Writer -> reader: every metadata value type and every tensor type comes back as written, and
// a real model copied through the writer reads back identical.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <random>

#include "formats/error.h"
#include "formats/gguf.h"
#include "formats/gguf_writer.h"
#include "tests/shared_data.h"

namespace ember::gguf {
namespace {

TEST(GgufRoundTrip, EveryValueTypeComesBackAsWritten) {
    Writer w;
    w.set_u8("v.u8", 200);
    w.set_i8("v.i8", -100);
    w.set_u16("v.u16", 60000);
    w.set_i16("v.i16", -30000);
    w.set_u32("v.u32", 4000000000u);
    w.set_i32("v.i32", -2000000000);
    w.set_u64("v.u64", 1ull << 40);
    w.set_i64("v.i64", -(1ll << 40));
    w.set_f32("v.f32", 0.25f);
    w.set_f64("v.f64", -1e300);
    w.set_bool("v.bool", true);
    w.set_string("v.str", "héllo\n");
    w.set_string("v.empty", "");
    const uint8_t u8s[] = {1, 2, 255};
    w.set_array("a.u8", ValueType::U8, u8s, 3);
    const int8_t i8s[] = {-1, 0, 1};
    w.set_array("a.i8", ValueType::I8, i8s, 3);
    const uint16_t u16s[] = {1, 65535};
    w.set_array("a.u16", ValueType::U16, u16s, 2);
    const int16_t i16s[] = {-32768, 5};
    w.set_array("a.i16", ValueType::I16, i16s, 2);
    const uint32_t u32s[] = {7, 8};
    w.set_array("a.u32", ValueType::U32, u32s, 2);
    const int32_t i32s[] = {-7, 8, 9};
    w.set_array_i32("a.i32", i32s);
    const uint64_t u64s[] = {1ull << 63};
    w.set_array("a.u64", ValueType::U64, u64s, 1);
    const int64_t i64s[] = {-5, 1ll << 50};
    w.set_array("a.i64", ValueType::I64, i64s, 2);
    const float f32s[] = {1.5f, -2.0f};
    w.set_array_f32("a.f32", f32s);
    const double f64s[] = {3.25};
    w.set_array("a.f64", ValueType::F64, f64s, 1);
    const uint8_t bools[] = {1, 0, 1};
    w.set_array("a.bool", ValueType::BOOL, bools, 3);
    const std::string strs[] = {"x", "", "zz"};
    w.set_array_strings("a.str", strs);
    w.set_array("a.empty", ValueType::F32, nullptr, 0);
    w.set_u32("v.replaced", 1);
    w.set_u32("v.replaced", 2);

    const auto path = test::temp_dir("values") / "values.gguf";
    w.write(path.string());
    File f(path.string());

    EXPECT_EQ(f.metadata().size(), 27u);
    EXPECT_EQ(f.at("v.u8").get_int(), 200);
    EXPECT_EQ(f.at("v.i8").get_int(), -100);
    EXPECT_EQ(f.at("v.u16").get_int(), 60000);
    EXPECT_EQ(f.at("v.i16").get_int(), -30000);
    EXPECT_EQ(f.get_u32("v.u32"), 4000000000u);
    EXPECT_EQ(f.at("v.i32").get_int(), -2000000000);
    EXPECT_EQ(f.at("v.u64").get_int(), 1ll << 40);
    EXPECT_EQ(f.at("v.i64").get_int(), -(1ll << 40));
    EXPECT_EQ(f.get_f32("v.f32"), 0.25f);
    EXPECT_EQ(f.at("v.f64").type(), ValueType::F64);
    EXPECT_EQ(f.at("v.f64").to_string(), "-1e+300");
    EXPECT_TRUE(f.get_bool("v.bool", false));
    EXPECT_EQ(f.get_string("v.str"), "héllo\n");
    EXPECT_EQ(f.get_string("v.empty"), "");
    EXPECT_EQ(f.get_u32("v.replaced"), 2u);
    EXPECT_THROW(f.at("v.i32").get_u32(), Error);  // negative

    EXPECT_EQ(f.get_array("a.u8", ValueType::U8).int_at(2), 255);
    EXPECT_EQ(f.get_array("a.i8", ValueType::I8).int_at(0), -1);
    EXPECT_EQ(f.get_array("a.u16", ValueType::U16).int_at(1), 65535);
    EXPECT_EQ(f.get_array("a.i16", ValueType::I16).int_at(0), -32768);
    EXPECT_EQ(f.get_array("a.u32", ValueType::U32).int_at(1), 8);
    EXPECT_EQ(f.get_array("a.i32", ValueType::I32).int_at(0), -7);
    EXPECT_THROW(f.get_array("a.u64", ValueType::U64).int_at(0), Error);  // 2^63 > int64
    EXPECT_EQ(f.get_array("a.i64", ValueType::I64).int_at(1), 1ll << 50);
    EXPECT_EQ(f.get_array("a.f32", ValueType::F32).f32_at(1), -2.0f);
    EXPECT_EQ(f.at("a.f64").to_string(), "[3.25]");
    EXPECT_EQ(f.at("a.bool").to_string(), "[true, false, true]");
    EXPECT_EQ(f.get_array("a.str", ValueType::STRING).array_size(), 3u);
    EXPECT_EQ(f.get_array("a.str", ValueType::STRING).string_at(2), "zz");
    EXPECT_EQ(f.get_array("a.empty", ValueType::F32).array_size(), 0u);
    EXPECT_EQ(f.at("a.str").type_string(), "arr[str,3]");
    std::filesystem::remove_all(path.parent_path());
}

TEST(GgufRoundTrip, EveryTensorTypeComesBackAsWritten) {
    Writer w;
    w.set_alignment(128);
    std::mt19937 rng(42);
    std::vector<std::vector<uint8_t>> written;
    std::vector<TensorType> types;
    for (uint32_t id = 0; id < 64; ++id) {
        const auto info = tensor_type_info(id);
        if (!info) continue;
        types.push_back(info->type);
        const uint64_t ne[] = {info->block_size * 3ull, 2, 1, 2};
        std::vector<uint8_t> bytes(12ull * info->bytes_per_block);
        for (auto& b : bytes) b = static_cast<uint8_t>(rng());
        w.add_tensor("t." + std::string(info->name), info->type, ne, bytes);
        written.push_back(std::move(bytes));
    }
    EXPECT_EQ(types.size(), 32u);

    const auto path = test::temp_dir("tensors") / "tensors.gguf";
    w.write(path.string());
    File f(path.string());
    EXPECT_EQ(f.alignment(), 128u);
    ASSERT_EQ(f.tensors().size(), types.size());
    for (size_t i = 0; i < types.size(); ++i) {
        const TensorInfo& t = f.tensors()[i];
        SCOPED_TRACE(std::string(t.name));
        EXPECT_EQ(t.type, types[i]);
        EXPECT_EQ(t.n_dims, 4u);
        EXPECT_EQ(t.ne[1], 2u);
        EXPECT_EQ(t.n_rows(), 4u);
        EXPECT_EQ(t.offset % 128, 0u);
        ASSERT_EQ(t.n_bytes, written[i].size());
        EXPECT_EQ(std::memcmp(t.data, written[i].data(), t.n_bytes), 0);
    }
    std::filesystem::remove_all(path.parent_path());
}

TEST(GgufRoundTrip, WriterRefusesInvalidTensors) {
    Writer w;
    const uint64_t not_whole_blocks[] = {16, 2};
    const std::vector<uint8_t> none;
    EXPECT_THROW(w.add_tensor("q", TensorType::Q4_0, not_whole_blocks, none), Error);
    const uint64_t zero_dim[] = {32, 0};
    EXPECT_THROW(w.add_tensor("z", TensorType::Q4_0, zero_dim, none), Error);
    const uint64_t fine[] = {32};
    w.add_tensor("x", TensorType::F32, fine, std::vector<uint8_t>(128));
    EXPECT_THROW(w.add_tensor("x", TensorType::F32, fine, none), Error);
    EXPECT_THROW(w.set_alignment(48), Error);
}

TEST(GgufRoundTrip, RealModelCopiedThroughTheWriterReadsBackIdentical) {
    const File original(test::shared_path("models/mini/mini-Q4_K_M.gguf").string());
    Writer w;
    for (const Value& v : original.metadata()) w.copy(v);
    for (const TensorInfo& t : original.tensors()) {
        w.add_tensor(std::string(t.name), t.type, std::span(t.ne.data(), t.n_dims),
                     std::span(t.data, t.n_bytes));
    }
    const auto path = test::temp_dir("copy") / "copy.gguf";
    w.write(path.string());
    const File copy(path.string());

    ASSERT_EQ(copy.metadata().size(), original.metadata().size());
    for (size_t i = 0; i < copy.metadata().size(); ++i) {
        const Value& a = original.metadata()[i];
        const Value& b = copy.metadata()[i];
        EXPECT_EQ(a.key(), b.key());
        EXPECT_EQ(a.type_string(), b.type_string());
        EXPECT_EQ(a.to_string(1u << 20), b.to_string(1u << 20));
    }
    ASSERT_EQ(copy.tensors().size(), original.tensors().size());
    for (size_t i = 0; i < copy.tensors().size(); ++i) {
        const TensorInfo& a = original.tensors()[i];
        const TensorInfo& b = copy.tensors()[i];
        EXPECT_EQ(a.name, b.name);
        EXPECT_EQ(a.type, b.type);
        EXPECT_EQ(a.ne, b.ne);
        ASSERT_EQ(a.n_bytes, b.n_bytes);
        EXPECT_EQ(std::memcmp(a.data, b.data, a.n_bytes), 0);
    }
    // Same layout as llama.cpp's writer: tight packing with 32-byte alignment.
    EXPECT_EQ(copy.file_size(), original.file_size());
    std::filesystem::remove_all(path.parent_path());
}

}  // namespace
}  // namespace ember::gguf
