// Unpacking blocks into vectors of unsigned values, shared by the AVX2 and the AVX-512 kernels:
// the 32-value types' nibbles and fifth bits, and a K-quant super-block into 8 vectors of 32
// (q[i] holds values 32i .. 32i+31). Every function is `static`: each
// file compiles its own copy with its own instruction-set flags. (An ordinary inline function
// would be merged by the linker, and a copy built for AVX-512 could run on an AVX2-only CPU.)
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/blocks.h"

namespace ember::x86 {

// 16 bytes of nibbles -> 32 bytes: low nibbles (values 0..15), then high nibbles (16..31).
static inline __m256i unpack_nibbles(const uint8_t* qs) {
    const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
    const __m256i both = _mm256_set_m128i(_mm_srli_epi16(raw, 4), raw);
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0f));
}

// 32 bits as 32 bytes: 0x10 in byte i where bit i is set, else 0 (the fifth bits of Q5 values).
static inline __m256i fifth_bit_bytes(uint32_t bits) {
#if defined(__AVX512BW__) && defined(__AVX512VL__)
    return _mm256_maskz_mov_epi8(bits, _mm256_set1_epi8(0x10));
#else
    // Byte i takes byte i / 8 of the bits, keeps bit i % 8, and becomes 0x10 where it is set.
    const __m256i spread = _mm256_shuffle_epi8(
        _mm256_set1_epi32(static_cast<int>(bits)),
        _mm256_setr_epi64x(0, 0x0101010101010101, 0x0202020202020202, 0x0303030303030303));
    const __m256i bit = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ull));
    const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
    return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
#endif
}
// A Q5 block's qh field (little-endian) as fifth_bit_bytes.
static inline __m256i fifth_bits(const uint8_t* qh_bytes) {
    uint32_t qh;
    std::memcpy(&qh, qh_bytes, 4);
    return fifth_bit_bytes(qh);
}

// Bit b of every byte, as 0 or 1.
static inline __m256i bit_of_bytes(__m256i v, int b) {
    return _mm256_and_si256(_mm256_srli_epi16(v, b), _mm256_set1_epi8(1));
}
// Bits b, b+1 of every byte, as 0..3.
static inline __m256i two_bits_of_bytes(__m256i v, int b) {
    return _mm256_and_si256(_mm256_srli_epi16(v, b), _mm256_set1_epi8(3));
}
static inline __m256i load_256(const void* p) {
    return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

// Q2_K: 2 bits per value, four values per byte of qs (values 0..3).
static inline void unpack_q2_k_values(const BlockQ2_K& b, __m256i q[8]) {
    for (int h = 0; h < 2; ++h) {
        const __m256i bytes = load_256(b.qs + 32 * h);
        for (int k = 0; k < 4; ++k) q[4 * h + k] = two_bits_of_bytes(bytes, 2 * k);
    }
}

// Q3_K: u = 2 low bits + 4 * high bit (hmask), 0..7 (the value is u - 4).
static inline void unpack_q3_k_values(const BlockQ3_K& b, __m256i q[8]) {
    const __m256i hmask = load_256(b.hmask);
    for (int h = 0; h < 2; ++h) {
        const __m256i bytes = load_256(b.qs + 32 * h);
        for (int k = 0; k < 4; ++k) {
            const __m256i high = _mm256_slli_epi16(bit_of_bytes(hmask, 4 * h + k), 2);
            q[4 * h + k] = _mm256_or_si256(two_bits_of_bytes(bytes, 2 * k), high);
        }
    }
}

// Q4_K (kFifthBit = false) and Q5_K: each 32 bytes of qs hold 64 values, the low nibbles
// first; Q5_K's fifth bits come from qh, two bits per 64 values.
template <bool kFifthBit, typename Block>
static inline void unpack_q4_k_values(const Block& b, __m256i q[8]) {
    __m256i qh = _mm256_setzero_si256();
    if constexpr (kFifthBit) qh = load_256(b.qh);
    for (int c = 0; c < 4; ++c) {
        const __m256i raw = load_256(b.qs + 32 * c);
        __m256i lo = _mm256_and_si256(raw, _mm256_set1_epi8(0x0f));
        __m256i hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), _mm256_set1_epi8(0x0f));
        if constexpr (kFifthBit) {
            lo = _mm256_or_si256(lo, _mm256_slli_epi16(bit_of_bytes(qh, 2 * c), 4));
            hi = _mm256_or_si256(hi, _mm256_slli_epi16(bit_of_bytes(qh, 2 * c + 1), 4));
        }
        q[2 * c] = lo;
        q[2 * c + 1] = hi;
    }
}

// Q6_K: u = 4 low bits (ql) | 2 high bits (qh) << 4, in 0..63 (the value is u - 32).
static inline void unpack_q6_k_values(const BlockQ6_K& b, __m256i q[8]) {
    const __m256i low_mask = _mm256_set1_epi8(0x0f);
    for (int h = 0; h < 2; ++h) {
        const __m256i ql0 = load_256(b.ql + 64 * h), ql1 = load_256(b.ql + 64 * h + 32);
        const __m256i qh = load_256(b.qh + 32 * h);
        __m256i* out = q + 4 * h;
        out[0] = _mm256_or_si256(_mm256_and_si256(ql0, low_mask),
                                 _mm256_slli_epi16(two_bits_of_bytes(qh, 0), 4));
        out[1] = _mm256_or_si256(_mm256_and_si256(ql1, low_mask),
                                 _mm256_slli_epi16(two_bits_of_bytes(qh, 2), 4));
        out[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low_mask),
                                 _mm256_slli_epi16(two_bits_of_bytes(qh, 4), 4));
        out[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low_mask),
                                 _mm256_slli_epi16(two_bits_of_bytes(qh, 6), 4));
    }
}

}  // namespace ember::x86
