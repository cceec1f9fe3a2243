// Every SIMD dot product against the scalar reference, on random blocks and on edge cases.
// The K-quants must agree bit for bit (the integer work is exact and the float steps are the
// reference's own). The 32-value types sum their blocks in eight float lanes and the float
// types accumulate in double in another order: those agree within the rounding bound of
// kernels_reference_test.cpp, (4 + 2 * blocks) * 2^-24 * sum |x_i y_i|, doubled.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <random>

#include "kernels/blocks.h"
#include "kernels/cpu_features.h"
#include "kernels/kernels.h"
#include "kernels/simd_kernels.h"

namespace ember {
namespace {

struct SimdCase {
    TensorType type;
    VecDotFn simd;
    bool available;
    const char* isa;
};

enum class Fill { Random, AllZeroBits, AllOneBits, LargeScales };

// A weight row of n values: random bytes (or all 0x00 / 0xff bits) with scale fields set to
// finite values.
std::vector<uint8_t> weight_row(TensorType type, int64_t n, Fill fill, std::mt19937& rng) {
    const TensorTypeInfo& info = tensor_type_info(type);
    std::vector<uint8_t> row(row_bytes(type, n));
    if (type == TensorType::F32 || type == TensorType::F16 || type == TensorType::BF16) {
        std::normal_distribution<float> normal(0.0f, fill == Fill::LargeScales ? 1000.0f : 1.0f);
        std::vector<float> v(n);
        for (float& f : v) f = fill == Fill::AllZeroBits ? 0.0f : normal(rng);
        reference_kernels(type)->quantize_row(v.data(), row.data(), n);
        return row;
    }
    for (auto& b : row) {
        b = fill == Fill::AllZeroBits ? 0x00 : fill == Fill::AllOneBits ? 0xff : static_cast<uint8_t>(rng());
    }
    std::uniform_real_distribution<float> small(0.001f, 0.05f);
    for (size_t at = 0; at < row.size(); at += info.bytes_per_block) {
        const auto put_half = [&](size_t offset) {
            const fp16_t h = f32_to_fp16(fill == Fill::LargeScales ? 1000.0f : small(rng));
            std::memcpy(row.data() + at + offset, &h, 2);
        };
        switch (type) {
            case TensorType::Q4_0: case TensorType::Q5_0: case TensorType::Q8_0: put_half(0); break;
            case TensorType::Q4_1: case TensorType::Q5_1: put_half(0), put_half(2); break;
            case TensorType::Q2_K: put_half(80), put_half(82); break;
            case TensorType::Q3_K: put_half(108); break;
            case TensorType::Q4_K: case TensorType::Q5_K: put_half(0), put_half(2); break;
            case TensorType::Q6_K: put_half(208); break;
            default: break;
        }
    }
    return row;
}

class SimdDot : public ::testing::TestWithParam<SimdCase> {};

TEST_P(SimdDot, MatchesTheReference) {
    const SimdCase& c = GetParam();
    if (!c.available) GTEST_SKIP() << c.isa << " not available on this CPU";
    const TypeKernels& ref = *reference_kernels(c.type);
    const TypeKernels& act = *reference_kernels(ref.activation_type);
    const bool is_float = c.type == TensorType::F32 || c.type == TensorType::F16 || c.type == TensorType::BF16;
    const bool exact = tensor_type_info(c.type).block_size == 256;  // the K-quants
    std::mt19937 rng(static_cast<uint32_t>(c.type) * 31 + 5);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    const std::vector<int64_t> sizes = is_float ? std::vector<int64_t>{1, 7, 8, 9, 33, 256, 4095}
                                                : std::vector<int64_t>{256, 512, 2816, 4096};
    int checked = 0;
    for (const int64_t n : sizes) {
        if (n % tensor_type_info(c.type).block_size != 0) continue;
        for (const Fill fill : {Fill::Random, Fill::AllZeroBits, Fill::AllOneBits, Fill::LargeScales}) {
            for (int trial = 0; trial < 6; ++trial) {
                const auto w = weight_row(c.type, n, fill, rng);
                std::vector<float> a(n);
                for (int64_t i = 0; i < n; ++i) {
                    switch (trial % 3) {
                        case 0: a[i] = normal(rng); break;
                        case 1: a[i] = 0.0f; break;                     // all-zero activations
                        default: a[i] = (i % 2 ? -1.0f : 1.0f) * 3.0f;  // every value at +-127
                    }
                }
                std::vector<uint8_t> q(row_bytes(ref.activation_type, n));
                act.quantize_row(a.data(), q.data(), n);
                const float want = ref.vec_dot(n, w.data(), q.data());
                const float got = c.simd(n, w.data(), q.data());
                if (!exact) {
                    double magnitude = 0;
                    std::vector<float> wd(n), ad(n);
                    ref.dequantize_row(w.data(), wd.data(), n);
                    act.dequantize_row(q.data(), ad.data(), n);
                    for (int64_t i = 0; i < n; ++i) magnitude += std::fabs(double(wd[i]) * ad[i]);
                    const double blocks = double(n) / tensor_type_info(c.type).block_size;
                    double bound = 2 * (4 + 2 * blocks) * std::ldexp(1.0, -24) * magnitude;
                    if (ref.activation_type == TensorType::Q8_1) {  // the offsets' m * s terms
                        for (int64_t b = 0; b < n / kQK; ++b) {
                            fp16_t m, s;
                            std::memcpy(&m, w.data() + b * tensor_type_info(c.type).bytes_per_block + 2, 2);
                            std::memcpy(&s, q.data() + b * sizeof(BlockQ8_1) + 2, 2);
                            bound += 2 * blocks * std::ldexp(1.0, -24) * std::fabs(fp16_to_f32(m) * fp16_to_f32(s));
                        }
                    }
                    ASSERT_NEAR(got, want, bound + 1e-30) << "n=" << n << " trial " << trial;
                } else {
                    ASSERT_EQ(f32_bits(got), f32_bits(want))
                        << got << " vs " << want << " n=" << n << " fill " << static_cast<int>(fill)
                        << " trial " << trial;
                }
                ++checked;
            }
        }
    }
    EXPECT_GT(checked, 20);
}

std::vector<SimdCase> simd_cases() {
    std::vector<SimdCase> cases;
#if defined(__x86_64__)
    const bool avx2 = cpu_features().avx2;
    cases = {
        {TensorType::F32, avx2::vec_dot_f32, avx2, "avx2"},
        {TensorType::F16, avx2::vec_dot_f16, avx2, "avx2"},
        {TensorType::BF16, avx2::vec_dot_bf16, avx2, "avx2"},
        {TensorType::Q4_0, avx2::vec_dot_q4_0_q8_0, avx2, "avx2"},
        {TensorType::Q4_1, avx2::vec_dot_q4_1_q8_1, avx2, "avx2"},
        {TensorType::Q5_0, avx2::vec_dot_q5_0_q8_0, avx2, "avx2"},
        {TensorType::Q5_1, avx2::vec_dot_q5_1_q8_1, avx2, "avx2"},
        {TensorType::Q8_0, avx2::vec_dot_q8_0_q8_0, avx2, "avx2"},
        {TensorType::Q2_K, avx2::vec_dot_q2_k_q8_k, avx2, "avx2"},
        {TensorType::Q3_K, avx2::vec_dot_q3_k_q8_k, avx2, "avx2"},
        {TensorType::Q4_K, avx2::vec_dot_q4_k_q8_k, avx2, "avx2"},
        {TensorType::Q5_K, avx2::vec_dot_q5_k_q8_k, avx2, "avx2"},
        {TensorType::Q6_K, avx2::vec_dot_q6_k_q8_k, avx2, "avx2"},
    };
#endif
    return cases;
}

INSTANTIATE_TEST_SUITE_P(EveryPath, SimdDot, ::testing::ValuesIn(simd_cases()), [](const auto& p) {
    return std::string(p.param.isa) + "_" + std::string(tensor_type_name(p.param.type));
});
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(SimdDot);

TEST(KernelRegistry, ReportsTheActiveSet) {
    const std::string set = active_kernel_set();
    EXPECT_FALSE(set.empty());
#if defined(__x86_64__)
    if (cpu_features().avx2 && std::getenv("EMBER_KERNELS") == nullptr) {
        EXPECT_EQ(set, "avx2");
    }
#endif
}

}  // namespace
}  // namespace ember
