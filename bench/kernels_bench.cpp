// Matrix-vector speed of every weight type's dot product, reference and active (SIMD) path:
// W (rows, cols) @ x (cols), one thread. Reports weight bytes read per second (GB/s) and
// multiply-adds per second (GFLOP/s, 2 per weight); packed_token/, packed_few/ and packed_batch/
// one token, 5 and a batch of 64 through the load-time packed panels (weights in cache);
// packed_stream/ one token and packed_stream_few/ 5 and 9 (speculation's checks) through 128 MB
// of packed weights read from memory; float_batch/ a prompt batch through float weights.
// EMBER_KERNELS=avx2 measures the AVX2 kernels on an AVX-512 machine. Usage: kernels_bench
// [--benchmark_filter=Q4_0]
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "engine/model/matmul.h"
#include "kernels/cpu_features.h"
#include "kernels/kernels.h"

namespace {

using ember::TensorType;

// rows x cols weights of a type, quantized from normal values (or random bits with small
// scales where the type has no quantizer).
std::vector<uint8_t> random_weights(TensorType type, int64_t rows, int64_t cols,
                                    std::mt19937& rng) {
    const size_t row_bytes = ember::row_bytes(type, cols);
    std::vector<uint8_t> weights(row_bytes * rows);
    std::normal_distribution<float> normal(0.0f, 0.02f);
    std::vector<float> row(cols);
    const ember::TypeKernels& ref = *ember::reference_kernels(type);
    if (ref.quantize_weights != nullptr) {
        for (int64_t r = 0; r < rows; ++r) {
            for (float& v : row) v = normal(rng);
            ref.quantize_weights(row.data(), weights.data() + r * row_bytes, cols);
        }
    } else {  // no quantizer yet: random bits with a small (super-)block scale
        for (auto& b : weights) b = static_cast<uint8_t>(rng());
        const size_t block = ember::tensor_type_info(type).bytes_per_block;
        const size_t d_at = type == TensorType::Q6_K   ? 208
                            : type == TensorType::Q3_K ? 108
                            : type == TensorType::Q2_K ? 80
                                                       : 0;
        for (size_t at = 0; at < weights.size(); at += block) {
            const uint16_t small = 0x1400;  // fp16 ~0.001, for d and (where present) dmin
            std::memcpy(&weights[at + d_at], &small, 2);
            if (type == TensorType::Q2_K || type == TensorType::Q4_K || type == TensorType::Q5_K)
                std::memcpy(&weights[at + d_at + 2], &small, 2);
        }
    }
    return weights;
}

void BM_MatVec(benchmark::State& state, TensorType type, bool reference) {
    const int64_t cols = 4096, rows = 1024;
    const ember::TypeKernels& k =
        reference ? *ember::reference_kernels(type) : *ember::kernels_for(type);
    const ember::TypeKernels& act = *ember::reference_kernels(k.activation_type);
    const size_t row_bytes = ember::row_bytes(type, cols);
    std::mt19937 rng(1);
    const std::vector<uint8_t> weights = random_weights(type, rows, cols, rng);
    std::normal_distribution<float> normal(0.0f, 0.02f);
    std::vector<float> row(cols);
    std::vector<uint8_t> x(ember::row_bytes(k.activation_type, cols));
    for (float& v : row) v = normal(rng);
    act.quantize_row(row.data(), x.data(), cols);
    std::vector<float> y(rows);
    for (auto _ : state) {
        for (int64_t r = 0; r < rows; ++r)
            y[r] = k.vec_dot(cols, weights.data() + r * row_bytes, x.data());
        benchmark::DoNotOptimize(y.data());
    }
    state.counters["GB/s"] =
        benchmark::Counter(static_cast<double>(weights.size()) * state.iterations(),
                           benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
    state.counters["GFLOP/s"] = benchmark::Counter(2.0 * cols * rows * state.iterations() / 1e9,
                                                   benchmark::Counter::kIsRate);
}

// n_tokens random activation rows in a type's activation type, with the per-block arrays of a
// Q8Batch (kernels.h) filled as the engine fills them.
struct Batch {
    std::vector<uint8_t> rows;
    std::vector<float> scales, block_s;
    std::vector<int32_t> sums;
    std::vector<uint8_t> tiles;
    ember::Q8Batch view;
};
Batch random_batch(const ember::TypeKernels& k, int64_t cols, int n_tokens, std::mt19937& rng) {
    Batch b;
    const size_t row_bytes = ember::row_bytes(k.activation_type, cols);
    const int64_t n_blocks = cols / 32;
    b.rows.resize(row_bytes * n_tokens);
    b.scales.resize(n_blocks * n_tokens);
    b.block_s.resize(n_blocks * n_tokens);
    b.sums.resize(n_blocks * n_tokens);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> values(cols);
    for (int t = 0; t < n_tokens; ++t) {
        for (float& v : values) v = normal(rng);
        uint8_t* row = b.rows.data() + t * row_bytes;
        ember::reference_kernels(k.activation_type)->quantize_row(values.data(), row, cols);
        if (k.activation_type == TensorType::Q8_0) {
            ember::q8_0_scales_and_sums(row, cols, &b.scales[t * n_blocks], &b.sums[t * n_blocks]);
        } else if (k.activation_type == TensorType::Q8_1) {
            ember::q8_1_scales_and_s(row, cols, &b.scales[t * n_blocks], &b.block_s[t * n_blocks]);
        }
    }
    b.view = {b.rows.data(), row_bytes, b.scales.data(), b.sums.data(), n_tokens, b.block_s.data()};
    if (k.activation_type == TensorType::Q8_0 && n_tokens >= 2 &&
        n_tokens <= ember::kTiledTokensMax) {
        b.tiles.resize(ember::q8_0_token_tiles_bytes(n_tokens, cols));
        ember::q8_0_token_tiles(b.view, cols, b.tiles.data());
        b.view.tiles = b.tiles.data();
    }
    return b;
}

// Weights packed at load time (kernels.h, Pack8Fn) against n_tokens tokens, 8 rows per call
// (gemm_packed8), 16 (gemm_packed16) or 32 (gemm_packed32). 256 x 2048 weights stay in the L2
// cache, so this is the kernel's arithmetic ceiling, not the memory's: for one token
// (packed_token/, how generation runs), for 5 (packed_few/: a check of 4 guessed tokens, a
// server's slots) and for a batch of 64 (packed_batch/, prompt processing).
void BM_Packed(benchmark::State& state, TensorType type, int rows_per_call, int n_tokens) {
    const int64_t cols = 2048, rows = 256;
    const ember::TypeKernels& k = *ember::kernels_for(type);
    const size_t row_bytes = ember::row_bytes(type, cols);
    std::mt19937 rng(1);
    const std::vector<uint8_t> weights = random_weights(type, rows, cols, rng);
    const size_t group_bytes = ember::packed_group_bytes(k, cols, row_bytes);
    std::vector<uint8_t> packed(rows / 8 * group_bytes);
    for (int64_t g = 0; g < rows / 8; ++g)
        k.pack8(cols, weights.data() + 8 * g * row_bytes, row_bytes,
                packed.data() + g * group_bytes);
    const Batch batch = random_batch(k, cols, n_tokens, rng);
    std::vector<float> y(rows * n_tokens);
    for (auto _ : state) {
        const ember::GemmPacked8Fn gemm = rows_per_call == 32   ? k.gemm_packed32
                                          : rows_per_call == 16 ? k.gemm_packed16
                                                                : k.gemm_packed8;
        for (int64_t g = 0; g < rows / 8; g += rows_per_call / 8)
            gemm(cols, packed.data() + g * group_bytes, batch.view, y.data() + 8 * g, rows);
        benchmark::DoNotOptimize(y.data());
    }
    state.counters["GB/s"] =
        benchmark::Counter(static_cast<double>(weights.size()) * state.iterations(),
                           benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
    state.counters["GFLOP/s"] = benchmark::Counter(
        2.0 * cols * rows * n_tokens * state.iterations() / 1e9, benchmark::Counter::kIsRate);
}

// One token through packed weights far larger than the caches, as generation meets an output
// head or a layer's matrices: ~128 MB of rows of 1024 values (a vocabulary head's shape) through
// matmul() on one or two threads. GB/s here is the kernel's rate out of memory, to set beside
// the read bandwidth `ember bench` measures (packed_token/ is the ceiling with the weights in
// cache).
void BM_PackedStream(benchmark::State& state, TensorType type, int n_threads, int64_t cols,
                     int n_tokens) {
    const size_t row_bytes = ember::row_bytes(type, cols);
    const int64_t rows = ((int64_t{128} << 20) / static_cast<int64_t>(row_bytes)) / 32 * 32;
    const ember::TypeKernels& k = *ember::kernels_for(type);
    std::mt19937 rng(5);
    // One random 32-row tile repeated: quantizing 128 MB would take longer than the run.
    const std::vector<uint8_t> tile = random_weights(type, 32, cols, rng);
    const size_t group_bytes = ember::packed_group_bytes(k, cols, row_bytes);
    std::vector<uint8_t> packed(rows / 8 * group_bytes);
    for (int64_t g = 0; g < rows / 8; ++g)
        k.pack8(cols, tile.data() + 8 * (g % 4) * row_bytes, row_bytes,
                packed.data() + g * group_bytes);
    ember::WeightMatrix w;
    w.data = packed.data();  // (not read: the packed copy is)
    w.type = type;
    w.rows = rows;
    w.cols = cols;
    w.row_bytes = row_bytes;
    w.kernels = &k;
    w.packed = packed.data();
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> x_values(static_cast<size_t>(cols) * n_tokens);
    for (float& v : x_values) v = normal(rng);
    ember::ThreadPool pool(n_threads);
    ember::QuantizedActivations x;
    x.quantize(x_values.data(), n_tokens, cols, k.activation_type, pool);
    std::vector<float> y(static_cast<size_t>(rows) * n_tokens);
    for (auto _ : state) {
        ember::matmul(w, x, n_tokens, y.data(), pool);
        benchmark::DoNotOptimize(y.data());
    }
    state.counters["GB/s"] =
        benchmark::Counter(static_cast<double>(packed.size()) * state.iterations(),
                           benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
}

// A prompt batch through float weights (engine/model/matmul_float.cpp): 512 tokens x (2048, 5632)
// weights (TinyLlama's FFN down projection) on one or two threads, with OpenBLAS's sgemm or ember's
// float kernel on the F32 tiles, the weight-to-F32 conversion included. Reports multiply-adds per
// second (GFLOP/s).
void BM_FloatBatch(benchmark::State& state, TensorType type, bool use_blas, int n_threads) {
    const int64_t rows = 2048, cols = 5632;
    const int n_tokens = 512;
    std::mt19937 rng(3);
    const std::vector<uint8_t> weights = random_weights(type, rows, cols, rng);
    ember::WeightMatrix w;
    w.data = weights.data();
    w.type = type;
    w.rows = rows;
    w.cols = cols;
    w.row_bytes = ember::row_bytes(type, cols);
    w.kernels = ember::kernels_for(type);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> x_values(static_cast<size_t>(n_tokens * cols));
    for (float& v : x_values) v = normal(rng);
    ember::ThreadPool pool(n_threads);
    ember::QuantizedActivations x;
    x.quantize(x_values.data(), n_tokens, cols, w.kernels->activation_type, pool);
    std::vector<float> y(static_cast<size_t>(n_tokens * rows));
    for (auto _ : state) {
        ember::matmul_float_batch(w, x, n_tokens, y.data(), pool, use_blas);
        benchmark::DoNotOptimize(y.data());
    }
    state.counters["GFLOP/s"] =
        benchmark::Counter(2.0 * rows * cols * n_tokens * state.iterations(),
                           benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
}

void register_all() {
    for (TensorType t : {TensorType::F32, TensorType::F16, TensorType::BF16}) {
        const std::string name(ember::tensor_type_name(t));
        for (const int n_threads : {1, 2}) {
            const std::string threads = "/threads:" + std::to_string(n_threads);
            benchmark::RegisterBenchmark(("float_batch/" + name + "/ember" + threads).c_str(),
                                         BM_FloatBatch, t, false, n_threads)
                ->UseRealTime();
            if (ember::blas_available()) {
                benchmark::RegisterBenchmark(("float_batch/" + name + "/sgemm" + threads).c_str(),
                                             BM_FloatBatch, t, true, n_threads)
                    ->UseRealTime();
            }
        }
    }
    for (TensorType t :
         {TensorType::F32,     TensorType::F16,    TensorType::BF16,   TensorType::Q8_0,
          TensorType::Q4_0,    TensorType::Q4_1,   TensorType::Q5_0,   TensorType::Q5_1,
          TensorType::Q2_K,    TensorType::Q3_K,   TensorType::Q4_K,   TensorType::Q5_K,
          TensorType::Q6_K,    TensorType::IQ4_NL, TensorType::IQ4_XS, TensorType::IQ3_S,
          TensorType::IQ3_XXS, TensorType::IQ2_S,  TensorType::IQ2_XS, TensorType::IQ2_XXS,
          TensorType::IQ1_S,   TensorType::IQ1_M}) {
        const std::string name(ember::tensor_type_name(t));
        benchmark::RegisterBenchmark(("matvec/" + name + "/reference").c_str(), BM_MatVec, t, true);
        benchmark::RegisterBenchmark(("matvec/" + name + "/" + ember::active_kernel_set()).c_str(),
                                     BM_MatVec, t, false);
        for (const int n_tokens : {1, 5, 64}) {
            const std::string kind = n_tokens == 1   ? "packed_token/"
                                     : n_tokens == 5 ? "packed_few/"
                                                     : "packed_batch/";
            const ember::TypeKernels& k = *ember::kernels_for(t);
            for (const auto& [rows, gemm] :
                 {std::pair{8, k.gemm_packed8}, {16, k.gemm_packed16}, {32, k.gemm_packed32}}) {
                if (gemm == nullptr || (rows == 32 && n_tokens < 4)) continue;  // (batches only)
                benchmark::RegisterBenchmark(
                    (kind + name + "/" + std::to_string(rows) + "_rows").c_str(), BM_Packed, t,
                    rows, n_tokens);
            }
        }
        if (ember::kernels_for(t)->pack8 != nullptr) {
            for (const int64_t cols : {1024, 4096}) {
                for (const int n_threads : {1, 2}) {
                    for (const int n_tokens : {1, 5, 9}) {  // generation; checks of 4 and 8 guesses
                        benchmark::RegisterBenchmark(
                            ((n_tokens == 1 ? "packed_stream/" : "packed_stream_few/") + name +
                             "/" + std::to_string(cols) + "_cols/" +
                             (n_tokens == 1 ? "" : std::to_string(n_tokens) + "_tokens/") +
                             "threads:" + std::to_string(n_threads))
                                .c_str(),
                            BM_PackedStream, t, n_threads, cols, n_tokens)
                            ->UseRealTime();
                    }
                }
            }
        }
    }
}

const int registered = (register_all(), 0);

}  // namespace
