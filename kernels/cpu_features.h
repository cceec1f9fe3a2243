// What the CPU can do, asked once at run time; the kernel registry picks paths from it.
#pragma once

#include <string>

namespace ember {

struct CpuFeatures {
    bool avx2 = false;    // with FMA and F16C
    bool avx512 = false;  // F, BW, VL
    bool avx512_vnni = false;
    bool avx_vnni = false;  // AVX2 CPUs' VEX-encoded VNNI (with avx2)
    bool neon = false;      // aarch64 Advanced SIMD
    bool neon_dotprod = false;
};

const CpuFeatures& cpu_features();

// The kernel set in use: "reference", "avx2", "avx2-vnni", "avx512-vnni", "neon",
// "neon-dotprod". EMBER_KERNELS in the environment forces a lower one (e.g.
// EMBER_KERNELS=reference).
std::string active_kernel_set();

}  // namespace ember
