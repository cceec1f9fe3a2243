// Which panel width runs a packed matrix: a kernels/ decision, since it depends only on the
// kernels a type has here (kernels.h) and the batch. The engine splits a matrix's 8-row groups
// into units of packed_groups_per_unit() across its threads and hands each thread's range to
// gemm_packed_groups().
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/kernels.h"

namespace ember {

// 8-row groups per unit of work for a batch of n_tokens: 4 where the type has 32-row batch
// panels (each activation load serves 32 rows; only for 4 tokens or more), 2 where it has
// 16-row panels (twice the work per instruction), else 1.
int packed_groups_per_unit(const TypeKernels& k, int n_tokens);

// W (rows g_begin*8 .. g_end*8 of a packed matrix) @ batch -> y: groups [g_begin, g_end) of
// `packed` (group g at packed + g * group_bytes), the widest panel that fits first, then
// narrower ones for the groups left at the end. y gets 8 floats per group per token; row r of
// token t lands at y[t * y_stride + r].
void gemm_packed_groups(const TypeKernels& k, int64_t cols, const uint8_t* packed,
                        size_t group_bytes, int64_t g_begin, int64_t g_end, const Q8Batch& batch,
                        float* y, size_t y_stride);

}  // namespace ember
