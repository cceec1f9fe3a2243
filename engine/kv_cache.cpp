#include "engine/kv_cache.h"

#include <cstring>

#include "formats/error.h"
#include "kernels/fp16.h"

namespace ember {

KvCache::KvCache(int n_layer, int n_ctx, int kv_dim, TensorType type)
    : n_ctx_(n_ctx), kv_dim_(kv_dim), type_(type) {
    if (type != TensorType::F16 && type != TensorType::F32) {
        throw Error("KV cache type must be F16 or F32");
    }
    elem_bytes_ = type == TensorType::F16 ? 2 : 4;
    bytes_per_array_ = static_cast<size_t>(n_layer) * n_ctx * kv_dim * elem_bytes_;
    keys_.reset(new uint8_t[bytes_per_array_]);
    values_.reset(new uint8_t[bytes_per_array_]);
}

void KvCache::store(int layer, int pos, const float* keys, const float* values) {
    uint8_t* k = keys_.get() + element_byte(layer, pos, 0);
    uint8_t* v = values_.get() + element_byte(layer, pos, 0);
    if (type_ == TensorType::F16) {
        for (int d = 0; d < kv_dim_; ++d) {
            const fp16_t key_half = f32_to_fp16(keys[d]), value_half = f32_to_fp16(values[d]);
            std::memcpy(k + 2 * d, &key_half, 2);
            std::memcpy(v + 2 * d, &value_half, 2);
        }
    } else {
        std::memcpy(k, keys, kv_dim_ * sizeof(float));
        std::memcpy(v, values, kv_dim_ * sizeof(float));
    }
}

}  // namespace ember
