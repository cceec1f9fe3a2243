// Weights packed once at load time for the panel kernels: 8 rows of a quantized type
// rewritten block by block so that each block's 8 rows sit side by side. Plain byte moves,
// shared by the x86 kernels (x86_packed.inl) and the NEON ones (arm_packed.inl); each
// instruction set pairs a packer with its own kernels in the registry.
//
// * Every value array (qs, qh, ql, hmask) is interleaved by dwords: 32 bytes of a packed array
//   hold bytes 4k..4k+3 of one 32-byte section of the 8 rows' array, row j at bytes 4j..4j+3.
//   In 256-bit registers that is the panel vector "values 4k..4k+3 of each row" (x86); in
//   128-bit ones, the first 16 bytes are rows 0-3 and the next 16 rows 4-7, each dword of a
//   row lining up with one lane of an activation vector (SDOT by element, ARM). Sections follow
//   each other in the order the kernels read them.
// * The scales and minimums are stored 8 rows side by side, so a few vector operations give a
//   sub-block's 8 scales as int32 lanes.
//
// Each layout is exactly the size of the 8 rows it comes from (static_asserts below): packing
// costs no memory beyond the 8 rows it replaces. One exception, IQ1_M's unpacked codes (the
// end of this file): 608 bytes for 8 rows' 448, the type's grid lookups traded for 2-bit fields.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/blocks.h"
#include "kernels/iq_grids.h"

