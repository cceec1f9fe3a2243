// Weights packed once at load time (packed_layout.h) for the panel kernels (x86_panel.inl),
// shared by the AVX-512 (x86_avx512_packed.cpp), AVX-VNNI (x86_avxvnni_packed.cpp) and AVX2
// (x86_avx2_packed.cpp) kernels: the same layout serves all three, and the decoding is written
// once. Like x86_panel.inl, everything is in an anonymous namespace, one copy per including
// file.
//
// Building a panel from mapped rows costs a dword transposition and a scalar decoding of the
// scales per block and panel: in prompt processing that is shared by the whole batch, but a
// generated token meets each panel once and would pay it for every weight. So the engine packs
// each group of 8 rows once (Pack8Fn), into packed_layout.h's layout, where the transposition
// is already done and the scales sit 8 rows side by side: 32 bytes of a packed value array are
// the panel vector "values 4k..4k+3 of each row" after the same shifts and masks as
// x86_k_unpack.inl.
//
// For a batch the packed blocks are decoded once into a panel (with AVX-512, two groups into a
// 16-row panel) that every token reuses. For one token (generation) they are decoded as they
// stream in and used at once (the K-quants with a software prefetch some 8 KB ahead that runs
// on into the next call's groups; for the 32-value types one measured slower than the hardware
// prefetcher): this path reads
// every weight byte once per token, and keeping the memory busy is what sets its speed.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "kernels/blocks.h"
#include "kernels/iq_grids.h"
#include "kernels/packed_layout.h"
#include "kernels/x86_grid_decode.inl"
#include "kernels/x86_k_unpack.inl"
#include "kernels/x86_panel.inl"

namespace ember::x86_panel {
namespace {

using namespace ember::packed;  // the layouts and their packers

inline __m256 halves8(const fp16_t d[8]) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(d)));
}

inline void unpack_nibbles(const uint8_t qs[4][32], __m256i q[8]) {
    const __m256i low = _mm256_set1_epi8(0x0f);
    for (int c = 0; c < 4; ++c) {
        const __m256i raw = load32(qs[c]);
        q[c] = _mm256_and_si256(raw, low);
        q[c + 4] = _mm256_and_si256(_mm256_srli_epi16(raw, 4), low);
    }
}
inline void add_fifth_bits(const uint32_t qh[8], __m256i q[8]) {
    for (int k = 0; k < 8; ++k) q[k] = _mm256_or_si256(q[k], x86::fifth_bit_bytes(qh[k]));
}
// Q4_0, Q5_0, Q4_1, Q5_1: nibbles, the fifth bits where the type has them, the scales, and
// the minimums where it has them.
template <typename Packed, typename Panel>
inline void unpack_nibble_type(const Packed& p, Panel* out) {
    unpack_nibbles(p.qs, out->q);
    if constexpr (requires { p.qh; }) add_fifth_bits(p.qh, out->q);
    out->d = halves8(p.d);
    if constexpr (requires { p.m; }) out->m = halves8(p.m);
}
inline void unpack(const PackedQ4_0& p, PanelBlock* out) {
    unpack_nibble_type(p, out);
}
inline void unpack(const PackedQ5_0& p, PanelBlock* out) {
    unpack_nibble_type(p, out);
}
inline void unpack(const PackedQ4_1& p, PanelBlockMin* out) {
    unpack_nibble_type(p, out);
}
inline void unpack(const PackedQ5_1& p, PanelBlockMin* out) {
    unpack_nibble_type(p, out);
}
inline void unpack(const PackedQ8_0& p, PanelBlock* out) {  // with VNNI: q + 128 as stored
    for (int k = 0; k < 8; ++k) out->q[k] = load32(p.qs[k]);
    out->d = halves8(p.d);
}
inline void unpack(const PackedQ8_0& p, PanelBlockSigned* out) {  // without: |q| and q
    for (int k = 0; k < 8; ++k) {
        out->sign[k] = _mm256_xor_si256(load32(p.qs[k]), _mm256_set1_epi8(static_cast<char>(0x80)));
        out->q[k] = _mm256_abs_epi8(out->sign[k]);
    }
    out->d = halves8(p.d);
}
// The offset of a packed type's unsigned panel values q (x = d (q - offset)), which the
// panel takes off as offset * sum(a) once per block: 8 for Q4_0's nibbles, 16 for Q5_0's
// five bits, none for Q4_1 / Q5_1 (their minimums carry it) and, for Q8_0, 128 where the
// panel holds q + 128 (VNNI), none where it holds |q| and the signs.
template <typename Packed>
constexpr int kActivationOffset = 0;
template <>
constexpr int kActivationOffset<PackedQ4_0> = 8;
template <>
constexpr int kActivationOffset<PackedQ5_0> = 16;
template <>
constexpr int kActivationOffset<PackedQ8_0> = kVnni ? 128 : 0;

