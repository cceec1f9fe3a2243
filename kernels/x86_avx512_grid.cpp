// The lattice i-quants (IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S) and IQ1_S / IQ1_M with AVX-512
// (F, BW, VL, VNNI), one weight row against one token: generation's path, where each weight
// is read once and its decoding, not the memory, used to set the pace (docs/performance.md).
//
// A super-block's 256 values are decoded whole, in 4 vectors of 64: the grid entries of all
// its groups fetched by loads and inserts (IQ2, IQ1: 8-byte entries) or, for IQ3's 4-byte entries
// of 8 levels, by permutes from the grid held in vectors as 16-bit words of codes, the sign bits
// of each group (7 stored, the 8th their parity, or 8 stored) turned into one 64-bit mask per
// vector that negates the entries in place, every value + 128 so that vpdpbusd takes it as
// unsigned; the 128 comes off through Q8_K's sums of 16 activations, as in the packed panels. The
// block's integer sum is the reference's, then scaled with the same float operations in the same
// order: the results are the reference's bits.
//
// On the packed groups (8 rows' blocks side by side) one token goes block by block through the
// 8 rows, in the order the bytes are stored, and the 8 rows' integer sums are reduced together;
// batches go through the packed panels (x86_packed.inl: each row's sub-blocks decoded by the
// AVX2 decoders, x86_grid_decode.inl, and transposed). register_grid_kernels puts this file's
// kernels over the set's packed ones.
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "kernels/blocks.h"
#include "kernels/iq_grids.h"
#include "kernels/simd_kernels.h"
#include "kernels/x86_packed.inl"

// GCC 12 takes the _mm512_undefined_*() sources inside some intrinsics (conversions,
// reductions) for uninitialised variables; the warning is false in this file.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

namespace ember::avx512 {
namespace {

using packed::PackedRows8;
using x86_panel::gemm_k_packed;
using x86_panel::gemm_k_packed_wide;
using x86_panel::prefetch_ahead;

// A grid with 128 added to every byte (an int8 magnitude or value v becomes the byte v + 128,
// which is v ^ 0x80).
template <typename Entry, size_t N>
std::array<Entry, N> plus_128(const std::array<Entry, N>& grid) {
    Entry high_bits = 0;
    for (size_t b = 0; b < sizeof(Entry); ++b)
        high_bits = static_cast<Entry>(high_bits << 8 | 0x80);
    std::array<Entry, N> out{};
    for (size_t i = 0; i < N; ++i) out[i] = grid[i] ^ high_bits;
    return out;
}
// IQ1's grid (values -1, 0, 1) as 8 v + 1 + 128: the weights are 8 g + s with the shift s =
// +-1 per group (x86_grid_decode.inl says why the factor 1/8 comes at the end, exactly), here
// + 1, the negative shifts' 2 taken off after the lookup (add_shifts).
std::array<uint64_t, 2048> iq1_eight_times_plus_129() {
    std::array<uint64_t, 2048> out{};
    for (size_t i = 0; i < out.size(); ++i) {
        for (int j = 0; j < 8; ++j) {
            const auto v = static_cast<int8_t>(kIq1sGrid[i] >> (8 * j));
            out[i] |= static_cast<uint64_t>(static_cast<uint8_t>(8 * v + 129)) << (8 * j);
        }
    }
    return out;
}

// A grid + 128, made once per grid.
template <const auto& kGrid>
const auto* grid_plus_128() {
    static const auto grid = plus_128(kGrid);
    return grid.data();
}
const uint64_t* iq1s_grid() {
    static const auto grid = iq1_eight_times_plus_129();
    return grid.data();
}

inline __m512i every_u16(int v) {
    return _mm512_set1_epi16(static_cast<int16_t>(v));
}

// 32 groups' 7 stored sign bits (16-bit lanes, 0..127) -> their 8 sign bits as 32 bytes: the
// 8th is the parity of the 7 (iq_signs), folded by shifts and XORs.
inline __m256i seven_bit_signs(__m512i seven) {
    __m512i parity = _mm512_xor_si512(seven, _mm512_srli_epi16(seven, 4));
    parity = _mm512_xor_si512(parity, _mm512_srli_epi16(parity, 2));
    parity = _mm512_xor_si512(parity, _mm512_srli_epi16(parity, 1));
    const __m512i eighth = _mm512_slli_epi16(_mm512_and_si512(parity, every_u16(1)), 7);
    return _mm512_cvtepi16_epi8(_mm512_or_si512(seven, eighth));
}
// 8 words of four 7-bit sign groups each (IQ2_XXS, IQ3_XXS: bits 0, 7, 14, 21 of each word) ->
// the 32 groups' 8 sign bits as bytes.
inline __m256i sign_groups_of_words(__m256i words) {
    const __m512i wide = _mm512_zextsi256_si512(words);
    const __m512i shifts =
        _mm512_setr_epi32(0, 7, 14, 21, 0, 7, 14, 21, 0, 7, 14, 21, 0, 7, 14, 21);
    const __m512i seven = _mm512_set1_epi32(127);
    const __m512i first = _mm512_and_si512(
        _mm512_srlv_epi32(
            _mm512_permutexvar_epi32(
                _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3), wide),
            shifts),
        seven);
    const __m512i second = _mm512_and_si512(
        _mm512_srlv_epi32(
            _mm512_permutexvar_epi32(
                _mm512_setr_epi32(4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7), wide),
            shifts),
        seven);
    const __m512i groups = _mm512_inserti64x4(_mm512_zextsi256_si512(_mm512_cvtepi32_epi16(first)),
                                              _mm512_cvtepi32_epi16(second), 1);
    return seven_bit_signs(groups);
}

// Applies 32 bytes of sign bits (bit i of byte e: value 8e + i is negative) to 4 vectors of
// values + 128: where negative, 0 - (m + 128) = 128 - m as a byte.
inline void apply_signs(__m256i signs, __m512i w[4]) {
    alignas(32) uint64_t bits[4];
    _mm256_store_si256(reinterpret_cast<__m256i*>(bits), signs);
    for (int c = 0; c < 4; ++c)
        w[c] = _mm512_mask_sub_epi8(w[c], _cvtu64_mask64(bits[c]), _mm512_setzero_si512(), w[c]);
}
inline void apply_signs(const uint8_t* sign_bytes, __m512i w[4]) {
    apply_signs(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(sign_bytes)), w);
}

