// One table of kernels per type. reference_kernels() is the scalar truth; kernels_for() is
// what the engine runs, chosen once from what the CPU reports: the reference with the kernels
// of each instruction set the CPU has registered over it, in order (kSets below; each SIMD
// file registers its own kernels at its end).
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
    // The i-quants and ternary types (each with its weight quantizer).
    TypeKernels{T::IQ4_NL, T::Q8_0, ref::dequantize_row_iq4_nl, nullptr, ref::vec_dot_iq4_nl_q8_0,
                ref::quantize_weights_iq4_nl},
    TypeKernels{T::IQ4_XS, T::Q8_K, ref::dequantize_row_iq4_xs, nullptr, ref::vec_dot_iq4_xs_q8_k,
                ref::quantize_weights_iq4_xs},
    TypeKernels{T::IQ3_XXS, T::Q8_K, ref::dequantize_row_iq3_xxs, nullptr,
                ref::vec_dot_iq3_xxs_q8_k, ref::quantize_weights_iq3_xxs},
    TypeKernels{T::IQ3_S, T::Q8_K, ref::dequantize_row_iq3_s, nullptr, ref::vec_dot_iq3_s_q8_k,
                ref::quantize_weights_iq3_s},
    TypeKernels{T::IQ2_XXS, T::Q8_K, ref::dequantize_row_iq2_xxs, nullptr,
                ref::vec_dot_iq2_xxs_q8_k, ref::quantize_weights_iq2_xxs},
    TypeKernels{T::IQ2_XS, T::Q8_K, ref::dequantize_row_iq2_xs, nullptr, ref::vec_dot_iq2_xs_q8_k,
                ref::quantize_weights_iq2_xs},
    TypeKernels{T::IQ2_S, T::Q8_K, ref::dequantize_row_iq2_s, nullptr, ref::vec_dot_iq2_s_q8_k,
                ref::quantize_weights_iq2_s},
    TypeKernels{T::IQ1_S, T::Q8_K, ref::dequantize_row_iq1_s, nullptr, ref::vec_dot_iq1_s_q8_k,
                ref::quantize_weights_iq1_s},
    TypeKernels{T::IQ1_M, T::Q8_K, ref::dequantize_row_iq1_m, nullptr, ref::vec_dot_iq1_m_q8_k,
                ref::quantize_weights_iq1_m},
    TypeKernels{T::TQ1_0, T::Q8_K, ref::dequantize_row_tq1_0, nullptr, ref::vec_dot_tq1_0_q8_k,
                ref::quantize_weights_tq1_0},
    TypeKernels{T::TQ2_0, T::Q8_K, ref::dequantize_row_tq2_0, nullptr, ref::vec_dot_tq2_0_q8_k,
                ref::quantize_weights_tq2_0},
};

}  // namespace

const TypeKernels* reference_kernels(TensorType type) {
    for (const TypeKernels& k : kReference) {
        if (k.type == type) return &k;
    }
    return nullptr;
}

TypeKernels& KernelTable::operator[](TensorType type) {
    for (TypeKernels& k : types) {
        if (k.type == type) return k;
    }
    std::abort();  // a registration for a type without a reference: a bug in kernels/
}

const TypeKernels* KernelTable::find(TensorType type) const {
    for (const TypeKernels& k : types) {
        if (k.type == type) return &k;
    }
    return nullptr;
}

namespace {

// A kernel set: its name, whether this CPU runs it, and what it registers over the set before
// it in kSets (each builds on the one above; x86: avx2 <- avx2-vnni, avx2 <- avx512-vnni).
struct KernelSet {
    const char* name;
    const char* builds_on;  // nullptr: the reference
    bool (*available)();
    void (*register_all)(KernelTable&);
};

constexpr KernelSet kSets[] = {
#if defined(__x86_64__)
    {"avx2", nullptr, [] { return cpu_features().avx2; },
     [](KernelTable& t) {
         avx2::register_kernels(t);
         avx2::register_packed_kernels(t);
     }},
    {"avx2-vnni", "avx2", [] { return cpu_features().avx2 && cpu_features().avx_vnni; },
     [](KernelTable& t) { avxvnni::register_packed_kernels(t); }},
    {"avx512-vnni", "avx2",
     [] { return cpu_features().avx2 && cpu_features().avx512 && cpu_features().avx512_vnni; },
     [](KernelTable& t) {
         avx512::register_kernels(t);
         avx512::register_packed_kernels(t);
         avx512::register_grid_kernels(t);
     }},
#elif defined(__aarch64__)
    {"neon", nullptr, [] { return cpu_features().neon; },
     [](KernelTable& t) { neon::register_kernels(t); }},
    {"neon-dotprod", nullptr, [] { return cpu_features().neon_dotprod; },
     [](KernelTable& t) { neon_dotprod::register_kernels(t); }},
    {"neon-i8mm", "neon-dotprod",
     [] { return cpu_features().neon_dotprod && cpu_features().neon_i8mm; },
     [](KernelTable& t) { neon_i8mm::register_packed_kernels(t); }},
#endif
};

KernelTable reference_table() {
    return KernelTable{
        "reference", std::vector<TypeKernels>(kReference.begin(), kReference.end()),
        FloatKernels{ref::matmul_f32, ref::exp_f32, ref::dot_rows_f16, ref::mad_rows_f16}};
}

const KernelSet* find_set(std::string_view name) {
    for (const KernelSet& set : kSets) {
        if (name == set.name) return &set;
    }
    return nullptr;
}

// The set's table: the one it builds on, with its own kernels registered over it.
KernelTable build(const KernelSet& set) {
    KernelTable table = set.builds_on ? build(*find_set(set.builds_on)) : reference_table();
    set.register_all(table);
    table.name = set.name;
    return table;
}

// The table ember runs: the last set of kSets this CPU runs. EMBER_KERNELS=NAME stops at that
// set (reference: only the scalar kernels; avx2: plain AVX2, neither AVX-VNNI nor AVX-512;
// avx2-vnni: no AVX-512; neon: no dot product; neon-dotprod: no i8mm), to measure what each
// adds, to rule one out, or to run a smaller CPU's kernels on a bigger one; where the CPU lacks
// the named set, the last one below it that it runs.
KernelTable best_table() {
    const char* env = std::getenv("EMBER_KERNELS");
    const std::string forced = env != nullptr ? env : "";
    if (forced == "reference") return reference_table();
    const KernelSet* best = nullptr;
    for (const KernelSet& set : kSets) {
        if (set.available()) best = &set;
        if (forced == set.name) break;
    }
    return best ? build(*best) : reference_table();
}

const KernelTable& best() {
    static const KernelTable table = best_table();
    return table;
}

}  // namespace

std::vector<std::string> kernel_set_names() {
    std::vector<std::string> names = {"reference"};
    for (const KernelSet& set : kSets) names.emplace_back(set.name);
    return names;
}

std::optional<KernelTable> kernel_table(std::string_view name) {
    if (name == "reference") return reference_table();
    const KernelSet* set = find_set(name);
    if (set == nullptr || !set->available()) return std::nullopt;
    return build(*set);
}

const TypeKernels* kernels_for(TensorType type) {
    return best().find(type);
}

const FloatKernels& float_kernels() {
    return best().floats;
}

std::string active_kernel_set() {
    return best().name;
}

}  // namespace ember