// The panel block a packed type decodes into: with minimums for Q4_1 / Q5_1, signed for Q8_0
// without VNNI.
template <typename Packed>
struct PanelOf {
    using Narrow = PanelBlock;
#if defined(__AVX512F__)
    using Wide = WidePanelBlock;
#endif
};
template <typename Packed>
requires std::is_same_v<Packed, PackedQ4_1> || std::is_same_v<Packed, PackedQ5_1>
struct PanelOf<Packed> {
    using Narrow = PanelBlockMin;
#if defined(__AVX512F__)
    using Wide = WidePanelBlockMin;
#endif
};
template <>
struct PanelOf<PackedQ8_0> {
    using Narrow = std::conditional_t<kVnni, PanelBlock, PanelBlockSigned>;
#if defined(__AVX512F__)
    using Wide = WidePanelBlock;
#endif
};

// The grid types' packed groups (8 rows' blocks side by side, decoded 8 rows at a time).
template <typename Packed>
constexpr bool kRows8Group = false;
template <typename Block>
constexpr bool kRows8Group<PackedRows8<Block>> = true;

// A few tokens in the tiles of kernels.h's for_each_token_tile (at most kTokenTile), each tile
// one pass over the weights: body.template operator()<T>(first token).
constexpr int kStreamTile = kTokenTile;
// Batches below this many tokens decode the weights as they stream in, once per tile; larger
// ones decode each panel once into memory and read it back for every tile of tokens. (The
// engine gives them their activations in tiles, Q8Batch::tiles, up to kTiledTokensMax.)
constexpr int kStreamedBatch = 16;
static_assert(kStreamedBatch == kTiledTokensMax + 1);
template <typename Body>
inline void for_token_tiles(int n_tokens, const Body& body) {
    for_each_token_tile(n_tokens, [&](int t, int size) {
        switch (size) {
            case 1:
                body.template operator()<1>(t);
                break;
            case 2:
                body.template operator()<2>(t);
                break;
            case 3:
                body.template operator()<3>(t);
                break;
            case 4:
                body.template operator()<4>(t);
                break;
            case 5:
                body.template operator()<5>(t);
                break;
            case 6:
                body.template operator()<6>(t);
                break;
            case 7:
                body.template operator()<7>(t);
                break;
            case 8:
                body.template operator()<8>(t);
                break;
            default:
                body.template operator()<9>(t);
                break;
        }
    });
}

// How many vpmaddubsw results (pairs of products) of a type's unsigned values may be summed in
// int16 before overflow: |pair| <= 2 * max * 128, so 8 of them for 4-bit values (max 15:
// 30720), 4 for 5-bit ones (max 31: 31744), and 1 for Q8_0's magnitudes (128). Only the
// kernels without VNNI use it.
template <typename Packed>
constexpr int kInt16Run = 1;
template <>
constexpr int kInt16Run<PackedQ4_0> = 8;
template <>
constexpr int kInt16Run<PackedQ4_1> = 8;
template <>
constexpr int kInt16Run<PackedQ5_0> = 4;
template <>
constexpr int kInt16Run<PackedQ5_1> = 4;

template <typename Packed>
void gemm_packed(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride) {
    constexpr int kOffset = kActivationOffset<Packed>;
    constexpr int kRun = kInt16Run<Packed>;
    const int64_t n_blocks = n / kQK;
    const auto* groups = static_cast<const Packed*>(packed);
    if (a.n_tokens < kStreamedBatch) {  // decode each block as it streams in, straight to use
        const auto decoded = [groups](int64_t b) {
            typename PanelOf<Packed>::Narrow p;
            unpack(groups[b], &p);
            return p;
        };
        for_token_tiles(a.n_tokens, [&]<int T>(int t) {
            panel_tile<Rows8, T, kOffset, kRun>(n_blocks, decoded, a, t, y, y_stride);
        });
        return;
    }
    // a batch: decode once, use for every token
    thread_local std::vector<typename PanelOf<Packed>::Narrow> panel;
    if (panel.size() < static_cast<size_t>(n_blocks)) panel.resize(n_blocks);
    for (int64_t b = 0; b < n_blocks; ++b) unpack(groups[b], &panel[b]);
    panel_all_tokens<Rows8, kOffset, kRun>(n_blocks, panel.data(), a, y, y_stride);
}

// Byte b of every dword, zero-extended to int32 lanes.
inline __m256i byte_of_dwords(__m256i v, int b) {
    return _mm256_and_si256(_mm256_srli_epi32(v, 8 * b), _mm256_set1_epi32(0xff));
}
// Two int32 lanes' low 16 bits as one int16 pair per lane (lo in the low half): vpdpwssd's
// operand.
inline __m256i int16_pairs(__m256i lo, __m256i hi) {
    return _mm256_blend_epi16(lo, _mm256_slli_epi32(hi, 16), 0xaa);
}
// The 8 rows' bytes of sub-block j from a [16][8] column table, as int32 lanes.
inline __m256i column_u8(const uint8_t* column) {
    int64_t eight;
    std::memcpy(&eight, column, 8);
    return _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(eight));
}
inline __m256i column_i8(const int8_t* column) {
    int64_t eight;
    std::memcpy(&eight, column, 8);
    return _mm256_cvtepi8_epi32(_mm_cvtsi64_si128(eight));
}

