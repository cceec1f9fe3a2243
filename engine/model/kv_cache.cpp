#include "engine/model/kv_cache.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "engine/runtime/system_memory.h"
#include "formats/error.h"
#include "kernels/kernels.h"

namespace ember {

KvCache::KvCache(int n_layer, int n_ctx, int n_head_kv, int head_dim, TensorType type)
    : n_ctx_(n_ctx), n_head_kv_(n_head_kv), head_dim_(head_dim), type_(type) {
    if (const std::string problem = check_type(type, head_dim); !problem.empty())
        throw Error(problem);
    // F32 -> the cache's type: for F16 and F32 the activations' conversion (for F32, a copy);
    // for Q4_0 (a weight type) its reference quantizer, which llama.cpp's cache copy runs too.
    const TypeKernels& kernels = *kernels_for(type);
    convert_ = kernels.quantize_row ? kernels.quantize_row : kernels.quantize_weights;
    to_float_ = kernels.dequantize_row;
    row_bytes_ = row_bytes(type, static_cast<uint64_t>(head_dim));
    bytes_per_array_ = static_cast<size_t>(n_layer) * n_head_kv * n_ctx * row_bytes_;
    keys_ = PageBuffer(bytes_per_array_, PageSize::Small);
    values_ = PageBuffer(bytes_per_array_, PageSize::Small);
    resident_.assign(static_cast<size_t>((n_ctx + kResidentRows - 1) / kResidentRows), false);
}

std::string KvCache::check_type(TensorType type, int head_dim) {
    if (type == TensorType::F16 || type == TensorType::F32) return {};
    if (type != TensorType::Q8_0 && type != TensorType::Q4_0)
        return "KV cache type must be F16, F32, Q8_0 or Q4_0, not " +
               std::string(tensor_type_name(type));
    if (head_dim % 32 != 0)
        return "a " + std::string(tensor_type_name(type)) +
               " KV cache stores each head's keys in blocks of 32 values, and this model's heads "
               "have " +
               std::to_string(head_dim) + "; use f16 or f32";
    return {};
}

void KvCache::store(int layer, int pos, const float* keys, const float* values) {
    for (int h = 0; h < n_head_kv_; ++h) {
        const size_t at = element_byte(layer, h, pos);
        convert_(keys + h * head_dim_, keys_.data() + at, head_dim_);
        convert_(values + h * head_dim_, values_.data() + at, head_dim_);
    }
}

// The caches hold (layer, kv head) matrices of n_ctx rows, head_dim values each.
size_t KvCache::n_heads() const {
    return bytes_per_array_ / (n_ctx_ * row_bytes_);
}

void KvCache::shift(int begin, int discard, int end,
                    const std::function<void(int layer, float* key)>& rotate_key) {
    const size_t row = row_bytes_;
    const size_t heads = n_heads();
    const size_t moved = static_cast<size_t>(end - begin - discard);
    std::vector<float> key(head_dim_);
    for (size_t head = 0; head < heads; ++head) {
        uint8_t* keys = keys_.data() + (head * n_ctx_ + begin) * row;
        uint8_t* values = values_.data() + (head * n_ctx_ + begin) * row;
        std::memmove(keys, keys + discard * row, moved * row);
        std::memmove(values, values + discard * row, moved * row);
        for (size_t r = 0; r < moved; ++r) {
            to_float_(keys + r * row, key.data(), head_dim_);
            rotate_key(static_cast<int>(head) / n_head_kv_, key.data());
            convert_(key.data(), keys + r * row, head_dim_);
        }
    }
}

void KvCache::read_rows(int begin, int n, uint8_t* out) const {
    const size_t bytes = static_cast<size_t>(n) * row_bytes_, heads = n_heads();
    for (const uint8_t* array : {keys_.data(), values_.data()}) {
        for (size_t head = 0; head < heads; ++head, out += bytes)
            std::memcpy(out, array + (head * n_ctx_ + begin) * row_bytes_, bytes);
    }
}

void KvCache::write_rows(int begin, int n, const uint8_t* in) {
    const size_t bytes = static_cast<size_t>(n) * row_bytes_, heads = n_heads();
    for (uint8_t* array : {keys_.data(), values_.data()}) {
        for (size_t head = 0; head < heads; ++head, in += bytes)
            std::memcpy(array + (head * n_ctx_ + begin) * row_bytes_, in, bytes);
    }
}

void KvCache::make_resident(int row) {
    const size_t block = static_cast<size_t>(row / kResidentRows);
    if (resident_[block]) return;
    resident_[block] = true;
    const int begin = static_cast<int>(block) * kResidentRows;
    const size_t bytes = static_cast<size_t>(std::min(kResidentRows, n_ctx_ - begin)) * row_bytes_;
    for (size_t head = 0; head < n_heads(); ++head) {
        const size_t at = (head * n_ctx_ + begin) * row_bytes_;
        keys_.populate(at, bytes);
        values_.populate(at, bytes);
    }
}

void KvCache::release(int begin, int end) {
    if (end <= begin) return;
    // The blocks the range touches are populated again when next used (a block partly kept
    // populates its resident pages again: nothing).
    for (int b = begin / kResidentRows; b <= (end - 1) / kResidentRows; ++b) resident_[b] = false;
    const size_t row = row_bytes_;
    const size_t heads = n_heads();
    for (size_t head = 0; head < heads; ++head) {
        const size_t at = (head * n_ctx_ + begin) * row;
        const size_t bytes = static_cast<size_t>(end - begin) * row;
        release_pages(keys_.data() + at, bytes);
        release_pages(values_.data() + at, bytes);
    }
}

}  // namespace ember
