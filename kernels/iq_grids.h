// The lookup tables of the i-quants, as ggml defines them (ggml-common.h, llama.cpp, MIT):
// the 16 levels of the 4-bit IQ4 codes, and the lattice grids IQ2, IQ3 and IQ1 index. A grid
// entry is a group of 8 magnitudes (4 for IQ3), value j in byte j, so a kernel loads a group in
// one read, as ggml's uint64 / uint32 tables do. iq_grids.cpp says how they are stored.
#pragma once

#include <array>
#include <bit>
#include <cstdint>

namespace ember {

// IQ4_NL and IQ4_XS: the value a 4-bit code stands for (non-uniform, denser near zero).
inline constexpr int8_t kIq4Levels[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                          1,    13,   25,  38,  53,  69,  89,  113};

extern const std::array<uint64_t, 256> kIq2xxsGrid;  // magnitudes 8, 25, 43
extern const std::array<uint64_t, 512> kIq2xsGrid;   // the same magnitudes
extern const std::array<uint64_t, 1024> kIq2sGrid;   // the same magnitudes
extern const std::array<uint32_t, 256> kIq3xxsGrid;  // 4, 12, 20, ..., 52, 62
extern const std::array<uint32_t, 512> kIq3sGrid;    // 1, 3, 5, ..., 15
extern const std::array<uint64_t, 2048> kIq1sGrid;   // -1, 0, 1 as int8

// The same grids as levels, the form ggml's quantizer searches: value j of entry i is bits
// 2j..2j+1 (IQ2: magnitude 8, 25, 43 for 0, 1, 2; IQ1: -1, 0, 1) or 3j..3j+2 (IQ3: the eight
// magnitudes in order) of the entry.
extern const uint16_t kIq2xxsLevels[256];
extern const uint16_t kIq2xsLevels[512];
extern const uint16_t kIq2sLevels[1024];
extern const uint16_t kIq3xxsLevels[256];
extern const uint16_t kIq3sLevels[512];
extern const uint16_t kIq1sLevels[2048];

// IQ2 and IQ3 store the signs of 8 values in 7 bits: the 8th sign makes the number of minus
// signs even (ggml's ksigns_iq2xs table is this function of its index). Bit j set: value j < 0.
constexpr uint8_t iq_signs(uint32_t seven_bits) {
    return static_cast<uint8_t>(seven_bits | (std::popcount(seven_bits) & 1u) << 7);
}

}  // namespace ember