// ---- K-quants: decoding ----
// values(p, g, q): the rows' values 32g..32g+31 (q[k]: values 32g + 4k..+3, row j in dword j),
// the same shifts and masks as x86_k_unpack.inl on one interleaved section. scales(p, out): the
// fields scale, coef, d, coef_d of KPanelBlock (or KScales).

struct KScales {
    __m256i scale[16];
    __m256i coef[8];
    __m256 d, coef_d;
};
#if defined(__AVX512F__)
struct WideKScales {  // two groups' KScales side by side
    __m512i scale[16];
    __m512i coef[8];
    __m512 d, coef_d;
};
#endif

// The byte operations of the value decoding, for 8 rows (__m256i) and 16 rows (__m512i): the
// same code decodes one packed group, or two side by side for generation in 512-bit registers.
template <typename V>
V and_bits(V a, V b) {
    if constexpr (sizeof(V) == 32) {
        return _mm256_and_si256(a, b);
    } else {
        return _mm512_and_si512(a, b);
    }
}
template <typename V>
V or_bits(V a, V b) {
    if constexpr (sizeof(V) == 32) {
        return _mm256_or_si256(a, b);
    } else {
        return _mm512_or_si512(a, b);
    }
}
template <typename V>
V shift_right16(V v, int n) {
    if constexpr (sizeof(V) == 32) {
        return _mm256_srli_epi16(v, n);
    } else {
        return _mm512_srli_epi16(v, static_cast<unsigned>(n));
    }
}
template <typename V>
V shift_left16(V v, int n) {
    if constexpr (sizeof(V) == 32) {
        return _mm256_slli_epi16(v, n);
    } else {
        return _mm512_slli_epi16(v, static_cast<unsigned>(n));
    }
}
template <typename V>
V every_byte(char c) {
    if constexpr (sizeof(V) == 32) {
        return _mm256_set1_epi8(c);
    } else {
        return _mm512_set1_epi8(c);
    }
}
template <typename V>
V low_nibbles(V v) {
    return and_bits(v, every_byte<V>(0x0f));
}
template <typename V>
V high_nibbles(V v) {
    return and_bits(shift_right16(v, 4), every_byte<V>(0x0f));
}
template <typename V>
V two_bits_of_bytes(V v, int b) {  // bits b, b+1 of every byte, as 0..3
    return and_bits(shift_right16(v, b), every_byte<V>(3));
}
// Bits from .. from + width - 1 of every byte, moved to bits to .. to + width - 1 (others 0):
// one shift and one mask, however far they move.
template <typename V>
V bits_of_bytes_at(V v, int from, int width, int to) {
    const V moved = from >= to ? shift_right16(v, from - to) : shift_left16(v, to - from);
    return and_bits(moved, every_byte<V>(static_cast<char>(((1 << width) - 1) << to)));
}

// Loading 32 bytes of a packed block: from one group (8 rows), or from it and the same bytes
// of the next group, `stride` bytes on (16 rows).
struct LoadNarrow {
    __m256i operator()(const void* p) const { return load32(p); }
};
#if defined(__AVX512F__)
struct LoadWide {
    size_t stride;
    __m512i operator()(const void* p) const {
        return join(load32(p), load32(static_cast<const uint8_t*>(p) + stride));
    }
};
#endif

// Q4_K / Q5_K: section c of qs holds values 64c.. (low nibbles) and 64c+32.. (high nibbles);
// Q5_K's fifth bit of values 32g.. is bit g of qh.
template <bool kFifthBit, typename V, typename Load = LoadNarrow>
inline void values(const PackedQ4_KLike<kFifthBit>& p, int g, V q[8], Load load = {}) {
    for (int k = 0; k < 8; ++k) {
        const V raw = load(p.qs[g / 2][k]);
        q[k] = g % 2 == 0 ? low_nibbles(raw) : high_nibbles(raw);
        if constexpr (kFifthBit) {
            q[k] = or_bits(q[k], bits_of_bytes_at(load(p.qh[0][k]), g, 1, 4));
        }
    }
}
// Q6_K: in half h, values 128h + 32r.. take their low 4 bits from ql section 2h + r % 2 (low
// nibbles for r < 2) and their top 2 from bits 2r, 2r+1 of qh section h.
template <typename V, typename Load = LoadNarrow>
inline void values(const PackedQ6_K& p, int g, V q[8], Load load = {}) {
    const int h = g / 4, r = g % 4;
    for (int k = 0; k < 8; ++k) {
        const V ql = load(p.ql[2 * h + r % 2][k]);
        const V qh = load(p.qh[h][k]);
        // With AVX-512 one shift: g is a constant in generation (k_block_token unrolls its
        // groups), and a batch's panel is decoded once for all its tokens. With AVX2's rolled
        // loop the direction of that one shift is a run-time choice, slower than two shifts.
        const V high = kRegisters32 ? bits_of_bytes_at(qh, 2 * r, 2, 4)
                                    : shift_left16(two_bits_of_bytes(qh, 2 * r), 4);
        q[k] = or_bits(r < 2 ? low_nibbles(ql) : high_nibbles(ql), high);
    }
}
// Q2_K: values 128h + 32r.. are bits 2r, 2r+1 of qs section h.
template <typename V, typename Load = LoadNarrow>
inline void values(const PackedQ2_K& p, int g, V q[8], Load load = {}) {
    for (int k = 0; k < 8; ++k) q[k] = two_bits_of_bytes(load(p.qs[g / 4][k]), 2 * (g % 4));
}
// Q3_K: as Q2_K, plus 4 * bit g of hmask.
template <typename V, typename Load = LoadNarrow>
inline void values(const PackedQ3_K& p, int g, V q[8], Load load = {}) {
    for (int k = 0; k < 8; ++k) {
        const V low = two_bits_of_bytes(load(p.qs[g / 4][k]), 2 * (g % 4));
        q[k] = or_bits(low, bits_of_bytes_at(load(p.hmask[0][k]), g, 1, 2));
    }
}

