// GGUF parsing and validation. Every number read from the file is checked against the bytes
// that remain before it sizes anything: a count is never trusted for an allocation or a loop
// until the file is known to be long enough to hold that many items.
#include <algorithm>
#include <bit>
#include <charconv>
#include <cstring>
#include <limits>
#include <string>

#include "formats/error.h"
#include "formats/gguf.h"
#include "formats/mapped_file.h"

static_assert(std::endian::native == std::endian::little,
              "ember reads GGUF's little-endian numbers in place");

namespace ember::gguf {

// ---- value types ----------------------------------------------------------------------------

std::string_view value_type_name(ValueType type) {
    static constexpr std::string_view kNames[kValueTypeCount] = {
        "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "str", "arr", "u64", "i64", "f64"};
    const auto index = static_cast<uint32_t>(type);
    return index < kValueTypeCount ? kNames[index] : "?";
}

uint32_t value_type_size(ValueType type) {
    static constexpr uint32_t kSizes[kValueTypeCount] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    const auto index = static_cast<uint32_t>(type);
    return index < kValueTypeCount ? kSizes[index] : 0;
}

bool is_integer_type(ValueType type) {
    switch (type) {
        case ValueType::U8:
        case ValueType::I8:
        case ValueType::U16:
        case ValueType::I16:
        case ValueType::U32:
        case ValueType::I32:
        case ValueType::U64:
        case ValueType::I64:
            return true;
        default:
            return false;
    }
}

namespace {

template <typename T>
T load(const uint8_t* p) {
    T value;
    std::memcpy(&value, p, sizeof(T));
    return value;
}

// Reads an integer of any GGUF integer type; false if it does not fit int64.
bool load_integer(ValueType type, const uint8_t* p, int64_t* out) {
    switch (type) {
        case ValueType::U8:
            *out = load<uint8_t>(p);
            return true;
        case ValueType::I8:
            *out = load<int8_t>(p);
            return true;
        case ValueType::U16:
            *out = load<uint16_t>(p);
            return true;
        case ValueType::I16:
            *out = load<int16_t>(p);
            return true;
        case ValueType::U32:
            *out = load<uint32_t>(p);
            return true;
        case ValueType::I32:
            *out = load<int32_t>(p);
            return true;
        case ValueType::I64:
            *out = load<int64_t>(p);
            return true;
        case ValueType::U64: {
            const uint64_t v = load<uint64_t>(p);
            if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
            *out = static_cast<int64_t>(v);
            return true;
        }
        default:
            return false;
    }
}

bool is_power_of_two(uint64_t v) {
    return v != 0 && (v & (v - 1)) == 0;
}

}  // namespace

// ---- Value ----------------------------------------------------------------------------------

void Value::type_error(std::string_view wanted) const {
    throw Error(file_->name() + ": metadata key '" + std::string(key_) + "' has type " +
                type_string() + ", expected " + std::string(wanted));
}

int64_t Value::get_int() const {
    int64_t v = 0;
    if (!is_integer_type(type_) || !load_integer(type_, data_, &v)) type_error("an integer");
    return v;
}

uint32_t Value::get_u32() const {
    int64_t v = 0;
    if (!is_integer_type(type_) || !load_integer(type_, data_, &v)) type_error("u32");
    if (v < 0 || v > std::numeric_limits<uint32_t>::max()) {
        throw Error(file_->name() + ": metadata key '" + std::string(key_) +
                    "' = " + std::to_string(v) + " is out of range for u32");
    }
    return static_cast<uint32_t>(v);
}

float Value::get_f32() const {
    if (type_ == ValueType::F32) return load<float>(data_);
    if (type_ == ValueType::F64) return static_cast<float>(load<double>(data_));
    type_error("f32");
}

bool Value::get_bool() const {
    if (type_ != ValueType::BOOL) type_error("bool");
    return data_[0] != 0;
}

std::string_view Value::get_string() const {
    if (type_ != ValueType::STRING) type_error("str");
    return {reinterpret_cast<const char*>(data_), count_};
}

std::string_view Value::string_at(uint64_t i) const {
    if (type_ != ValueType::ARRAY || elem_type_ != ValueType::STRING) type_error("arr[str]");
    if (i >= count_)
        throw Error(file_->name() + ": index past the end of '" + std::string(key_) + "'");
    return strings_[i];
}

float Value::f32_at(uint64_t i) const {
    if (type_ != ValueType::ARRAY || elem_type_ != ValueType::F32) type_error("arr[f32]");
    if (i >= count_)
        throw Error(file_->name() + ": index past the end of '" + std::string(key_) + "'");
    return load<float>(data_ + 4 * i);
}

int64_t Value::int_at(uint64_t i) const {
    int64_t v = 0;
    if (type_ != ValueType::ARRAY || !is_integer_type(elem_type_)) type_error("an integer array");
    if (i >= count_)
        throw Error(file_->name() + ": index past the end of '" + std::string(key_) + "'");
    if (!load_integer(elem_type_, data_ + value_type_size(elem_type_) * i, &v)) {
        type_error("an integer array with values that fit int64");
    }
    return v;
}

std::string Value::type_string() const {
    if (type_ != ValueType::ARRAY) return std::string(value_type_name(type_));
    return "arr[" + std::string(value_type_name(elem_type_)) + "," + std::to_string(count_) + "]";
}

namespace {

void append_quoted(std::string& out, std::string_view s, size_t max_chars) {
    out += '"';
    size_t n = 0;
    for (const char c : s) {
        if (n++ == max_chars) {
            out += "...";
            break;
        }
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else if (u < 0x20 || u == 0x7f) {
            static constexpr char kHex[] = "0123456789abcdef";
            out += "\\x";
            out += kHex[u >> 4];
            out += kHex[u & 15];
        } else {
            out += c;
        }
    }
    out += '"';
}

// The shortest text that reads back to the same number: 10000, 1e-05, 0.1.
template <typename T>
std::string shortest(T v) {
    char buf[64];
    const auto result = std::to_chars(buf, buf + sizeof(buf), v);
    return std::string(buf, result.ptr);
}

std::string scalar_to_string(ValueType type, const uint8_t* p) {
    int64_t v = 0;
    if (load_integer(type, p, &v)) return std::to_string(v);
    switch (type) {
        case ValueType::U64:
            return std::to_string(load<uint64_t>(p));
        case ValueType::F32:
            return shortest(load<float>(p));
        case ValueType::F64:
            return shortest(load<double>(p));
        case ValueType::BOOL:
            return p[0] ? "true" : "false";
        default:
            return "?";
    }
}

}  // namespace

std::string Value::to_string(size_t max_items) const {
    constexpr size_t kMaxStringChars = 120;
    std::string out;
    if (type_ == ValueType::STRING) {
        append_quoted(out, get_string(), kMaxStringChars);
        return out;
    }
    if (type_ != ValueType::ARRAY) return scalar_to_string(type_, data_);
    if (max_items == 0 && count_ > 0) return "[" + std::to_string(count_) + " items]";
    out += '[';
    const uint64_t shown = std::min<uint64_t>(count_, max_items);
    for (uint64_t i = 0; i < shown; ++i) {
        if (i > 0) out += ", ";
        if (elem_type_ == ValueType::STRING) {
            append_quoted(out, strings_[i], kMaxStringChars);
        } else {
            out += scalar_to_string(elem_type_, data_ + value_type_size(elem_type_) * i);
        }
    }
    if (shown < count_) out += ", ... " + std::to_string(count_ - shown) + " more";
    out += ']';
    return out;
}

// ---- Parser ---------------------------------------------------------------------------------

// Walks the bytes front to back. Every read checks the remaining length first; every failure
// names the byte offset where the offending item starts.
class Parser {
  public:
    explicit Parser(File& file) : file_(file), bytes_(file.bytes_) {}

    void run();

  private:
    [[noreturn]] void fail(uint64_t at, const std::string& what) const {
        throw Error(file_.name_ + ": byte " + std::to_string(at) + ": " + what);
    }
    uint64_t remaining() const { return bytes_.size() - pos_; }
    const uint8_t* take(uint64_t n, uint64_t item_start, const char* what) {
        if (n > remaining()) {
            fail(item_start, std::string("truncated ") + what + ": needs " + std::to_string(n) +
                                 " bytes, " + std::to_string(remaining()) + " left in the file");
        }
        const uint8_t* p = bytes_.data() + pos_;
        pos_ += n;
        return p;
    }
    template <typename T>
    T read(const char* what) {
        return load<T>(take(sizeof(T), pos_, what));
    }
    std::string_view read_string(const char* what);
    void read_header();
    void read_value(Value& value, uint64_t value_start);
    void read_metadata(uint64_t n_kv);
    void read_tensor_infos(uint64_t n_tensors);
    void place_tensor_data();

    File& file_;
    std::span<const uint8_t> bytes_;
    uint64_t pos_ = 0;
};

std::string_view Parser::read_string(const char* what) {
    const uint64_t start = pos_;
    const uint64_t length = read<uint64_t>(what);
    if (length > remaining()) {
        fail(start, std::string(what) + " length " + std::to_string(length) +
                        " runs past the end of the file (" + std::to_string(remaining()) +
                        " bytes left)");
    }
    return {reinterpret_cast<const char*>(take(length, start, what)), length};
}

void Parser::read_header() {
    if (bytes_.size() < 4) fail(0, "truncated: not a GGUF file (shorter than the 4-byte magic)");
    const uint32_t magic = read<uint32_t>("magic");
    if (magic != kMagic) {
        fail(0, "bad magic: not a GGUF file (expected the bytes 'GGUF')");
    }
    const uint32_t version = read<uint32_t>("version");
    if (version == 1) {
        fail(4,
             "GGUF version 1 is not supported (it predates 64-bit counts; re-convert the "
             "model with a current tool)");
    }
    if (version != 2 && version != 3) {
        if ((version & 0xffff) == 0 &&
            (__builtin_bswap32(version) == 2 || __builtin_bswap32(version) == 3)) {
            fail(4, "big-endian GGUF file: ember reads only little-endian files");
        }
        fail(4, "unsupported GGUF version " + std::to_string(version) + " (ember reads 2 and 3)");
    }
    file_.version_ = version;
    const uint64_t n_tensors = read<uint64_t>("tensor count");
    const uint64_t n_kv = read<uint64_t>("metadata count");

    // The smallest metadata pair is 8 (key length) + 1 (key) + 4 (type) + 1 (u8 value) bytes; the
    // smallest tensor entry is 8 (name length) + 4 (n_dims) + 8 (one dim) + 4 (type) + 8 (offset).
    constexpr uint64_t kMinKvBytes = 14, kMinTensorBytes = 32;
    if (n_kv > remaining() / kMinKvBytes) {
        fail(16, "metadata count " + std::to_string(n_kv) + " cannot fit in the " +
                     std::to_string(remaining()) + " bytes after the header");
    }
    if (n_tensors > (remaining() - n_kv * kMinKvBytes) / kMinTensorBytes) {
        fail(8, "tensor count " + std::to_string(n_tensors) + " cannot fit in the " +
                    std::to_string(remaining()) + " bytes after the header");
    }
    read_metadata(n_kv);
    read_tensor_infos(n_tensors);
}

void Parser::read_value(Value& value, uint64_t value_start) {
    value.file_ = &file_;
    const uint32_t type = read<uint32_t>("value type");
    if (type >= kValueTypeCount) {
        fail(value_start, "metadata key '" + std::string(value.key_) + "' has unknown value type " +
                              std::to_string(type));
    }
    value.type_ = static_cast<ValueType>(type);
    const uint64_t data_start = pos_;
    switch (value.type_) {
        case ValueType::STRING: {
            const std::string_view s = read_string("string value");
            value.data_ = reinterpret_cast<const uint8_t*>(s.data());
            value.count_ = s.size();
            return;
        }
        case ValueType::ARRAY: {
            const uint32_t elem = read<uint32_t>("array element type");
            if (elem >= kValueTypeCount) {
                fail(data_start, "array '" + std::string(value.key_) +
                                     "' has unknown element type " + std::to_string(elem));
            }
            if (static_cast<ValueType>(elem) == ValueType::ARRAY) {
                fail(data_start, "array '" + std::string(value.key_) +
                                     "' holds arrays; nested arrays are not supported");
            }
            value.elem_type_ = static_cast<ValueType>(elem);
            const uint64_t count_at = pos_;
            const uint64_t count = read<uint64_t>("array length");
            value.count_ = count;
            if (value.elem_type_ == ValueType::STRING) {
                if (count > remaining() / 8) {  // every string needs at least its 8-byte length
                    fail(count_at, "array '" + std::string(value.key_) + "' length " +
                                       std::to_string(count) + " runs past the end of the file");
                }
                value.strings_.reserve(count);
                for (uint64_t i = 0; i < count; ++i) {
                    value.strings_.push_back(read_string("array string"));
                }
                return;
            }
            const uint32_t elem_size = value_type_size(value.elem_type_);
            if (count > remaining() / elem_size) {
                fail(count_at, "array '" + std::string(value.key_) + "' length " +
                                   std::to_string(count) + " runs past the end of the file");
            }
            value.data_ = take(count * elem_size, data_start, "array");
            if (value.elem_type_ == ValueType::BOOL) {
                for (uint64_t i = 0; i < count; ++i) {
                    if (value.data_[i] > 1) {
                        fail(value.data_ - bytes_.data() + i,
                             "bool array element is neither 0 nor 1");
                    }
                }
            }
            return;
        }
        default: {
            value.data_ = take(value_type_size(value.type_), data_start, "value");
            if (value.type_ == ValueType::BOOL && value.data_[0] > 1) {
                fail(data_start,
                     "bool value of '" + std::string(value.key_) + "' is neither 0 nor 1");
            }
            return;
        }
    }
}

void Parser::read_metadata(uint64_t n_kv) {
    file_.metadata_.reserve(n_kv);  // bounded by the file size above
    for (uint64_t i = 0; i < n_kv; ++i) {
        const uint64_t start = pos_;
        Value value;
        value.key_ = read_string("metadata key");
        if (value.key_.empty()) fail(start, "empty metadata key");
        read_value(value, pos_);
        if (file_.metadata_index_.count(value.key_) != 0) {
            fail(start, "duplicate metadata key '" + std::string(value.key_) + "'");
        }
        if (value.key_ == "general.alignment") {
            if (value.type_ != ValueType::U32) {
                fail(start, "general.alignment has type " + value.type_string() + ", expected u32");
            }
            const uint32_t a = value.get_u32();
            if (!is_power_of_two(a)) {
                fail(start, "general.alignment " + std::to_string(a) + " is not a power of two");
            }
            file_.alignment_ = a;
        }
        file_.metadata_index_.emplace(value.key_, file_.metadata_.size());
        file_.metadata_.push_back(std::move(value));
    }
}

void Parser::read_tensor_infos(uint64_t n_tensors) {
    file_.tensors_.reserve(n_tensors);  // bounded by the file size above
    for (uint64_t i = 0; i < n_tensors; ++i) {
        const uint64_t start = pos_;
        TensorInfo t{};
        t.name = read_string("tensor name");
        const std::string quoted = "tensor '" + std::string(t.name) + "'";
        if (t.name.size() > kMaxTensorNameBytes) {
            fail(start, quoted + " has a name longer than " + std::to_string(kMaxTensorNameBytes) +
                            " bytes");
        }
        const uint64_t dims_at = pos_;
        t.n_dims = read<uint32_t>("tensor n_dims");
        if (t.n_dims < 1 || t.n_dims > kMaxDims) {
            fail(dims_at, quoted + " has n_dims " + std::to_string(t.n_dims) + " (must be 1 to 4)");
        }
        t.ne.fill(1);
        t.n_elements = 1;
        for (uint32_t d = 0; d < t.n_dims; ++d) {
            const uint64_t dim_at = pos_;
            t.ne[d] = read<uint64_t>("tensor dimension");
            if (t.ne[d] == 0) fail(dim_at, quoted + " has dimension " + std::to_string(d) + " = 0");
            if (__builtin_mul_overflow(t.n_elements, t.ne[d], &t.n_elements) ||
                t.n_elements > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
                fail(dim_at, quoted + " has dimensions whose product overflows 64 bits");
            }
        }
        const uint64_t type_at = pos_;
        const uint32_t type_id = read<uint32_t>("tensor type");
        const auto info = tensor_type_info(type_id);
        if (!info) fail(type_at, quoted + " has unknown tensor type " + std::to_string(type_id));
        t.type = info->type;
        if (t.ne[0] % info->block_size != 0) {
            fail(dims_at, quoted + " has rows of " + std::to_string(t.ne[0]) + " values, not a " +
                              "multiple of the " + std::string(info->name) + " block size " +
                              std::to_string(info->block_size));
        }
        // n_elements / block_size * bytes_per_block <= n_elements * 4.5, no overflow at 2^63.
        t.n_bytes = t.n_elements / info->block_size * info->bytes_per_block;
        const uint64_t offset_at = pos_;
        t.offset = read<uint64_t>("tensor offset");
        if (t.offset % file_.alignment_ != 0) {
            fail(offset_at, quoted + " offset " + std::to_string(t.offset) +
                                " is not a multiple of the alignment " +
                                std::to_string(file_.alignment_));
        }
        if (file_.tensor_index_.count(t.name) != 0) fail(start, "duplicate " + quoted);
        file_.tensor_index_.emplace(t.name, file_.tensors_.size());
        file_.tensors_.push_back(t);
    }
    place_tensor_data();
}

void Parser::place_tensor_data() {
    const uint64_t a = file_.alignment_;
    const uint64_t data_offset = (pos_ + a - 1) / a * a;  // pos_ <= size < 2^63: no overflow
    file_.data_offset_ = data_offset;
    if (file_.tensors_.empty()) return;
    if (data_offset > bytes_.size()) {
        fail(pos_, "truncated: the tensor data section starts at byte " +
                       std::to_string(data_offset) + ", past the end of the file");
    }
    const uint64_t data_bytes = bytes_.size() - data_offset;
    for (TensorInfo& t : file_.tensors_) {
        if (t.offset > data_bytes || t.n_bytes > data_bytes - t.offset) {
            fail(data_offset, "tensor '" + std::string(t.name) + "' (" + std::to_string(t.n_bytes) +
                                  " bytes at data offset " + std::to_string(t.offset) +
                                  ") runs past the end of the file");
        }
        t.data = bytes_.data() + data_offset + t.offset;
    }
    // Tensors may come in any order, but no two may share bytes.
    std::vector<const TensorInfo*> by_offset;
    by_offset.reserve(file_.tensors_.size());
    for (const TensorInfo& t : file_.tensors_) by_offset.push_back(&t);
    std::sort(by_offset.begin(), by_offset.end(),
              [](const TensorInfo* x, const TensorInfo* y) { return x->offset < y->offset; });
    for (size_t i = 1; i < by_offset.size(); ++i) {
        const TensorInfo& prev = *by_offset[i - 1];
        if (by_offset[i]->offset < prev.offset + prev.n_bytes) {
            fail(data_offset + by_offset[i]->offset, "tensor '" + std::string(by_offset[i]->name) +
                                                         "' overlaps tensor '" +
                                                         std::string(prev.name) + "'");
        }
    }
}

void Parser::run() {
    read_header();
}

// ---- File -----------------------------------------------------------------------------------

File::File(const std::string& path) : name_(path), mapping_(std::make_unique<MappedFile>(path)) {
    bytes_ = mapping_->bytes();
    parse();
}

File::File(std::span<const uint8_t> bytes, std::string name)
    : name_(std::move(name)), bytes_(bytes) {
    parse();
}

File::~File() = default;

void File::parse() {
    Parser(*this).run();
}

const Value* File::find(std::string_view key) const {
    const auto it = metadata_index_.find(key);
    return it == metadata_index_.end() ? nullptr : &metadata_[it->second];
}

const Value& File::at(std::string_view key) const {
    const Value* v = find(key);
    if (v == nullptr) throw Error(name_ + ": missing metadata key '" + std::string(key) + "'");
    return *v;
}

uint32_t File::get_u32(std::string_view key, uint32_t fallback) const {
    const Value* v = find(key);
    return v ? v->get_u32() : fallback;
}

float File::get_f32(std::string_view key, float fallback) const {
    const Value* v = find(key);
    return v ? v->get_f32() : fallback;
}

bool File::get_bool(std::string_view key, bool fallback) const {
    const Value* v = find(key);
    return v ? v->get_bool() : fallback;
}

std::string_view File::get_string(std::string_view key, std::string_view fallback) const {
    const Value* v = find(key);
    return v ? v->get_string() : fallback;
}

const Value& File::get_array(std::string_view key, ValueType elem) const {
    const Value& v = at(key);
    const bool fits =
        v.type() == ValueType::ARRAY &&
        (v.array_type() == elem || (is_integer_type(elem) && is_integer_type(v.array_type())));
    if (!fits) v.type_error("arr[" + std::string(value_type_name(elem)) + "]");
    return v;
}

const TensorInfo* File::find_tensor(std::string_view name) const {
    const auto it = tensor_index_.find(name);
    return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

void File::release(const uint8_t* begin, size_t size) const {
    if (mapping_ != nullptr) mapping_->release(begin, size);
}

}  // namespace ember::gguf