// Entries i(0..7) of a table of 8-byte grid entries as one vector (entry i(k) in lane k), by
// plain loads and inserts: on Zen 4 that measured faster than vpgatherdq, and than the grid
// as 2-bit codes in vectors (up to 64 of them: the permutes and blends cost more than the
// loads; docs/optimizations.md).
template <typename Index>
inline __m512i gather8(const uint64_t* table, Index i) {
    const auto pair = [table, &i](int k) {
        const __m128i low = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(table + i(k)));
        return _mm_insert_epi64(low, static_cast<int64_t>(table[i(k + 1)]), 1);
    };
    const __m256i low = _mm256_inserti128_si256(_mm256_castsi128_si256(pair(0)), pair(2), 1);
    const __m256i high = _mm256_inserti128_si256(_mm256_castsi128_si256(pair(4)), pair(6), 1);
    return _mm512_inserti64x4(_mm512_castsi256_si512(low), high, 1);
}
// ... with the 8 indices as 16-bit lanes of a vector (IQ1, IQ2_S: built from bit fields in a
// few vector operations), moved to general registers as two 64-bit words: read back through
// memory, the loads waited on the vector store (Zen 4 does not forward a 512-bit store to
// narrower loads), and put together in scalar code each index took 5 operations
// (docs/optimizations.md).
inline __m512i gather8(const uint64_t* table, __m128i indices) {
    const uint64_t four[2] = {static_cast<uint64_t>(_mm_cvtsi128_si64(indices)),
                              static_cast<uint64_t>(_mm_extract_epi64(indices, 1))};
    return gather8(table,
                   [&four](int k) { return static_cast<uint16_t>(four[k / 4] >> (16 * (k % 4))); });
}

// f(c, quarter c) for the four 128-bit quarters of a vector, in order (the immediates written
// out: a loop's counter is not one in the -O1 sanitizer build).
template <typename F>
[[gnu::always_inline]] inline void for_quarters(__m512i v, F f) {
    f(0, _mm512_castsi512_si128(v));
    f(1, _mm512_extracti32x4_epi32(v, 1));
    f(2, _mm512_extracti32x4_epi32(v, 2));
    f(3, _mm512_extracti32x4_epi32(v, 3));
}

