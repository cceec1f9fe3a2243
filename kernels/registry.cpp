// One table of kernels per type. reference_kernels() is the scalar truth; kernels_for() is
// what the engine runs, chosen once from what the CPU reports (SIMD paths register here).
#include <array>
#include <cstdlib>
#include <string>

#include "kernels/cpu_features.h"
#include "kernels/kernels.h"
#include "kernels/reference.h"
#include "kernels/simd_kernels.h"

namespace ember {
namespace {

using T = TensorType;

constexpr std::array kReference = {
    // type, activation type, dequantize, quantize activations, dot, quantize weights
    TypeKernels{T::F32, T::F32, ref::dequantize_row_f32, ref::quantize_row_f32, ref::vec_dot_f32,
                ref::quantize_row_f32},
    TypeKernels{T::F16, T::F16, ref::dequantize_row_f16, ref::quantize_row_f16, ref::vec_dot_f16,
                ref::quantize_row_f16},
    TypeKernels{T::BF16, T::BF16, ref::dequantize_row_bf16, ref::quantize_row_bf16,
                ref::vec_dot_bf16, ref::quantize_row_bf16},
    TypeKernels{T::Q4_0, T::Q8_0, ref::dequantize_row_q4_0, nullptr, ref::vec_dot_q4_0_q8_0,
                ref::quantize_weights_q4_0},
    TypeKernels{T::Q4_1, T::Q8_1, ref::dequantize_row_q4_1, nullptr, ref::vec_dot_q4_1_q8_1,
                ref::quantize_weights_q4_1},
    TypeKernels{T::Q5_0, T::Q8_0, ref::dequantize_row_q5_0, nullptr, ref::vec_dot_q5_0_q8_0,
                ref::quantize_weights_q5_0},
    TypeKernels{T::Q5_1, T::Q8_1, ref::dequantize_row_q5_1, nullptr, ref::vec_dot_q5_1_q8_1,
                ref::quantize_weights_q5_1},
    TypeKernels{T::Q8_0, T::Q8_0, ref::dequantize_row_q8_0, ref::quantize_row_q8_0,
                ref::vec_dot_q8_0_q8_0, ref::quantize_weights_q8_0},
    TypeKernels{T::Q8_1, T::Q8_1, ref::dequantize_row_q8_1, ref::quantize_row_q8_1, nullptr,
                nullptr},
    TypeKernels{T::Q2_K, T::Q8_K, ref::dequantize_row_q2_k, nullptr, ref::vec_dot_q2_k_q8_k,
                ref::quantize_weights_q2_k},
    TypeKernels{T::Q3_K, T::Q8_K, ref::dequantize_row_q3_k, nullptr, ref::vec_dot_q3_k_q8_k,
                ref::quantize_weights_q3_k},
    TypeKernels{T::Q4_K, T::Q8_K, ref::dequantize_row_q4_k, nullptr, ref::vec_dot_q4_k_q8_k,
                ref::quantize_weights_q4_k},
    TypeKernels{T::Q5_K, T::Q8_K, ref::dequantize_row_q5_k, nullptr, ref::vec_dot_q5_k_q8_k,
                ref::quantize_weights_q5_k},
    TypeKernels{T::Q6_K, T::Q8_K, ref::dequantize_row_q6_k, nullptr, ref::vec_dot_q6_k_q8_k,
                ref::quantize_weights_q6_k},
    TypeKernels{T::Q8_K, T::Q8_K, ref::dequantize_row_q8_k, ref::quantize_row_q8_k, nullptr,
                nullptr},
};

}  // namespace

const TypeKernels* reference_kernels(TensorType type) {
    for (const TypeKernels& k : kReference) {
        if (k.type == type) return &k;
    }
    return nullptr;
}

namespace {

// EMBER_KERNELS=reference: only the scalar kernels; EMBER_KERNELS=avx2: plain AVX2, neither
// AVX-512 nor AVX-VNNI; EMBER_KERNELS=avx2-vnni: no AVX-512; on aarch64 EMBER_KERNELS=neon:
// no dot product, EMBER_KERNELS=neon-dotprod: no i8mm (to measure what each adds, to rule one out,
// or to run a smaller CPU's kernels on a bigger one).
bool forced(const char* set) {
    const char* env = std::getenv("EMBER_KERNELS");
    return env != nullptr && std::string(env) == set;
}
bool forced_reference() {
    return forced("reference");
}

// The reference table with every dot product the CPU can run faster swapped in.
struct BestKernels {
    std::array<TypeKernels, kReference.size()> table = kReference;
    std::string name = "reference";
    FloatKernels floats{ref::matmul_f32, ref::exp_f32};

