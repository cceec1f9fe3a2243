// Keys and values of every past position, per layer, so each new token attends to the past
// without recomputing it. Stored as F16 by default (as llama.cpp does) or F32.
//   keys:   (n_ctx, kv_dim) per layer: row p is position p's keys for all KV heads
//   values: (n_ctx, kv_dim) per layer, the same: the attention reads a head's (n_kv, head_dim)
//           slice of either as a matrix with row stride kv_dim.
#pragma once

#include <cstdint>
#include <memory>

#include "kernels/tensor_type.h"

namespace ember {

class KvCache {
  public:
    KvCache(int n_layer, int n_ctx, int kv_dim, TensorType type);

    TensorType type() const { return type_; }
    int n_ctx() const { return n_ctx_; }

    // Stores position pos's keys and values (kv_dim floats each) for a layer, converted.
    void store(int layer, int pos, const float* keys, const float* values);

    // Position pos's keys, starting at component `offset` (a head's start).
    const uint8_t* key(int layer, int pos, int offset) const {
        return keys_.get() + element_byte(layer, pos, offset);
    }
    // Position pos's values, starting at component `offset`.
    const uint8_t* value(int layer, int pos, int offset) const {
        return values_.get() + element_byte(layer, pos, offset);
    }
    int row_elems() const { return kv_dim_; }  // the stride between positions, in elements

    size_t bytes() const { return 2 * bytes_per_array_; }

  private:
    size_t layer_elems() const { return static_cast<size_t>(n_ctx_) * kv_dim_; }
    size_t element_byte(int layer, int pos, int offset) const {
        return (layer_elems() * layer + static_cast<size_t>(pos) * kv_dim_ + offset) * elem_bytes_;
    }

    int n_ctx_, kv_dim_;
    TensorType type_;
    size_t elem_bytes_;
    // Left uninitialised: the pages are only touched (and resident) once positions are used.
    std::unique_ptr<uint8_t[]> keys_, values_;
    size_t bytes_per_array_ = 0;
};

}  // namespace ember
