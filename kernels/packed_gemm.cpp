#include "kernels/packed_gemm.h"

namespace ember {

int packed_groups_per_unit(const TypeKernels& k, int n_tokens) {
    if (k.gemm_packed32 != nullptr && n_tokens >= 4) return 4;
    if (k.gemm_packed16 != nullptr) return 2;
    return 1;
}

void gemm_packed_groups(const TypeKernels& k, int64_t cols, const uint8_t* packed,
                        size_t group_bytes, int64_t g_begin, int64_t g_end, const Q8Batch& batch,
                        float* y, size_t y_stride) {
    const int per_unit = packed_groups_per_unit(k, batch.n_tokens);
    for (int64_t g = g_begin; g < g_end;) {
        const uint8_t* group = packed + static_cast<size_t>(g) * group_bytes;
        float* out = y + 8 * g;
        if (per_unit >= 4 && g + 4 <= g_end) {
            k.gemm_packed32(cols, group, batch, out, y_stride);
            g += 4;
        } else if (per_unit >= 2 && k.gemm_packed16 != nullptr && g + 2 <= g_end) {
            k.gemm_packed16(cols, group, batch, out, y_stride);
            g += 2;
        } else {
            k.gemm_packed8(cols, group, batch, out, y_stride);
            g += 1;
        }
    }
}

}  // namespace ember