    BestKernels() {
        if (forced_reference()) return;
#if defined(__x86_64__)
        if (cpu_features().avx2) {
            name = "avx2";
            floats.matmul = avx2::matmul_f32;
            set_conversions(T::F16, avx2::dequantize_row_f16, avx2::quantize_row_f16);
            set_conversions(T::Q8_0, avx2::dequantize_row_q8_0, ref::quantize_row_q8_0);
            set_conversions(T::Q4_0, avx2::dequantize_row_q4_0, nullptr);
            set(T::F32, avx2::vec_dot_f32);
            set(T::F16, avx2::vec_dot_f16);
            set(T::BF16, avx2::vec_dot_bf16);
            set(T::Q4_0, avx2::vec_dot_q4_0_q8_0);
            set(T::Q4_1, avx2::vec_dot_q4_1_q8_1);
            set(T::Q5_0, avx2::vec_dot_q5_0_q8_0);
            set(T::Q5_1, avx2::vec_dot_q5_1_q8_1);
            set(T::Q8_0, avx2::vec_dot_q8_0_q8_0);
            set(T::Q2_K, avx2::vec_dot_q2_k_q8_k);
            set(T::Q3_K, avx2::vec_dot_q3_k_q8_k);
            set(T::Q4_K, avx2::vec_dot_q4_k_q8_k);
            set(T::Q5_K, avx2::vec_dot_q5_k_q8_k);
            set(T::Q6_K, avx2::vec_dot_q6_k_q8_k);
            set4(T::Q4_0, avx2::vec_dot4_q4_0_q8_0);
            set4(T::Q4_1, avx2::vec_dot4_q4_1_q8_1);
            set4(T::Q5_0, avx2::vec_dot4_q5_0_q8_0);
            set4(T::Q5_1, avx2::vec_dot4_q5_1_q8_1);
            set4(T::Q8_0, avx2::vec_dot4_q8_0_q8_0);
            set4(T::Q2_K, avx2::vec_dot4_q2_k_q8_k);
            set4(T::Q3_K, avx2::vec_dot4_q3_k_q8_k);
            set4(T::Q4_K, avx2::vec_dot4_q4_k_q8_k);
            set4(T::Q5_K, avx2::vec_dot4_q5_k_q8_k);
            set4(T::Q6_K, avx2::vec_dot4_q6_k_q8_k);
            set_all_packed8_from_avx2();
        }
        if (cpu_features().avx_vnni && !forced("avx2")) {
            name = "avx2-vnni";
            set_all_packed8_from_avxvnni();
        }
        if (cpu_features().avx2 && cpu_features().avx512 && cpu_features().avx512_vnni &&
            !forced("avx2") && !forced("avx2-vnni")) {
            name = "avx512-vnni";
            floats.matmul = avx512::matmul_f32;
            floats.exp = avx512::exp_f32;
            set(T::F32, avx512::vec_dot_f32);
            set(T::F16, avx512::vec_dot_f16);
            set(T::BF16, avx512::vec_dot_bf16);
            set_conversions(T::F16, avx512::dequantize_row_f16, avx2::quantize_row_f16);
            set_conversions(T::Q8_0, avx2::dequantize_row_q8_0, avx512::quantize_row_q8_0);
            set_conversions(T::Q8_K, ref::dequantize_row_q8_k, avx512::quantize_row_q8_k);
            set_gemm8(T::Q4_0, avx512::gemm8_q4_0_q8_0);
            set_gemm8(T::Q5_0, avx512::gemm8_q5_0_q8_0);
            set_gemm8(T::Q8_0, avx512::gemm8_q8_0_q8_0);
            set_gemm8(T::Q2_K, avx512::gemm8_q2_k_q8_k);
            set_gemm8(T::Q3_K, avx512::gemm8_q3_k_q8_k);
            set_gemm8(T::Q4_K, avx512::gemm8_q4_k_q8_k);
            set_gemm8(T::Q5_K, avx512::gemm8_q5_k_q8_k);
            set_gemm8(T::Q6_K, avx512::gemm8_q6_k_q8_k);
            set_packed(T::Q4_0, avx512::pack8_q4_0, avx512::gemm_packed8_q4_0,
                       avx512::gemm_packed16_q4_0);
            set_packed(T::Q5_0, avx512::pack8_q5_0, avx512::gemm_packed8_q5_0,
                       avx512::gemm_packed16_q5_0);
            set_packed(T::Q4_1, avx512::pack8_q4_1, avx512::gemm_packed8_q4_1,
                       avx512::gemm_packed16_q4_1);
            set_packed(T::Q5_1, avx512::pack8_q5_1, avx512::gemm_packed8_q5_1,
                       avx512::gemm_packed16_q5_1);
            set_packed(T::Q8_0, avx512::pack8_q8_0, avx512::gemm_packed8_q8_0,
                       avx512::gemm_packed16_q8_0);
            set_packed(T::Q2_K, avx512::pack8_q2_k, avx512::gemm_packed8_q2_k,
                       avx512::gemm_packed16_q2_k);
            set_packed(T::Q3_K, avx512::pack8_q3_k, avx512::gemm_packed8_q3_k,
                       avx512::gemm_packed16_q3_k);
            set_packed(T::Q4_K, avx512::pack8_q4_k, avx512::gemm_packed8_q4_k,
                       avx512::gemm_packed16_q4_k);
            set_packed(T::Q5_K, avx512::pack8_q5_k, avx512::gemm_packed8_q5_k,
                       avx512::gemm_packed16_q5_k);
            set_packed(T::Q6_K, avx512::pack8_q6_k, avx512::gemm_packed8_q6_k,
                       avx512::gemm_packed16_q6_k);
            set_packed32(T::Q4_0, avx512::gemm_packed32_q4_0);
            set_packed32(T::Q5_0, avx512::gemm_packed32_q5_0);
            set_packed32(T::Q4_1, avx512::gemm_packed32_q4_1);
            set_packed32(T::Q5_1, avx512::gemm_packed32_q5_1);
            set_packed32(T::Q8_0, avx512::gemm_packed32_q8_0);
        }
#elif defined(__aarch64__)
        if (cpu_features().neon_dotprod && !forced("neon")) {
            name = "neon-dotprod";
            set_all_from_neon_dotprod();
            if (cpu_features().neon_i8mm && !forced("neon-dotprod")) {
                name = "neon-i8mm";
                set_all_packed8_from_neon_i8mm();
            }
        } else if (cpu_features().neon) {
            name = "neon";
            set_all_from_neon();
        }
#endif
    }
#if defined(__aarch64__)
    void set_all_from_neon() {
        set(T::F32, neon::vec_dot_f32);
        set(T::F16, neon::vec_dot_f16);
        set(T::BF16, neon::vec_dot_bf16);
        set(T::Q4_0, neon::vec_dot_q4_0_q8_0);
        set(T::Q4_1, neon::vec_dot_q4_1_q8_1);
        set(T::Q5_0, neon::vec_dot_q5_0_q8_0);
        set(T::Q5_1, neon::vec_dot_q5_1_q8_1);
        set(T::Q8_0, neon::vec_dot_q8_0_q8_0);
        set(T::Q2_K, neon::vec_dot_q2_k_q8_k);
        set(T::Q3_K, neon::vec_dot_q3_k_q8_k);
        set(T::Q4_K, neon::vec_dot_q4_k_q8_k);
        set(T::Q5_K, neon::vec_dot_q5_k_q8_k);
        set(T::Q6_K, neon::vec_dot_q6_k_q8_k);
        floats.matmul = neon::matmul_f32;
        floats.exp = neon::exp_f32;
        set_conversions(T::F16, neon::dequantize_row_f16, neon::quantize_row_f16);
        set_conversions(T::Q8_0, neon::dequantize_row_q8_0, neon::quantize_row_q8_0);
        set_conversions(T::Q4_0, neon::dequantize_row_q4_0, nullptr);
        set_conversions(T::Q8_K, ref::dequantize_row_q8_k, neon::quantize_row_q8_k);
        set_packed(T::Q4_0, neon::pack8_q4_0, neon::gemm_packed8_q4_0, nullptr);
        set_packed(T::Q5_0, neon::pack8_q5_0, neon::gemm_packed8_q5_0, nullptr);
        set_packed(T::Q4_1, neon::pack8_q4_1, neon::gemm_packed8_q4_1, nullptr);
        set_packed(T::Q5_1, neon::pack8_q5_1, neon::gemm_packed8_q5_1, nullptr);
        set_packed(T::Q8_0, neon::pack8_q8_0, neon::gemm_packed8_q8_0, nullptr);
        set_packed(T::Q2_K, neon::pack8_q2_k, neon::gemm_packed8_q2_k, nullptr);
        set_packed(T::Q3_K, neon::pack8_q3_k, neon::gemm_packed8_q3_k, nullptr);
        set_packed(T::Q4_K, neon::pack8_q4_k, neon::gemm_packed8_q4_k, nullptr);
        set_packed(T::Q5_K, neon::pack8_q5_k, neon::gemm_packed8_q5_k, nullptr);
        set_packed(T::Q6_K, neon::pack8_q6_k, neon::gemm_packed8_q6_k, nullptr);
    }
    void set_all_from_neon_dotprod() {
        set(T::F32, neon_dotprod::vec_dot_f32);
        set(T::F16, neon_dotprod::vec_dot_f16);
        set(T::BF16, neon_dotprod::vec_dot_bf16);
        set(T::Q4_0, neon_dotprod::vec_dot_q4_0_q8_0);
        set(T::Q4_1, neon_dotprod::vec_dot_q4_1_q8_1);
        set(T::Q5_0, neon_dotprod::vec_dot_q5_0_q8_0);
        set(T::Q5_1, neon_dotprod::vec_dot_q5_1_q8_1);
        set(T::Q8_0, neon_dotprod::vec_dot_q8_0_q8_0);
        set(T::Q2_K, neon_dotprod::vec_dot_q2_k_q8_k);
        set(T::Q3_K, neon_dotprod::vec_dot_q3_k_q8_k);
        set(T::Q4_K, neon_dotprod::vec_dot_q4_k_q8_k);
        set(T::Q5_K, neon_dotprod::vec_dot_q5_k_q8_k);
        set(T::Q6_K, neon_dotprod::vec_dot_q6_k_q8_k);
        floats.matmul = neon_dotprod::matmul_f32;
        floats.exp = neon_dotprod::exp_f32;
        set_conversions(T::F16, neon_dotprod::dequantize_row_f16, neon_dotprod::quantize_row_f16);
        set_conversions(T::Q8_0, neon_dotprod::dequantize_row_q8_0,
                        neon_dotprod::quantize_row_q8_0);
        set_conversions(T::Q4_0, neon_dotprod::dequantize_row_q4_0, nullptr);
        set_conversions(T::Q8_K, ref::dequantize_row_q8_k, neon_dotprod::quantize_row_q8_k);
        set_packed(T::Q4_0, neon_dotprod::pack8_q4_0, neon_dotprod::gemm_packed8_q4_0, nullptr);
        set_packed(T::Q5_0, neon_dotprod::pack8_q5_0, neon_dotprod::gemm_packed8_q5_0, nullptr);
        set_packed(T::Q4_1, neon_dotprod::pack8_q4_1, neon_dotprod::gemm_packed8_q4_1, nullptr);
        set_packed(T::Q5_1, neon_dotprod::pack8_q5_1, neon_dotprod::gemm_packed8_q5_1, nullptr);
        set_packed(T::Q8_0, neon_dotprod::pack8_q8_0, neon_dotprod::gemm_packed8_q8_0, nullptr);
        set_packed(T::Q2_K, neon_dotprod::pack8_q2_k, neon_dotprod::gemm_packed8_q2_k, nullptr);
        set_packed(T::Q3_K, neon_dotprod::pack8_q3_k, neon_dotprod::gemm_packed8_q3_k, nullptr);
        set_packed(T::Q4_K, neon_dotprod::pack8_q4_k, neon_dotprod::gemm_packed8_q4_k, nullptr);
        set_packed(T::Q5_K, neon_dotprod::pack8_q5_k, neon_dotprod::gemm_packed8_q5_k, nullptr);
        set_packed(T::Q6_K, neon_dotprod::pack8_q6_k, neon_dotprod::gemm_packed8_q6_k, nullptr);
    }
    // The packed kernels built with i8mm (batches of the 32-value types through SMMLA).
    void set_all_packed8_from_neon_i8mm() {
        set_packed(T::Q4_0, neon_i8mm::pack8_q4_0, neon_i8mm::gemm_packed8_q4_0, nullptr);
        set_packed(T::Q5_0, neon_i8mm::pack8_q5_0, neon_i8mm::gemm_packed8_q5_0, nullptr);
        set_packed(T::Q4_1, neon_i8mm::pack8_q4_1, neon_i8mm::gemm_packed8_q4_1, nullptr);
        set_packed(T::Q5_1, neon_i8mm::pack8_q5_1, neon_i8mm::gemm_packed8_q5_1, nullptr);
        set_packed(T::Q8_0, neon_i8mm::pack8_q8_0, neon_i8mm::gemm_packed8_q8_0, nullptr);
        set_packed(T::Q2_K, neon_i8mm::pack8_q2_k, neon_i8mm::gemm_packed8_q2_k, nullptr);
        set_packed(T::Q3_K, neon_i8mm::pack8_q3_k, neon_i8mm::gemm_packed8_q3_k, nullptr);
        set_packed(T::Q4_K, neon_i8mm::pack8_q4_k, neon_i8mm::gemm_packed8_q4_k, nullptr);
        set_packed(T::Q5_K, neon_i8mm::pack8_q5_k, neon_i8mm::gemm_packed8_q5_k, nullptr);
        set_packed(T::Q6_K, neon_i8mm::pack8_q6_k, neon_i8mm::gemm_packed8_q6_k, nullptr);
    }
#endif
#if defined(__x86_64__)
    // The packing and 8-row packed kernels of every packed type (no 16-row ones).
    void set_all_packed8_from_avx2() {
        set_packed(T::Q4_0, avx2::pack8_q4_0, avx2::gemm_packed8_q4_0, nullptr);
        set_packed(T::Q5_0, avx2::pack8_q5_0, avx2::gemm_packed8_q5_0, nullptr);
        set_packed(T::Q4_1, avx2::pack8_q4_1, avx2::gemm_packed8_q4_1, nullptr);
        set_packed(T::Q5_1, avx2::pack8_q5_1, avx2::gemm_packed8_q5_1, nullptr);
        set_packed(T::Q8_0, avx2::pack8_q8_0, avx2::gemm_packed8_q8_0, nullptr);
        set_packed(T::Q2_K, avx2::pack8_q2_k, avx2::gemm_packed8_q2_k, nullptr);
        set_packed(T::Q3_K, avx2::pack8_q3_k, avx2::gemm_packed8_q3_k, nullptr);
        set_packed(T::Q4_K, avx2::pack8_q4_k, avx2::gemm_packed8_q4_k, nullptr);
        set_packed(T::Q5_K, avx2::pack8_q5_k, avx2::gemm_packed8_q5_k, nullptr);
        set_packed(T::Q6_K, avx2::pack8_q6_k, avx2::gemm_packed8_q6_k, nullptr);
    }
    void set_all_packed8_from_avxvnni() {
        set_packed(T::Q4_0, avxvnni::pack8_q4_0, avxvnni::gemm_packed8_q4_0, nullptr);
        set_packed(T::Q5_0, avxvnni::pack8_q5_0, avxvnni::gemm_packed8_q5_0, nullptr);
        set_packed(T::Q4_1, avxvnni::pack8_q4_1, avxvnni::gemm_packed8_q4_1, nullptr);
        set_packed(T::Q5_1, avxvnni::pack8_q5_1, avxvnni::gemm_packed8_q5_1, nullptr);
        set_packed(T::Q8_0, avxvnni::pack8_q8_0, avxvnni::gemm_packed8_q8_0, nullptr);
        set_packed(T::Q2_K, avxvnni::pack8_q2_k, avxvnni::gemm_packed8_q2_k, nullptr);
        set_packed(T::Q3_K, avxvnni::pack8_q3_k, avxvnni::gemm_packed8_q3_k, nullptr);
        set_packed(T::Q4_K, avxvnni::pack8_q4_k, avxvnni::gemm_packed8_q4_k, nullptr);
        set_packed(T::Q5_K, avxvnni::pack8_q5_k, avxvnni::gemm_packed8_q5_k, nullptr);
        set_packed(T::Q6_K, avxvnni::pack8_q6_k, avxvnni::gemm_packed8_q6_k, nullptr);
    }
#endif

