// The batch path for float weights (engine/matmul_float.cpp) against a double-precision
// product: F32, F16 and BF16 weights, both GEMMs (OpenBLAS's sgemm where built in, ember's
// float kernel), odd shapes, batches across the 64-token slices, one to three threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>

#include "engine/model/matmul.h"

namespace ember {
namespace {

struct Shape {
    int64_t rows, cols;
    int n_tokens;
};

// Empty if every output is within the float-summation bound of the exact product.
std::string check(TensorType type, const Shape& s, int n_threads, bool use_blas,
                  std::mt19937& rng) {
    const TypeKernels& k = *kernels_for(type);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> w_values(static_cast<size_t>(s.rows * s.cols));
    for (int64_t i = 0; i < s.rows * s.cols; ++i) {
        const int64_t row = i / s.cols;
        // Every 7th row zero, and another every 7th with values up to F16's largest.
        const float large = std::clamp(2e4f * normal(rng), -65504.0f, 65504.0f);
        w_values[i] = row % 7 == 3 ? 0.0f : row % 7 == 5 ? large : normal(rng);
    }
    const size_t w_row_bytes = row_bytes(type, s.cols);
    std::vector<uint8_t> w_data(w_row_bytes * s.rows);
    for (int64_t r = 0; r < s.rows; ++r)
        k.quantize_row(w_values.data() + r * s.cols, w_data.data() + r * w_row_bytes, s.cols);
    WeightMatrix w;
    w.data = w_data.data();
    w.type = type;
    w.rows = s.rows;
    w.cols = s.cols;
    w.row_bytes = w_row_bytes;
    w.kernels = &k;

    std::vector<float> x_values(static_cast<size_t>(s.n_tokens * s.cols));
    for (float& v : x_values) v = normal(rng);
    ThreadPool pool(n_threads);
    QuantizedActivations x;
    x.quantize(x_values.data(), s.n_tokens, s.cols, k.activation_type, pool);

    std::vector<float> y(static_cast<size_t>(s.n_tokens * s.rows), NAN);
    matmul_float_batch(w, x, s.n_tokens, y.data(), pool, use_blas);

    // The exact product of the values the path sees: the stored weights and activations.
    std::vector<float> wd(s.cols), xd(s.cols);
    for (int t = 0; t < s.n_tokens; ++t) {
        kernels_for(x.type)->dequantize_row(x.data.data() + t * x.row_bytes, xd.data(), s.cols);
        for (int64_t r = 0; r < s.rows; ++r) {
            k.dequantize_row(w.row(r), wd.data(), s.cols);
            double want = 0, magnitude = 0;
            for (int64_t c = 0; c < s.cols; ++c) {
                want += double(wd[c]) * xd[c];
                magnitude += std::fabs(double(wd[c]) * xd[c]);
            }
            const double bound = double(s.cols + 2) * 0x1p-24 * magnitude + 1e-30;
            const float got = y[t * s.rows + r];
            if (!(std::fabs(got - want) <= bound)) {
                std::ostringstream why;
                why << tensor_type_name(type) << " " << s.rows << "x" << s.cols << ", "
                    << s.n_tokens << " tokens, " << n_threads << " threads, "
                    << (use_blas ? "sgemm" : "ember") << ": y[" << t << ", " << r << "] = " << got
                    << ", exact " << want << ", bound " << bound;
                return why.str();
            }
        }
    }
    return "";
}

TEST(MatmulFloatBatch, MatchesTheExactProductWithEitherGemm) {
    std::mt19937 rng(17);
    const std::vector<Shape> shapes = {{1, 32, 1},
                                       {17, 96, 5},
                                       {40, 200, 33},
                                       {300, 64, 70},
                                       {130, 128, 130},
                                       {16, 8, 64},
                                       // Tiles of 128 rows at most (rows wider than 2048)
                                       // and of a whole MiB (narrow rows), shared evenly.
                                       {300, 2100, 3},
                                       {1000, 48, 9}};
    std::vector<bool> gemms = {false};
    if (blas_available()) gemms.push_back(true);
    for (const TensorType type : {TensorType::F32, TensorType::F16, TensorType::BF16}) {
        for (const Shape& s : shapes) {
            for (const int n_threads : {1, 2, 3}) {
                for (const bool use_blas : gemms)
                    EXPECT_EQ(check(type, s, n_threads, use_blas, rng), "");
            }
        }
    }
}

}  // namespace
}  // namespace ember
