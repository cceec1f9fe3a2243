// The NEON kernels against the scalar reference, cross-compiled for aarch64 and run under
// qemu-user (run_neon_check.sh). Plain C++: GoogleTest is not built for aarch64 here.
// Usage: neon_check EXPECTED_KERNEL_SET   (neon, neon-dotprod or neon-i8mm)
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/kernels.h"
#include "tests/kernel_check.h"

int main(int argc, char** argv) {
    using ember::TensorType;
    const std::string active = ember::active_kernel_set();
    int passed = 0, failed = 0;
    if (argc > 1 && active != argv[1]) {
        std::printf("FAIL kernel set: expected %s, active %s\n", argv[1], active.c_str());
        ++failed;
    }
    for (TensorType type :
         {TensorType::F32,    TensorType::F16,    TensorType::BF16,    TensorType::Q4_0,
          TensorType::Q4_1,   TensorType::Q5_0,   TensorType::Q5_1,    TensorType::Q8_0,
          TensorType::Q2_K,   TensorType::Q3_K,   TensorType::Q4_K,    TensorType::Q5_K,
          TensorType::Q6_K,   TensorType::IQ4_NL, TensorType::IQ4_XS,  TensorType::IQ2_XXS,
          TensorType::IQ2_XS, TensorType::IQ2_S,  TensorType::IQ3_XXS, TensorType::IQ3_S,
          TensorType::IQ1_S,  TensorType::IQ1_M,  TensorType::TQ1_0,   TensorType::TQ2_0}) {
        const ember::VecDotFn dot = ember::kernels_for(type)->vec_dot;
        const bool accelerated = dot != ember::reference_kernels(type)->vec_dot;
        const bool exact = ember::tensor_type_info(type).block_size == 256;
        const std::string why = accelerated
                                    ? ember::test::check_dot_against_reference(type, dot, exact)
                                    : "no " + active + " kernel";
        std::printf("%s %s/%s%s%s\n", why.empty() ? "ok  " : "FAIL", active.c_str(),
                    std::string(ember::tensor_type_name(type)).c_str(), why.empty() ? "" : ": ",
                    why.c_str());
        (why.empty() ? passed : failed) += 1;
    }
    // Four- and eight-row dot products (a prompt's row kernels): exactly the set's single-row
    // results (the float types also on a row that ends within a vector).
    for (const auto& [type, rows] :
         {std::pair{TensorType::IQ2_XXS, 4}, std::pair{TensorType::IQ2_XXS, 8},
          std::pair{TensorType::IQ2_XS, 4}, std::pair{TensorType::IQ2_XS, 8},
          std::pair{TensorType::IQ2_S, 4}, std::pair{TensorType::IQ2_S, 8},
          std::pair{TensorType::IQ3_XXS, 4}, std::pair{TensorType::IQ3_XXS, 8},
          std::pair{TensorType::IQ3_S, 4}, std::pair{TensorType::IQ3_S, 8},
          std::pair{TensorType::IQ1_S, 4}, std::pair{TensorType::IQ1_S, 8},
          std::pair{TensorType::IQ1_M, 4}, std::pair{TensorType::IQ1_M, 8},
          std::pair{TensorType::F32, 4}, std::pair{TensorType::F16, 4},
          std::pair{TensorType::BF16, 4}}) {
        for (const int64_t n : {int64_t{4096}, int64_t{4096 + 42}}) {
            if (n % ember::tensor_type_info(type).block_size != 0) continue;
            const ember::TypeKernels& k = *ember::kernels_for(type);
            const ember::VecDot4Fn dots = rows == 8 ? k.vec_dot8 : k.vec_dot4;
            std::string why =
                dots == nullptr ? "no " + active + " " + std::to_string(rows) + "-row kernel" : "";
            if (why.empty()) {
                std::mt19937 rng(9);
                std::normal_distribution<float> normal(0.0f, 1.0f);
                const std::vector<uint8_t> w = ember::test::random_weight_row(type, n, rng);
                const ember::TypeKernels& act = *ember::reference_kernels(k.activation_type);
                const size_t stride = ember::row_bytes(k.activation_type, n);
                std::vector<uint8_t> y(rows * stride);
                std::vector<float> values(n);
                for (int r = 0; r < rows; ++r) {
                    for (float& v : values) v = normal(rng);
                    act.quantize_row(values.data(), y.data() + r * stride, n);
                }
                float out[8];
                dots(n, w.data(), y.data(), stride, out);
                for (int r = 0; r < rows && why.empty(); ++r) {
                    if (out[r] != k.vec_dot(n, w.data(), y.data() + r * stride))
                        why = "row " + std::to_string(r) + " differs from vec_dot";
                }
            }
            std::printf("%s %s/vec_dot%d %s n %lld%s%s\n", why.empty() ? "ok  " : "FAIL",
                        active.c_str(), rows, std::string(ember::tensor_type_name(type)).c_str(),
                        static_cast<long long>(n), why.empty() ? "" : ": ", why.c_str());
            (why.empty() ? passed : failed) += 1;
        }
    }
    // The load-time packing and packed panel kernels: one token (generation) and batches of 7
    // and 13 (passes of 8, 4 and 2 tokens, and single tokens left over).
    for (TensorType type :
         {TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1, TensorType::Q8_0,
          TensorType::IQ4_NL, TensorType::Q2_K, TensorType::Q3_K, TensorType::Q4_K,
          TensorType::Q5_K, TensorType::Q6_K, TensorType::IQ4_XS}) {
        const ember::TypeKernels& k = *ember::kernels_for(type);
        for (int tokens : {1, 7, 13}) {
            const std::string why = k.pack8 == nullptr
                                        ? "no " + active + " packed kernel"
                                        : ember::test::check_packed_against_reference(
                                              type, k.pack8, k.gemm_packed8, tokens);
            std::printf("%s %s/packed8 %s x %d tokens%s%s\n", why.empty() ? "ok  " : "FAIL",
                        active.c_str(), std::string(ember::tensor_type_name(type)).c_str(), tokens,
                        why.empty() ? "" : ": ", why.c_str());
            (why.empty() ? passed : failed) += 1;
        }
        // Four groups in one call (the i8mm set's 32-value types: their token pairs made once
        // for the 32 rows), one token to a batch with an odd token left over.
        for (int tokens : {1, 3, 6, 13}) {
            if (k.gemm_packed32 == nullptr) break;
            const std::string why = ember::test::check_packed_against_reference(
                type, k.pack8, k.gemm_packed32, tokens, 32);
            std::printf("%s %s/packed32 %s x %d tokens%s%s\n", why.empty() ? "ok  " : "FAIL",
                        active.c_str(), std::string(ember::tensor_type_name(type)).c_str(), tokens,
                        why.empty() ? "" : ": ", why.c_str());
            (why.empty() ? passed : failed) += 1;
        }
    }
    // Conversions and activation quantizers: bit for bit as the reference; e^x within 2 ulp.
    const auto report = [&](const char* what, const std::string& why) {
        std::printf("%s %s/%s%s%s\n", why.empty() ? "ok  " : "FAIL", active.c_str(), what,
                    why.empty() ? "" : ": ", why.c_str());
        (why.empty() ? passed : failed) += 1;
    };
    const auto& f16 = *ember::kernels_for(TensorType::F16);
    report("f16 conversions",
           ember::test::check_f16_conversions(f16.dequantize_row, f16.quantize_row));
    for (TensorType type : {TensorType::Q8_0, TensorType::Q4_0}) {
        report(("dequantize " + std::string(ember::tensor_type_name(type))).c_str(),
               ember::test::check_block_dequantize(type, ember::kernels_for(type)->dequantize_row));
    }
    for (TensorType type : {TensorType::Q8_0, TensorType::Q8_K}) {
        report(
            ("quantize activations " + std::string(ember::tensor_type_name(type))).c_str(),
            ember::test::check_activation_quantizer(type, ember::kernels_for(type)->quantize_row));
    }
    report("exp", ember::test::check_exp_f32(ember::float_kernels().exp));
    const ember::MatMulF32Fn matmul = ember::float_kernels().matmul;
    const std::string why = ember::test::check_matmul_f32_against_reference(matmul);
    std::printf("%s %s/matmul_f32%s%s\n", why.empty() ? "ok  " : "FAIL", active.c_str(),
                why.empty() ? "" : ": ", why.c_str());
    (why.empty() ? passed : failed) += 1;
    report("rows_f16",
           ember::test::check_rows_f16_against_reference(
               ember::float_kernels().dot_rows_f16, ember::float_kernels().mad_rows_f16, matmul));
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
