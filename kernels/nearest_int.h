// Rounding a float to the nearest integer as llama.cpp's quantizers do (ggml-quants.c,
// nearest_int), shared by ember's quantizers so their bytes match.
#pragma once

#include <cstdint>
#include <cstring>

namespace ember::ref {

// Round half to even for |x| < 2^22: adding 1.5 * 2^23 leaves the integer in the low mantissa
// bits (the FPU rounds to nearest even on the add).
inline int nearest_int(float x) {
    const float shifted = x + 12582912.0f;
    int32_t bits;
    std::memcpy(&bits, &shifted, 4);
    return (bits & 0x007fffff) - 0x00400000;
}

}  // namespace ember::ref
