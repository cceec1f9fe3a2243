// Prompt-processing tiles with AVX-512 VNNI (256-bit registers, EVEX encoding: 32 of them).
//
// A tile is 4 weight rows x 4 activation rows (tokens): 16 dot products that share every load.
// Per 32-value block and per (row, token) the work is three instructions:
//   vpdpbusd  int32 lanes += u8 x s8, four bytes per lane (one instruction for 32 products)
//   vcvtdq2ps the block's integer lanes to float
//   vfmadd    acc += (d_w * d_a) * lanes
// vpdpbusd needs one unsigned operand. Q4_0 / Q5_0 weights are unsigned before their offset
// (q in 0..15 / 0..31, x = d (q - 8) / d (q - 16)), so the lanes start from -offset * sum(a)
// (computed once per token block) and the unsigned weights multiply the signed activations.
// Q8_0 weights are signed: there the activations are made unsigned (a + 128, an xor of the
// sign bit) and the lanes start from -128 * sum(w), computed once per weight block.
// Integer lanes are exact; each (row, token) keeps one float accumulator, so the result
// differs from vec_dot's (two accumulators) in float rounding only, within the reference bound.
#include <immintrin.h>

#include <cstring>

#include "kernels/blocks.h"
#include "kernels/simd_kernels.h"

namespace ember::avx512 {
namespace {

constexpr int kRows = 4, kTokens = 4;

inline float half(fp16_t h) {
    return _cvtsh_ss(h);
}

inline __m256i load32(const void* p) {
    return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

// Q4_0's 16 bytes -> 32 unsigned values: low nibbles are values 0..15, high nibbles 16..31.
inline __m256i unpack_nibbles(const uint8_t* qs) {
    const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
    const __m256i both = _mm256_set_m128i(_mm_srli_epi16(raw, 4), raw);
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0f));
}

// Q5_0's fifth bits: bit j of qh (little-endian) is bit 4 of value j.
inline __m256i fifth_bits(const uint8_t* qh_bytes) {
    uint32_t qh;
    std::memcpy(&qh, qh_bytes, 4);
    const __mmask32 set = qh;
    return _mm256_maskz_mov_epi8(set, _mm256_set1_epi8(0x10));
}

inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// Weight types whose values are unsigned bytes q with x = d (q - kOffset), against Q8_0.
struct Q4_0Unsigned {
    using Block = BlockQ4_0;
    static constexpr int kOffset = 8;
    static __m256i values(const Block& b) { return unpack_nibbles(b.qs); }
};
struct Q5_0Unsigned {
    using Block = BlockQ5_0;
    static constexpr int kOffset = 16;
    static __m256i values(const Block& b) {
        return _mm256_or_si256(unpack_nibbles(b.qs), fifth_bits(b.qh));
    }
};

template <typename W>
void tile_unsigned(int64_t n, const void* w, size_t w_stride, const void* a, size_t a_stride,
                   float* out) {
    const typename W::Block* wb[kRows];
    const BlockQ8_0* ab[kTokens];
    for (int r = 0; r < kRows; ++r)
        wb[r] = reinterpret_cast<const typename W::Block*>(static_cast<const uint8_t*>(w) +
                                                           r * w_stride);
    for (int t = 0; t < kTokens; ++t)
        ab[t] = reinterpret_cast<const BlockQ8_0*>(static_cast<const uint8_t*>(a) + t * a_stride);
    __m256 acc[kTokens][kRows];
    for (auto& row : acc)
        for (__m256& v : row) v = _mm256_setzero_ps();
    const __m256i offset = _mm256_set1_epi8(W::kOffset);
    for (int64_t b = 0; b < n / kQK; ++b) {
        __m256i q[kRows];
        __m256 dw[kRows];
        for (int r = 0; r < kRows; ++r) {
            q[r] = W::values(wb[r][b]);
            dw[r] = _mm256_set1_ps(half(wb[r][b].d));
        }
        for (int t = 0; t < kTokens; ++t) {
            const __m256i av = load32(ab[t][b].qs);
            // -offset * (sum of each lane's four activations): the lanes' starting value.
            const __m256i start = _mm256_sub_epi32(
                _mm256_setzero_si256(), _mm256_dpbusd_epi32(_mm256_setzero_si256(), offset, av));
            const __m256 da = _mm256_set1_ps(half(ab[t][b].d));
            for (int r = 0; r < kRows; ++r) {
                const __m256i lanes = _mm256_dpbusd_epi32(start, q[r], av);
                acc[t][r] =
                    _mm256_fmadd_ps(_mm256_mul_ps(dw[r], da), _mm256_cvtepi32_ps(lanes), acc[t][r]);
            }
        }
    }
    for (int t = 0; t < kTokens; ++t)
        for (int r = 0; r < kRows; ++r) out[t * kRows + r] = hsum(acc[t][r]);
}

}  // namespace

void tile4x4_q4_0_q8_0(int64_t n, const void* w, size_t w_stride, const void* a, size_t a_stride,
                       float* out) {
    tile_unsigned<Q4_0Unsigned>(n, w, w_stride, a, a_stride, out);
}

void tile4x4_q5_0_q8_0(int64_t n, const void* w, size_t w_stride, const void* a, size_t a_stride,
                       float* out) {
    tile_unsigned<Q5_0Unsigned>(n, w, w_stride, a, a_stride, out);
}

void tile4x4_q8_0_q8_0(int64_t n, const void* w, size_t w_stride, const void* a, size_t a_stride,
                       float* out) {
    const BlockQ8_0* wb[kRows];
    const BlockQ8_0* ab[kTokens];
    for (int r = 0; r < kRows; ++r)
        wb[r] = reinterpret_cast<const BlockQ8_0*>(static_cast<const uint8_t*>(w) + r * w_stride);
    for (int t = 0; t < kTokens; ++t)
        ab[t] = reinterpret_cast<const BlockQ8_0*>(static_cast<const uint8_t*>(a) + t * a_stride);
    __m256 acc[kTokens][kRows];
    for (auto& row : acc)
        for (__m256& v : row) v = _mm256_setzero_ps();
    const __m256i sign = _mm256_set1_epi8(static_cast<char>(0x80));
    for (int64_t b = 0; b < n / kQK; ++b) {
        __m256i q[kRows], start[kRows];
        __m256 dw[kRows];
        for (int r = 0; r < kRows; ++r) {
            q[r] = load32(wb[r][b].qs);
            // (a + 128) . w - 128 * sum(w) = a . w: start each lane at -128 * its weights' sum.
            start[r] = _mm256_sub_epi32(_mm256_setzero_si256(),
                                        _mm256_dpbusd_epi32(_mm256_setzero_si256(), sign, q[r]));
            dw[r] = _mm256_set1_ps(half(wb[r][b].d));
        }
        for (int t = 0; t < kTokens; ++t) {
            const __m256i au = _mm256_xor_si256(load32(ab[t][b].qs), sign);  // a + 128, unsigned
            const __m256 da = _mm256_set1_ps(half(ab[t][b].d));
            for (int r = 0; r < kRows; ++r) {
                const __m256i lanes = _mm256_dpbusd_epi32(start[r], au, q[r]);
                acc[t][r] =
                    _mm256_fmadd_ps(_mm256_mul_ps(dw[r], da), _mm256_cvtepi32_ps(lanes), acc[t][r]);
            }
        }
    }
    for (int t = 0; t < kTokens; ++t)
        for (int r = 0; r < kRows; ++r) out[t * kRows + r] = hsum(acc[t][r]);
}

}  // namespace ember::avx512