// IQ4_XS (VNNI only): sub-block g's 16 bytes are dwords 4 (g % 2) .. of section g / 2, its
// low nibbles values 32g.., its high ones 32g + 16..; each nibble becomes its level + 128
// (1..241, unsigned for vpdpbusd; scales() makes the 128 come off through the block sums).
template <typename V>
V iq4_levels_plus_128(V nibbles) {
    alignas(16) int8_t shifted[16];
    for (int i = 0; i < 16; ++i) shifted[i] = static_cast<int8_t>(kIq4Levels[i] + 128);
    const __m128i table = _mm_load_si128(reinterpret_cast<const __m128i*>(shifted));
    if constexpr (sizeof(V) == 32) {
        return _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(table), nibbles);
    } else {
        return _mm512_shuffle_epi8(_mm512_broadcast_i32x4(table), nibbles);
    }
}
template <typename V, typename Load = LoadNarrow>
inline void values(const PackedIQ4_XS& p, int g, V q[8], Load load = {}) {
    for (int k = 0; k < 4; ++k) {
        const V raw = load(p.qs[g / 2][4 * (g % 2) + k]);
        q[k] = iq4_levels_plus_128(low_nibbles(raw));
        q[k + 4] = iq4_levels_plus_128(high_nibbles(raw));
    }
}

// IQ1_M unpacked (VNNI only): the same bytes as its grid decoder's below, 8 g + s + 128, from
// the 2-bit codes c = g + 1 (8 c + 121 by a byte lookup) and the shift sign of each row's 8
// values (2 off where negative: no byte borrows, every byte >= 121).
template <typename V, typename Load = LoadNarrow>
inline void values(const PackedIQ1_MCodes& p, int g, V q[8], Load load = {}) {
    const V negative = load(p.negative);  // row j's 32 shift signs in dword j
    alignas(16) static constexpr uint8_t kLevels[16] = {121, 129, 137};
    const __m128i levels = _mm_load_si128(reinterpret_cast<const __m128i*>(kLevels));
    for (int k = 0; k < 8; ++k) {  // values 32g + 4k..: the 8 values of shift 4g + k / 2
        const V codes = two_bits_of_bytes(load(p.qs[g / 4][k]), 2 * (g % 4));
        const int bit = 1 << (4 * g + k / 2);
        if constexpr (sizeof(V) == 32) {
            const __m256i v = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(levels), codes);
#if defined(__AVX512VL__)
            q[k] =
                _mm256_mask_sub_epi32(v, _mm256_test_epi32_mask(negative, _mm256_set1_epi32(bit)),
                                      v, _mm256_set1_epi8(2));
#else
            const __m256i set = _mm256_cmpeq_epi32(
                _mm256_and_si256(negative, _mm256_set1_epi32(bit)), _mm256_set1_epi32(bit));
            q[k] = _mm256_sub_epi8(v, _mm256_and_si256(set, _mm256_set1_epi8(2)));
#endif
        } else {
#if defined(__AVX512F__)
            const __m512i v = _mm512_shuffle_epi8(_mm512_broadcast_i32x4(levels), codes);
            q[k] =
                _mm512_mask_sub_epi32(v, _mm512_test_epi32_mask(negative, _mm512_set1_epi32(bit)),
                                      v, _mm512_set1_epi8(2));
#endif
        }
    }
}

// The grid i-quants, IQ1 and the ternary types (VNNI only): each row's values 32g.. decoded to
// signed bytes (x86_grid_decode.inl, within -62..62), + 128 (unsigned for vpdpbusd, as
// IQ4_XS's levels), then the 8 rows' dwords transposed into the panel's order.
template <typename Block, typename V, typename Load = LoadNarrow>
inline void values(const PackedRows8<Block>& p, int g, V q[8], Load = {}) {
    static_assert(sizeof(V) == 32, "decoded 8 rows at a time");
    using D = typename x86_grid::DecoderOf<Block>::type;
    __m256i rows[8];
    for (int j = 0; j < 8; ++j) {
        rows[j] =
            _mm256_xor_si256(D::values(p.rows[j], g), _mm256_set1_epi8(static_cast<char>(0x80)));
    }
    transpose8x8_epi32(rows, q);
}