// 32 grid indices as 16-bit lanes: byte e of `low` | the top bits of entry e, a field of kBits
// at bit kBits (e % 4) of word e / 4 of `fields` (8 words).
template <int kBits>
inline __m512i indices_of_fields(const uint8_t* low, __m128i fields) {
    constexpr int64_t kFourTimes = 0x0001000100010001;  // 64-bit lane j: word j, 4 times
    const __m512i words = _mm512_permutexvar_epi16(
        _mm512_setr_epi64(0, kFourTimes, 2 * kFourTimes, 3 * kFourTimes, 4 * kFourTimes,
                          5 * kFourTimes, 6 * kFourTimes, 7 * kFourTimes),
        _mm512_castsi128_si512(fields));
    const __m512i shifts = _mm512_set1_epi64(int64_t{3 * kBits} << 48 | int64_t{2 * kBits} << 32 |
                                             int64_t{kBits} << 16);
    const __m512i top =
        _mm512_and_si512(_mm512_srlv_epi16(words, shifts), every_u16((1 << kBits) - 1));
    const __m512i bytes =
        _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(low)));
    return _mm512_or_si512(bytes, _mm512_slli_epi16(top, 8));
}

// The 16 scales (one per 16 values) as int32 lanes, 2 s + 1 for the stored s: from 16 nibbles
// (IQ2_XS, IQ2_S: byte j/2, low nibble first) ...
inline __m512i odd_scales_of_nibbles(const uint8_t* bytes) {
    int64_t eight;
    std::memcpy(&eight, bytes, 8);
    const __m128i b = _mm_cvtsi64_si128(eight);
    const __m128i low = _mm_and_si128(b, _mm_set1_epi8(0x0f));
    const __m128i high = _mm_and_si128(_mm_srli_epi16(b, 4), _mm_set1_epi8(0x0f));
    const __m512i s = _mm512_cvtepu8_epi32(_mm_unpacklo_epi8(low, high));
    return _mm512_add_epi32(_mm512_add_epi32(s, s), _mm512_set1_epi32(1));
}
// ... or from 8 values, one per 32 (each serving both its halves).
inline __m512i odd_scales_per_32(__m256i s) {
    const __m512i twice =
        _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7),
                                 _mm512_zextsi256_si512(s));
    return _mm512_add_epi32(_mm512_add_epi32(twice, twice), _mm512_set1_epi32(1));
}

// The grids of 4-byte entries (IQ3_XXS, IQ3_S: 8 levels) as 16-bit words of four nibbles,
// value j at bits 4j, code_of mapping a value's byte to its nibble: 256 or 512 entries fit 8
// or 16 vectors, read by in-register permutes (lookup_words) instead of memory gathers (on
// Zen 4 one vpgatherdd of 16 entries costs some 20 vpermi2w's time).
template <size_t N, typename CodeOf>
std::array<uint16_t, N> nibble_codes(const std::array<uint32_t, N>& grid, CodeOf code_of) {
    std::array<uint16_t, N> out{};
    for (size_t i = 0; i < N; ++i) {
        for (int j = 0; j < 4; ++j) {
            const auto byte = static_cast<uint8_t>(grid[i] >> (8 * j));
            out[i] |= static_cast<uint16_t>(code_of(byte) << (4 * j));
        }
    }
    return out;
}

// Entry idx (16-bit lanes, 0 .. kEntries - 1) of a table of kEntries words: vpermi2w picks from
// 64 words (two vectors) by the index's low 6 bits, and the pairs' picks are blended by the
// bits above (a tree: bit 6 between neighbours, bit 7 between those, ...).
template <int kEntries>
inline __m512i lookup_words(__m512i idx, const uint16_t* table) {
    constexpr int kPairs = kEntries / 64;
    const auto vec = [table](int k) { return _mm512_load_si512(table + 32 * k); };
    __m512i r[kPairs];
#pragma GCC unroll 8
    for (int p = 0; p < kPairs; ++p) {
        r[p] = _mm512_permutex2var_epi16(vec(2 * p), idx, vec(2 * p + 1));
    }
#pragma GCC unroll 3
    for (int step = 1; step < kPairs; step *= 2) {
        const __mmask32 bit = _mm512_test_epi16_mask(idx, every_u16(64 * step));
#pragma GCC unroll 4
        for (int p = 0; p < kPairs; p += 2 * step) {
            r[p] = _mm512_mask_blend_epi16(bit, r[p], r[p + step]);
        }
    }
    return r[0];
}

