// Every SIMD dot product of this machine's instruction sets against the scalar reference
// (tests/kernel_check.h). The K-quants must agree bit for bit; the 32-value types (float-lane
// sums) and float types (double sums in another order) within the float rounding bound.
// The NEON paths are checked by the cross-compiled tests/neon/ program under qemu.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/blocks.h"
#include "kernels/cpu_features.h"
#include "kernels/reference.h"
#include "kernels/simd_kernels.h"
#include "tests/kernel_check.h"

namespace ember {
namespace {

struct SimdCase {
    TensorType type;
    VecDotFn simd;
    bool available;
    const char* isa;
};

class SimdDot : public ::testing::TestWithParam<SimdCase> {};

TEST_P(SimdDot, MatchesTheReference) {
    const SimdCase& c = GetParam();
    if (!c.available) GTEST_SKIP() << c.isa << " not available on this CPU";
    const bool exact = tensor_type_info(c.type).block_size == 256;  // the K-quants
    EXPECT_EQ(test::check_dot_against_reference(c.type, c.simd, exact), "");
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
    const bool avx512 = cpu_features().avx512 && cpu_features().avx512_vnni;
    cases.push_back({TensorType::F32, avx512::vec_dot_f32, avx512, "avx512"});
    cases.push_back({TensorType::F16, avx512::vec_dot_f16, avx512, "avx512"});
    cases.push_back({TensorType::BF16, avx512::vec_dot_bf16, avx512, "avx512"});
#endif
    return cases;
}

INSTANTIATE_TEST_SUITE_P(EveryPath, SimdDot, ::testing::ValuesIn(simd_cases()), [](const auto& p) {
    return std::string(p.param.isa) + "_" + std::string(tensor_type_name(p.param.type));
});
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(SimdDot);

// The four-row dot products give exactly the single-row results.
TEST(SimdDot4, EqualsFourSingleDotsBitForBit) {
    std::mt19937 rng(9);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    int checked = 0;
    for (TensorType type : {TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1,
                            TensorType::Q8_0, TensorType::Q2_K, TensorType::Q3_K, TensorType::Q4_K,
                            TensorType::Q5_K, TensorType::Q6_K}) {
        const TypeKernels& k = *kernels_for(type);
        if (k.vec_dot4 == nullptr) continue;
        const TypeKernels& act = *reference_kernels(k.activation_type);
        const int64_t n = 4096;
        const std::vector<uint8_t> w = test::random_weight_row(type, n, rng);
        std::vector<float> values(n);
        const size_t stride = row_bytes(k.activation_type, n);
        std::vector<uint8_t> y(4 * stride);
        for (int r = 0; r < 4; ++r) {
            for (float& v : values) v = normal(rng);
            act.quantize_row(values.data(), y.data() + r * stride, n);
        }
        float four[4];
        k.vec_dot4(n, w.data(), y.data(), stride, four);
        for (int r = 0; r < 4; ++r) {
            EXPECT_EQ(f32_bits(four[r]), f32_bits(k.vec_dot(n, w.data(), y.data() + r * stride)))
                << tensor_type_name(type) << " row " << r;
        }
        ++checked;
    }
    if (checked == 0) GTEST_SKIP() << "no four-row kernels on this CPU";
}

const TensorType kPanelTypes[] = {
    TensorType::Q4_0, TensorType::Q5_0, TensorType::Q4_1, TensorType::Q5_1, TensorType::Q8_0,
    TensorType::Q2_K, TensorType::Q3_K, TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K};

// The 8-row panel GEMMs (Q8_0 and Q8_K activations) over a batch of 6 tokens (4 + a remainder of
// 2): each of the 48 dot products within the reference's rounding bound.
TEST(SimdGemm8, EveryRowAndTokenMatchesTheReference) {
    constexpr int kTokens = 6;
    int checked = 0;
    for (TensorType type : kPanelTypes) {
        if (kernels_for(type)->gemm8 == nullptr) continue;
        int call = 0;
        const auto run = [](const TypeKernels& k, int64_t n, const uint8_t* ws, size_t w_bytes,
                            const Q8Batch& batch,
                            float* y) { k.gemm8(n, ws, w_bytes, batch, y, 8); };
        EXPECT_EQ(
            test::check_dot_against_reference(type, test::panel_as_dot(type, kTokens, run, &call),
                                              /*exact=*/false),
            "");
        EXPECT_GE(call, 8 * kTokens);  // every row and token was checked at least once
        ++checked;
    }
    if (checked == 0) GTEST_SKIP() << "no panel kernels on this CPU";
}

// One instruction set's packing + packed panel kernel (Pack8Fn + GemmPacked8Fn) for one
// generated token and for a batch of 6 (a pass of 4 + two single tokens): every row and token
// within the reference's rounding bound.
void expect_packed8_matches(TensorType type, Pack8Fn pack, GemmPacked8Fn gemm, const char* isa) {
    for (int tokens : {1, 6}) {
        EXPECT_EQ(test::check_packed8_against_reference(type, pack, gemm, tokens), "")
            << isa << ", " << tensor_type_name(type) << ", " << tokens << " tokens";
    }
}

// The same through the load-time packing, with the kernels this CPU runs.
TEST(SimdGemmPacked8, EveryRowAndTokenMatchesTheReference) {
    int checked = 0;
    for (TensorType type : kPanelTypes) {
        const TypeKernels& k = *kernels_for(type);
        if (k.gemm_packed8 == nullptr) continue;
        expect_packed8_matches(type, k.pack8, k.gemm_packed8, active_kernel_set().c_str());
        ++checked;
    }
    if (checked == 0) GTEST_SKIP() << "no packed panel kernels on this CPU";
}

#if defined(__x86_64__)
struct PackedKernels {
    TensorType type;
    Pack8Fn pack;
    GemmPacked8Fn gemm;
};
#define EMBER_PACKED_KERNELS(ns)                                       \
    {                                                                  \
        {TensorType::Q4_0, ns::pack8_q4_0, ns::gemm_packed8_q4_0},     \
            {TensorType::Q5_0, ns::pack8_q5_0, ns::gemm_packed8_q5_0}, \
            {TensorType::Q4_1, ns::pack8_q4_1, ns::gemm_packed8_q4_1}, \
            {TensorType::Q5_1, ns::pack8_q5_1, ns::gemm_packed8_q5_1}, \
            {TensorType::Q8_0, ns::pack8_q8_0, ns::gemm_packed8_q8_0}, \
            {TensorType::Q2_K, ns::pack8_q2_k, ns::gemm_packed8_q2_k}, \
            {TensorType::Q3_K, ns::pack8_q3_k, ns::gemm_packed8_q3_k}, \
            {TensorType::Q4_K, ns::pack8_q4_k, ns::gemm_packed8_q4_k}, \
            {TensorType::Q5_K, ns::pack8_q5_k, ns::gemm_packed8_q5_k}, \
            {TensorType::Q6_K, ns::pack8_q6_k, ns::gemm_packed8_q6_k}, \
    }

// The AVX2 packed kernels (vpmaddubsw in place of vpdpbusd, int16 sums, signed Q8_0 panels) and
// the AVX-VNNI ones, which a CPU with AVX-512 does not run on its own.
TEST(SimdGemmPacked8, Avx2KernelsMatchTheReference) {
    if (!cpu_features().avx2) GTEST_SKIP() << "no AVX2";
    const PackedKernels kAvx2[] = EMBER_PACKED_KERNELS(avx2);
    for (const auto& k : kAvx2) expect_packed8_matches(k.type, k.pack, k.gemm, "avx2");
}
TEST(SimdGemmPacked8, AvxVnniKernelsMatchTheReference) {
    if (!cpu_features().avx_vnni) GTEST_SKIP() << "no AVX-VNNI";
    const PackedKernels kAvxVnni[] = EMBER_PACKED_KERNELS(avxvnni);
    for (const auto& k : kAvxVnni) expect_packed8_matches(k.type, k.pack, k.gemm, "avx2-vnni");
}
#undef EMBER_PACKED_KERNELS
#endif

// Two packed groups at once in 16-row registers (gemm_packed16), and four as two such panels
// side by side (gemm_packed32), for one generated token, a few (5: decoded on the fly, 4 + 1)
// and a batch of 14 (passes of 8 or 4 + the remainder): every row and token.
void expect_wide_packed_matches(int rows, GemmPacked8Fn TypeKernels::*gemm_of) {
    int checked = 0;
    for (TensorType type : kPanelTypes) {
        if (kernels_for(type)->*gemm_of == nullptr) continue;
        for (int tokens : {1, 5, 14}) {
            int call = 0;
            const auto run = [rows, gemm_of](const TypeKernels& k, int64_t n, const uint8_t* ws,
                                             size_t w_bytes, const Q8Batch& batch, float* y) {
                std::vector<uint8_t> packed(rows * w_bytes);
                for (int g = 0; g < rows / 8; ++g) {
                    k.pack8(n, ws + 8 * g * w_bytes, w_bytes, packed.data() + 8 * g * w_bytes);
                }
                (k.*gemm_of)(n, packed.data(), batch, y, rows);
            };
            while (call < rows * tokens) {  // until every row and token was checked
                EXPECT_EQ(
                    test::check_dot_against_reference(
                        type, test::panel_as_dot(type, tokens, run, &call, rows), /*exact=*/false),
                    "")
                    << tensor_type_name(type) << ", " << rows << " rows, " << tokens << " tokens";
            }
        }
        ++checked;
    }
    if (checked == 0) GTEST_SKIP() << "no " << rows << "-row packed kernels on this CPU";
}
TEST(SimdGemmPacked16, EveryRowAndTokenMatchesTheReference) {
    expect_wide_packed_matches(16, &TypeKernels::gemm_packed16);
}
TEST(SimdGemmPacked32, EveryRowAndTokenMatchesTheReference) {
    expect_wide_packed_matches(32, &TypeKernels::gemm_packed32);
}

#if defined(__x86_64__)
TEST(SimdMatMulF32, MatchesTheReference) {
    if (!cpu_features().avx2) GTEST_SKIP() << "no AVX2";
    EXPECT_EQ(test::check_matmul_f32_against_reference(avx2::matmul_f32), "");
    if (!cpu_features().avx512 || !cpu_features().avx512_vnni) GTEST_SKIP() << "no AVX-512";
    EXPECT_EQ(test::check_matmul_f32_against_reference(avx512::matmul_f32), "");
}

TEST(SimdExp, WithinTwoUlp) {
    EXPECT_EQ(test::check_exp_f32(ref::exp_f32), "");  // the check itself, on std::exp
    if (!cpu_features().avx512) GTEST_SKIP() << "no AVX-512";
    EXPECT_EQ(test::check_exp_f32(avx512::exp_f32), "");
}

TEST(SimdActivationQuantizers, EqualTheReferenceByteForByte) {
    if (!cpu_features().avx512) GTEST_SKIP() << "no AVX-512";
    EXPECT_EQ(test::check_activation_quantizer(TensorType::Q8_0, avx512::quantize_row_q8_0), "");
    EXPECT_EQ(test::check_activation_quantizer(TensorType::Q8_K, avx512::quantize_row_q8_k), "");
}

TEST(SimdBlockDequantize, EqualsTheReferenceBitForBit) {
    if (!cpu_features().avx2) GTEST_SKIP() << "no AVX2";
    EXPECT_EQ(test::check_block_dequantize(TensorType::Q8_0, avx2::dequantize_row_q8_0), "");
    EXPECT_EQ(test::check_block_dequantize(TensorType::Q4_0, avx2::dequantize_row_q4_0), "");
    // And what the registry hands out (the attention's path).
    EXPECT_EQ(test::check_block_dequantize(TensorType::Q8_0,
                                           kernels_for(TensorType::Q8_0)->dequantize_row),
              "");
    EXPECT_EQ(test::check_block_dequantize(TensorType::Q4_0,
                                           kernels_for(TensorType::Q4_0)->dequantize_row),
              "");
}

TEST(SimdF16Conversions, EqualTheReferenceBitForBit) {
    if (!cpu_features().avx2) GTEST_SKIP() << "no AVX2 with F16C";
    EXPECT_EQ(test::check_f16_conversions(avx2::dequantize_row_f16, avx2::quantize_row_f16), "");
    if (cpu_features().avx512 && cpu_features().avx512_vnni) {
        EXPECT_EQ(test::check_f16_conversions(avx512::dequantize_row_f16, avx2::quantize_row_f16),
                  "");
    }
}
#endif

TEST(KernelRegistry, ReportsTheActiveSet) {
    const std::string set = active_kernel_set();
    EXPECT_FALSE(set.empty());
#if defined(__x86_64__)
    if (cpu_features().avx2 && std::getenv("EMBER_KERNELS") == nullptr) {
        EXPECT_EQ(set, cpu_features().avx512_vnni ? "avx512-vnni"
                       : cpu_features().avx_vnni  ? "avx2-vnni"
                                                  : "avx2");
    }
#endif
}

}  // namespace
}  // namespace ember
