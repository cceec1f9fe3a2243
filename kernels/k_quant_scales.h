// Unpacking the 6-bit sub-block scales of the K-quants; shared by the reference kernels and
// the SIMD ones, so there is exactly one definition of each packing. `static` for the same
// reason as in fp16.h.
#pragma once

#include <cstdint>

namespace ember {

// Q3_K's 16 six-bit scales (stored with +32): low 4 bits in bytes 0..7 (two per byte), high 2
// bits in bytes 8..11. Returns scale j in -32..31.
static inline int q3_k_scale(const uint8_t* scales, int j) {
    const int low = j < 8 ? scales[j] & 0x0f : scales[j - 8] >> 4;
    const int high = (scales[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (low | (high << 4)) - 32;
}

// Q4_K and Q5_K: eight 6-bit scales and eight 6-bit mins in 12 bytes. Scales 0..3 and mins
// 0..3 are the low 6 bits of bytes 0..3 and 4..7; scales and mins 4..7 take their low 4 bits
// from the nibbles of bytes 8..11 and their high 2 bits from the top of bytes 0..7.
static inline void q4_k_scale_min(const uint8_t* s, int j, int* scale, int* min) {
    if (j < 4) {
        *scale = s[j] & 63;
        *min = s[j + 4] & 63;
    } else {
        *scale = (s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4);
        *min = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

}  // namespace ember