// Q4_K / Q5_K: the 6-bit scales and minimums of sub-blocks 0..3 are the low 6 bits of bytes
// 0..3 and 4..7; those of 4..7 take 4 bits from bytes 8..11 and their top 2 from the top of
// bytes 0..7 (kernels/k_quant_scales.h). Byte-wise on the three dwords of all 8 rows at once.
template <bool kFifthBit, typename Out>
inline void scales(const PackedQ4_KLike<kFifthBit>& p, Out* out) {
    const __m256i s0 = load32(p.scales[0]), s1 = load32(p.scales[1]), s2 = load32(p.scales[2]);
    const __m256i six = _mm256_set1_epi8(0x3f), four = _mm256_set1_epi8(0x0f),
                  top = _mm256_set1_epi8(0x30);
    const __m256i scale_lo = _mm256_and_si256(s0, six), min_lo = _mm256_and_si256(s1, six);
    const __m256i scale_hi = _mm256_or_si256(_mm256_and_si256(s2, four),
                                             _mm256_and_si256(_mm256_srli_epi32(s0, 2), top));
    const __m256i min_hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(s2, 4), four),
                                           _mm256_and_si256(_mm256_srli_epi32(s1, 2), top));
    for (int j = 0; j < 8; ++j) {
        const __m256i scale = byte_of_dwords(j < 4 ? scale_lo : scale_hi, j % 4);
        const __m256i min = byte_of_dwords(j < 4 ? min_lo : min_hi, j % 4);
        out->scale[2 * j] = out->scale[2 * j + 1] = scale;
        out->coef[j] = int16_pairs(min, min);  // for 16-value sub-blocks 2j and 2j + 1
    }
    out->d = halves8(p.d);
    out->coef_d = halves8(p.dmin);
}
// Q6_K: x = d * scale * (u - 32); the offset returns as 32 * scale * bsum.
template <typename Out>
inline void scales(const PackedQ6_K& p, Out* out) {
    for (int j = 0; j < 16; ++j) out->scale[j] = column_i8(p.scales[j]);
    for (int m = 0; m < 8; ++m) {
        out->coef[m] = int16_pairs(_mm256_slli_epi32(out->scale[2 * m], 5),
                                   _mm256_slli_epi32(out->scale[2 * m + 1], 5));
    }
    out->d = out->coef_d = halves8(p.d);
}
// IQ4_XS: sub-block g's scale ls - 32 serves both its 16-value halves; the values' + 128
// comes off as 128 (ls - 32) times the two halves' activation sums.
template <typename Out>
inline void scales(const PackedIQ4_XS& p, Out* out) {
    const __m256i high =
        _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p.scales_h)));
    for (int g = 0; g < 8; ++g) {
        const __m256i low = _mm256_and_si256(
            _mm256_srli_epi32(column_u8(p.scales_l[g / 2]), 4 * (g % 2)), _mm256_set1_epi32(0xf));
        const __m256i top = _mm256_and_si256(_mm256_srli_epi32(high, 2 * g), _mm256_set1_epi32(3));
        const __m256i scale = _mm256_sub_epi32(_mm256_or_si256(low, _mm256_slli_epi32(top, 4)),
                                               _mm256_set1_epi32(32));
        out->scale[2 * g] = out->scale[2 * g + 1] = scale;
        const __m256i coef = _mm256_slli_epi32(scale, 7);
        out->coef[g] = int16_pairs(coef, coef);
    }
    out->d = out->coef_d = halves8(p.d);
}
// The grid types: each row's 16 integer scales; the values' + 128 comes off as 128 scale
// times each 16-value half's activation sum. The row's float scale takes the type's factor
// (a power of two: the same product as the reference's factor applied at the end).
template <typename Block, typename Out>
inline void scales(const PackedRows8<Block>& p, Out* out) {
    using D = typename x86_grid::DecoderOf<Block>::type;
    alignas(32) int32_t ls[16][8];
    alignas(32) float d[8];
    for (int j = 0; j < 8; ++j) {
        for (int ib = 0; ib < 8; ++ib) D::scales(p.rows[j], ib, ls[2 * ib][j], ls[2 * ib + 1][j]);
        d[j] = D::kFactor * D::scale(p.rows[j]);
    }
    for (int s = 0; s < 16; ++s) out->scale[s] = load32(ls[s]);
    for (int m = 0; m < 8; ++m) {
        out->coef[m] = int16_pairs(_mm256_slli_epi32(out->scale[2 * m], 7),
                                   _mm256_slli_epi32(out->scale[2 * m + 1], 7));
    }
    out->d = out->coef_d = _mm256_load_ps(d);
}
// IQ1_M unpacked: the grid decoder's scales (above) from the 8 rows' scale words, 2 s + 1 for
// the 3-bit s of values 16j.. at bit 3 (j % 4) of word j / 4, and the fp16 scale gathered from
// the words' top nibbles (blocks.h, iq1_m_scales).
template <typename Out>
inline void scales(const PackedIQ1_MCodes& p, Out* out) {
    __m256i words[4];
    for (int w = 0; w < 4; ++w) {
        words[w] =
            _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p.scales[w])));
    }
    for (int j = 0; j < 16; ++j) {
        const __m256i s =
            _mm256_and_si256(_mm256_srli_epi32(words[j / 4], 3 * (j % 4)), _mm256_set1_epi32(7));
        out->scale[j] = _mm256_add_epi32(_mm256_add_epi32(s, s), _mm256_set1_epi32(1));
    }
    for (int m = 0; m < 8; ++m) {
        out->coef[m] = int16_pairs(_mm256_slli_epi32(out->scale[2 * m], 7),
                                   _mm256_slli_epi32(out->scale[2 * m + 1], 7));
    }
    const __m256i bits = _mm256_or_si256(
        _mm256_or_si256(_mm256_srli_epi32(words[0], 12),
                        _mm256_and_si256(_mm256_srli_epi32(words[1], 8), _mm256_set1_epi32(0xf0))),
        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(words[2], 4), _mm256_set1_epi32(0xf00)),
                        _mm256_and_si256(words[3], _mm256_set1_epi32(0xf000))));
    // The halves' 16 bits in the low 128 bits, in row order, then converted exactly.
    const __m128i halves =
        _mm_packus_epi32(_mm256_castsi256_si128(bits), _mm256_extracti128_si256(bits, 1));
    out->d = out->coef_d =
        _mm256_mul_ps(_mm256_set1_ps(x86_grid::DecodeIQ1_M::kFactor), _mm256_cvtph_ps(halves));
}
// Q2_K: scale in the low nibble, minimum in the high nibble.
template <typename Out>
inline void scales(const PackedQ2_K& p, Out* out) {
    __m256i min[16];
    for (int j = 0; j < 16; ++j) {
        const __m256i bytes = column_u8(p.scales[j]);
        out->scale[j] = _mm256_and_si256(bytes, _mm256_set1_epi32(0x0f));
        min[j] = _mm256_srli_epi32(bytes, 4);
    }
    for (int m = 0; m < 8; ++m) out->coef[m] = int16_pairs(min[2 * m], min[2 * m + 1]);
    out->d = halves8(p.d);
    out->coef_d = halves8(p.dmin);
}
// Q3_K: 16 six-bit scales (minus 32): the low 4 bits of sub-block 4q+b are a nibble of byte b
// (q = 0, 2) or 4+b (q = 1, 3), low nibble first; the top 2 bits are bits 2q, 2q+1 of byte 8+b.
// x = d * scale * (u - 4), so the offset returns as 4 * scale * bsum.
template <typename Out>
inline void scales(const PackedQ3_K& p, Out* out) {
    const __m256i s0 = load32(p.scales[0]), s1 = load32(p.scales[1]), s2 = load32(p.scales[2]);
    const __m256i four = _mm256_set1_epi8(0x0f), top = _mm256_set1_epi8(0x30);
    const __m256i low[4] = {_mm256_and_si256(s0, four), _mm256_and_si256(s1, four),
                            _mm256_and_si256(_mm256_srli_epi32(s0, 4), four),
                            _mm256_and_si256(_mm256_srli_epi32(s1, 4), four)};
    const __m256i high[4] = {_mm256_and_si256(_mm256_slli_epi32(s2, 4), top),
                             _mm256_and_si256(_mm256_slli_epi32(s2, 2), top),
                             _mm256_and_si256(s2, top),
                             _mm256_and_si256(_mm256_srli_epi32(s2, 2), top)};
    for (int q = 0; q < 4; ++q) {
        const __m256i u = _mm256_or_si256(low[q], high[q]);
        for (int b = 0; b < 4; ++b) {
            out->scale[4 * q + b] = _mm256_sub_epi32(byte_of_dwords(u, b), _mm256_set1_epi32(32));
        }
    }
    for (int m = 0; m < 8; ++m) {
        out->coef[m] = int16_pairs(_mm256_slli_epi32(out->scale[2 * m], 2),
                                   _mm256_slli_epi32(out->scale[2 * m + 1], 2));
    }
    out->d = out->coef_d = halves8(p.d);
}

