#include "kernels/cpu_features.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include "platform/cpu.h"

namespace ember {
namespace {

#if defined(__x86_64__)
// The CPU reports an instruction set (CPUID); the operating system must also save its
// registers on context switches (XGETBV), or the instructions cannot be used.
CpuFeatures detect_x86() {
    CpuFeatures f;
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return f;
    const bool fma = ecx & (1u << 12), osxsave = ecx & (1u << 27), avx = ecx & (1u << 28),
               f16c = ecx & (1u << 29);
    if (!osxsave || !avx) return f;
    unsigned xcr0_lo, xcr0_hi;
    __asm__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    const bool os_avx = (xcr0_lo & 0x6) == 0x6;       // SSE and AVX state
    const bool os_avx512 = (xcr0_lo & 0xe6) == 0xe6;  // plus opmask and upper ZMM state
    if (!os_avx || !__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return f;
    const bool avx2 = ebx & (1u << 5), avx512f = ebx & (1u << 16), avx512bw = ebx & (1u << 30),
               avx512vl = ebx & (1u << 31), avx512vnni = ecx & (1u << 11);
    f.avx2 = avx2 && fma && f16c;
    f.avx512 = f.avx2 && os_avx512 && avx512f && avx512bw && avx512vl;
    f.avx512_vnni = f.avx512 && avx512vnni;
    if (__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx)) f.avx_vnni = f.avx2 && (eax & (1u << 4));
    return f;
}
#endif

}  // namespace

const CpuFeatures& cpu_features() {
    static const CpuFeatures features = [] {
#if defined(__x86_64__)
        return detect_x86();
#else
        CpuFeatures f;
#if defined(__aarch64__)
        f.neon = true;  // part of the aarch64 base
        const platform::ArmFeatures arm = platform::arm_features();
        f.neon_dotprod = arm.dotprod;
        f.neon_i8mm = arm.dotprod && arm.i8mm;
#endif
        return f;
#endif
    }();
    return features;
}

}  // namespace ember
