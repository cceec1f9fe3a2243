// Matrix products of the forward pass, W (rows, cols) @ X (n_tokens, cols): the activations
// converted once into the type the weight's kernels pair with, then the kernel that suits the
// weight and the batch (row dot products, 8-row panels, packed panels, a float GEMM), split
// across the threads by rows of W. The kernels themselves are in kernels/.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/model/model.h"
#include "engine/runtime/thread_pool.h"

namespace ember {

// Activations converted once into the type a weight's vec_dot pairs with (kernels.h).
struct QuantizedActivations {
    TensorType type = TensorType::F32;
    size_t row_bytes = 0;
    std::vector<uint8_t> data;  // n_tokens rows
    // Converts n_tokens rows of cols floats; a batch is split across the pool's threads.
    void quantize(const float* x, int n_tokens, int64_t cols, TensorType act_type,
                  ThreadPool& pool);
};

// W (rows, cols) @ X (n_tokens, cols) -> Y (n_tokens, rows), X already converted to W's
// activation type. Threads split the rows of W, so each weight row is read once per call.
void matmul(const WeightMatrix& w, const QuantizedActivations& x, int n_tokens, float* y,
            ThreadPool& pool);

// One product of a set run together: W @ rows [first_row, first_row + n_tokens) of x (already
// converted to W's activation type) -> y (n_tokens, W.rows).
struct MatMulJob {
    const WeightMatrix* w;
    const QuantizedActivations* x;
    int first_row;
    int n_tokens;
    float* y;
};

// The jobs' products, as matmul() computes each (the same floats), but the packed ones in one
// dispatch of the pool: their groups of rows are split across the threads together, so a set of
// small products (Q, K and V; gate and up; a mixture's chosen experts) costs one hand-out and one
// wait instead of one each, and no thread idles at the end of a small one. Jobs without packed
// weights run one after another through matmul().
void matmul_jobs(std::span<const MatMulJob> jobs, ThreadPool& pool);

// The batch path for weights stored as floats (F32, F16, BF16; matmul_float.cpp): tiles
// of W converted to F32 and multiplied by the batch with a GEMM, OpenBLAS's sgemm if use_blas
// and ember was built with it, ember's float kernel otherwise. matmul() takes it for batches of
// at least kFloatGemmMinTokens, where it measured as fast as row dot products (even at 32
// tokens, ahead above, behind below 16: docs/optimizations.md); tests call it directly to check
// both GEMMs.
inline constexpr int kFloatGemmMinTokens = 32;
void matmul_float_batch(const WeightMatrix& w, const QuantizedActivations& x, int n_tokens,
                        float* y, ThreadPool& pool, bool use_blas);
// Whether this build has OpenBLAS (CMake option EMBER_BLAS).
bool blas_available();

}  // namespace ember