// The scales of a packed block as the K kernels take them (x86_panel.inl, scale_pairs).
template <typename Packed, typename Out>
inline void k_scales(const Packed& p, Out* out) {
    scales(p, out);
    if constexpr (!kVnni) {
        for (auto& v : out->scale) v = scale_pairs(v);
    }
}
// How many vpmaddubsw results of a K-quant's values may be summed in int16 without VNNI (as
// kInt16Run; Q8_K activations reach -128): 4 up to 5-bit values (4 * 2 * 31 * 128 = 31744),
// 2 for Q6_K's 6-bit ones (2 * 2 * 63 * 128 = 32256).
template <typename Packed>
constexpr int kKInt16Run = 4;
template <>
constexpr int kKInt16Run<PackedQ6_K> = 2;

// Whether a packed type's correction comes off in int32 (k_block_end): the grid types', whose
// values are small next to the 128 added to them.
template <typename Packed>
constexpr bool kIntegerOffset = false;
template <typename Block>
constexpr bool kIntegerOffset<PackedRows8<Block>> = true;
template <>
constexpr bool kIntegerOffset<PackedIQ1_MCodes> = true;

// Whether a packed K type has one scale per 32 values (k_panel_tokens' kScalePer32).
template <typename Packed>
constexpr bool kScalePer32 = false;
template <bool kFifthBit>
constexpr bool kScalePer32<PackedQ4_KLike<kFifthBit>> = true;
template <>
constexpr bool kScalePer32<PackedIQ4_XS> = true;
// The grid types whose decoders give both halves of a sub-block one scale (DecodeX::scales'
// lo == hi): IQ2_XXS, IQ3_XXS, IQ3_S, IQ1_S and the ternary types. IQ2_XS, IQ2_S and IQ1_M
// scale each 16 values on their own.
template <>
constexpr bool kScalePer32<PackedRows8<BlockIQ2_XXS>> = true;
template <>
constexpr bool kScalePer32<PackedRows8<BlockIQ3_XXS>> = true;
template <>
constexpr bool kScalePer32<PackedRows8<BlockIQ3_S>> = true;
template <>
constexpr bool kScalePer32<PackedRows8<BlockIQ1_S>> = true;
template <>
constexpr bool kScalePer32<PackedRows8<BlockTQ1_0>> = true;
template <>
constexpr bool kScalePer32<PackedRows8<BlockTQ2_0>> = true;