// 16 entries of four nibbles (32 bytes, two nibbles each) -> their 64 values as bytes, nibble c
// becoming byte c of `levels` (in each 128-bit lane).
inline __m512i nibble_values(__m256i entries, __m512i levels) {
    const __m512i x = _mm512_cvtepu8_epi16(entries);  // byte k -> word k: its 2 values
    // Word k = (high nibble << 8) | low nibble: the two codes' bytes in order. 0xea: (A & B) | C.
    const __m512i high = _mm512_and_si512(_mm512_slli_epi16(x, 4), every_u16(0x0f00));
    const __m512i codes = _mm512_ternarylogic_epi64(x, every_u16(0x000f), high, 0xea);
    return _mm512_shuffle_epi8(levels, codes);
}
// 64 entries' values (+ 128 through `levels`) in w[0..3] from their indices: 64 bytes of low
// bits, and the 9th bits of a 512-entry grid (bit e: entry e).
template <int kEntries>
inline void nibble_grid_values(const uint8_t* low_bytes, uint64_t ninth, const uint16_t* table,
                               __m512i levels, __m512i w[4]) {
    const __m512i low = _mm512_loadu_si512(low_bytes);
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {  // entries 32h .. 32h + 31
        __m512i idx = _mm512_cvtepu8_epi16(h == 0 ? _mm512_castsi512_si256(low)
                                                  : _mm512_extracti64x4_epi64(low, 1));
        if constexpr (kEntries > 256) {
            idx = _mm512_mask_add_epi16(idx, static_cast<__mmask32>(ninth >> (32 * h)), idx,
                                        every_u16(256));
        }
        const __m512i entries = lookup_words<kEntries>(idx, table);
        w[2 * h] = nibble_values(_mm512_castsi512_si256(entries), levels);
        w[2 * h + 1] = nibble_values(_mm512_extracti64x4_epi64(entries, 1), levels);
    }
}
// The bytes 128 + levels[c] for c = 0..15, in every 128-bit lane.
inline __m512i levels_plus_128(const std::array<uint8_t, 16>& levels) {
    alignas(16) uint8_t bytes[16];
    for (int c = 0; c < 16; ++c) bytes[c] = static_cast<uint8_t>(levels[c] + 128);
    return _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i*>(bytes)));
}

