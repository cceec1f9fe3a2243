// Keys and values of every past position, per layer, so each new token attends to the past
// without recomputing it. Stored as F16 by default (as llama.cpp does), F32, or quantized in
// Q8_0 / Q4_0 blocks of 32 values (a half / a quarter of F16's memory, for phones; each
// position's head_dim values are whole blocks, so head_dim must be a multiple of 32, as
// llama.cpp requires), head by head:
//   keys:   (n_layer, n_head_kv, n_ctx, head_dim): one KV head's keys of positions 0, 1, ...
//           are one contiguous (n_ctx, head_dim) matrix
//   values: the same.
// The attention reads a head's positions [0, n_kv) of either as one block: one conversion call,
// one stream for the prefetchers (with positions as rows of kv_dim, each head's 64 values would
// be a separate strided piece).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/runtime/page_buffer.h"

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
        return keys_.data() + element_byte(layer, kv_head, pos);
    }
    // A KV head's values from position pos on, the same way.
    const uint8_t* values(int layer, int kv_head, int pos) const {
        return values_.data() + element_byte(layer, kv_head, pos);
    }

    size_t bytes() const { return 2 * bytes_per_array_; }

    // The types a cache can hold, and whether this head size allows `type` (an error message
    // when it does not, empty when it does).
    static std::string check_type(TensorType type, int head_dim);

    // Context shift: rows [begin + discard, end) of every layer and head move down to begin,
    // keys and values, and each moved key row (one head's head_dim values) goes through
    // rotate_key(layer, key) in F32 on the way (its RoPE turned back by discard positions).
    // end > begin + discard.
    void shift(int begin, int discard, int end,
               const std::function<void(int layer, float* key)>& rotate_key);

    // Rows [begin, begin + n) of every layer and head, as bytes in the cache's type: the keys
    // of each (layer, head) in turn, then the values the same way; sequence_bytes(n) long. For
    // saving and restoring a session.
    size_t sequence_bytes(int n) const {
        return 2 * n_heads() * static_cast<size_t>(n) * row_bytes_;
    }
    void read_rows(int begin, int n, uint8_t* out) const;
    void write_rows(int begin, int n, const uint8_t* in);

    // Gives the memory of rows [begin, end) of every layer and head back to the system (whole
    // pages only); their contents are gone. For a sequence whose conversation was dropped.
    void release(int begin, int end);

    // Makes the memory of row `row` of every layer and head resident before it is stored, with
    // the rest of its block of kResidentRows rows: a system call per head and block instead of a
    // page fault per head every few positions (platform::populate_pages; advice: without it the
    // stores fault the pages in). Not thread-safe: called before a pass's parallel stores.
    void make_resident(int row);

  private:
    size_t n_heads() const;  // layers x KV heads
    size_t element_byte(int layer, int kv_head, int pos) const {
        const size_t head = static_cast<size_t>(layer) * n_head_kv_ + kv_head;
        return (head * n_ctx_ + pos) * row_bytes_;
    }

    int n_ctx_, n_head_kv_, head_dim_;
    TensorType type_;
    QuantizeRowFn convert_;     // F32 -> the cache's type (kernels_for, looked up once)
    DequantizeRowFn to_float_;  // and back
    size_t row_bytes_;          // one position of one head: head_dim values in the cache's type
    // Left uninitialised: the pages are only touched (and resident) once positions are used.
    PageBuffer keys_, values_;
    size_t bytes_per_array_ = 0;
    // Per block of kResidentRows rows: whether make_resident has populated it (in every head).
    static constexpr int kResidentRows = 128;
    std::vector<bool> resident_;
};

}  // namespace ember
