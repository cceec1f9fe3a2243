#include "tests/broken_gguf.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string_view>

#include "formats/gguf.h"
#include "formats/gguf_writer.h"
#include "tests/shared_data.h"

namespace ember::test {
namespace {

// Names chosen so that each appears once in the file and a same-length twin exists for the
// duplicate cases.
constexpr std::string_view kTensorOne = "weight.one";
constexpr std::string_view kTensorTwo = "weight.two";

size_t find_bytes(const std::vector<uint8_t>& bytes, std::string_view needle) {
    const auto it = std::search(bytes.begin(), bytes.end(), needle.begin(), needle.end());
    if (it == bytes.end()) throw std::logic_error("good file lacks " + std::string(needle));
    return static_cast<size_t>(it - bytes.begin());
}

template <typename T>
void poke(std::vector<uint8_t>& bytes, size_t at, T value) {
    std::memcpy(bytes.data() + at, &value, sizeof(T));
}

// Offsets of the fields of one tensor entry: the name string is preceded by its u64 length.
struct TensorEntry {
    size_t n_dims, ne0, ne1, type, offset;
};
TensorEntry tensor_entry(const std::vector<uint8_t>& bytes, std::string_view name) {
    const size_t n_dims = find_bytes(bytes, name) + name.size();
    const size_t ne0 = n_dims + 4;
    return {n_dims, ne0, ne0 + 8, ne0 + 16, ne0 + 20};  // every tensor here has two dims
}

}  // namespace

std::vector<uint8_t> good_gguf_bytes() {
    gguf::Writer w;
    w.set_alignment(64);
    w.set_string("general.architecture", "llama");
    const int32_t ints[] = {1, 2, 3};
    w.set_array_i32("test.ints", ints);
    const std::string words[] = {"a", "bc"};
    w.set_array_strings("test.strs", words);
    w.set_bool("test.flag", true);
    const uint64_t shape_one[] = {4, 2};
    std::vector<uint8_t> one(4 * 2 * 4, 1);
    w.add_tensor(std::string(kTensorOne), TensorType::F32, shape_one, one);
    const uint64_t shape_two[] = {32, 2};
    std::vector<uint8_t> two(2 * 34, 2);
    w.add_tensor(std::string(kTensorTwo), TensorType::Q8_0, shape_two, two);

    const auto path = temp_dir("good-gguf") / "good.gguf";
    w.write(path.string());
    std::vector<uint8_t> bytes = read_file(path);
    std::filesystem::remove_all(path.parent_path());
    return bytes;
}

std::vector<BrokenGguf> broken_gguf_cases() {
    const std::vector<uint8_t> good = good_gguf_bytes();
    std::vector<BrokenGguf> cases;
    const auto add = [&](std::string name, std::string expected, auto&& damage) {
        std::vector<uint8_t> bytes = good;
        damage(bytes);
        cases.push_back({std::move(name), std::move(bytes), std::move(expected)});
    };
    const size_t arch_key = find_bytes(good, "general.architecture") - 8;
    const size_t arch_type = arch_key + 8 + 20;
    const size_t ints_type = find_bytes(good, "test.ints") + 9;
    const size_t strs_key = find_bytes(good, "test.strs");
    const size_t strs_count = strs_key + 9 + 4 + 4;
    const size_t flag_value = find_bytes(good, "test.flag") + 9 + 4;
    const size_t align_value = find_bytes(good, "general.alignment") + 17 + 4;
    const TensorEntry one = tensor_entry(good, kTensorOne);
    const TensorEntry two = tensor_entry(good, kTensorTwo);

    add("empty_file", "truncated", [](auto& b) { b.clear(); });
    add("wrong_magic", "bad magic", [](auto& b) { b[0] = 'X'; });
    add("version_1", "version 1 is not supported", [](auto& b) { poke<uint32_t>(b, 4, 1); });
    add("version_99", "unsupported GGUF version 99", [](auto& b) { poke<uint32_t>(b, 4, 99); });
    add("big_endian", "big-endian", [](auto& b) { poke<uint32_t>(b, 4, 0x03000000); });
    add("tensor_count_2_62", "tensor count", [](auto& b) { poke<uint64_t>(b, 8, 1ull << 62); });
    add("kv_count_2_62", "metadata count", [](auto& b) { poke<uint64_t>(b, 16, 1ull << 62); });
    add("key_length_2_60", "runs past the end",
        [&](auto& b) { poke<uint64_t>(b, arch_key, (1ull << 60) + 7); });
    add("string_value_length_2_60", "runs past the end",
        [&](auto& b) { poke<uint64_t>(b, arch_type + 4, (1ull << 60) + 1); });
    add("array_length_2_61", "array 'test.ints' length",
        [&](auto& b) { poke<uint64_t>(b, ints_type + 8, 1ull << 61); });
    add("string_array_length_2_62", "array 'test.strs' length",
        [&](auto& b) { poke<uint64_t>(b, strs_count, 1ull << 62); });
    add("unknown_value_type", "unknown value type 13",
        [&](auto& b) { poke<uint32_t>(b, arch_type, 13); });
    add("unknown_array_element_type", "unknown element type 99",
        [&](auto& b) { poke<uint32_t>(b, ints_type + 4, 99); });
    add("nested_array", "nested arrays", [&](auto& b) { poke<uint32_t>(b, ints_type + 4, 9); });
    add("duplicate_key", "duplicate metadata key 'test.ints'",
        [&](auto& b) { std::memcpy(b.data() + strs_key, "test.ints", 9); });
    add("bool_not_0_or_1", "neither 0 nor 1", [&](auto& b) { b[flag_value] = 2; });
    add("alignment_not_power_of_two", "not a power of two",
        [&](auto& b) { poke<uint32_t>(b, align_value, 48); });
    add("n_dims_9", "n_dims 9", [&](auto& b) { poke<uint32_t>(b, one.n_dims, 9); });
    add("zero_dim", "dimension 1 = 0", [&](auto& b) { poke<uint64_t>(b, one.ne1, 0); });
    add("dims_product_overflow", "overflows", [&](auto& b) {
        poke<uint64_t>(b, one.ne0, 1ull << 32);
        poke<uint64_t>(b, one.ne1, 1ull << 32);
    });
    add("row_not_whole_blocks", "not a multiple of the Q8_0 block size",
        [&](auto& b) { poke<uint64_t>(b, two.ne0, 16); });
    add("tensor_type_99", "unknown tensor type 99",
        [&](auto& b) { poke<uint32_t>(b, one.type, 99); });
    add("tensor_type_removed", "unknown tensor type 4",
        [&](auto& b) { poke<uint32_t>(b, one.type, 4); });
    add("offset_past_end", "runs past the end of the file",
        [&](auto& b) { poke<uint64_t>(b, two.offset, 1ull << 20); });
    add("offset_huge", "runs past the end of the file",
        [&](auto& b) { poke<uint64_t>(b, two.offset, ~0ull << 6); });
    add("misaligned_offset", "not a multiple of the alignment 64",
        [&](auto& b) { poke<uint64_t>(b, two.offset, 32); });
    add("overlapping_tensors", "overlaps", [&](auto& b) { poke<uint64_t>(b, two.offset, 0); });
    add("duplicate_tensor_name", "duplicate tensor 'weight.one'", [&](auto& b) {
        std::memcpy(b.data() + two.n_dims - kTensorTwo.size(), kTensorOne.data(),
                    kTensorOne.size());
    });
    // The file ends with weight.two's 68 bytes and 60 bytes of padding to the 64 alignment.
    add("data_section_cut", "runs past the end of the file",
        [&](auto& b) { b.resize(b.size() - 64); });
    return cases;
}

void copy_with(const std::string& in, const std::string& out,
               const std::function<void(gguf::Writer&)>& edit) {
    const gguf::File file(in);
    gguf::Writer w;
    for (const gguf::Value& v : file.metadata()) w.copy(v);
    edit(w);
    for (const gguf::TensorInfo& t : file.tensors()) {
        w.add_tensor(std::string(t.name), t.type, std::span(t.ne.data(), t.n_dims),
                     std::span(t.data, t.n_bytes));
    }
    w.write(out);
}

}  // namespace ember::test