// The software prefetch of a generation kernel reading kStreams groups of packed blocks side by
// side (1 for 8 rows, 2 for 16), at block b of n_blocks: kPrefetchBytes ahead in all. Near the
// end of its groups it runs on into the next call's, which follow in memory (packed_gemm.h
// lays the groups end to end; a prefetch does not fault where nothing follows). Stopping at
// the call's end, as this did first, left the next call's first blocks to the hardware
// prefetcher: with rows of 1024 values (4 super-blocks) Q6_K read ~35 GB/s instead of ~55-65
// (kernels_bench packed_stream; docs/optimizations.md).
constexpr size_t kPrefetchBytes = 8192;
template <typename Packed, int kStreams>
inline void prefetch_ahead(const Packed* groups, int64_t b, int64_t n_blocks) {
    constexpr int64_t kAhead = std::max<int64_t>(2, kPrefetchBytes / (kStreams * sizeof(Packed)));
    for (int h = 0; h < kStreams; ++h) {
        // Stream h of this call at block b + kAhead, or of the next call (kStreams * n_blocks on).
        const int64_t at = b + kAhead < n_blocks ? b + kAhead + h * n_blocks
                                                 : b + kAhead + (h + kStreams - 1) * n_blocks;
        const auto* next = reinterpret_cast<const char*>(reinterpret_cast<uintptr_t>(groups) +
                                                         at * sizeof(Packed));
        for (size_t line = 0; line < sizeof(Packed); line += 64)
            _mm_prefetch(next + line, _MM_HINT_T0);
    }
}

// Tokens against one group (Rows8) or two consecutive ones (Rows16, 512-bit registers),
// decoding the values as they stream in, prefetching ahead (prefetch_ahead): one token, or a
// few in tiles that each decode the weights once.
template <typename L, typename Packed>
void k_tokens_streamed(int64_t n_blocks, const Packed* low, const Q8Batch& a, float* y,
                       size_t y_stride) {
#if defined(__AVX512F__)
    constexpr bool kWide = L::kRows == 16;
    using Load = std::conditional_t<kWide, LoadWide, LoadNarrow>;
    using Scales = std::conditional_t<kWide, WideKScales, KScales>;
#else
    constexpr bool kWide = false;
    using Load = LoadNarrow;
    using Scales = KScales;
#endif
    Load load{};
#if defined(__AVX512F__)
    if constexpr (kWide) load.stride = static_cast<size_t>(n_blocks) * sizeof(Packed);
#endif
    const auto scales_of = [low, n_blocks](int64_t b, Scales* s) {
        (void)n_blocks;  // read only by the 16-row path
        if constexpr (kWide) {
#if defined(__AVX512F__)
            KScales rows_0_7, rows_8_15;
            scales(low[b], &rows_0_7);
            scales(low[b + n_blocks], &rows_8_15);  // the next group's block b
            join_scales(rows_0_7, rows_8_15, s);
#endif
        } else {
            k_scales(low[b], s);
        }
    };
    if (a.n_tokens == 1) {
        const auto* act = reinterpret_cast<const BlockQ8_K*>(a.rows);
        typename L::F acc = L::set1(0.0f);
        for (int64_t b = 0; b < n_blocks; ++b) {
            prefetch_ahead<Packed, kWide ? 2 : 1>(low, b, n_blocks);
            Scales s;
            scales_of(b, &s);
            const auto group_values = [&p = low[b], load](int g, typename L::I q[8]) {
                values(p, g, q, load);
            };
            acc = k_block_token<L, kKInt16Run<Packed>, kIntegerOffset<Packed>>(group_values, s,
                                                                               act[b], acc);
        }
        L::store(y, acc);
        return;
    }
    // A few tokens: each block decoded once per tile of up to kStreamTile tokens.
    for_token_tiles(a.n_tokens, [&]<int T>(int t) {
        const BlockQ8_K* act[T];
        for (int i = 0; i < T; ++i)
            act[i] = reinterpret_cast<const BlockQ8_K*>(a.rows + (t + i) * a.row_stride);
        typename L::F acc[T];
        for (auto& v : acc) v = L::set1(0.0f);
        for (int64_t b = 0; b < n_blocks; ++b) {
            prefetch_ahead<Packed, kWide ? 2 : 1>(low, b, n_blocks);
            Scales s;
            scales_of(b, &s);
            const auto group_values = [&p = low[b], load](int g, typename L::I q[8]) {
                values(p, g, q, load);
            };
            k_block_tokens<L, T, kKInt16Run<Packed>, kIntegerOffset<Packed>>(group_values, s, act,
                                                                             b, acc);
        }
        for (int i = 0; i < T; ++i) L::store(y + (t + i) * y_stride, acc[i]);
    });
}

