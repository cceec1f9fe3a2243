// matmul_set (engine/model/matmul.h): several one-row products in one pass of the threads give
// exactly what matmul() gives each alone: packed and unpacked weights, rows past the last whole
// group of 8, several types in one set, one to three threads.
#include <gtest/gtest.h>

#include <memory>
#include <random>

#include "engine/model/matmul.h"

namespace ember {
namespace {

struct OwnedMatrix {
    std::vector<uint8_t> data, packed;
    WeightMatrix w;
};

// A random matrix of `type`, packed as the loader packs it when pack says so and the type can.
std::unique_ptr<OwnedMatrix> random_matrix(TensorType type, int64_t rows, int64_t cols, bool pack,
                                           std::mt19937& rng) {
    const TypeKernels& k = *kernels_for(type);
    auto m = std::make_unique<OwnedMatrix>();
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> row(static_cast<size_t>(cols));
    const size_t bytes = row_bytes(type, cols);
    m->data.resize(bytes * rows);
    for (int64_t r = 0; r < rows; ++r) {
        for (float& v : row) v = normal(rng);
        k.quantize_weights(row.data(), m->data.data() + r * bytes, cols);
    }
    m->w = {m->data.data(), type, rows, cols, bytes, &k};
    if (pack && k.pack8 != nullptr && rows >= 8) {
        m->packed.resize(static_cast<size_t>(rows / 8) * 8 * bytes);
        for (int64_t g = 0; g < rows / 8; ++g) {
            k.pack8(cols, m->data.data() + 8 * g * bytes, bytes, m->packed.data() + g * 8 * bytes);
        }
        m->w.packed = m->packed.data();
    }
    return m;
}

TEST(MatmulSet, EachProductAsMatmulGivesIt) {
    std::mt19937 rng(7);
    const int64_t cols = 512;
    struct Case {
        TensorType type;
        int64_t rows;
        bool pack;
    };
    const std::vector<Case> cases = {
        {TensorType::Q4_0, 96, true},  {TensorType::Q4_K, 100, true}, {TensorType::Q8_0, 13, true},
        {TensorType::Q6_K, 64, true},  {TensorType::Q5_0, 40, false}, {TensorType::F32, 21, false},
        {TensorType::Q4_K, 768, true}, {TensorType::Q4_0, 7, true},
    };
    std::vector<std::unique_ptr<OwnedMatrix>> matrices;
    for (const Case& c : cases)
        matrices.push_back(random_matrix(c.type, c.rows, cols, c.pack, rng));
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> x(static_cast<size_t>(cols));
    for (float& v : x) v = normal(rng);
    for (int n_threads : {1, 2, 3}) {
        SCOPED_TRACE(n_threads);
        ThreadPool pool(n_threads);
        std::vector<QuantizedActivations> inputs(matrices.size());
        std::vector<std::vector<float>> alone(matrices.size()), together(matrices.size());
        std::vector<MatmulJob> jobs;
        for (size_t i = 0; i < matrices.size(); ++i) {
            const WeightMatrix& w = matrices[i]->w;
            inputs[i].quantize(x.data(), 1, cols, w.kernels->activation_type, pool);
            alone[i].assign(static_cast<size_t>(w.rows), 0.0f);
            together[i].assign(static_cast<size_t>(w.rows), -1.0f);
            matmul(w, inputs[i], 1, alone[i].data(), pool);
            jobs.push_back({&w, inputs[i].data.data(), together[i].data()});
        }
        matmul_set(jobs, pool);
        for (size_t i = 0; i < matrices.size(); ++i) {
            SCOPED_TRACE(std::string(tensor_type_name(cases[i].type)) + " rows " +
                         std::to_string(cases[i].rows));
            EXPECT_EQ(together[i], alone[i]);
        }
    }
}

}  // namespace
}  // namespace ember
