// Every kernel of every kernel set this CPU runs (kernel_table: the reference with what each
// instruction set registered over it) against the scalar reference (tests/kernel_check.h): a
// kernel a SIMD file registers is checked here without naming it. The K-quants' dot products
// must agree bit for bit; the 32-value types (float-lane sums) and float types (double sums
// in another order) within the float rounding bound; conversions and activation quantizers
// bit for bit. The NEON sets are checked by the cross-compiled tests/neon/ program under qemu.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/blocks.h"
#include "kernels/cpu_features.h"
#include "kernels/reference.h"
#include "tests/kernel_check.h"

namespace ember {
namespace {

std::vector<std::string> simd_sets() {
    std::vector<std::string> names = kernel_set_names();
    names.erase(names.begin());  // "reference"
    return names;
}

class KernelSet : public ::testing::TestWithParam<std::string> {
  protected:
    void SetUp() override {
        table_ = kernel_table(GetParam());
        if (!table_) GTEST_SKIP() << GetParam() << " is not available on this CPU";
    }
    // The table's entries that differ from the reference in `field` (what the set registered).
    template <typename Field>
    std::vector<const TypeKernels*> registered(Field TypeKernels::*field) const {
        std::vector<const TypeKernels*> out;
        for (const TypeKernels& k : table_->types) {
            if (k.*field != nullptr && k.*field != reference_kernels(k.type)->*field) {
                out.push_back(&k);
            }
        }
        return out;
    }
    std::optional<KernelTable> table_;
};

TEST_P(KernelSet, DotProductsMatchTheReference) {
    for (const TypeKernels* k : registered(&TypeKernels::vec_dot)) {
        const bool exact = tensor_type_info(k->type).block_size == 256;  // the K-quants
        EXPECT_EQ(test::check_dot_against_reference(k->type, k->vec_dot, exact), "");
    }
}

// The four- and eight-row dot products give exactly the set's single-row results (float types
// also on a row whose end is not a whole number of vectors: the masked tail).
TEST_P(KernelSet, FourAndEightRowDotsEqualSingleDotsBitForBit) {
    std::mt19937 rng(9);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (const auto& [dots, rows] :
         {std::pair{&TypeKernels::vec_dot4, 4}, std::pair{&TypeKernels::vec_dot8, 8}}) {
        for (const TypeKernels* k : registered(dots)) {
            for (const int64_t n : {int64_t{4096}, int64_t{4096 + 40}}) {
                if (n % tensor_type_info(k->type).block_size != 0) continue;
                const TypeKernels& act = *reference_kernels(k->activation_type);
                const std::vector<uint8_t> w = test::random_weight_row(k->type, n, rng);
                std::vector<float> values(n);
                const size_t stride = row_bytes(k->activation_type, n);
                std::vector<uint8_t> y(rows * stride);
                for (int r = 0; r < rows; ++r) {
                    for (float& v : values) v = normal(rng);
                    act.quantize_row(values.data(), y.data() + r * stride, n);
                }
                float out[8];
                (k->*dots)(n, w.data(), y.data(), stride, out);
                for (int r = 0; r < rows; ++r) {
                    EXPECT_EQ(f32_bits(out[r]),
                              f32_bits(k->vec_dot(n, w.data(), y.data() + r * stride)))
                        << tensor_type_name(k->type) << " n " << n << " row " << r;
                }
            }
        }
    }
}

// The 8-row panel GEMMs built from mapped rows over a batch of 6 tokens (4 + a remainder of
// 2): each of the 48 dot products within the reference's rounding bound.
TEST_P(KernelSet, Gemm8PanelsMatchTheReference) {
    constexpr int kTokens = 6;
    for (const TypeKernels* k : registered(&TypeKernels::gemm8)) {
        int call = 0;
        const auto run = [k](const TypeKernels&, int64_t n, const uint8_t* ws, size_t w_bytes,
                             const Q8Batch& batch,
                             float* y) { k->gemm8(n, ws, w_bytes, batch, y, 8); };
        EXPECT_EQ(test::check_dot_against_reference(
                      k->type, test::panel_as_dot(k->type, kTokens, run, &call), /*exact=*/false),
                  "");
        EXPECT_GE(call, 8 * kTokens);  // every row and token was checked at least once
    }
}

// Packing + the 8-row packed kernel for one generated token, a few (2, 3: one pass decoding
// the weights once), a batch of 6 (decoded on the fly in one tile, or a stored panel's pass of
// 4 + two single tokens) and 9 (tiles of 4 and 5): every row and token within the reference's
// rounding bound.
TEST_P(KernelSet, PackedPanelsMatchTheReference) {
    for (const TypeKernels* k : registered(&TypeKernels::gemm_packed8)) {
        ASSERT_NE(k->pack8, nullptr) << tensor_type_name(k->type);
        for (int tokens : {1, 2, 3, 6, 9}) {
            EXPECT_EQ(test::check_packed_against_reference(k->type, k->pack8, k->gemm_packed8,
                                                           tokens, 8, k->packed_block_bytes),
                      "")
                << tensor_type_name(k->type) << ", " << tokens << " tokens";
        }
    }
}

// Two packed groups at once in 16-row registers (gemm_packed16), and four as two such panels
// side by side (gemm_packed32), for one generated token, a few (3; 5: decoded on the fly in one
// tile; 14: tiles of 4, 5 and 5) and a batch of 17 (a stored panel's passes of 8 or 4 + the
// remainder): every row and token.
void expect_wide_packed_matches(const TypeKernels& k, int rows, GemmPacked8Fn gemm) {
    for (int tokens : {1, 3, 5, 14, 17}) {
        EXPECT_EQ(test::check_packed_against_reference(k.type, k.pack8, gemm, tokens, rows,
                                                       k.packed_block_bytes),
                  "")
            << tensor_type_name(k.type) << ", " << rows << " rows, " << tokens << " tokens";
    }
}
TEST_P(KernelSet, WidePackedPanelsMatchTheReference) {
    for (const TypeKernels* k : registered(&TypeKernels::gemm_packed16)) {
        expect_wide_packed_matches(*k, 16, k->gemm_packed16);
    }
    for (const TypeKernels* k : registered(&TypeKernels::gemm_packed32)) {
        expect_wide_packed_matches(*k, 32, k->gemm_packed32);
    }
}

// Conversions (F16 rows, a quantized KV cache's reads) and activation quantizers: bit for bit.
// A conversion of a type this test has no check for fails, so none goes in unchecked.
TEST_P(KernelSet, ConversionsEqualTheReferenceBitForBit) {
    for (const TypeKernels* k : registered(&TypeKernels::dequantize_row)) {
        if (k->type == TensorType::F16) {
            EXPECT_EQ(test::check_f16_conversions(k->dequantize_row, k->quantize_row), "");
        } else if (k->type == TensorType::Q8_0 || k->type == TensorType::Q4_0) {
            EXPECT_EQ(test::check_block_dequantize(k->type, k->dequantize_row), "");
        } else {
            ADD_FAILURE() << "no check for " << tensor_type_name(k->type) << "'s dequantize_row";
        }
    }
    for (const TypeKernels* k : registered(&TypeKernels::quantize_row)) {
        if (k->type == TensorType::F16) {
            EXPECT_EQ(test::check_f16_conversions(k->dequantize_row, k->quantize_row), "");
        } else if (k->type == TensorType::Q8_0 || k->type == TensorType::Q8_K) {
            EXPECT_EQ(test::check_activation_quantizer(k->type, k->quantize_row), "");
        } else {
            ADD_FAILURE() << "no check for " << tensor_type_name(k->type) << "'s quantize_row";
        }
    }
    for (const TypeKernels* k : registered(&TypeKernels::quantize_weights)) {
        ADD_FAILURE() << "no check for " << tensor_type_name(k->type) << "'s quantize_weights";
    }
}

TEST_P(KernelSet, FloatKernelsMatchTheReference) {
    if (table_->floats.matmul != ref::matmul_f32) {
        EXPECT_EQ(test::check_matmul_f32_against_reference(table_->floats.matmul), "");
    }
    if (table_->floats.exp != ref::exp_f32) {
        EXPECT_EQ(test::check_exp_f32(table_->floats.exp), "");
    }
    if (table_->floats.dot_rows_f16 != ref::dot_rows_f16) {
        EXPECT_EQ(
            test::check_rows_f16_against_reference(
                table_->floats.dot_rows_f16, table_->floats.mad_rows_f16, table_->floats.matmul),
            "");
    }
}

INSTANTIATE_TEST_SUITE_P(EverySet, KernelSet, ::testing::ValuesIn(simd_sets()), [](const auto& p) {
    std::string name = p.param;
    for (char& c : name) c = c == '-' ? '_' : c;
    return name;
});
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(KernelSet);

TEST(SimdRowsF16, TheCheckPassesOnTheReference) {
    // The reference sums in double: "alone" and "from zero" hold there too (ref::matmul_f32
    // sums in double as well).
    EXPECT_EQ(test::check_rows_f16_against_reference(ref::dot_rows_f16, ref::mad_rows_f16,
                                                     ref::matmul_f32),
              "");
}

TEST(SimdExp, TheCheckPassesOnStdExp) {
    EXPECT_EQ(test::check_exp_f32(ref::exp_f32), "");  // the check itself
}

TEST(KernelRegistry, RunsTheBestSetThisCpuHas) {
    const std::string set = active_kernel_set();
    EXPECT_FALSE(set.empty());
    // What kernels_for() hands out is that set's table.
    const std::optional<KernelTable> table = kernel_table(set);
    ASSERT_TRUE(table.has_value()) << set;
    for (const TypeKernels& k : table->types) {
        EXPECT_EQ(kernels_for(k.type)->vec_dot, k.vec_dot) << tensor_type_name(k.type);
        EXPECT_EQ(kernels_for(k.type)->gemm_packed8, k.gemm_packed8) << tensor_type_name(k.type);
    }
    EXPECT_EQ(float_kernels().matmul, table->floats.matmul);
#if defined(__x86_64__)
    if (cpu_features().avx2 && std::getenv("EMBER_KERNELS") == nullptr) {
        EXPECT_EQ(set, cpu_features().avx512_vnni ? "avx512-vnni"
                       : cpu_features().avx_vnni  ? "avx2-vnni"
                                                  : "avx2");
    }
#endif
    EXPECT_FALSE(kernel_table("no-such-set").has_value());
}

}  // namespace
}  // namespace ember