// Each decoder: values(b, w) gives values 64c .. 64c + 63 of the super-block, + 128, in w[c];
// scales(b) the 16 integer scales; scale(b) and kFactor as the AVX2 decoders'.
struct IQ2_XXS {
    using Block = BlockIQ2_XXS;
    static constexpr float kFactor = 0.125f;
    static float scale(const Block& b) { return _cvtsh_ss(b.d); }
    // Sub-block ib is a 64-bit word: 4 index bytes, then 4 sign groups and the scale.
    static __m256i rest(const Block& b) {
        return _mm512_cvtepi64_epi32(_mm512_srli_epi64(_mm512_loadu_si512(b.qs), 32));
    }
    static void values(const Block& b, __m512i w[4]) {
        const uint64_t* grid = grid_plus_128<kIq2xxsGrid>();
        const auto* bytes = reinterpret_cast<const uint8_t*>(b.qs);
#pragma GCC unroll 4
        for (int c = 0; c < 4; ++c) {  // entries 8c.. are bytes 0..3 of words 2c and 2c + 1
            const uint8_t* q = bytes + 16 * c;
            w[c] = gather8(grid, [q](int k) { return q[k % 4 + 8 * (k / 4)]; });
        }
        apply_signs(sign_groups_of_words(rest(b)), w);
    }
    static __m512i scales(const Block& b) {
        return odd_scales_per_32(_mm256_srli_epi32(rest(b), 28));
    }
};
struct IQ2_XS {
    using Block = BlockIQ2_XS;
    static constexpr float kFactor = 0.125f;
    static float scale(const Block& b) { return _cvtsh_ss(b.d); }
    // 32 x 16 bits: a 9-bit index, 7 sign bits.
    static void values(const Block& b, __m512i w[4]) {
        const uint64_t* grid = grid_plus_128<kIq2xsGrid>();
#pragma GCC unroll 4
        for (int c = 0; c < 4; ++c) {
            const uint16_t* q = b.qs + 8 * c;
            w[c] = gather8(grid, [q](int k) { return q[k] & 511; });
        }
        apply_signs(seven_bit_signs(_mm512_srli_epi16(_mm512_loadu_si512(b.qs), 9)), w);
    }
    static __m512i scales(const Block& b) {
        return odd_scales_of_nibbles(b.scales);
    }
};
struct IQ2_S {
    using Block = BlockIQ2_S;
    static constexpr float kFactor = 0.125f;
    static float scale(const Block& b) { return _cvtsh_ss(b.d); }
    // Index low bytes in qs[0..31], sign bytes in qs[32..63]; entry e's top 2 bits are bits
    // 2e, 2e + 1 of the 64 bits of qh.
    struct Prepared {
        __m512i index;
        const uint8_t* signs;
    };
    static Prepared prepare(const Block& b) {
        return {
            indices_of_fields<2>(
                b.qs, _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(b.qh)))),
            b.qs + kQK_K / 8};
    }
    static void values(const Prepared& p, __m512i w[4]) {
        const uint64_t* grid = grid_plus_128<kIq2sGrid>();
        for_quarters(p.index, [&](int c, __m128i entries) { w[c] = gather8(grid, entries); });
        apply_signs(p.signs, w);
    }
    static __m512i scales(const Block& b) { return odd_scales_of_nibbles(b.scales); }
};
struct IQ3_XXS {
    using Block = BlockIQ3_XXS;
    static constexpr float kFactor = 0.25f;
    static float scale(const Block& b) { return _cvtsh_ss(b.d); }
    // 64 index bytes (an entry is 4 values), then per 32 values a word of 4 sign groups and
    // the scale.
    static __m256i rest(const Block& b) {
        return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs + kQK_K / 4));
    }
    static void values(const Block& b, __m512i w[4]) {
        static constexpr std::array<uint8_t, 16> kLevels = {4, 12, 20, 28, 36, 44, 52, 62};
        alignas(64) static const auto table = nibble_codes(kIq3xxsGrid, [](uint8_t v) {
            return static_cast<int>(std::find(kLevels.begin(), kLevels.begin() + 8, v) -
                                    kLevels.begin());
        });
        nibble_grid_values<256>(b.qs, 0, table.data(), levels_plus_128(kLevels), w);
        apply_signs(sign_groups_of_words(rest(b)), w);
    }
    static __m512i scales(const Block& b) {
        return odd_scales_per_32(_mm256_srli_epi32(rest(b), 28));
    }
};
struct IQ3_S {
    using Block = BlockIQ3_S;
    static constexpr float kFactor = 1.0f;
    static float scale(const Block& b) { return _cvtsh_ss(b.d); }
    // 64 index low bytes; bit e of qh's 64 bits is entry e's 9th; explicit sign bytes.
    static void values(const Block& b, __m512i w[4]) {
        static constexpr std::array<uint8_t, 16> kLevels = {0, 1, 2,  3,  4,  5,  6,  7,
                                                            8, 9, 10, 11, 12, 13, 14, 15};
        alignas(64) static const auto table = nibble_codes(kIq3sGrid, [](uint8_t v) { return v; });
        uint64_t ninth;
        std::memcpy(&ninth, b.qh, 8);
        nibble_grid_values<512>(b.qs, ninth, table.data(), levels_plus_128(kLevels), w);
        apply_signs(b.signs, w);
    }
    static __m512i scales(const Block& b) {
        uint32_t four;
        std::memcpy(&four, b.scales, 4);
        const __m256i s =
            _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int>(four)),
                                               _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28)),
                             _mm256_set1_epi32(0xf));
        return odd_scales_per_32(s);
    }
};

