#include "formats/gguf_writer.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "formats/error.h"
#include "formats/output_file.h"

namespace ember::gguf {
namespace {

void put_bytes(std::vector<uint8_t>& out, const void* p, size_t n) {
    // resize + memcpy rather than insert(): GCC 12 warns falsely (stringop-overflow) on insert.
    if (n == 0) return;
    const size_t old_size = out.size();
    out.resize(old_size + n);
    std::memcpy(out.data() + old_size, p, n);
}

template <typename T>
void put(std::vector<uint8_t>& out, T v) {
    put_bytes(out, &v, sizeof(T));
}

void put_string(std::vector<uint8_t>& out, std::string_view s) {
    put<uint64_t>(out, s.size());
    put_bytes(out, s.data(), s.size());
}

}  // namespace

Writer::Entry& Writer::entry_for(std::string_view key) {
    if (key.empty()) throw Error("gguf writer: empty metadata key");
    for (Entry& e : entries_) {
        if (e.key == key) {
            e.encoded.clear();
            return e;
        }
    }
    entries_.push_back({std::string(key), {}});
    return entries_.back();
}

void Writer::set_scalar(std::string_view key, ValueType type, const void* v) {
    Entry& e = entry_for(key);
    put<uint32_t>(e.encoded, static_cast<uint32_t>(type));
    put_bytes(e.encoded, v, value_type_size(type));
}

void Writer::set_bool(std::string_view key, bool v) {
    const uint8_t byte = v ? 1 : 0;
    set_scalar(key, ValueType::BOOL, &byte);
}

void Writer::set_string(std::string_view key, std::string_view v) {
    Entry& e = entry_for(key);
    put<uint32_t>(e.encoded, static_cast<uint32_t>(ValueType::STRING));
    put_string(e.encoded, v);
}

void Writer::set_array(std::string_view key, ValueType elem, const void* data, uint64_t count) {
    if (elem == ValueType::STRING || elem == ValueType::ARRAY) {
        throw Error("gguf writer: set_array takes numeric elements; use set_array_strings");
    }
    Entry& e = entry_for(key);
    put<uint32_t>(e.encoded, static_cast<uint32_t>(ValueType::ARRAY));
    put<uint32_t>(e.encoded, static_cast<uint32_t>(elem));
    put<uint64_t>(e.encoded, count);
    put_bytes(e.encoded, data, count * value_type_size(elem));
}

void Writer::set_array_strings(std::string_view key, std::span<const std::string> v) {
    std::vector<std::string_view> views(v.begin(), v.end());
    set_array_strings(key, views);
}

void Writer::set_array_strings(std::string_view key, std::span<const std::string_view> v) {
    Entry& e = entry_for(key);
    put<uint32_t>(e.encoded, static_cast<uint32_t>(ValueType::ARRAY));
    put<uint32_t>(e.encoded, static_cast<uint32_t>(ValueType::STRING));
    put<uint64_t>(e.encoded, v.size());
    for (std::string_view s : v) put_string(e.encoded, s);
}

void Writer::copy(std::string_view key, const Value& v) {
    switch (v.type()) {
        case ValueType::STRING:
            set_string(key, v.get_string());
            return;
        case ValueType::ARRAY:
            if (v.array_type() == ValueType::STRING) {
                std::vector<std::string_view> strings;
                strings.reserve(v.array_size());
                for (uint64_t i = 0; i < v.array_size(); ++i) strings.push_back(v.string_at(i));
                set_array_strings(key, strings);
            } else {
                set_array(key, v.array_type(), v.raw_data(), v.array_size());
            }
            return;
        default:
            set_scalar(key, v.type(), v.raw_data());
            return;
    }
}

void Writer::remove(std::string_view key) {
    std::erase_if(entries_, [&](const Entry& e) { return e.key == key; });
}

void Writer::set_alignment(uint32_t alignment) {
    if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
        throw Error("gguf writer: alignment " + std::to_string(alignment) +
                    " is not a power of two");
    }
    alignment_ = alignment;
    if (alignment == kDefaultAlignment) {
        remove("general.alignment");
    } else {
        set_u32("general.alignment", alignment);
    }
}

