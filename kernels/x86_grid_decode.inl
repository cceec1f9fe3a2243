// The grid i-quants (IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S), IQ1_S, IQ1_M and the ternary
// types (TQ1_0, TQ2_0) decoded 32 values at a time into signed bytes, shared by the AVX2 row
// kernels (x86_avx2.cpp) and the packed panels (x86_packed.inl). The grid types' 4 (IQ3: 8)
// grid entries of a sub-block are loaded as one vector and their signs applied through byte
// masks (x ^ m - m negates where m is 0xff). The values' integer sums with Q8_K activations
// are the reference's.
//
// Each decoder: Block, kFactor (the float factor the reference applies to its sum), scale(b)
// (the super-block's float scale), values(b, ib) (values 32 ib .. 32 ib + 31 as signed
// bytes, within -62..62) and scales(b, ib, lo, hi) (the integer scales of their two 16-value
// halves). Everything is in an anonymous namespace: each including file compiles its own copy
// with its own instruction-set flags (see x86_panel.inl).
#pragma once

#include <immintrin.h>

#include <array>
#include <cstdint>
#include <cstring>

#include "kernels/blocks.h"
#include "kernels/iq_grids.h"

namespace ember::x86_grid {
namespace {

inline float fp16_value(fp16_t h) {
    return _cvtsh_ss(h);  // exact, like fp16_to_f32
}

// The byte masks of the sign patterns: 0xff in byte j where value j is negative. 7-bit groups
// (IQ2_XXS, IQ2_XS, IQ3_XXS; the 8th sign from the parity) and explicit sign bytes (IQ2_S, IQ3_S).
constexpr uint64_t sign_mask(uint32_t signs) {
    uint64_t mask = 0;
    for (int j = 0; j < 8; ++j)
        if ((signs >> j) & 1) mask |= uint64_t{0xff} << (8 * j);
    return mask;
}
constexpr std::array<uint64_t, 128> kSevenBitSigns = [] {
    std::array<uint64_t, 128> t{};
    for (uint32_t i = 0; i < 128; ++i) t[i] = sign_mask(iq_signs(i));
    return t;
}();
constexpr std::array<uint64_t, 256> kEightBitSigns = [] {
    std::array<uint64_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) t[i] = sign_mask(i);
    return t;
}();

inline __m256i signed_bytes(__m256i magnitudes, __m256i masks) {
    return _mm256_sub_epi8(_mm256_xor_si256(magnitudes, masks), masks);
}
inline __m256i four_u64(uint64_t a, uint64_t b, uint64_t c, uint64_t d) {  // a in bytes 0..7
    return _mm256_set_epi64x(static_cast<int64_t>(d), static_cast<int64_t>(c),
                             static_cast<int64_t>(b), static_cast<int64_t>(a));
}

struct DecodeIQ2_XXS {
    using Block = BlockIQ2_XXS;
    static constexpr float kFactor = 0.125f;
    static float scale(const Block& b) { return fp16_value(b.d); }
    static __m256i values(const Block& b, int ib) {
        uint32_t idx, rest;
        iq2_xxs_words(b, ib, idx, rest);
        return signed_bytes(
            four_u64(kIq2xxsGrid[idx & 0xff], kIq2xxsGrid[(idx >> 8) & 0xff],
                     kIq2xxsGrid[(idx >> 16) & 0xff], kIq2xxsGrid[idx >> 24]),
            four_u64(kSevenBitSigns[rest & 127], kSevenBitSigns[(rest >> 7) & 127],
                     kSevenBitSigns[(rest >> 14) & 127], kSevenBitSigns[(rest >> 21) & 127]));
    }
    static void scales(const Block& b, int ib, int& lo, int& hi) {
        uint32_t idx, rest;
        iq2_xxs_words(b, ib, idx, rest);
        lo = hi = static_cast<int>(2 * (rest >> 28) + 1);
    }
};
struct DecodeIQ2_XS {
    using Block = BlockIQ2_XS;
    static constexpr float kFactor = 0.125f;
    static float scale(const Block& b) { return fp16_value(b.d); }
    static __m256i values(const Block& b, int ib) {
        const uint16_t* q = &b.qs[4 * ib];
        return signed_bytes(four_u64(kIq2xsGrid[q[0] & 511], kIq2xsGrid[q[1] & 511],
                                     kIq2xsGrid[q[2] & 511], kIq2xsGrid[q[3] & 511]),
                            four_u64(kSevenBitSigns[q[0] >> 9], kSevenBitSigns[q[1] >> 9],
                                     kSevenBitSigns[q[2] >> 9], kSevenBitSigns[q[3] >> 9]));
    }
    static void scales(const Block& b, int ib, int& lo, int& hi) {
        lo = 2 * (b.scales[ib] & 0xf) + 1;
        hi = 2 * (b.scales[ib] >> 4) + 1;
    }
};
struct DecodeIQ2_S {
    using Block = BlockIQ2_S;
    static constexpr float kFactor = 0.125f;
    static float scale(const Block& b) { return fp16_value(b.d); }
    static __m256i values(const Block& b, int ib) {
        const uint8_t* signs = b.qs + kQK_K / 8 + 4 * ib;
        return signed_bytes(
            four_u64(kIq2sGrid[iq2_s_index(b, ib, 0)], kIq2sGrid[iq2_s_index(b, ib, 1)],
                     kIq2sGrid[iq2_s_index(b, ib, 2)], kIq2sGrid[iq2_s_index(b, ib, 3)]),
            four_u64(kEightBitSigns[signs[0]], kEightBitSigns[signs[1]], kEightBitSigns[signs[2]],
                     kEightBitSigns[signs[3]]));
    }
    static void scales(const Block& b, int ib, int& lo, int& hi) {
        lo = 2 * (b.scales[ib] & 0xf) + 1;
        hi = 2 * (b.scales[ib] >> 4) + 1;
    }
};
struct DecodeIQ3_XXS {
    using Block = BlockIQ3_XXS;
    static constexpr float kFactor = 0.25f;
    static float scale(const Block& b) { return fp16_value(b.d); }
    static uint32_t rest(const Block& b, int ib) {  // four 7-bit sign groups, then the scale
        uint32_t word;
        std::memcpy(&word, b.qs + kQK_K / 4 + 4 * ib, 4);
        return word;
    }
    static __m256i values(const Block& b, int ib) {
        const uint8_t* q = &b.qs[8 * ib];
        const uint32_t word = rest(b, ib);
        const __m256i magnitudes = _mm256_set_epi32(
            static_cast<int>(kIq3xxsGrid[q[7]]), static_cast<int>(kIq3xxsGrid[q[6]]),
            static_cast<int>(kIq3xxsGrid[q[5]]), static_cast<int>(kIq3xxsGrid[q[4]]),
            static_cast<int>(kIq3xxsGrid[q[3]]), static_cast<int>(kIq3xxsGrid[q[2]]),
            static_cast<int>(kIq3xxsGrid[q[1]]), static_cast<int>(kIq3xxsGrid[q[0]]));
        return signed_bytes(
            magnitudes,
            four_u64(kSevenBitSigns[word & 127], kSevenBitSigns[(word >> 7) & 127],
                     kSevenBitSigns[(word >> 14) & 127], kSevenBitSigns[(word >> 21) & 127]));
    }
    static void scales(const Block& b, int ib, int& lo, int& hi) {
        lo = hi = static_cast<int>(2 * (rest(b, ib) >> 28) + 1);
    }
};
struct DecodeIQ3_S {
    using Block = BlockIQ3_S;
    static constexpr float kFactor = 1.0f;
    static float scale(const Block& b) { return fp16_value(b.d); }
    static __m256i values(const Block& b, int ib) {
        int g[8];
        for (int k = 0; k < 8; ++k) g[k] = static_cast<int>(kIq3sGrid[iq3_s_index(b, ib, k)]);
        const uint8_t* signs = &b.signs[4 * ib];
        return signed_bytes(_mm256_set_epi32(g[7], g[6], g[5], g[4], g[3], g[2], g[1], g[0]),
                            four_u64(kEightBitSigns[signs[0]], kEightBitSigns[signs[1]],
                                     kEightBitSigns[signs[2]], kEightBitSigns[signs[3]]));
    }
    static void scales(const Block& b, int ib, int& lo, int& hi) {
        lo = hi = 2 * ((b.scales[ib / 2] >> (4 * (ib % 2))) & 0xf) + 1;
    }
};

// IQ1_S, IQ1_M: grid values -1, 0, 1 plus a shift of +-1/8 per sub-block (IQ1_S) or per 8
// values (IQ1_M). The weights here are 8 g + s (s = +-1: -9..9), so the integer sum is 8 times
// the reference's grid sum plus its shift sum, and the factor 1/8 comes at the end: both are
// exact (the sums stay far below 2^24), so the bits are the reference's.
inline __m256i eight_times(__m256i grid) {  // grid in -1, 0, 1
    return _mm256_sign_epi8(_mm256_set1_epi8(8), grid);
}
struct DecodeIQ1_S {
    using Block = BlockIQ1_S;
    static constexpr float kFactor = 0.125f;
    static float scale(const Block& b) { return fp16_value(b.d); }
    static __m256i values(const Block& b, int ib) {
        const __m256i grid =
            four_u64(kIq1sGrid[iq1_s_index(b, ib, 0)], kIq1sGrid[iq1_s_index(b, ib, 1)],
                     kIq1sGrid[iq1_s_index(b, ib, 2)], kIq1sGrid[iq1_s_index(b, ib, 3)]);
        const __m256i shift = _mm256_set1_epi8(b.qh[ib] & 0x8000 ? -1 : 1);
        return _mm256_add_epi8(eight_times(grid), shift);
    }
    static void scales(const Block& b, int ib, int& lo, int& hi) {
        lo = hi = 2 * ((b.qh[ib] >> 12) & 7) + 1;
    }
};
struct DecodeIQ1_M {
    using Block = BlockIQ1_M;
    static constexpr float kFactor = 0.125f;
    static float scale(const Block& b) {
        uint16_t sc[4];
        float d;
        iq1_m_scales(b, sc, d);
        return d;
    }
    static __m256i values(const Block& b, int ib) {
        const __m256i grid =
            four_u64(kIq1sGrid[iq1_m_index(b, ib, 0)], kIq1sGrid[iq1_m_index(b, ib, 1)],
                     kIq1sGrid[iq1_m_index(b, ib, 2)], kIq1sGrid[iq1_m_index(b, ib, 3)]);
        // Group l's shift sign is bit 4 l + 3 of the sub-block's two qh bytes: all ones (-1)
        // in 64-bit lane l where it is set, the bytes 1 where not.
        uint16_t qh;
        std::memcpy(&qh, b.qh + 2 * ib, 2);
        const __m256i bits = _mm256_setr_epi64x(0x8, 0x80, 0x800, 0x8000);
        const __m256i negative =
            _mm256_cmpeq_epi64(_mm256_and_si256(_mm256_set1_epi64x(qh), bits), bits);
        return _mm256_add_epi8(eight_times(grid), _mm256_or_si256(negative, _mm256_set1_epi8(1)));
    }
    static void scales(const Block& b, int ib, int& lo, int& hi) {
        uint16_t sc[4];
        std::memcpy(sc, b.scales, 8);
        const int shift6 = 6 * (ib % 2);
        lo = 2 * ((sc[ib / 2] >> shift6) & 7) + 1;
        hi = 2 * ((sc[ib / 2] >> (shift6 + 3)) & 7) + 1;
    }
};

// TQ1_0, TQ2_0: weights t - 1 for the ternary digits t, one scale per block.
struct DecodeTQ2_0 {
    using Block = BlockTQ2_0;
    static constexpr float kFactor = 1.0f;
    static float scale(const Block& b) { return fp16_value(b.d); }
    // Sub-block ib: bits 2k..2k+1 (k = ib % 4) of the 32 bytes of its 128-value half.
    static __m256i values(const Block& b, int ib) {
        const __m256i bytes =
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs + 32 * (ib / 4)));
        const __m256i t =
            _mm256_and_si256(_mm256_srli_epi16(bytes, 2 * (ib % 4)), _mm256_set1_epi8(3));
        return _mm256_sub_epi8(t, _mm256_set1_epi8(1));
    }
    static void scales(const Block&, int, int& lo, int& hi) { lo = hi = 1; }
};