// IQ1: entries of 8 g + 1 + 128; 2 off the groups (64-bit lanes) whose shift s is negative
// (no byte borrows: every byte >= 121).
inline __m512i add_shifts(__m512i g, __mmask8 negative) {
    return _mm512_mask_sub_epi64(g, negative, g,
                                 _mm512_set1_epi64(static_cast<int64_t>(0x0202020202020202ull)));
}
struct IQ1_S {
    using Block = BlockIQ1_S;
    static constexpr float kFactor = 0.125f;
    static float scale(const Block& b) { return _cvtsh_ss(b.d); }
    // Entry 4 ib + l: low byte qs[4 ib + l], top 3 bits at bit 3 l of qh[ib]; qh[ib]'s bit 15
    // is the sign of sub-block ib's shift.
    struct Prepared {
        __m512i index;
        uint32_t negative;  // bit e: entry e's shift is negative
    };
    static Prepared prepare(const Block& b) {
        const __m128i qh = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qh));
        // Byte e: the upper byte of qh[e / 4], whose top bit is the shift's sign.
        const __m256i upper = _mm256_shuffle_epi8(
            _mm256_broadcastsi128_si256(qh),
            _mm256_setr_epi8(1, 1, 1, 1, 3, 3, 3, 3, 5, 5, 5, 5, 7, 7, 7, 7, 9, 9, 9, 9, 11, 11, 11,
                             11, 13, 13, 13, 13, 15, 15, 15, 15));
        return {indices_of_fields<3>(b.qs, qh), _mm256_movepi8_mask(upper)};
    }
    static void values(const Prepared& p, __m512i w[4]) {
        const uint64_t* grid = iq1s_grid();
        for_quarters(p.index, [&](int c, __m128i entries) {
            w[c] = add_shifts(gather8(grid, entries), static_cast<__mmask8>(p.negative >> (8 * c)));
        });
    }
    static __m512i scales(const Block& b) {
        const __m256i qh =
            _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qh)));
        return odd_scales_per_32(_mm256_and_si256(_mm256_srli_epi32(qh, 12), _mm256_set1_epi32(7)));
    }
};
struct IQ1_M {
    using Block = BlockIQ1_M;
    static constexpr float kFactor = 0.125f;
    static float scale(const Block& b) {
        uint16_t sc[4];
        float d;
        iq1_m_scales(b, sc, d);
        return d;
    }
    // Entry e: low byte qs[e], then nibble e of qh's bits: 3 index bits and the shift's sign.
    struct Prepared {
        __m512i index;      // the 32 entries' grid indices, 16-bit lanes
        uint32_t negative;  // bit e: entry e's shift is negative
    };
    static Prepared prepare(const Block& b) {
        // The 32 nibbles of qh in entry order (byte e), then the indices in 16-bit lanes.
        const __m128i qh = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qh));
        const __m128i low = _mm_and_si128(qh, _mm_set1_epi8(0x0f));
        const __m128i high = _mm_and_si128(_mm_srli_epi16(qh, 4), _mm_set1_epi8(0x0f));
        const __m256i nibbles = _mm256_inserti128_si256(
            _mm256_castsi128_si256(_mm_unpacklo_epi8(low, high)), _mm_unpackhi_epi8(low, high), 1);
        const __m512i top = _mm512_cvtepu8_epi16(_mm256_and_si256(nibbles, _mm256_set1_epi8(7)));
        const __m512i low_bytes =
            _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs)));
        // Bit 3 of each nibble: the sign of its entry's shift.
        return {_mm512_or_si512(low_bytes, _mm512_slli_epi16(top, 8)),
                _mm256_test_epi8_mask(nibbles, _mm256_set1_epi8(8))};
    }
    static void values(const Prepared& p, __m512i w[4]) {
        const uint64_t* grid = iq1s_grid();
        for_quarters(p.index, [&](int c, __m128i entries) {
            w[c] = add_shifts(gather8(grid, entries), static_cast<__mmask8>(p.negative >> (8 * c)));
        });
    }
    // Scale j (values 16j..) is bits 3 (j % 4) .. of the j / 4th 16-bit word.
    static __m512i scales(const Block& b) {
        uint64_t words;
        std::memcpy(&words, b.scales, 8);
        const __m512i all = _mm512_set1_epi64(static_cast<int64_t>(words));
        const __m512i seven = _mm512_set1_epi64(7);
        const __m512i low = _mm512_and_si512(
            _mm512_srlv_epi64(all, _mm512_setr_epi64(0, 3, 6, 9, 16, 19, 22, 25)), seven);
        const __m512i high = _mm512_and_si512(
            _mm512_srlv_epi64(all, _mm512_setr_epi64(32, 35, 38, 41, 48, 51, 54, 57)), seven);
        const __m512i s = _mm512_inserti64x4(_mm512_zextsi256_si512(_mm512_cvtepi64_epi32(low)),
                                             _mm512_cvtepi64_epi32(high), 1);
        return _mm512_add_epi32(_mm512_add_epi32(s, s), _mm512_set1_epi32(1));
    }
};

