// Batches through weights without an integer panel kernel (F32, F16, BF16): a GEMM on F32
// tiles. Row dot products convert every weight again for each group of tokens; here each
// thread converts a tile of rows to F32 once and multiplies it by the whole batch, which is
// what a matrix-matrix kernel is good at (docs/optimizations.md has the numbers).
//
// Two GEMMs can do the multiply: OpenBLAS's sgemm, where ember is built with it, and ember's
// own float kernel (float_kernels().matmul, blocked below for the L2 cache). End to end the
// sgemm measured a little faster, so it is the default where present; ember's kernel serves
// builds without OpenBLAS, and BF16 weights (engine/model/matmul.cpp says why). Both are tested
// against the exact product (tests/matmul_float_test.cpp).
#include <algorithm>
#include <mutex>
#include <vector>

#include "engine/model/matmul.h"

#if EMBER_HAVE_BLAS
#include <cblas.h>
#endif

namespace ember {

bool blas_available() {
#if EMBER_HAVE_BLAS
    return true;
#else
    return false;
#endif
}

namespace {

// ember's kernel works on blocks: 64 tokens by 256 columns of the batch, 128 rows by 256
// columns of the weights.
constexpr int kTokenSlice = 64;
constexpr int64_t kColsBlock = 256;

// Rows per tile: enough that the GEMM's own packing of the batch is paid over many rows (it
// packs the whole batch again for each tile), few enough that the F32 tile stays in the L2
// cache: 128 rows, or 1 MiB of them where rows are narrower than 2048 (an encoder's 384-wide
// rows). A multiple of 16, and as many tiles as the threads can share evenly: 384 rows cut
// into 3 tiles kept one of two threads waiting a third of the time (docs/optimizations.md).
int64_t tile_rows(int64_t rows, int64_t cols, int n_threads) {
    constexpr int64_t kTileBytes = int64_t{1} << 20;
    const int64_t max_rows = std::max<int64_t>(128, kTileBytes / (cols * 4) / 16 * 16);
    int64_t n_tiles = n_threads;
    while ((rows + n_tiles - 1) / n_tiles > max_rows) n_tiles += n_threads;
    const int64_t per_tile = (rows + n_tiles - 1) / n_tiles;
    return std::max<int64_t>(16, (per_tile + 15) / 16 * 16);
}

#if EMBER_HAVE_BLAS
// ember's pool splits the work, so OpenBLAS must not start threads of its own in every call.
// The setting is process-wide (OpenBLAS 0.3.21 has no per-call one); it is made once, on the
// first use of this path.
void blas_single_threaded() {
    static std::once_flag once;
    std::call_once(once, [] { openblas_set_num_threads(1); });
}
#endif

}  // namespace

void matmul_float_batch(const WeightMatrix& w, const QuantizedActivations& x, int n_tokens,
                        float* y, ThreadPool& pool, bool use_blas) {
#if !EMBER_HAVE_BLAS
    use_blas = false;
#endif
    const int64_t cols = w.cols;
    // The batch back in F32 (exact for F16/BF16 activations): X (n_tokens, cols) for sgemm,
    // X^T (cols, n_tokens) for ember's kernel, which takes its right operand row-major.
    std::vector<float> xf(static_cast<size_t>(n_tokens) * cols);
    const DequantizeRowFn x_to_f32 = kernels_for(x.type)->dequantize_row;
    pool.parallel_for(n_tokens, [&](int64_t begin, int64_t end) {
        for (int64_t t = begin; t < end; ++t)
            x_to_f32(x.data.data() + t * x.row_bytes, xf.data() + t * cols, cols);
    });
    // ember's kernel streams its right operand a row at a time; X^T is stored as slices of
    // kTokenSlice tokens, each (cols, width) and contiguous, so that a slice stays in the L2
    // cache and its rows do not map to a handful of cache sets (as rows n_tokens apart would).
    std::vector<float> xt;
    if (!use_blas) {
        xt.resize(xf.size());
        pool.parallel_for(cols, [&](int64_t begin, int64_t end) {
            for (int t0 = 0; t0 < n_tokens; t0 += kTokenSlice) {
                const int width = std::min(kTokenSlice, n_tokens - t0);
                float* slice = xt.data() + t0 * cols;
                for (int64_t c = begin; c < end; ++c)
                    for (int t = 0; t < width; ++t) slice[c * width + t] = xf[(t0 + t) * cols + c];
            }
        });
    }
#if EMBER_HAVE_BLAS
    if (use_blas) blas_single_threaded();
#endif

    const int64_t rows_per_tile = tile_rows(w.rows, cols, pool.size());
    const int64_t n_tiles = (w.rows + rows_per_tile - 1) / rows_per_tile;
    pool.parallel_for(n_tiles, [&](int64_t begin, int64_t end) {
        // Kept per thread between calls: a forward pass asks for the same sizes again and again.
        thread_local std::vector<float> tile, product, partial;
        tile.resize(static_cast<size_t>(rows_per_tile * cols));
        for (int64_t i = begin; i < end; ++i) {
            const int64_t r0 = i * rows_per_tile;
            const int64_t n_rows = std::min(rows_per_tile, w.rows - r0);
            for (int64_t r = 0; r < n_rows; ++r)
                w.kernels->dequantize_row(w.row(r0 + r), tile.data() + r * cols, cols);
            if (use_blas) {
#if EMBER_HAVE_BLAS
                // Y[:, r0:] (n_tokens, n_rows) = X (n_tokens, cols) @ tile^T (cols, n_rows)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n_tokens,
                            static_cast<int>(n_rows), static_cast<int>(cols), 1.0f, xf.data(),
                            static_cast<int>(cols), tile.data(), static_cast<int>(cols), 0.0f,
                            y + r0, static_cast<int>(w.rows));
#endif
                continue;
            }
            // product (n_rows, n_tokens) = tile (n_rows, cols) @ X^T (cols, n_tokens), blocked
            // so that the operands of each call stay in the L2 cache: kColsBlock columns of
            // the tile (128 KiB at most) against a slice of tokens (64 KiB), the blocks' sums
            // added up in `product`.
            product.resize(static_cast<size_t>(n_rows * n_tokens));
            partial.resize(static_cast<size_t>(n_rows * kTokenSlice));
            for (int64_t k0 = 0; k0 < cols; k0 += kColsBlock) {
                const int kc = static_cast<int>(std::min(kColsBlock, cols - k0));
                for (int t0 = 0; t0 < n_tokens; t0 += kTokenSlice) {
                    const int width = std::min(kTokenSlice, n_tokens - t0);
                    const float* x_block = xt.data() + t0 * cols + k0 * width;
                    if (k0 == 0) {
                        float_kernels().matmul(static_cast<int>(n_rows), width, kc, tile.data(),
                                               cols, x_block, width, product.data() + t0, n_tokens);
                        continue;
                    }
                    float_kernels().matmul(static_cast<int>(n_rows), width, kc, tile.data() + k0,
                                           cols, x_block, width, partial.data(), width);
                    for (int64_t r = 0; r < n_rows; ++r)
                        for (int j = 0; j < width; ++j)
                            product[r * n_tokens + t0 + j] += partial[r * width + j];
                }
            }
            for (int t = 0; t < n_tokens; ++t)  // Y[t, r0 + r] = product[r, t]
                for (int64_t r = 0; r < n_rows; ++r)
                    y[t * w.rows + r0 + r] = product[r * n_tokens + t];
        }
    });
}

}  // namespace ember
