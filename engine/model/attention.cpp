// The attention sub-layer of the forward pass: Context::attention, called from forward.cpp.
#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "engine/model/context.h"

namespace ember {

// Self-attention for the n new tokens: token t attends to the cache rows
// [attend_begin_[t], attend_end_[t]), every cached position up to its own when generating
// (causal), or the rows of its own text in Context::encode. Query head h reads KV head
// h / heads_per_kv (GQA), so the heads_per_kv query heads of a KV head, over a chunk of tokens,
// form one matrix of query rows and the work is two small matrix products per (KV head, chunk),
// each reading that head's cache slice [begin, end) (the union of the chunk's ranges) once:
//   S (rows, width) = Q (rows, head_dim) @ K^T (head_dim, width) / sqrt(head_dim)
//   P = softmax(S) per row, over the row's own range; 0 outside it
//   O (rows, head_dim) = P (rows, width) @ V (width, head_dim)
// An F16 cache (the default) is read in place: the scores by dot_rows_f16, which sums each
// score alike whatever the batch (so a token's attention is the same alone and in a prompt), and
// for a few query rows (generation) the values by mad_rows_f16; a prompt's chunks convert the
// values slice to F32 once and multiply with the float GEMM, which gives the same floats. Other
// caches' slices are converted to F32 once per thread and KV head (K transposed). q and p are
// rounded as llama.cpp rounds them for its dot products with the cache: to F16 for an F16 cache;
// for a quantized cache q to Q8_0 (the type its flash attention converts Q to for Q8_0 and Q4_0
// keys) and p not at all (it accumulates quantized values rows in F32). ARCH: a windowed layer
// (LayerSpec::window: phi3's, gemma2's even ones) masks positions window or more behind the token
// too; gemma2 soft-caps the scores before the softmax; where the query was scaled in the forward
// pass (query_prescaled) the scores are not.
void Context::attention(int layer, int n) {
    const ModelConfig& c = model_.config();
    const TypeKernels& kv_kernels = *kernels_for(kv_.type());
    const FloatKernels& floats = float_kernels();
    const bool f16_cache = kv_.type() == TensorType::F16;
    const int hd = c.head_dim, heads_per_kv = c.n_head / c.n_head_kv;
    const float scale = c.arch->query_prescaled ? 1.0f : c.query_scale;
    const int window = c.layers[layer].window;
    const int slot = c.layers[layer].slot;  // the layer's place in the KV cache
    const bool quantized_cache = kv_.type() == TensorType::Q8_0 || kv_.type() == TensorType::Q4_0;
    // What q and p are rounded through (nullptr: not rounded).
    const TypeKernels* q_rounding = kv_.type() == TensorType::F32 ? nullptr
                                    : quantized_cache             ? kernels_for(TensorType::Q8_0)
                                                                  : &kv_kernels;
    const TypeKernels* p_rounding = quantized_cache ? nullptr : q_rounding;
    // The first cache row token t attends to in this layer.
    const auto row_begin = [&](int t) {
        return window > 0 ? std::max(attend_begin_[t], attend_end_[t] - window) : attend_begin_[t];
    };
    // Chunks of about 128 query rows: big enough for register tiles, small enough that the
    // causal waste (columns past a row's own position within the chunk) stays a few percent.
    // A chunk never spans two sequences (or two texts in encode), whose cache rows lie apart.
    const int chunk_tokens = std::max(1, 128 / heads_per_kv);
    // Up to this many query rows a task reads an F16 cache's values in place (each value row
    // converted once per 4 query rows, in mad_rows_f16) rather than converting the slice once
    // for all rows: generation's rows (the query heads of one KV head, for one token).
    constexpr int kValuesInPlaceRows = 8;
    struct Chunk {
        int t0, t1;      // its tokens
        int begin, end;  // the cache rows they read: the union of their ranges
    };
    std::vector<Chunk> chunks;
    for (int t = 0; t < n; ++t) {
        if (chunks.empty() || t - chunks.back().t0 == chunk_tokens ||
            attend_begin_[t] != attend_begin_[chunks.back().t0]) {
            chunks.push_back({t, t, row_begin(t), 0});
        }
        Chunk& chunk = chunks.back();
        chunk.t1 = t + 1;
        chunk.begin = std::min(chunk.begin, row_begin(t));
        chunk.end = std::max(chunk.end, attend_end_[t]);
    }
    const int n_chunks = static_cast<int>(chunks.size());
    const int n_tasks = c.n_head_kv * n_chunks;  // KV-head-major: a thread reuses its slice
    int widest = 1;
    for (const Chunk& chunk : chunks) widest = std::max(widest, chunk.end - chunk.begin);
    const int ld = (widest + 15) / 16 * 16;  // row stride of keys_t and scores
    for (AttentionScratch& s : attention_scratch_) s.layer = s.kv_head = -1;  // the cache changed
    // A task costs about its chunk's width; threads take contiguous runs of equal total cost.
    const auto task_cost = [&](int task) {
        const Chunk& chunk = chunks[task % n_chunks];
        return int64_t{chunk.end - chunk.begin};
    };
    pool_.run_balanced(n_tasks, task_cost, [&](int thread, int task) {
        AttentionScratch& s = attention_scratch_[thread];
        const int kv_head = task / n_chunks;
        const Chunk& chunk = chunks[task % n_chunks];
        const int t0 = chunk.t0, t1 = chunk.t1, kv_begin = chunk.begin, kv_end = chunk.end;
        const int width = kv_end - kv_begin, rows = (t1 - t0) * heads_per_kv;

        // An F16 cache's keys are read where they are (dot_rows_f16), and so are its values for
        // a few rows (generation: mad_rows_f16). Otherwise the head's cache rows kv_begin ..
        // kv_end - 1 in F32 (only rows not yet converted: successive chunks of one sequence
        // start alike and extend the slice): the values straight into place, the keys through
        // key_rows into keys_t.
        const bool values_in_place = f16_cache && rows <= kValuesInPlaceRows;
        if (s.layer != layer || s.kv_head != kv_head || s.conv_begin != kv_begin) {
            s.layer = layer, s.kv_head = kv_head, s.conv_begin = s.conv_end = kv_begin;
            s.out.resize(static_cast<size_t>(chunk_tokens) * heads_per_kv * hd);
            s.queries.resize(s.out.size());
            s.scores.resize(static_cast<size_t>(chunk_tokens) * heads_per_kv * ld);
            s.conv.resize(static_cast<size_t>(std::max(ld, heads_per_kv * hd)) * 4);
        }
        if (!values_in_place && s.conv_end < kv_end) {
            const int first = s.conv_end, count = kv_end - first, col = first - s.conv_begin;
            const size_t n_values = static_cast<size_t>(count) * hd;
            s.values.resize(static_cast<size_t>(ld) * hd);
            kv_kernels.dequantize_row(kv_.values(slot, kv_head, first),
                                      &s.values[static_cast<size_t>(col) * hd], n_values);
            if (!f16_cache) {
                s.keys_t.resize(static_cast<size_t>(hd) * ld);
                s.key_rows.resize(n_values);
                kv_kernels.dequantize_row(kv_.keys(slot, kv_head, first), s.key_rows.data(),
                                          n_values);
                // In blocks of 16 positions, so that the reads stay within a few cache lines.
                for (int j0 = 0; j0 < count; j0 += 16) {
                    const int j1 = std::min(count, j0 + 16);
                    for (int i = 0; i < hd; ++i) {
                        float* column = &s.keys_t[static_cast<size_t>(i) * ld + col];
                        for (int j = j0; j < j1; ++j) column[j] = s.key_rows[j * hd + i];
                    }
                }
            }
            s.conv_end = kv_end;
        }

        // Q: row (t - t0) * heads_per_kv + g is token t's query head kv_head * hpk + g.
        for (int t = t0; t < t1; ++t) {
            const float* q = &q_[static_cast<size_t>(t) * c.q_dim() +
                                 static_cast<size_t>(kv_head) * heads_per_kv * hd];
            float* row = &s.queries[static_cast<size_t>(t - t0) * heads_per_kv * hd];
            std::copy(q, q + heads_per_kv * hd, row);
            if (q_rounding) {
                q_rounding->quantize_row(row, s.conv.data(), heads_per_kv * hd);
                q_rounding->dequantize_row(s.conv.data(), row, heads_per_kv * hd);
            }
        }
        // S (rows, width) = Q (rows, hd) @ K^T (hd, width): cache rows kv_begin .. kv_end - 1
        if (f16_cache) {
            floats.dot_rows_f16(
                rows, width, hd, s.queries.data(), hd,
                reinterpret_cast<const uint16_t*>(kv_.keys(slot, kv_head, kv_begin)), hd,
                s.scores.data(), ld);
        } else {
            floats.matmul(rows, width, hd, s.queries.data(), hd, s.keys_t.data(), ld,
                          s.scores.data(), ld);
        }
        for (int r = 0; r < rows; ++r) {
            float* p = &s.scores[static_cast<size_t>(r) * ld];
            const int t = t0 + r / heads_per_kv;
            const int first = row_begin(t) - kv_begin, end = attend_end_[t] - kv_begin;
            if (c.attn_softcap > 0) soft_cap(p + first, end - first, c.attn_softcap);
            for (int j = first; j < end; ++j) p[j] *= scale;
            softmax(p + first, end - first);
            std::fill(p, p + first, 0.0f);
            std::fill(p + end, p + width, 0.0f);
            if (p_rounding) {
                p_rounding->quantize_row(p + first, s.conv.data(), end - first);
                p_rounding->dequantize_row(s.conv.data(), p + first, end - first);
            }
        }
        // O (rows, hd) = P (rows, width) @ V (width, hd); the same floats either way
        if (values_in_place) {
            std::fill_n(s.out.begin(), static_cast<size_t>(rows) * hd, 0.0f);
            floats.mad_rows_f16(
                rows, width, hd, s.scores.data(), ld,
                reinterpret_cast<const uint16_t*>(kv_.values(slot, kv_head, kv_begin)), hd,
                s.out.data(), hd);
        } else {
            floats.matmul(rows, hd, width, s.scores.data(), ld, s.values.data(), hd, s.out.data(),
                          hd);
        }
        for (int t = t0; t < t1; ++t) {
            const float* o = &s.out[static_cast<size_t>(t - t0) * heads_per_kv * hd];
            std::copy(o, o + heads_per_kv * hd,
                      &attn_[static_cast<size_t>(t) * c.q_dim() +
                             static_cast<size_t>(kv_head) * heads_per_kv * hd]);
        }
    });
}

}  // namespace ember