// Lane l of vector c holds four products of sub-block 4c + l / 4 (16 values each).
inline __m512i scale_of_lane(__m512i scales, int c) {
    const __m512i quarter = _mm512_srli_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), 2);
    return _mm512_permutexvar_epi32(_mm512_add_epi32(quarter, _mm512_set1_epi32(4 * c)), scales);
}

// A decoder whose grid indices are built in vectors (IQ1_S, IQ1_M, IQ2_S) splits values() in
// two: prepare(b), the indices, and values(prepared, w), the loads. The one-token kernel
// prepares a packed group's 8 rows first, then loads them: a row's loads wait on a chain of
// some 30 cycles (the fields taken apart, the indices moved to general registers), and with
// each row's steps one after the other the out-of-order window seems to have held little
// more than one row's work: fewer operations and other ports did not help, this did
// (docs/optimizations.md). The others' prepare() is the block's address.
template <typename D>
concept Prepares = requires(const typename D::Block& b) {
    D::prepare(b);
};
template <typename D>
[[gnu::always_inline]] inline auto prepare(const typename D::Block& b) {
    if constexpr (Prepares<D>) {
        return D::prepare(b);
    } else {
        return &b;
    }
}
// One super-block against one token's Q8_K block: int32 lanes whose sum is the reference's
// integer sum.
template <typename D, typename Prepared>
[[gnu::always_inline]] inline __m512i block_lanes(const Prepared& p, const typename D::Block& b,
                                                  const BlockQ8_K& a) {
    __m512i w[4];
    if constexpr (Prepares<D>) {
        D::values(p, w);
    } else {
        D::values(*p, w);
    }
    const __m512i scales = D::scales(b);
    __m512i total = _mm512_setzero_si512();
#pragma GCC unroll 4
    for (int c = 0; c < 4; ++c) {
        const __m512i dots =
            _mm512_dpbusd_epi32(_mm512_setzero_si512(), w[c], _mm512_loadu_si512(a.qs + 64 * c));
        total = _mm512_add_epi32(total, _mm512_mullo_epi32(dots, scale_of_lane(scales, c)));
    }
    // The values' + 128: 128 x scale x the 16 activations' sum, per sub-block.
    const __m512i sums =
        _mm512_cvtepi16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.bsums)));
    return _mm512_sub_epi32(total, _mm512_slli_epi32(_mm512_mullo_epi32(scales, sums), 7));
}
template <typename D>
[[gnu::always_inline]] inline int32_t block_dot(const typename D::Block& b, const BlockQ8_K& a) {
    return _mm512_reduce_add_epi32(block_lanes<D>(prepare<D>(b), b, a));
}

// Lane j = the sum of the lanes of v[j], for 8 vectors: each folded to 256 bits, then a
// transposing tree (integer sums: exact in any order).
[[gnu::always_inline]] inline __m256i sum_lanes8(const __m512i v[8]) {
    __m256i h[8];
    for (int j = 0; j < 8; ++j)
        h[j] = _mm256_add_epi32(_mm512_castsi512_si256(v[j]), _mm512_extracti64x4_epi64(v[j], 1));
    __m256i pairs[4], quads[2];
    for (int p = 0; p < 4; ++p) {
        pairs[p] = _mm256_add_epi32(_mm256_unpacklo_epi32(h[2 * p], h[2 * p + 1]),
                                    _mm256_unpackhi_epi32(h[2 * p], h[2 * p + 1]));
    }
    for (int q = 0; q < 2; ++q) {
        quads[q] = _mm256_add_epi32(_mm256_unpacklo_epi64(pairs[2 * q], pairs[2 * q + 1]),
                                    _mm256_unpackhi_epi64(pairs[2 * q], pairs[2 * q + 1]));
    }
    // quads[q]: rows 4q..4q+3 in each 128-bit half, the halves' partial sums.
    return _mm256_add_epi32(_mm256_permute2x128_si256(quads[0], quads[1], 0x20),
                            _mm256_permute2x128_si256(quads[0], quads[1], 0x31));
}

// One row against one token's Q8_K blocks, the float steps in the reference's order.
template <typename D>
float grid_row(int64_t n_blocks, const typename D::Block* x, const BlockQ8_K* y) {
    float sum = 0;
    for (int64_t i = 0; i < n_blocks; ++i)
        sum += D::scale(x[i]) * y[i].d * static_cast<float>(block_dot<D>(x[i], y[i]));
    return D::kFactor * sum;
}

