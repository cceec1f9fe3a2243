// Keys and values of every past position, per layer, so each new token attends to the past
// without recomputing it. Stored as F16 by default (as llama.cpp does) or F32, head by head:
//   keys:   (n_layer, n_head_kv, n_ctx, head_dim): one KV head's keys of positions 0, 1, ...
//           are one contiguous (n_ctx, head_dim) matrix
//   values: the same.
// The attention reads a head's positions [0, n_kv) of either as one block: one conversion call,
// one stream for the prefetchers (with positions as rows of kv_dim, each head's 64 values would
// be a separate strided piece).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "kernels/kernels.h"
#include "kernels/tensor_type.h"

namespace ember {

class KvCache {
  public:
    KvCache(int n_layer, int n_ctx, int n_head_kv, int head_dim, TensorType type);

    TensorType type() const { return type_; }
    int n_ctx() const { return n_ctx_; }

    // Stores position pos's keys and values (n_head_kv * head_dim floats each, head after
    // head) for a layer, converted.
    void store(int layer, int pos, const float* keys, const float* values);

    // A KV head's keys from position pos on: head_dim elements per position, contiguous.
    const uint8_t* keys(int layer, int kv_head, int pos) const {
        return keys_.get() + element_byte(layer, kv_head, pos);
    }
    // A KV head's values from position pos on, the same way.
    const uint8_t* values(int layer, int kv_head, int pos) const {
        return values_.get() + element_byte(layer, kv_head, pos);
    }

    size_t bytes() const { return 2 * bytes_per_array_; }

    // Context shift: rows [begin + discard, end) of every layer and head move down to begin,
    // keys and values, and each moved key row (one head's head_dim values) goes through
    // rotate_key in F32 on the way (its RoPE turned back by discard positions). end > begin +
    // discard.
    void shift(int begin, int discard, int end, const std::function<void(float*)>& rotate_key);

    // Gives the memory of rows [begin, end) of every layer and head back to the system (whole
    // pages only); their contents are gone. For a sequence whose conversation was dropped.
    void release(int begin, int end);

  private:
    size_t row_bytes() const;  // one position of one head
    size_t n_heads() const;    // layers x KV heads
    size_t element_byte(int layer, int kv_head, int pos) const {
        const size_t head = static_cast<size_t>(layer) * n_head_kv_ + kv_head;
        return (head * n_ctx_ + pos) * head_dim_ * elem_bytes_;
    }

    int n_ctx_, n_head_kv_, head_dim_;
    TensorType type_;
    QuantizeRowFn convert_;     // F32 -> the cache's type (kernels_for, looked up once)
    DequantizeRowFn to_float_;  // and back
    size_t elem_bytes_;
    // Left uninitialised: the pages are only touched (and resident) once positions are used.
    std::unique_ptr<uint8_t[]> keys_, values_;
    size_t bytes_per_array_ = 0;
};

}  // namespace ember
