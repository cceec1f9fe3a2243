// Writing GGUF version 3 files: metadata first, then tensors whose bytes are produced one
// tensor at a time while writing, so a file far larger than memory can be written (the
// quantizer and `ember synth` stream through it).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "formats/gguf.h"

namespace ember::gguf {

class Writer {
  public:
    // Scalars and strings. Setting a key again replaces its value in place.
    void set_u8(std::string_view key, uint8_t v) { set_scalar(key, ValueType::U8, &v); }
    void set_i8(std::string_view key, int8_t v) { set_scalar(key, ValueType::I8, &v); }
    void set_u16(std::string_view key, uint16_t v) { set_scalar(key, ValueType::U16, &v); }
    void set_i16(std::string_view key, int16_t v) { set_scalar(key, ValueType::I16, &v); }
    void set_u32(std::string_view key, uint32_t v) { set_scalar(key, ValueType::U32, &v); }
    void set_i32(std::string_view key, int32_t v) { set_scalar(key, ValueType::I32, &v); }
    void set_u64(std::string_view key, uint64_t v) { set_scalar(key, ValueType::U64, &v); }
    void set_i64(std::string_view key, int64_t v) { set_scalar(key, ValueType::I64, &v); }
    void set_f32(std::string_view key, float v) { set_scalar(key, ValueType::F32, &v); }
    void set_f64(std::string_view key, double v) { set_scalar(key, ValueType::F64, &v); }
    void set_bool(std::string_view key, bool v);
    void set_string(std::string_view key, std::string_view v);

    // Arrays: numeric elements from little-endian memory (`count` elements of `elem`), or strings.
    void set_array(std::string_view key, ValueType elem, const void* data, uint64_t count);
    void set_array_f32(std::string_view key, std::span<const float> v) {
        set_array(key, ValueType::F32, v.data(), v.size());
    }
    void set_array_i32(std::string_view key, std::span<const int32_t> v) {
        set_array(key, ValueType::I32, v.data(), v.size());
    }
    void set_array_strings(std::string_view key, std::span<const std::string> v);
    void set_array_strings(std::string_view key, std::span<const std::string_view> v);

    // Copies a value read from another file (keeping its type), under its own key or another.
    void copy(const Value& v) { copy(v.key(), v); }
    void copy(std::string_view key, const Value& v);
    void remove(std::string_view key);

    // Alignment of the data section (a power of two); written as general.alignment if not 32.
    void set_alignment(uint32_t alignment);

    // A tensor: its shape (ne[0] = values per row, a multiple of the type's block size) and a
    // function that writes exactly its bytes into the span it is given, called during write().
    using Fill = std::function<void(std::span<uint8_t> out)>;
    void add_tensor(std::string name, TensorType type, std::span<const uint64_t> ne, Fill fill);
    // The same with bytes held by the writer.
    void add_tensor(std::string name, TensorType type, std::span<const uint64_t> ne,
                    std::span<const uint8_t> bytes);

    // Writes the file through an OutputFile (beside `path`, renamed into place when complete);
    // refuses a `path` that is one of `inputs`. Throws ember::Error on an I/O error, leaving
    // nothing under `path`. `on_tensor(i, n)` is called after each tensor (progress output).
    void write(const std::string& path, std::span<const std::string> inputs = {},
               const std::function<void(size_t done, size_t total)>& on_tensor = {}) const;

  private:
    struct Entry {
        std::string key;
        std::vector<uint8_t> encoded;  // u32 type followed by the value, as stored in the file
    };
    struct Tensor {
        std::string name;
        TensorType type;
        std::vector<uint64_t> ne;
        uint64_t n_bytes;
        Fill fill;
    };
    Entry& entry_for(std::string_view key);
    void set_scalar(std::string_view key, ValueType type, const void* v);

    std::vector<Entry> entries_;
    std::vector<Tensor> tensors_;
    uint32_t alignment_ = kDefaultAlignment;
};

}  // namespace ember::gguf