template <typename D>
float grid_dot(int64_t n, const void* x, const void* y) {
    return grid_row<D>(n / kQK_K, static_cast<const typename D::Block*>(x),
                       static_cast<const BlockQ8_K*>(y));
}

// The packed groups (8 rows' blocks side by side): one token or a few go block by block
// through the 8 rows, in the order they are stored (the memory streams; each row's sum still
// adds its blocks in order), a batch through the panels.
template <typename D>
void gemm_packed8_grid(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride) {
    using Group = PackedRows8<typename D::Block>;
    if (a.n_tokens >= 4) {
        gemm_k_packed<Group>(n, packed, a, y, y_stride);
        return;
    }
    const int64_t n_blocks = n / kQK_K;
    const auto* groups = static_cast<const Group*>(packed);
    for (int t = 0; t < a.n_tokens; ++t) {
        const auto* act = reinterpret_cast<const BlockQ8_K*>(a.rows + t * a.row_stride);
        // Lane j: row j's sum, with the reference's float steps (d * d_a * block, then added).
        __m256 sum = _mm256_setzero_ps();
        for (int64_t i = 0; i < n_blocks; ++i) {
            prefetch_ahead<Group, 1>(groups, i, n_blocks);
            __m512i lanes[8];
            alignas(32) float d[8];
            if constexpr (Prepares<D>) {  // (the others measured slower in two passes)
                decltype(D::prepare(groups[i].rows[0])) prepared[8];
                for (int j = 0; j < 8; ++j) prepared[j] = D::prepare(groups[i].rows[j]);
                for (int j = 0; j < 8; ++j) {
                    lanes[j] = block_lanes<D>(prepared[j], groups[i].rows[j], act[i]);
                    d[j] = D::scale(groups[i].rows[j]);
                }
            } else {
                for (int j = 0; j < 8; ++j) {
                    lanes[j] =
                        block_lanes<D>(prepare<D>(groups[i].rows[j]), groups[i].rows[j], act[i]);
                    d[j] = D::scale(groups[i].rows[j]);
                }
            }
            const __m256 scale = _mm256_mul_ps(_mm256_load_ps(d), _mm256_set1_ps(act[i].d));
            sum = _mm256_add_ps(sum, _mm256_mul_ps(scale, _mm256_cvtepi32_ps(sum_lanes8(lanes))));
        }
        _mm256_storeu_ps(y + t * y_stride, _mm256_mul_ps(_mm256_set1_ps(D::kFactor), sum));
    }
}
template <typename D>
void gemm_packed16_grid(int64_t n, const void* packed, const Q8Batch& a, float* y,
                        size_t y_stride) {
    using Block = typename D::Block;
    if (a.n_tokens >= 4) {
        gemm_k_packed_wide<PackedRows8<Block>>(n, packed, a, y, y_stride);
        return;
    }
    const int64_t n_blocks = n / kQK_K;
    gemm_packed8_grid<D>(n, packed, a, y, y_stride);
    gemm_packed8_grid<D>(n, static_cast<const PackedRows8<Block>*>(packed) + n_blocks, a, y + 8,
                         y_stride);
}

template <typename D>
void register_grid(TypeKernels& k) {
    k.vec_dot = grid_dot<D>;
    // Over the 8-row groups the VNNI sets pack (x86_packed8_exports.inl); IQ1_M's packing
    // unpacks the values instead, for the K-quants' kernels (PackedIQ1_MCodes).
    if (k.pack8 != nullptr && k.packed_block_bytes == 0) {
        k.gemm_packed8 = gemm_packed8_grid<D>;
        k.gemm_packed16 = gemm_packed16_grid<D>;
    }
}

}  // namespace

// registry.cpp: after this set's packed kernels.
void register_grid_kernels(KernelTable& t) {
    using T = TensorType;
    register_grid<IQ2_XXS>(t[T::IQ2_XXS]);
    register_grid<IQ2_XS>(t[T::IQ2_XS]);
    register_grid<IQ2_S>(t[T::IQ2_S]);
    register_grid<IQ3_XXS>(t[T::IQ3_XXS]);
    register_grid<IQ3_S>(t[T::IQ3_S]);
    register_grid<IQ1_S>(t[T::IQ1_S]);
    register_grid<IQ1_M>(t[T::IQ1_M]);
}

}  // namespace ember::avx512

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
