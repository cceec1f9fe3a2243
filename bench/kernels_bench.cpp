// Matrix-vector speed of every weight type's dot product, reference and active (SIMD) path:
// W (rows, cols) @ x (cols), one thread. Reports weight bytes read per second (GB/s) and
// multiply-adds per second (GFLOP/s, 2 per weight). Usage: kernels_bench [--benchmark_filter=Q4_0]
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/kernels.h"

namespace {

using ember::TensorType;

void BM_MatVec(benchmark::State& state, TensorType type, bool reference) {
    const int64_t cols = 4096, rows = 1024;
    const ember::TypeKernels& k =
        reference ? *ember::reference_kernels(type) : *ember::kernels_for(type);
    const ember::TypeKernels& act = *ember::reference_kernels(k.activation_type);
    const size_t row_bytes = ember::row_bytes(type, cols);
    std::vector<uint8_t> weights(row_bytes * rows);
    std::mt19937 rng(1);
    std::normal_distribution<float> normal(0.0f, 0.02f);
    std::vector<float> row(cols);
    const ember::TypeKernels& ref = *ember::reference_kernels(type);
    if (ref.quantize_weights != nullptr) {
        for (int64_t r = 0; r < rows; ++r) {
            for (float& v : row) v = normal(rng);
            ref.quantize_weights(row.data(), weights.data() + r * row_bytes, cols);
        }
    } else {  // no quantizer yet (K-quants): random bits with a small super-block scale
        for (auto& b : weights) b = static_cast<uint8_t>(rng());
        const size_t block = ember::tensor_type_info(type).bytes_per_block;
        const size_t d_at = type == TensorType::Q6_K   ? 208
                            : type == TensorType::Q3_K ? 108
                            : type == TensorType::Q2_K ? 80
                                                       : 0;
        for (size_t at = 0; at < weights.size(); at += block) {
            const uint16_t small = 0x1400;  // fp16 ~0.001, for d and (where present) dmin
            std::memcpy(&weights[at + d_at], &small, 2);
            if (type != TensorType::Q6_K && type != TensorType::Q3_K)
                std::memcpy(&weights[at + d_at + 2], &small, 2);
        }
    }
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

void register_all() {
    for (TensorType t :
         {TensorType::F32, TensorType::F16, TensorType::BF16, TensorType::Q8_0, TensorType::Q4_0,
          TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1, TensorType::Q2_K, TensorType::Q3_K,
          TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K}) {
        const std::string name(ember::tensor_type_name(t));
        benchmark::RegisterBenchmark(("matvec/" + name + "/reference").c_str(), BM_MatVec, t, true);
        benchmark::RegisterBenchmark(("matvec/" + name + "/" + ember::active_kernel_set()).c_str(),
                                     BM_MatVec, t, false);
    }
}

const int registered = (register_all(), 0);

}  // namespace