void Writer::add_tensor(std::string name, TensorType type, std::span<const uint64_t> ne,
                        Fill fill) {
    const std::string quoted = "gguf writer: tensor '" + name + "'";
    if (name.empty() || name.size() > kMaxTensorNameBytes)
        throw Error(quoted + ": bad name length");
    if (ne.empty() || ne.size() > kMaxDims) throw Error(quoted + ": needs 1 to 4 dimensions");
    for (const Tensor& t : tensors_) {
        if (t.name == name) throw Error(quoted + " added twice");
    }
    const TensorTypeInfo& info = tensor_type_info(type);
    uint64_t n_elements = 1;
    for (uint64_t d : ne) {
        if (d == 0 || __builtin_mul_overflow(n_elements, d, &n_elements)) {
            throw Error(quoted + ": bad dimensions");
        }
    }
    if (ne[0] % info.block_size != 0) {
        throw Error(quoted + ": rows of " + std::to_string(ne[0]) +
                    " values are not a multiple of " + std::to_string(info.block_size));
    }
    tensors_.push_back({std::move(name), type, std::vector<uint64_t>(ne.begin(), ne.end()),
                        n_elements / info.block_size * info.bytes_per_block, std::move(fill)});
}

void Writer::add_tensor(std::string name, TensorType type, std::span<const uint64_t> ne,
                        std::span<const uint8_t> bytes) {
    auto owned = std::make_shared<std::vector<uint8_t>>(bytes.begin(), bytes.end());
    add_tensor(std::move(name), type, ne, [owned](std::span<uint8_t> out) {
        if (out.size() != owned->size())
            throw Error("gguf writer: tensor bytes do not match its shape");
        std::memcpy(out.data(), owned->data(), out.size());
    });
}

void Writer::write(const std::string& path, std::span<const std::string> inputs,
                   const std::function<void(size_t, size_t)>& on_tensor) const {
    const auto align_up = [&](uint64_t n) {
        return (n + alignment_ - 1) / alignment_ * alignment_;
    };

    std::vector<uint8_t> head;
    put<uint32_t>(head, kMagic);
    put<uint32_t>(head, 3);
    put<uint64_t>(head, tensors_.size());
    put<uint64_t>(head, entries_.size());
    for (const Entry& e : entries_) {
        put_string(head, e.key);
        put_bytes(head, e.encoded.data(), e.encoded.size());
    }
    uint64_t offset = 0;
    for (const Tensor& t : tensors_) {
        put_string(head, t.name);
        put<uint32_t>(head, static_cast<uint32_t>(t.ne.size()));
        for (uint64_t d : t.ne) put<uint64_t>(head, d);
        put<uint32_t>(head, static_cast<uint32_t>(t.type));
        put<uint64_t>(head, offset);
        offset = align_up(offset + t.n_bytes);
    }
    head.resize(align_up(head.size()), 0);

    OutputFile out(path, inputs);
    out.write(head.data(), head.size());
    std::vector<uint8_t> buffer;
    const std::vector<uint8_t> padding(alignment_, 0);
    for (size_t i = 0; i < tensors_.size(); ++i) {
        const Tensor& t = tensors_[i];
        buffer.assign(t.n_bytes, 0);
        try {
            t.fill(buffer);
        } catch (const FileError&) {
            throw;
        } catch (const std::exception& e) {
            throw Error("cannot write " + path + ": tensor '" + t.name + "': " + e.what());
        }
        out.write(buffer.data(), buffer.size());
        out.write(padding.data(), align_up(t.n_bytes) - t.n_bytes);
        if (on_tensor) on_tensor(i + 1, tensors_.size());
    }
    out.commit();
}

}  // namespace ember::gguf
