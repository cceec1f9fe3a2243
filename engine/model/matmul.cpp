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

// Rows [row_begin, row_end) of W @ x for every token, a weight row at a time; x's rows start at
// x_rows, row_bytes apart.
void matmul_rows(const WeightMatrix& w, const uint8_t* x_rows, size_t row_bytes, int n_tokens,
                 float* y, int64_t row_begin, int64_t row_end) {
    const VecDotFn vec_dot = w.kernels->vec_dot;
    for (int64_t r = row_begin; r < row_end; ++r) {
        const uint8_t* w_row = w.row(r);
        int t = 0;
        // Eight, then four tokens per pass over the weight row where the set has such kernels.
        const auto tokens_at_once = [&](VecDot4Fn dots, int k) {
            if (dots == nullptr) return;
            for (; t + k <= n_tokens; t += k) {
                float out[8];
                dots(w.cols, w_row, x_rows + t * row_bytes, row_bytes, out);
                for (int i = 0; i < k; ++i) y[(t + i) * w.rows + r] = out[i];
            }
        };
        tokens_at_once(w.kernels->vec_dot8, 8);
        tokens_at_once(w.kernels->vec_dot4, 4);
        for (; t < n_tokens; ++t) {
            y[t * w.rows + r] = vec_dot(w.cols, w_row, x_rows + t * row_bytes);
        }
    }
}

// A batch as the panel kernels take it: Q8_0 blocks with, per block of every token, its scale
// as a float and the sum of its quants; Q8_1 with its scale and s as floats (Q8_K blocks carry
// theirs). Rows [first, first + n_tokens) of x.
// (The Q8Batch is made when asked for, from the vectors where they are then: a PanelBatch can
// be moved and copied.)
struct PanelBatch {
    std::vector<float> scales;
    std::vector<int32_t> sums;
    std::vector<float> block_s;
    std::vector<uint8_t> tiles;  // Q8_0, 2..kTiledTokensMax tokens (kernels.h)
    const uint8_t* rows;
    size_t row_bytes;
    int n_tokens;
    Q8Batch batch() const {
        return Q8Batch{rows,
                       row_bytes,
                       scales.data(),
                       sums.data(),
                       n_tokens,
                       block_s.data(),
                       tiles.empty() ? nullptr : tiles.data()};
    }
    PanelBatch(const QuantizedActivations& x, int first, int n, int64_t cols)
        : rows(x.data.data() + static_cast<size_t>(first) * x.row_bytes),
          row_bytes(x.row_bytes),
          n_tokens(n) {
        const bool q8_1 = x.type == TensorType::Q8_1;
        const int64_t n_blocks = x.type == TensorType::Q8_0 || q8_1 ? cols / 32 : 0;
        scales.resize(static_cast<size_t>(n_tokens * n_blocks));
        sums.resize(q8_1 ? 0 : scales.size());
        block_s.resize(q8_1 ? scales.size() : 0);
        for (int t = 0; t < n_tokens && n_blocks > 0; ++t) {
            const uint8_t* row = rows + t * x.row_bytes;
            if (q8_1) {
                q8_1_scales_and_s(row, cols, &scales[t * n_blocks], &block_s[t * n_blocks]);
            } else {
                q8_0_scales_and_sums(row, cols, &scales[t * n_blocks], &sums[t * n_blocks]);
            }
        }
        if (x.type == TensorType::Q8_0 && n_tokens >= 2 && n_tokens <= kTiledTokensMax) {
            tiles.resize(q8_0_token_tiles_bytes(n_tokens, cols));
            q8_0_token_tiles(batch(), cols, tiles.data());
        }
    }
};