// TQ1_0's digits: digit n of byte q is (3 x (q x 3^n mod 256)) >> 8, for 16 bytes at once with
// a multiplier 3^n per byte (16-bit lanes hold the products).
inline __m128i trits(__m128i bytes, __m256i pow3) {
    const __m256i q = _mm256_and_si256(_mm256_mullo_epi16(_mm256_cvtepu8_epi16(bytes), pow3),
                                       _mm256_set1_epi16(0xff));
    const __m256i t = _mm256_srli_epi16(_mm256_mullo_epi16(q, _mm256_set1_epi16(3)), 8);
    return _mm_packus_epi16(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
}
inline __m256i pow3_of(int n) {
    static constexpr int16_t kPow3[5] = {1, 3, 9, 27, 81};
    return _mm256_set1_epi16(kPow3[n]);
}
struct DecodeTQ1_0 {
    using Block = BlockTQ1_0;
    static constexpr float kFactor = 1.0f;
    static float scale(const Block& b) { return fp16_value(b.d); }
    // Values 32 n + m (n < 5) are digit n of qs[m]; 160 + 16 n + m digit n of qs[32 + m]; 240 +
    // 4 n + j digit n of qh[j].
    static __m256i values(const Block& b, int ib) {
        __m128i lo, hi;
        if (ib < 5) {
            const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs));
            const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs + 16));
            lo = trits(a, pow3_of(ib));
            hi = trits(c, pow3_of(ib));
        } else {
            const __m128i tail = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs + 32));
            if (ib < 7) {
                lo = trits(tail, pow3_of(2 * (ib - 5)));
                hi = trits(tail, pow3_of(2 * (ib - 5) + 1));
            } else {
                lo = trits(tail, pow3_of(4));
                uint32_t qh;
                std::memcpy(&qh, b.qh, 4);
                hi = trits(_mm_set1_epi32(static_cast<int>(qh)),
                           _mm256_setr_epi16(1, 1, 1, 1, 3, 3, 3, 3, 9, 9, 9, 9, 27, 27, 27, 27));
            }
        }
        return _mm256_sub_epi8(_mm256_set_m128i(hi, lo), _mm256_set1_epi8(1));
    }
    static void scales(const Block&, int, int& lo, int& hi) { lo = hi = 1; }
};

// The decoder of a block type.
template <typename Block>
struct DecoderOf;
template <>
struct DecoderOf<BlockIQ2_XXS> {
    using type = DecodeIQ2_XXS;
};
template <>
struct DecoderOf<BlockIQ2_XS> {
    using type = DecodeIQ2_XS;
};
template <>
struct DecoderOf<BlockIQ2_S> {
    using type = DecodeIQ2_S;
};
template <>
struct DecoderOf<BlockIQ3_XXS> {
    using type = DecodeIQ3_XXS;
};
template <>
struct DecoderOf<BlockIQ3_S> {
    using type = DecodeIQ3_S;
};
template <>
struct DecoderOf<BlockIQ1_S> {
    using type = DecodeIQ1_S;
};
template <>
struct DecoderOf<BlockIQ1_M> {
    using type = DecodeIQ1_M;
};
template <>
struct DecoderOf<BlockTQ1_0> {
    using type = DecodeTQ1_0;
};
template <>
struct DecoderOf<BlockTQ2_0> {
    using type = DecodeTQ2_0;
};

}  // namespace
}  // namespace ember::x86_grid
