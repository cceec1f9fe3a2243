// Matrix products of the forward pass: which kernel runs a weight for a batch, and how the
// threads split it (matmul.h).
#include "engine/model/matmul.h"

#include <algorithm>

#include "engine/model/ops.h"
#include "kernels/packed_gemm.h"

namespace ember {

void QuantizedActivations::quantize(const float* x, int n_tokens, int64_t cols, TensorType act_type,
                                    ThreadPool& pool) {
    type = act_type;
    row_bytes = ember::row_bytes(act_type, cols);
    data.resize(row_bytes * static_cast<size_t>(n_tokens));
    const QuantizeRowFn quantize_row = kernels_for(act_type)->quantize_row;
    const auto rows = [&](int64_t begin, int64_t end) {
        for (int64_t t = begin; t < end; ++t)
            quantize_row(x + t * cols, data.data() + t * row_bytes, cols);
    };
    for_tokens(pool, n_tokens, rows);
}

namespace {

// Rows [row_begin, row_end) of W @ x for every token, a weight row at a time.
void matmul_rows(const WeightMatrix& w, const QuantizedActivations& x, int n_tokens, float* y,
                 int64_t row_begin, int64_t row_end) {
    const VecDotFn vec_dot = w.kernels->vec_dot;
    const VecDot4Fn vec_dot4 = w.kernels->vec_dot4;
    for (int64_t r = row_begin; r < row_end; ++r) {
        const uint8_t* w_row = w.row(r);
        int t = 0;
        if (vec_dot4 != nullptr) {  // four tokens per pass over the weight row
            for (; t + 4 <= n_tokens; t += 4) {
                float out[4];
                vec_dot4(w.cols, w_row, x.data.data() + t * x.row_bytes, x.row_bytes, out);
                for (int i = 0; i < 4; ++i) y[(t + i) * w.rows + r] = out[i];
            }
        }
        for (; t < n_tokens; ++t) {
            y[t * w.rows + r] = vec_dot(w.cols, w_row, x.data.data() + t * x.row_bytes);
        }
    }
}

// With a panel kernel (Gemm8Fn, or GemmPacked8Fn on weights packed at load time): threads split
// groups of 8 rows (packed: units of 1, 2 or 4 groups); each meets the whole batch while its
// panel stays in the L1/L2 cache.
void matmul_panels(const WeightMatrix& w, const QuantizedActivations& x, int n_tokens, float* y,
                   ThreadPool& pool) {
    // Q8_0: per block of every token, its scale as a float and the sum of its quants; Q8_1:
    // its scale and s as floats. (Q8_K blocks carry theirs.)
    const bool q8_1 = x.type == TensorType::Q8_1;
    const int64_t n_blocks = x.type == TensorType::Q8_0 || q8_1 ? w.cols / 32 : 0;
    std::vector<float> scales(static_cast<size_t>(n_tokens * n_blocks));
    std::vector<int32_t> sums(q8_1 ? 0 : scales.size());
    std::vector<float> block_s(q8_1 ? scales.size() : 0);
    for (int t = 0; t < n_tokens && n_blocks > 0; ++t) {
        const uint8_t* row = x.data.data() + t * x.row_bytes;
        if (q8_1) {
            q8_1_scales_and_s(row, w.cols, &scales[t * n_blocks], &block_s[t * n_blocks]);
        } else {
            q8_0_scales_and_sums(row, w.cols, &scales[t * n_blocks], &sums[t * n_blocks]);
        }
    }
    const Q8Batch batch{x.data.data(), x.row_bytes, scales.data(),
                        sums.data(),   n_tokens,    block_s.data()};
    const int64_t groups = w.rows / 8;
    const TypeKernels& k = *w.kernels;
    if (w.packed != nullptr) {
        // Units of 1, 2 or 4 groups, as wide as this CPU's panels go (kernels/packed_gemm.h).
        const int64_t per_unit = packed_groups_per_unit(k, n_tokens);
        pool.parallel_for((groups + per_unit - 1) / per_unit, [&](int64_t begin, int64_t end) {
            gemm_packed_groups(k, w.cols, w.packed, 8 * w.row_bytes, begin * per_unit,
                               std::min(end * per_unit, groups), batch, y, w.rows);
        });
    } else {
        pool.parallel_for(groups, [&](int64_t begin, int64_t end) {
            for (int64_t g = begin; g < end; ++g)
                k.gemm8(w.cols, w.row(8 * g), w.row_bytes, batch, y + 8 * g, w.rows);
        });
    }
    if (w.rows % 8 != 0) matmul_rows(w, x, n_tokens, y, 8 * groups, w.rows);
}

// The per-block arrays a panel kernel reads for one activation row (Q8_0, Q8_1; none for
// Q8_K), in `scales`, `sums` and `block_s`, and the Q8Batch over them.
Q8Batch one_row_batch(const WeightMatrix& w, const uint8_t* x, size_t row_bytes,
                      std::vector<float>& scales, std::vector<int32_t>& sums,
                      std::vector<float>& block_s) {
    const TensorType type = w.kernels->activation_type;
    const bool q8_1 = type == TensorType::Q8_1;
    const int64_t n_blocks = type == TensorType::Q8_0 || q8_1 ? w.cols / 32 : 0;
    scales.resize(static_cast<size_t>(n_blocks));
    sums.resize(q8_1 ? 0 : scales.size());
    block_s.resize(q8_1 ? scales.size() : 0);
    if (n_blocks > 0 && q8_1) q8_1_scales_and_s(x, w.cols, scales.data(), block_s.data());
    if (n_blocks > 0 && !q8_1) q8_0_scales_and_sums(x, w.cols, scales.data(), sums.data());
    return Q8Batch{x, row_bytes, scales.data(), sums.data(), 1, block_s.data()};
}

}  // namespace

void matmul_set(std::span<const MatmulJob> jobs, ThreadPool& pool) {
    // Each job's units: packed row groups (of packed_groups_per_unit), then its last rows past
    // the groups as one unit; or, unpacked, 8 rows a unit.
    struct Plan {
        int64_t groups_per_unit = 0, packed_units = 0, units = 0, first = 0;
        Q8Batch batch{};
    };
    const size_t n_jobs = jobs.size();
    std::vector<Plan> plans(n_jobs);
    std::vector<std::vector<float>> scales(n_jobs), block_s(n_jobs);
    std::vector<std::vector<int32_t>> sums(n_jobs);
    int64_t total = 0;
    for (size_t j = 0; j < n_jobs; ++j) {
        const WeightMatrix& w = *jobs[j].w;
        Plan& p = plans[j];
        p.first = total;
        if (w.packed != nullptr) {
            const int64_t groups = w.rows / 8;
            p.groups_per_unit = packed_groups_per_unit(*w.kernels, 1);
            p.packed_units = (groups + p.groups_per_unit - 1) / p.groups_per_unit;
            p.units = p.packed_units + (w.rows % 8 != 0 ? 1 : 0);
            p.batch = one_row_batch(w, jobs[j].x, row_bytes(w.kernels->activation_type, w.cols),
                                    scales[j], sums[j], block_s[j]);
        } else {
            p.units = (w.rows + 7) / 8;
        }
        total += p.units;
    }
    pool.parallel_for(total, [&](int64_t begin, int64_t end) {
        size_t j = static_cast<size_t>(
            std::upper_bound(plans.begin(), plans.end(), begin,
                             [](int64_t u, const Plan& p) { return u < p.first; }) -
            plans.begin() - 1);
        for (; j < n_jobs && plans[j].first < end; ++j) {
            const Plan& p = plans[j];
            const WeightMatrix& w = *jobs[j].w;
            const int64_t u0 = std::max(begin, p.first) - p.first;
            const int64_t u1 = std::min(end, p.first + p.units) - p.first;
            if (u0 >= u1) continue;
            float* y = jobs[j].y;
            int64_t row_begin = 0, row_end = 0;  // rows by dot products
            if (w.packed != nullptr) {
                const int64_t groups = w.rows / 8;
                const int64_t g0 = std::min(u0 * p.groups_per_unit, groups);
                const int64_t g1 =
                    std::min(std::min(u1, p.packed_units) * p.groups_per_unit, groups);
                if (g0 < g1) {
                    gemm_packed_groups(*w.kernels, w.cols, w.packed, 8 * w.row_bytes, g0, g1,
                                       p.batch, y, w.rows);
                }
                if (u1 > p.packed_units) row_begin = 8 * groups, row_end = w.rows;
            } else {
                row_begin = 8 * u0, row_end = std::min(8 * u1, w.rows);
            }
            const VecDotFn vec_dot = w.kernels->vec_dot;
            for (int64_t r = row_begin; r < row_end; ++r)
                y[r] = vec_dot(w.cols, w.row(r), jobs[j].x);
        }
    });
}

void matmul(const WeightMatrix& w, const QuantizedActivations& x, int n_tokens, float* y,
            ThreadPool& pool) {
    const bool float_weights =
        w.type == TensorType::F32 || w.type == TensorType::F16 || w.type == TensorType::BF16;
    if (float_weights && n_tokens >= kFloatGemmMinTokens) {
        // BF16 activations keep 8 significant bits, so a sum's rounding error flips more of
        // them than F16's: OpenBLAS's sgemm (one long sequential sum per output) moved mini-BF16
        // off llama.cpp's logits by more than ember's blocked kernel does (docs in the test).
        const bool use_blas = blas_available() && w.type != TensorType::BF16;
        matmul_float_batch(w, x, n_tokens, y, pool, use_blas);
        return;
    }
    // Packed weights go through their panels even for one token (generation): the packing
    // already did the work that makes panels cost more than row dot products for small batches.
    if (w.packed != nullptr || (w.kernels->gemm8 != nullptr && n_tokens >= 4 && w.rows >= 8)) {
        matmul_panels(w, x, n_tokens, y, pool);
        return;
    }
    pool.parallel_for(w.rows, [&](int64_t row_begin, int64_t row_end) {
        matmul_rows(w, x, n_tokens, y, row_begin, row_end);
    });
}

}  // namespace ember
