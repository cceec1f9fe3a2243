// Reading GGUF files: the header, the typed key-value metadata and the tensor directory, with
// every tensor a zero-copy view into the memory-mapped file.
//
// GGUF (ggml's file format; the layout is summarised in third_party_notes/gguf.md):
//   header   magic "GGUF", u32 version (2 or 3), u64 tensor_count, u64 metadata_kv_count
//   metadata metadata_kv_count x (string key, u32 value_type, value)
//   tensors  tensor_count x (string name, u32 n_dims, n_dims x u64 ne, u32 type, u64 offset)
//   padding  up to a multiple of general.alignment (default 32)
//   data     tensor bytes; each offset is relative to here and aligned
// Strings are a u64 byte length followed by the bytes (UTF-8, no terminator); everything is
// little-endian.
//
// Everything is validated before the File is handed out: a file that passes can be used
// without further bounds checks. A bad file throws ember::Error with the file's name, the byte
// offset and what is wrong.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "kernels/tensor_type.h"

namespace ember {
class MappedFile;
}

namespace ember::gguf {

enum class ValueType : uint32_t {
    U8 = 0,
    I8 = 1,
    U16 = 2,
    I16 = 3,
    U32 = 4,
    I32 = 5,
    F32 = 6,
    BOOL = 7,
    STRING = 8,
    ARRAY = 9,
    U64 = 10,
    I64 = 11,
    F64 = 12,
};
constexpr uint32_t kValueTypeCount = 13;

// "u32", "str", "arr", ... as `ember inspect` prints them.
std::string_view value_type_name(ValueType type);
// Bytes of one fixed-size value; 0 for STRING and ARRAY.
uint32_t value_type_size(ValueType type);
bool is_integer_type(ValueType type);

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr uint32_t kDefaultAlignment = 32;
constexpr uint32_t kMaxDims = 4;
constexpr uint64_t kMaxTensorNameBytes = 64;  // the GGUF spec's limit on tensor names

class File;

// One metadata value, viewing the file. Checked getters throw ember::Error naming the file and
// the key when the stored type does not fit the request.
class Value {
  public:
    std::string_view key() const { return key_; }
    ValueType type() const { return type_; }

    int64_t get_int() const;   // any integer type whose value fits int64
    uint32_t get_u32() const;  // any integer type whose value fits u32
    float get_f32() const;     // F32, or F64 narrowed
    bool get_bool() const;
    std::string_view get_string() const;

    // Arrays (type() == ARRAY). Element getters check the element type once per call.
    ValueType array_type() const { return elem_type_; }
    uint64_t array_size() const { return count_; }
    std::string_view string_at(uint64_t i) const;  // array of STRING
    float f32_at(uint64_t i) const;                // array of F32
    int64_t int_at(uint64_t i) const;              // array of any integer type
    // Raw little-endian bytes of a scalar, or of a numeric array's elements (unaligned).
    const uint8_t* raw_data() const { return data_; }

    // The value as text, arrays shortened to `max_items` elements (`ember inspect`).
    std::string to_string(size_t max_items = 8) const;
    // "u32", "str", "arr[str,512]"
    std::string type_string() const;

  private:
    friend class File;
    friend class Parser;
    [[noreturn]] void type_error(std::string_view wanted) const;

    const File* file_ = nullptr;
    std::string_view key_;
    ValueType type_ = ValueType::U8;
    ValueType elem_type_ = ValueType::U8;    // arrays only
    uint64_t count_ = 0;                     // array elements, or string bytes
    const uint8_t* data_ = nullptr;          // scalar bytes, string bytes, numeric array elements
    std::vector<std::string_view> strings_;  // arrays of strings only
};

struct TensorInfo {
    std::string_view name;
    TensorType type;
    uint32_t n_dims;
    std::array<uint64_t, kMaxDims> ne;  // ne[0]: values per row (contiguous); unused dims are 1
    uint64_t n_elements;
    uint64_t n_bytes;
    uint64_t offset;      // from the start of the data section
    const uint8_t* data;  // into the mapping; n_bytes long

    uint64_t n_rows() const { return n_elements / ne[0]; }
};

class File {
  public:
    // Maps and validates a file. Throws ember::Error on any problem.
    explicit File(const std::string& path);
    // Validates bytes held by the caller, who keeps them alive (tests, fuzzing).
    File(std::span<const uint8_t> bytes, std::string name);
    ~File();
    File(const File&) = delete;
    File& operator=(const File&) = delete;

    const std::string& name() const { return name_; }
    uint32_t version() const { return version_; }
    uint32_t alignment() const { return alignment_; }
    uint64_t file_size() const { return bytes_.size(); }
    uint64_t data_offset() const { return data_offset_; }      // where the data section starts
    std::span<const uint8_t> bytes() const { return bytes_; }  // the whole file

    // Metadata in file order, and lookups by key.
    const std::vector<Value>& metadata() const { return metadata_; }
    const Value* find(std::string_view key) const;
    const Value& at(std::string_view key) const;  // throws if missing
    uint32_t get_u32(std::string_view key) const { return at(key).get_u32(); }
    uint32_t get_u32(std::string_view key, uint32_t fallback) const;
    float get_f32(std::string_view key) const { return at(key).get_f32(); }
    float get_f32(std::string_view key, float fallback) const;
    bool get_bool(std::string_view key, bool fallback) const;
    std::string_view get_string(std::string_view key) const { return at(key).get_string(); }
    std::string_view get_string(std::string_view key, std::string_view fallback) const;
    // An array whose elements have type `elem` (any integer type if elem is an integer type).
    const Value& get_array(std::string_view key, ValueType elem) const;

    // Tensors in file order.
    const std::vector<TensorInfo>& tensors() const { return tensors_; }
    const TensorInfo* find_tensor(std::string_view name) const;

    // Drops the mapped pages inside [begin, begin + size) from memory until they are read again
    // (MappedFile::release); does nothing for caller's bytes.
    void release(const uint8_t* begin, size_t size) const;

  private:
    friend class Parser;
    void parse();

    std::string name_;
    std::unique_ptr<MappedFile> mapping_;  // null when viewing caller's bytes
    std::span<const uint8_t> bytes_;
    uint32_t version_ = 0;
    uint32_t alignment_ = kDefaultAlignment;
    uint64_t data_offset_ = 0;
    std::vector<Value> metadata_;
    std::unordered_map<std::string_view, size_t> metadata_index_;
    std::vector<TensorInfo> tensors_;
    std::unordered_map<std::string_view, size_t> tensor_index_;
};

}  // namespace ember::gguf
