// The SIMD kernels, one namespace per instruction set, each in its own file compiled with its
// own flags (kernels/CMakeLists.txt). Same signatures and results as the scalar reference
// (reference.h). Each file registers its kernels into a KernelTable (kernels.h) at its end, so
// a kernel is defined and registered in one file and named nowhere else; registry.cpp calls
// these only for instruction sets the CPU has.
#pragma once

#include "kernels/kernels.h"

namespace ember {

namespace avx2 {                               // x86-64 with AVX2, FMA and F16C
void register_kernels(KernelTable& t);         // x86_avx2.cpp: dot products, conversions
void register_packed_kernels(KernelTable& t);  // x86_avx2_packed.cpp: packed 8-row panels
}  // namespace avx2
namespace avxvnni {                            // AVX2 with AVX-VNNI
void register_packed_kernels(KernelTable& t);  // x86_avxvnni_packed.cpp
}  // namespace avxvnni
namespace avx512 {                             // AVX-512 with VNNI
void register_kernels(KernelTable& t);         // x86_avx512.cpp: dots, conversions, gemm8
void register_packed_kernels(KernelTable& t);  // x86_avx512_packed.cpp: 8, 16 and 32 rows
void register_grid_kernels(KernelTable& t);    // x86_avx512_grid.cpp: lattice i-quants, IQ1
}  // namespace avx512
namespace neon {                        // aarch64 (arm_neon.cpp: arm_neon.inl and arm_packed.inl)
void register_kernels(KernelTable& t);  // everything, the packed kernels included
void register_packed_kernels(KernelTable& t);
}  // namespace neon
namespace neon_dotprod {  // the same, built with +dotprod (arm_neon_dotprod.cpp)
void register_kernels(KernelTable& t);
void register_packed_kernels(KernelTable& t);
}  // namespace neon_dotprod
namespace neon_i8mm {  // packed kernels built with +dotprod+i8mm (arm_neon_i8mm.cpp)
void register_packed_kernels(KernelTable& t);
}  // namespace neon_i8mm

}  // namespace ember
