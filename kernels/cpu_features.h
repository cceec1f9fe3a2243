// What the CPU can do, asked once at run time; the kernel registry picks paths from it.
#pragma once

#include <string>

namespace ember {

struct CpuFeatures {
    bool avx2 = false;    // with FMA and F16C
    bool avx512 = false;  // F, BW, VL
    bool avx512_vnni = false;
    bool avx_vnni = false;      // AVX2 CPUs' VEX-encoded VNNI (with avx2)
    bool neon = false;          // aarch64 Advanced SIMD
    bool neon_dotprod = false;  // SDOT/UDOT (armv8.2 dotprod): Cortex-A55/A76, Apple M1
    bool neon_i8mm = false;     // SMMLA (armv8.6 i8mm), with dotprod: Cortex-A510/A710/X2, M2
};

const CpuFeatures& cpu_features();

// The kernel set in use: "reference", "avx2", "avx2-vnni", "avx512-vnni", "neon",
// "neon-dotprod", "neon-i8mm". EMBER_KERNELS in the environment forces a lower one (e.g.
// EMBER_KERNELS=reference, or EMBER_KERNELS=neon on a CPU with the dot product).
std::string active_kernel_set();

}  // namespace ember