namespace ember::packed {

// Value arrays are stored section-major: qs[s][k] holds dword k of section s of the 8 rows (the
// 32 bytes that give panel vectors "values 32g + 4k.." for the groups g of section s), so
// decoding walks the packed bytes in order.
using Sections = uint8_t[8][32];

// dst[s][k][4j + m] = rows[j][offset + 32s + 4k + m] for the `sections` 32-byte sections of a
// value array: dword k of each row's section s, 8 rows side by side.
inline void interleave_dwords(const uint8_t* const rows[8], size_t offset, int sections,
                              Sections* dst) {
    for (int s = 0; s < sections; ++s) {
        for (int k = 0; k < 8; ++k) {
            for (int j = 0; j < 8; ++j)
                std::memcpy(dst[s][k] + 4 * j, rows[j] + offset + 32 * s + 4 * k, 4);
        }
    }
}

// The 8 rows' block b, as byte pointers.
template <typename Block>
inline void block_rows(const void* w, size_t w_stride, int64_t b, const uint8_t* rows[8]) {
    for (int j = 0; j < 8; ++j) {
        rows[j] =
            static_cast<const uint8_t*>(w) + j * w_stride + static_cast<size_t>(b) * sizeof(Block);
    }
}

// The 8 rows' fp16 field at `offset`, side by side.
inline void pack_halves(const uint8_t* const rows[8], size_t offset, fp16_t d[8]) {
    for (int j = 0; j < 8; ++j) std::memcpy(&d[j], rows[j] + offset, 2);
}

// ---- 32-value blocks ----

// Q4_0: qs[c] dword j = row j's qs[4c..4c+3]: low nibbles are values 4c.., high nibbles
// 16+4c.., so one section gives panel vectors c and c + 4. The packer may XOR every byte with
// a `flip` (ARM stores q ^ 0x88: each nibble becomes q - 8 as a signed 4-bit number).
struct PackedQ4_0 {
    fp16_t d[8];
    uint8_t qs[4][32];
};
// Q5_0: as Q4_0, plus the fifth bits in one of two arrangements of the packer's choosing:
// by dword (x86: qh[k] bit 4j+i = the fifth bit of value 4k+i of row j), or by byte (ARM:
// byte 4j+i of qh holds, in bit k, the fifth bit of value 4k+i of row j).
struct PackedQ5_0 {
    fp16_t d[8];
    uint32_t qh[8];
    uint8_t qs[4][32];
};
// Q8_0: qs[k] dword j = row j's qs[4k..4k+3], XORed with the packer's `flip` (x86 stores
// q + 128, unsigned, for vpdpbusd; ARM stores q as it is, for SDOT).
struct PackedQ8_0 {
    fp16_t d[8];
    uint8_t qs[8][32];
};
// Q4_1 / Q5_1: as Q4_0 / Q5_0, with the 8 rows' minimums after their scales.
struct PackedQ4_1 {
    fp16_t d[8], m[8];
    uint8_t qs[4][32];
};
struct PackedQ5_1 {
    fp16_t d[8], m[8];
    uint32_t qh[8];
    uint8_t qs[4][32];
};
// IQ4_NL: Q4_0's layout, the nibbles as they are (codes into the 16 levels, kIq4Levels).
struct PackedIQ4_NL {
    fp16_t d[8];
    uint8_t qs[4][32];
};
static_assert(sizeof(PackedQ4_0) == 8 * sizeof(BlockQ4_0));
static_assert(sizeof(PackedIQ4_NL) == 8 * sizeof(BlockIQ4_NL));
static_assert(sizeof(PackedQ4_1) == 8 * sizeof(BlockQ4_1));
static_assert(sizeof(PackedQ5_1) == 8 * sizeof(BlockQ5_1));
static_assert(sizeof(PackedQ5_0) == 8 * sizeof(BlockQ5_0));
static_assert(sizeof(PackedQ8_0) == 8 * sizeof(BlockQ8_0));

// The nibbles at `offset` of the 8 rows: qs[c] dword j = row j's bytes 4c..4c+3.
inline void pack_nibbles(const uint8_t* const rows[8], size_t offset, uint8_t qs[4][32]) {
    for (int c = 0; c < 4; ++c) {
        for (int j = 0; j < 8; ++j) std::memcpy(qs[c] + 4 * j, rows[j] + offset + 4 * c, 4);
    }
}
// The fifth bits at `offset`: qh[k] bit 4j + i = bit 4k + i of row j's 32 bits.
inline void pack_fifth_bits(const uint8_t* const rows[8], size_t offset, uint32_t qh[8]) {
    for (int k = 0; k < 8; ++k) {
        uint32_t mask = 0;
        for (int j = 0; j < 8; ++j) {
            uint32_t bits;
            std::memcpy(&bits, rows[j] + offset, 4);
            mask |= ((bits >> (4 * k)) & 0xfu) << (4 * j);
        }
        qh[k] = mask;
    }
}

template <uint8_t kFlip>
inline void pack_q4_0(const uint8_t* const rows[8], PackedQ4_0* p) {
    pack_halves(rows, offsetof(BlockQ4_0, d), p->d);
    pack_nibbles(rows, offsetof(BlockQ4_0, qs), p->qs);
    if constexpr (kFlip != 0) {
        for (auto& section : p->qs) {
            for (uint8_t& byte : section) byte ^= kFlip;
        }
    }
}
inline void pack_iq4_nl(const uint8_t* const rows[8], PackedIQ4_NL* p) {
    pack_halves(rows, offsetof(BlockIQ4_NL, d), p->d);
    pack_nibbles(rows, offsetof(BlockIQ4_NL, qs), p->qs);
}
// The same bits by byte: byte 4j + i of qh, bit k = bit 4k + i of row j's 32 bits. In 16-byte
// registers, the bytes of rows 0-3 and 4-7 line up with the packed nibbles, so one shift puts
// the fifth bits of values 4k.. at bit 4 of every byte.
inline void pack_fifth_bits_by_byte(const uint8_t* const rows[8], size_t offset, uint32_t qh[8]) {
    uint8_t bytes[32] = {};
    for (int j = 0; j < 8; ++j) {
        uint32_t bits;
        std::memcpy(&bits, rows[j] + offset, 4);
        for (int k = 0; k < 8; ++k) {
            for (int i = 0; i < 4; ++i)
                bytes[4 * j + i] |= static_cast<uint8_t>(((bits >> (4 * k + i)) & 1u) << k);
        }
    }
    std::memcpy(qh, bytes, sizeof(bytes));
}

// kByByte: the fifth bits by byte (pack_fifth_bits_by_byte), else by dword.
template <bool kByByte>
inline void pack_q5_0(const uint8_t* const rows[8], PackedQ5_0* p) {
    pack_halves(rows, offsetof(BlockQ5_0, d), p->d);
    pack_nibbles(rows, offsetof(BlockQ5_0, qs), p->qs);
    if constexpr (kByByte) {
        pack_fifth_bits_by_byte(rows, offsetof(BlockQ5_0, qh), p->qh);
    } else {
        pack_fifth_bits(rows, offsetof(BlockQ5_0, qh), p->qh);
    }
}
inline void pack_q4_1(const uint8_t* const rows[8], PackedQ4_1* p) {
    pack_halves(rows, offsetof(BlockQ4_1, d), p->d);
    pack_halves(rows, offsetof(BlockQ4_1, m), p->m);
    pack_nibbles(rows, offsetof(BlockQ4_1, qs), p->qs);
}
template <bool kByByte>
inline void pack_q5_1(const uint8_t* const rows[8], PackedQ5_1* p) {
    pack_halves(rows, offsetof(BlockQ5_1, d), p->d);
    pack_halves(rows, offsetof(BlockQ5_1, m), p->m);
    pack_nibbles(rows, offsetof(BlockQ5_1, qs), p->qs);
    if constexpr (kByByte) {
        pack_fifth_bits_by_byte(rows, offsetof(BlockQ5_1, qh), p->qh);
    } else {
        pack_fifth_bits(rows, offsetof(BlockQ5_1, qh), p->qh);
    }
}
template <uint8_t kFlip>
inline void pack_q8_0(const uint8_t* const rows[8], PackedQ8_0* p) {
    pack_halves(rows, offsetof(BlockQ8_0, d), p->d);
    for (int k = 0; k < 8; ++k) {
        for (int j = 0; j < 8; ++j) {
            for (int m = 0; m < 4; ++m)
                p->qs[k][4 * j + m] = rows[j][offsetof(BlockQ8_0, qs) + 4 * k + m] ^ kFlip;
        }
    }
}

// Every block of a group of 8 rows of n values, kValues per block.
template <typename Block, int kValues, typename Packed,
          void (*kPack)(const uint8_t* const*, Packed*)>
inline void pack_groups(int64_t n, const void* w, size_t w_stride, void* packed) {
    auto* out = static_cast<Packed*>(packed);
    for (int64_t b = 0; b < n / kValues; ++b) {
        const uint8_t* rows[8];
        block_rows<Block>(w, w_stride, b, rows);
        kPack(rows, &out[b]);
    }
}

// ---- K-quants ----

// Q4_K / Q5_K: scales[s] dword j = row j's scales[4s..4s+3] (the 12 bytes of 6-bit scales and
// minimums, three dwords per row).
template <bool kFifthBit>
struct PackedQ4_KLike;
template <>
struct PackedQ4_KLike<false> {
    fp16_t d[8], dmin[8];
    uint8_t scales[3][32];
    Sections qs[4];
};
template <>
struct PackedQ4_KLike<true> {
    fp16_t d[8], dmin[8];
    uint8_t scales[3][32];
    Sections qh[1];
    Sections qs[4];
};
using PackedQ4_K = PackedQ4_KLike<false>;
using PackedQ5_K = PackedQ4_KLike<true>;
// Q6_K: scales[j][r] = row r's scale of sub-block j.
struct PackedQ6_K {
    fp16_t d[8];
    int8_t scales[16][8];
    Sections ql[4];
    Sections qh[2];
};
// Q2_K: scales[j][r] = row r's scale byte of sub-block j (scale | min << 4).
struct PackedQ2_K {
    fp16_t d[8], dmin[8];
    uint8_t scales[16][8];
    Sections qs[2];
};
// Q3_K: scales[s] dword j = row j's scales[4s..4s+3], as Q4_K.
struct PackedQ3_K {
    fp16_t d[8];
    uint8_t scales[3][32];
    Sections hmask[1];
    Sections qs[2];
};
static_assert(sizeof(PackedQ2_K) == 8 * sizeof(BlockQ2_K));
static_assert(sizeof(PackedQ3_K) == 8 * sizeof(BlockQ3_K));
static_assert(sizeof(PackedQ4_K) == 8 * sizeof(BlockQ4_K));
static_assert(sizeof(PackedQ5_K) == 8 * sizeof(BlockQ5_K));
static_assert(sizeof(PackedQ6_K) == 8 * sizeof(BlockQ6_K));

template <typename Block, typename Packed>
inline void pack_scale_dwords(const uint8_t* const rows[8], Packed* p) {
    for (int s = 0; s < 3; ++s) {
        for (int j = 0; j < 8; ++j)
            std::memcpy(p->scales[s] + 4 * j, rows[j] + offsetof(Block, scales) + 4 * s, 4);
    }
}
template <typename Block, typename Packed>
inline void pack_scale_columns(const uint8_t* const rows[8], Packed* p) {
    for (int sub = 0; sub < 16; ++sub) {
        for (int r = 0; r < 8; ++r)
            std::memcpy(&p->scales[sub][r], rows[r] + offsetof(Block, scales) + sub, 1);
    }
}
inline void pack_q4_k(const uint8_t* const rows[8], PackedQ4_K* p) {
    pack_halves(rows, offsetof(BlockQ4_K, d), p->d);
    pack_halves(rows, offsetof(BlockQ4_K, dmin), p->dmin);
    pack_scale_dwords<BlockQ4_K>(rows, p);
    interleave_dwords(rows, offsetof(BlockQ4_K, qs), 4, p->qs);
}
inline void pack_q5_k(const uint8_t* const rows[8], PackedQ5_K* p) {
    pack_halves(rows, offsetof(BlockQ5_K, d), p->d);
    pack_halves(rows, offsetof(BlockQ5_K, dmin), p->dmin);
    pack_scale_dwords<BlockQ5_K>(rows, p);
    interleave_dwords(rows, offsetof(BlockQ5_K, qh), 1, p->qh);
    interleave_dwords(rows, offsetof(BlockQ5_K, qs), 4, p->qs);
}
inline void pack_q6_k(const uint8_t* const rows[8], PackedQ6_K* p) {
    pack_halves(rows, offsetof(BlockQ6_K, d), p->d);
    pack_scale_columns<BlockQ6_K>(rows, p);
    interleave_dwords(rows, offsetof(BlockQ6_K, ql), 4, p->ql);
    interleave_dwords(rows, offsetof(BlockQ6_K, qh), 2, p->qh);
}
inline void pack_q2_k(const uint8_t* const rows[8], PackedQ2_K* p) {
    pack_halves(rows, offsetof(BlockQ2_K, d), p->d);
    pack_halves(rows, offsetof(BlockQ2_K, dmin), p->dmin);
    pack_scale_columns<BlockQ2_K>(rows, p);
    interleave_dwords(rows, offsetof(BlockQ2_K, qs), 2, p->qs);
}
inline void pack_q3_k(const uint8_t* const rows[8], PackedQ3_K* p) {
    pack_halves(rows, offsetof(BlockQ3_K, d), p->d);
    pack_scale_dwords<BlockQ3_K>(rows, p);
    interleave_dwords(rows, offsetof(BlockQ3_K, hmask), 1, p->hmask);
    interleave_dwords(rows, offsetof(BlockQ3_K, qs), 2, p->qs);
}

// ---- IQ4_XS ----

// scales_h[r], scales_l[i][r]: row r's 6-bit scale fields as stored; qs sections as Q4_K's
// (section s = bytes 32s.. of the 8 rows: sub-blocks 2s and 2s + 1, whose 16 bytes each hold
// values 32g.. in their low nibbles and 32g + 16.. in their high ones).
struct PackedIQ4_XS {
    fp16_t d[8];
    uint16_t scales_h[8];
    uint8_t scales_l[4][8];
    Sections qs[4];
};
inline void pack_iq4_xs(const uint8_t* const rows[8], PackedIQ4_XS* p) {
    pack_halves(rows, offsetof(BlockIQ4_XS, d), p->d);
    for (int r = 0; r < 8; ++r) {
        std::memcpy(&p->scales_h[r], rows[r] + offsetof(BlockIQ4_XS, scales_h), 2);
        for (int i = 0; i < 4; ++i)
            p->scales_l[i][r] = rows[r][offsetof(BlockIQ4_XS, scales_l) + i];
    }
    interleave_dwords(rows, offsetof(BlockIQ4_XS, qs), 4, p->qs);
}
static_assert(sizeof(PackedIQ4_XS) == 8 * sizeof(BlockIQ4_XS));

// ---- The grid i-quants, IQ1 and the ternary types ----

// Block b of the 8 rows, one after the other, as stored. These types' values come from
// lookups of whole groups (grid entries, base-3 digits), not from bit fields that one shift
// decodes for 8 rows at once, so each row's sub-block is decoded on its own and the dwords are
// transposed after (x86_packed.inl); packing only brings the 8 rows' blocks together.
template <typename Block>
struct PackedRows8 {
    Block rows[8];
};
template <typename Block>
inline void pack_rows8(const uint8_t* const rows[8], PackedRows8<Block>* p) {
    for (int j = 0; j < 8; ++j) std::memcpy(&p->rows[j], rows[j], sizeof(Block));
}

// ---- IQ1_M unpacked ----

// IQ1_M with its grid entries looked up once, at load: every value's grid digit g (-1, 0, 1)
// as the 2-bit code g + 1, in Q2_K's arrangement (values 128h + 32r.. are bits 2r, 2r+1 of qs
// section h); negative[r] bit e: row r's values 8e..8e+7 take the shift -1/8 (else +1/8);
// scales[w][r]: row r's scale word w as stored (four 3-bit scales and a nibble of the block's
// fp16 scale). On x86 the 32 lookups of a block's row were the one-token kernel's whole cost
// (docs/optimizations.md); unpacked, its values come from shifts and masks as Q2_K's, for
// 1.36x the type's bytes (docs/performance.md).
struct PackedIQ1_MCodes {
    uint16_t scales[4][8];
    uint32_t negative[8];
    Sections qs[2];
};
static_assert(sizeof(PackedIQ1_MCodes) == 608);
inline void pack_iq1_m_codes(const uint8_t* const rows[8], PackedIQ1_MCodes* p) {
    uint8_t codes[8][kQK_K / 4] = {};
    const uint8_t* code_rows[8];
    for (int r = 0; r < 8; ++r) {
        BlockIQ1_M b;
        std::memcpy(&b, rows[r], sizeof(b));
        for (int w = 0; w < 4; ++w) std::memcpy(&p->scales[w][r], b.scales + 2 * w, 2);
        uint32_t negative = 0;
        for (int e = 0; e < kQK_K / 8; ++e) {  // group e: values 8e..8e+7
            const int ib = e / 4, l = e % 4;
            if (iq1_m_shift_negative(b, ib, l)) negative |= uint32_t{1} << e;
            const uint64_t entry = kIq1sGrid[iq1_m_index(b, ib, l)];
            for (int i = 0; i < 8; ++i) {
                const int v = 8 * e + i;
                const int code = static_cast<int8_t>(entry >> (8 * i)) + 1;
                codes[r][32 * (v / 128) + v % 32] |=
                    static_cast<uint8_t>(code << (2 * (v / 32 % 4)));
            }
        }
        p->negative[r] = negative;
        code_rows[r] = codes[r];
    }
    interleave_dwords(code_rows, 0, 2, p->qs);
}

}  // namespace ember::packed