template <typename Packed>
void gemm_k_packed(int64_t n, const void* packed, const Q8Batch& a, float* y, size_t y_stride) {
    const int64_t n_blocks = n / kQK_K;
    const auto* groups = static_cast<const Packed*>(packed);
    if (a.n_tokens < kStreamedBatch) {  // decode 32 values of the 8 rows at a time, straight to use
        k_tokens_streamed<Rows8>(n_blocks, groups, a, y, y_stride);
        return;
    }
    thread_local std::vector<KPanelBlock> panel;  // a batch: decode once, use for every token
    if (panel.size() < static_cast<size_t>(n_blocks)) panel.resize(n_blocks);
    for (int64_t b = 0; b < n_blocks; ++b) {
        for (int g = 0; g < 8; ++g) values(groups[b], g, panel[b].q + 8 * g);
        k_scales(groups[b], &panel[b]);
    }
    k_panel_all_tokens<Rows8, kKInt16Run<Packed>, kIntegerOffset<Packed>, kScalePer32<Packed>>(
        n_blocks, panel.data(), a, y, y_stride);
}

#if defined(__AVX512F__)
// Two consecutive groups (16 rows) in 512-bit registers: twice the rows per instruction.
template <typename Packed>
void gemm_k_packed_wide(int64_t n, const void* packed, const Q8Batch& a, float* y,
                        size_t y_stride) {
    const int64_t n_blocks = n / kQK_K;
    const auto* low = static_cast<const Packed*>(packed);
    const Packed* high = low + n_blocks;  // the next group follows
    if (a.n_tokens < 4) {
        if constexpr (std::is_same_v<Packed, PackedQ4_K>) {
            // 16 rows at a time measured faster end to end for Q4_K (docs/optimizations.md).
            k_tokens_streamed<Rows16>(n_blocks, low, a, y, y_stride);
        } else {
            // The other K-quants generate 8 rows at a time: with the weights streaming from
            // memory, 16 rows measured no faster for them, though they win with the weights in
            // cache (kernels_bench packed_token; docs/optimizations.md).
            gemm_k_packed<Packed>(n, low, a, y, y_stride);
            gemm_k_packed<Packed>(n, high, a, y + 8, y_stride);
        }
        return;
    }
    // A few tokens: 16 rows, each tile decoding once (the grid types decode 8 rows at a time:
    // their panels).
    if constexpr (!kRows8Group<Packed>) {
        if (a.n_tokens < kStreamedBatch) {
            k_tokens_streamed<Rows16>(n_blocks, low, a, y, y_stride);
            return;
        }
    }
    thread_local std::vector<WideKPanelBlock> panel;  // a batch: decode once, use for every token
    if (panel.size() < static_cast<size_t>(n_blocks)) panel.resize(n_blocks);
    for (int64_t b = 0; b < n_blocks; ++b) {
        KPanelBlock rows_0_7, rows_8_15;
        for (int g = 0; g < 8; ++g) {
            values(low[b], g, rows_0_7.q + 8 * g);
            values(high[b], g, rows_8_15.q + 8 * g);
        }
        scales(low[b], &rows_0_7);
        scales(high[b], &rows_8_15);
        widen(rows_0_7, rows_8_15, &panel[b]);
    }
    k_panel_all_tokens<Rows16, 4, kIntegerOffset<Packed>, kScalePer32<Packed>>(
        n_blocks, panel.data(), a, y, y_stride);
}
#endif  // __AVX512F__

}  // namespace
}  // namespace ember::x86_panel
