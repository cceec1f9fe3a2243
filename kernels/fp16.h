// IEEE half precision (F16) and bfloat16 (BF16) conversions, bit-exact and portable.
// Both narrowing conversions round to nearest, ties to even, as the hardware instructions
// (x86 F16C, ARM FCVT) do, so results do not depend on the machine.
// The functions are `static`: files built with ISA flags (-mavx2 ...) include this header too,
// and internal linkage keeps the linker from handing their copies to code that runs anywhere.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__F16C__)
#include <immintrin.h>
#endif

namespace ember {

using fp16_t = uint16_t;  // raw bits of an IEEE binary16
using bf16_t = uint16_t;  // raw bits of a bfloat16: the top half of a binary32

static inline uint32_t f32_bits(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
}
static inline float f32_from_bits(uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

// binary16: 1 sign bit, 5 exponent bits (bias 15), 10 mantissa bits. Widening is exact; on
// aarch64 one FCVT does it, and in x86 files built with F16C one VCVTPH2PS (the kernels convert
// a block's scale per 256 values: the portable code was some 15 instructions and a branch),
// with the same result but for a signaling NaN, which both quiet.
#if defined(__aarch64__)
static inline float fp16_to_f32(fp16_t h) {
    __fp16 half;
    std::memcpy(&half, &h, sizeof(half));
    return static_cast<float>(half);
}
#elif defined(__F16C__)
static inline float fp16_to_f32(fp16_t h) {
    return _cvtsh_ss(h);
}
#else
static inline float fp16_to_f32(fp16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
    const uint32_t exponent = (h >> 10) & 0x1f;
    const uint32_t mantissa = h & 0x3ff;
    if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24, exact in binary32
        const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
        return sign ? -magnitude : magnitude;
    }
    if (exponent == 31) return f32_from_bits(sign | 0x7f800000 | (mantissa << 13));  // inf, NaN
    return f32_from_bits(sign | ((exponent + 112) << 23) | (mantissa << 13));  // rebias 15 -> 127
}
#endif

static inline fp16_t f32_to_fp16(float f) {
    const uint32_t bits = f32_bits(f);
    const auto sign = static_cast<uint16_t>((bits >> 16) & 0x8000);
    const uint32_t magnitude = bits & 0x7fffffff;
    if (magnitude >= 0x7f800000) {  // inf stays inf; NaN stays a (quiet) NaN
        return sign | 0x7c00 | (magnitude > 0x7f800000 ? 0x200 : 0);
    }
    if (magnitude >= 0x477ff000) return sign | 0x7c00;  // >= 65520 rounds past 65504 to inf
    if (magnitude < 0x38800000) {  // below 2^-14: a subnormal half, in units of 2^-24
        const float units = std::nearbyint(f32_from_bits(magnitude) * 16777216.0f);  // ties even
        return sign | static_cast<uint16_t>(units);
    }
    // Normal: rebias the exponent (127 -> 15) and round 23 mantissa bits to 10, ties to even;
    // a carry out of the mantissa correctly bumps the exponent.
    const uint32_t rebiased = magnitude - (112u << 23);
    return sign | static_cast<uint16_t>((rebiased + 0xfff + ((rebiased >> 13) & 1)) >> 13);
}

static inline float bf16_to_f32(bf16_t h) {
    return f32_from_bits(static_cast<uint32_t>(h) << 16);
}

static inline bf16_t f32_to_bf16(float f) {
    const uint32_t bits = f32_bits(f);
    if ((bits & 0x7fffffff) > 0x7f800000)
        return static_cast<bf16_t>((bits >> 16) | 64);  // quiet NaN
    return static_cast<bf16_t>((bits + 0x7fff + ((bits >> 16) & 1)) >> 16);
}

}  // namespace ember