    void set_conversions(TensorType type, DequantizeRowFn dequantize, QuantizeRowFn quantize) {
        for (TypeKernels& k : table) {
            if (k.type == type) k.dequantize_row = dequantize, k.quantize_row = quantize;
        }
    }
    void set_packed(TensorType type, Pack8Fn pack, GemmPacked8Fn gemm, GemmPacked8Fn gemm16) {
        for (TypeKernels& k : table) {
            if (k.type == type) k.pack8 = pack, k.gemm_packed8 = gemm, k.gemm_packed16 = gemm16;
        }
    }
    void set_packed32(TensorType type, GemmPacked8Fn gemm32) {
        for (TypeKernels& k : table) {
            if (k.type == type) k.gemm_packed32 = gemm32;
        }
    }
    void set_gemm8(TensorType type, Gemm8Fn gemm) {
        for (TypeKernels& k : table) {
            if (k.type == type) k.gemm8 = gemm;
        }
    }
    void set4(TensorType type, VecDot4Fn dot4) {
        for (TypeKernels& k : table) {
            if (k.type == type) k.vec_dot4 = dot4;
        }
    }
    void set(TensorType type, VecDotFn dot) {
        for (TypeKernels& k : table) {
            if (k.type == type) k.vec_dot = dot;
        }
    }
};

const BestKernels& best() {
    static const BestKernels kernels;
    return kernels;
}

}  // namespace

const TypeKernels* kernels_for(TensorType type) {
    for (const TypeKernels& k : best().table) {
        if (k.type == type) return &k;
    }
    return nullptr;
}

const FloatKernels& float_kernels() {
    return best().floats;
}

std::string active_kernel_set() {
    return best().name;
}

}  // namespace ember