// With a panel kernel (Gemm8Fn, or GemmPacked8Fn on weights packed at load time): threads split
// groups of 8 rows (packed: units of 1, 2 or 4 groups); each meets the whole batch while its
// panel stays in the L1/L2 cache.
void matmul_panels(const WeightMatrix& w, const QuantizedActivations& x, int n_tokens, float* y,
                   ThreadPool& pool) {
    const PanelBatch panel(x, 0, n_tokens, w.cols);
    const Q8Batch batch = panel.batch();
    const int64_t groups = w.rows / 8;
    const TypeKernels& k = *w.kernels;
    if (w.packed != nullptr) {
        // Units of 1, 2 or 4 groups, as wide as this CPU's panels go (kernels/packed_gemm.h).
        const int64_t per_unit = packed_groups_per_unit(k, n_tokens);
        pool.parallel_for((groups + per_unit - 1) / per_unit, [&](int64_t begin, int64_t end) {
            gemm_packed_groups(k, w.cols, w.packed, w.packed_group_bytes(), begin * per_unit,
                               std::min(end * per_unit, groups), batch, y, w.rows);
        });
    } else {
        pool.parallel_for(groups, [&](int64_t begin, int64_t end) {
            for (int64_t g = begin; g < end; ++g)
                k.gemm8(w.cols, w.row(8 * g), w.row_bytes, batch, y + 8 * g, w.rows);
        });
    }
    if (w.rows % 8 != 0)
        matmul_rows(w, x.data.data(), x.row_bytes, n_tokens, y, 8 * groups, w.rows);
}

bool float_weights(const WeightMatrix& w) {
    return w.type == TensorType::F32 || w.type == TensorType::F16 || w.type == TensorType::BF16;
}

}  // namespace

void matmul(const WeightMatrix& w, const QuantizedActivations& x, int n_tokens, float* y,
            ThreadPool& pool) {
    if (float_weights(w) && n_tokens >= kFloatGemmMinTokens) {
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
        matmul_rows(w, x.data.data(), x.row_bytes, n_tokens, y, row_begin, row_end);
    });
}

void matmul_jobs(std::span<const MatMulJob> jobs, ThreadPool& pool) {
    // The packed jobs' batches and units (of 1, 2 or 4 groups of 8 rows), laid end to end.
    struct Packed {
        const MatMulJob* job;
        PanelBatch panel;
        int64_t groups, per_unit, first_unit;
    };
    std::vector<Packed> packed;
    packed.reserve(jobs.size());
    int64_t units = 0;
    for (const MatMulJob& job : jobs) {
        const WeightMatrix& w = *job.w;
        if (w.packed == nullptr || (float_weights(w) && job.n_tokens >= kFloatGemmMinTokens))
            continue;
        const int64_t groups = w.rows / 8;
        const int64_t per_unit = packed_groups_per_unit(*w.kernels, job.n_tokens);
        packed.push_back({&job, PanelBatch(*job.x, job.first_row, job.n_tokens, w.cols), groups,
                          per_unit, units});
        units += (groups + per_unit - 1) / per_unit;
    }
    pool.parallel_for(units, [&](int64_t begin, int64_t end) {
        for (const Packed& p : packed) {
            const int64_t n_units = (p.groups + p.per_unit - 1) / p.per_unit;
            const int64_t from = std::max(begin, p.first_unit) - p.first_unit;
            const int64_t to = std::min(end, p.first_unit + n_units) - p.first_unit;
            if (from >= to) continue;
            const WeightMatrix& w = *p.job->w;
            gemm_packed_groups(*w.kernels, w.cols, w.packed, w.packed_group_bytes(),
                               from * p.per_unit, std::min(to * p.per_unit, p.groups),
                               p.panel.batch(), p.job->y, w.rows);
        }
    });
    size_t next = 0;
    for (const MatMulJob& job : jobs) {
        const WeightMatrix& w = *job.w;
        const uint8_t* rows = job.x->data.data() + job.first_row * job.x->row_bytes;
        if (next < packed.size() && packed[next].job == &job) {
            ++next;
            if (w.rows % 8 != 0)  // the last rows, one at a time
                matmul_rows(w, rows, job.x->row_bytes, job.n_tokens, job.y, w.rows / 8 * 8, w.rows);
        } else if (job.first_row == 0) {
            matmul(w, *job.x, job.n_tokens, job.y, pool);
        } else {  // matmul() reads from x's first row: the job's rows on their own
            QuantizedActivations own;
            own.type = job.x->type;
            own.row_bytes = job.x->row_bytes;
            own.data.assign(rows, rows + job.n_tokens * job.x->row_bytes);
            matmul(w, own, job.n_tokens, job.y, pool);
        }
    }
}

}  // namespace ember
