#include "engine/model/kv_cache.h"

#include <cstring>
#include <vector>

#include "engine/runtime/system_memory.h"
#include "formats/error.h"
#include "kernels/kernels.h"

namespace ember {

KvCache::KvCache(int n_layer, int n_ctx, int n_head_kv, int head_dim, TensorType type)
    : n_ctx_(n_ctx), n_head_kv_(n_head_kv), head_dim_(head_dim), type_(type) {
    if (type != TensorType::F16 && type != TensorType::F32) {
        throw Error("KV cache type must be F16 or F32");
    }
    // F32 -> the cache's type, rounded as the activations' conversion rounds (for F32, a copy).
    convert_ = kernels_for(type)->quantize_row;
    to_float_ = kernels_for(type)->dequantize_row;
    elem_bytes_ = type == TensorType::F16 ? 2 : 4;
    bytes_per_array_ = static_cast<size_t>(n_layer) * n_head_kv * n_ctx * head_dim * elem_bytes_;
    keys_.reset(new uint8_t[bytes_per_array_]);
    values_.reset(new uint8_t[bytes_per_array_]);
}

void KvCache::store(int layer, int pos, const float* keys, const float* values) {
    for (int h = 0; h < n_head_kv_; ++h) {
        const size_t at = element_byte(layer, h, pos);
        convert_(keys + h * head_dim_, keys_.get() + at, head_dim_);
        convert_(values + h * head_dim_, values_.get() + at, head_dim_);
    }
}

// The caches hold (layer, kv head) matrices of n_ctx rows, head_dim values each.
size_t KvCache::row_bytes() const {
    return static_cast<size_t>(head_dim_) * elem_bytes_;
}
size_t KvCache::n_heads() const {
    return bytes_per_array_ / (n_ctx_ * row_bytes());
}

void KvCache::shift(int begin, int discard, int end,
                    const std::function<void(float*)>& rotate_key) {
    const size_t row = row_bytes();
    const size_t heads = n_heads();
    const size_t moved = static_cast<size_t>(end - begin - discard);
    std::vector<float> key(head_dim_);
    for (size_t head = 0; head < heads; ++head) {
        uint8_t* keys = keys_.get() + (head * n_ctx_ + begin) * row;
        uint8_t* values = values_.get() + (head * n_ctx_ + begin) * row;
        std::memmove(keys, keys + discard * row, moved * row);
        std::memmove(values, values + discard * row, moved * row);
        for (size_t r = 0; r < moved; ++r) {
            to_float_(keys + r * row, key.data(), head_dim_);
            rotate_key(key.data());
            convert_(key.data(), keys + r * row, head_dim_);
        }
    }
}

void KvCache::release(int begin, int end) {
    if (end <= begin) return;
    const size_t row = row_bytes();
    const size_t heads = n_heads();
    for (size_t head = 0; head < heads; ++head) {
        const size_t at = (head * n_ctx_ + begin) * row;
        const size_t bytes = static_cast<size_t>(end - begin) * row;
        release_pages(keys_.get() + at, bytes);
        release_pages(values_.get() + at, bytes);
    }
}

}  // namespace ember
