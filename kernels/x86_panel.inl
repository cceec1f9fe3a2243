// The 8-row panels of the prompt GEMM (x86_avx512.cpp explains them), shared by the kernels
// that build panels from mapped rows (x86_avx512.cpp) and from weights packed at load time
// (x86_packed.inl, for AVX-512, AVX-VNNI and AVX2). Everything is in an anonymous namespace:
// each file that includes it compiles its own copy with its own instruction-set flags, and the
// linker cannot merge an AVX-512 copy into the AVX2 path.
//
// The panel's one integer instruction is vpdpbusd (VNNI): in each int32 lane, four
// unsigned weight bytes times four signed activation bytes, summed. Without VNNI (plain AVX2)
// Rows8 does the same with vpmaddubsw (pairs into int16) and vpmaddwd against ones (pairs of
// those into int32): exact as long as a pair of products fits in int16, true for every panel
// whose unsigned values stay below 128. Q8_0's values reach 255 once made unsigned, so there
// the AVX2 panel keeps them signed and moves their signs onto the activations
// (PanelBlockSigned). Where the values are small, the kernels add several vpmaddubsw results
// in int16 before one vpmaddwd (kInt16Run and kKInt16Run in x86_packed.inl give how many).
#pragma once

#include <immintrin.h>

#include <array>
#include <cstring>
#include <type_traits>

#include "kernels/blocks.h"
#include "kernels/kernels.h"

// VNNI: AVX-512's (EVEX-encoded, 256-bit forms with VL) or AVX-VNNI's (VEX-encoded, the same
// instructions on AVX2-only CPUs such as Intel's since Alder Lake).
#if (defined(__AVX512VNNI__) && defined(__AVX512VL__)) || defined(__AVXVNNI__)
#define EMBER_PANEL_VNNI 1
#else
#define EMBER_PANEL_VNNI 0
#endif

namespace ember::x86_panel {
namespace {

constexpr bool kVnni = EMBER_PANEL_VNNI;
#if defined(__AVX512F__)
constexpr bool kRegisters32 = true;  // EVEX encoding: 32 vector registers, else 16
#else
constexpr bool kRegisters32 = false;
#endif

inline float half(fp16_t h) {
    return _cvtsh_ss(h);
}

inline __m256i load32(const void* p) {
    return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

struct PanelBlock {
    __m256i q[8];  // q[k]: dword j = values 4k..4k+3 of row j, unsigned
    __m256 d;      // the 8 rows' scales
};
// Q4_1 / Q5_1 (x = d q + m): the rows' minimums too, which meet the activations' s = d_a sum(a)
// of a Q8_1 block.
struct PanelBlockMin : PanelBlock {
    __m256 m;
};

// Q8_0 without VNNI: the values' magnitudes (|q| <= 128 as unsigned bytes) and the values
// themselves, whose signs vpsignb copies onto each broadcast activation.
struct PanelBlockSigned : PanelBlock {
    __m256i sign[8];
};

// 8 x 8 transpose of dwords: out[k] dword j = in[j] dword k.
inline void transpose8x8_epi32(const __m256i in[8], __m256i out[8]) {
    __m256i t[8], u[8];
    for (int i = 0; i < 4; ++i) {
        t[2 * i] = _mm256_unpacklo_epi32(in[2 * i], in[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_epi32(in[2 * i], in[2 * i + 1]);
    }
    for (int i = 0; i < 2; ++i) {
        u[4 * i + 0] = _mm256_unpacklo_epi64(t[4 * i + 0], t[4 * i + 2]);
        u[4 * i + 1] = _mm256_unpackhi_epi64(t[4 * i + 0], t[4 * i + 2]);
        u[4 * i + 2] = _mm256_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        u[4 * i + 3] = _mm256_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    // u[m] (m < 4) holds dword m of rows 0-3 in its low half and dword m + 4 in its high half;
    // u[m + 4] the same for rows 4-7.
    for (int m = 0; m < 4; ++m) {
        out[m] = _mm256_permute2x128_si256(u[m], u[m + 4], 0x20);
        out[m + 4] = _mm256_permute2x128_si256(u[m], u[m + 4], 0x31);
    }
}

// The K-quants' panel block: a 256-value super-block of 8 rows (x86_avx512.cpp).
struct KPanelBlock {
    __m256i q[64];      // q[8i + k]: dword j = values 32i + 4k .. +3 of row j
    __m256i scale[16];  // the rows' scale of sub-block j: int32 lanes (as scale_pairs gives it)
    __m256i coef[8];    // int16 pairs: the rows' (coef_2m, coef_2m+1)
    __m256 d, coef_d;
};

#if defined(__AVX512F__)
// ---- Wide panels: 16 rows in 512-bit registers ----
// Two 8-row panels side by side (rows 0-7 in the low 256 bits, 8-15 in the high): each
// vpdpbusd then does 64 multiply-adds instead of 32 for the same activation broadcast. Prompt
// processing builds them from two 8-row groups; generation, bound by memory more than by
// arithmetic, uses them only where measurement showed a gain (x86_avx512_packed.cpp).
struct WidePanelBlock {
    __m512i q[8];
    __m512 d;
};
struct WideKPanelBlock {
    __m512i q[64];
    __m512i scale[16];
    __m512i coef[8];
    __m512 d, coef_d;
};
inline __m512i join(__m256i lo, __m256i hi) {
    // (The maskz forms: GCC 12 warns that the plain ones' undefined source is uninitialised.)
    const __m512i low = _mm512_maskz_inserti64x4(0xff, _mm512_setzero_si512(), lo, 0);
    return _mm512_maskz_inserti64x4(0xff, low, hi, 1);
}
inline __m512 join(__m256 lo, __m256 hi) {
    return _mm512_castsi512_ps(join(_mm256_castps_si256(lo), _mm256_castps_si256(hi)));
}
struct WidePanelBlockMin : WidePanelBlock {
    __m512 m;
};
inline void widen(const PanelBlock& lo, const PanelBlock& hi, WidePanelBlock* out) {
    for (int k = 0; k < 8; ++k) out->q[k] = join(lo.q[k], hi.q[k]);
    out->d = join(lo.d, hi.d);
}
inline void widen(const PanelBlockMin& lo, const PanelBlockMin& hi, WidePanelBlockMin* out) {
    widen(static_cast<const PanelBlock&>(lo), static_cast<const PanelBlock&>(hi), out);
    out->m = join(lo.m, hi.m);
}

#endif  // __AVX512F__

// The register width a panel kernel runs at: 8 rows (256-bit) or 16 rows (512-bit), and how
// many tokens share one pass over a panel (AVX2 has 16 registers, AVX-512 32).
struct Rows8 {
    static constexpr int kRows = 8;
    static constexpr int kTokens = 4, kKTokens = kRegisters32 ? 8 : 4;
    using I = __m256i;
    using F = __m256;
    using Panel = PanelBlock;
    using KPanel = KPanelBlock;
    static I set1(int32_t x) { return _mm256_set1_epi32(x); }
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
    static I dpbusd(I acc, I u8, I s8) {
        return _mm256_dpbusd_epi32(acc, u8, s8);
    }
    static I dpwssd(I acc, I a, I b) {
        return _mm256_dpwssd_epi32(acc, a, b);
    }
#elif defined(__AVXVNNI__)
    static I dpbusd(I acc, I u8, I s8) {
        return _mm256_dpbusd_avx_epi32(acc, u8, s8);
    }
    static I dpwssd(I acc, I a, I b) {
        return _mm256_dpwssd_avx_epi32(acc, a, b);
    }
#else
    // u8 < 128 (see the top of the file), so each pair's sum fits in int16.
    static I dpbusd(I acc, I u8, I s8) {
        const I pairs = _mm256_maddubs_epi16(u8, s8);
        return _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
    }
    static I dpwssd(I acc, I a, I b) {
        return _mm256_add_epi32(acc, _mm256_madd_epi16(a, b));
    }
#endif
    static I mullo(I a, I b) {
        return _mm256_mullo_epi32(a, b);
    }
    template <int N>
    static I shift_left(I a) {
        return _mm256_slli_epi32(a, N);
    }
    static I add(I a, I b) {
        return _mm256_add_epi32(a, b);
    }
    static I sub(I a, I b) {
        return _mm256_sub_epi32(a, b);
    }
    static F set1(float x) {
        return _mm256_set1_ps(x);
    }
    static F to_float(I v) {
        return _mm256_cvtepi32_ps(v);
    }
    static F mul(F a, F b) {
        return _mm256_mul_ps(a, b);
    }
    static F fmadd(F a, F b, F c) {
        return _mm256_fmadd_ps(a, b, c);
    }
    static F fnmadd(F a, F b, F c) {
        return _mm256_fnmadd_ps(a, b, c);
    }
    static void store(float* p, F v) {
        _mm256_storeu_ps(p, v);
    }
};
#if defined(__AVX512F__)
struct Rows16 {
    static constexpr int kRows = 16;
    static constexpr int kTokens = 4, kKTokens = 8;
    using I = __m512i;
    using F = __m512;
    using Panel = WidePanelBlock;
    using KPanel = WideKPanelBlock;
    static I set1(int32_t x) { return _mm512_set1_epi32(x); }
    static I dpbusd(I acc, I u8, I s8) { return _mm512_dpbusd_epi32(acc, u8, s8); }
    static I dpwssd(I acc, I a, I b) { return _mm512_dpwssd_epi32(acc, a, b); }
    static I mullo(I a, I b) { return _mm512_mullo_epi32(a, b); }
    template <int N>
    static I shift_left(I a) {
        return _mm512_slli_epi32(a, N);
    }
    static I add(I a, I b) { return _mm512_add_epi32(a, b); }
    static I sub(I a, I b) { return _mm512_sub_epi32(a, b); }
    static F set1(float x) { return _mm512_set1_ps(x); }
    static F to_float(I v) { return _mm512_maskz_cvtepi32_ps(0xffff, v); }
    static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
    static F fmadd(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
    static F fnmadd(F a, F b, F c) { return _mm512_fnmadd_ps(a, b, c); }
    static void store(float* p, F v) { _mm512_storeu_ps(p, v); }
};
#endif  // __AVX512F__

// Makes the compiler finish computing `v` here: an empty asm that claims to change it, so no
// later addition can be reassociated with earlier ones (k_block_token).
template <typename V>
inline void settle(V& v) {
    asm("" : "+v"(v));
}

// An int32 or a float from a byte buffer.
inline int32_t int32_at(const uint8_t* p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return v;
}
inline float float_at(const uint8_t* p) {
    float v;
    std::memcpy(&v, p, 4);
    return v;
}

// Four activation bytes as one int32 (the operand every lane of a vpdpbusd shares).
inline int32_t four_bytes(const int8_t* p) {
    int32_t four;
    std::memcpy(&four, p, 4);
    return four;
}

// Without VNNI: the dot products of kCount panel vectors q[k] (4 unsigned values of each row)
// with a token's 4 * kCount activations a, as vpmaddubsw pairs summed in int16 kRun at a time
// (as many as the values' range allows: kInt16Run, kKInt16Run in x86_packed.inl), each run then
// widened to int32 by one vpmaddwd against `weights` (int16 pairs: ones, or the K-quants' row
// scale twice, which multiplies in the same instruction).
template <int kCount, int kRun>
inline __m256i int16_runs(const __m256i* q, const int8_t* a, __m256i weights) {
    __m256i out = _mm256_setzero_si256();
    for (int k0 = 0; k0 < kCount; k0 += kRun) {
        __m256i pairs = _mm256_setzero_si256();
        for (int k = k0; k < k0 + kRun; ++k) {
            pairs = _mm256_add_epi16(
                pairs, _mm256_maddubs_epi16(q[k], _mm256_set1_epi32(four_bytes(a + 4 * k))));
        }
        out = _mm256_add_epi32(out, _mm256_madd_epi16(pairs, weights));
    }
    return out;
}

// A block of panels side by side as an array: one panel, or std::array of several.
template <typename Panel>
inline const Panel* panel_array(const Panel& p) {
    return &p;
}
template <typename Panel, size_t N>
inline const Panel* panel_array(const std::array<Panel, N>& p) {
    return p.data();
}

// Tokens [t, t + T) against kPanels panels side by side, whose block b is block_at(b): one
// panel (a stored panel, or one decoded on the fly from packed weights) or, with kPanels > 1, a
// std::array of them; y gets kPanels * L::kRows consecutive floats per token. Each activation
// broadcast serves every panel: one 16-row panel needs a load per vpdpbusd (its broadcast)
// plus the panel's own loads, more than AVX-512 issues, and two side by side bring that to
// one (kernels_bench packed_batch/; docs/optimizations.md).
// Panels with minimums (PanelBlockMin) take Q8_1 activations and add m * s per block; the
// others take Q8_0, and kOffset * sum(a) comes off their unsigned values' dot product (signed
// panels, PanelBlockSigned, have no offset).
template <typename L, int T, int kOffset, int kInt16Run = 1, int kPanels = 1, typename BlockAt>
void panel_tokens(int64_t n_blocks, BlockAt block_at, const Q8Batch& a, int t, float* y,
                  size_t y_stride) {
    using Panel = std::remove_cvref_t<decltype(*panel_array(block_at(0)))>;
    constexpr bool kMin = requires(const Panel& p) {
        p.m;
    };
    constexpr bool kSigned = requires(const Panel& p) {
        p.sign;
    };
    using Act = std::conditional_t<kMin, BlockQ8_1, BlockQ8_0>;
    const Act* act[T];
    const float* scales[T];
    const int32_t* sums[T];
    const float* block_s[T];
    for (int i = 0; i < T; ++i) {
        act[i] = reinterpret_cast<const Act*>(a.rows + (t + i) * a.row_stride);
        scales[i] = a.scales + (t + i) * n_blocks;
        if constexpr (kMin) {
            block_s[i] = a.block_s + (t + i) * n_blocks;
        } else {
            sums[i] = a.sums + (t + i) * n_blocks;
        }
    }
    typename L::F acc[kPanels][T];
    for (auto& panel_acc : acc) {
        for (auto& v : panel_acc) v = L::set1(0.0f);
    }
    for (int64_t b = 0; b < n_blocks; ++b) {
        const auto& block = block_at(b);  // (a decoded panel lives to the end of the scope)
        const Panel* p = panel_array(block);
        typename L::I lanes[kPanels][T];
        for (int i = 0; i < T; ++i) {
            const typename L::I start = kOffset != 0 ? L::set1(-kOffset * sums[i][b]) : L::set1(0);
            for (int v = 0; v < kPanels; ++v) lanes[v][i] = start;
        }
        if constexpr (!kVnni && kInt16Run > 1) {
            // Without VNNI, small values: see int16_runs.
            for (int v = 0; v < kPanels; ++v) {
                for (int i = 0; i < T; ++i) {
                    lanes[v][i] = _mm256_add_epi32(
                        lanes[v][i],
                        int16_runs<8, kInt16Run>(p[v].q, act[i][b].qs, _mm256_set1_epi16(1)));
                }
            }
        } else {
            for (int k = 0; k < 8; ++k) {
                for (int i = 0; i < T; ++i) {
                    const typename L::I a4 = L::set1(four_bytes(act[i][b].qs + 4 * k));
                    for (int v = 0; v < kPanels; ++v) {
                        typename L::I signed_a4 = a4;
                        if constexpr (kSigned) signed_a4 = _mm256_sign_epi8(a4, p[v].sign[k]);
                        lanes[v][i] = L::dpbusd(lanes[v][i], p[v].q[k], signed_a4);
                    }
                }
            }
        }
        for (int i = 0; i < T; ++i) {
            const typename L::F scale = L::set1(scales[i][b]);
            for (int v = 0; v < kPanels; ++v) {
                acc[v][i] = L::fmadd(L::mul(p[v].d, scale), L::to_float(lanes[v][i]), acc[v][i]);
                if constexpr (kMin) acc[v][i] = L::fmadd(p[v].m, L::set1(block_s[i][b]), acc[v][i]);
            }
        }
    }
    for (int i = 0; i < T; ++i) {
        for (int v = 0; v < kPanels; ++v)
            L::store(y + (t + i) * y_stride + v * L::kRows, acc[v][i]);
    }
}

// panel_tokens for a tile of tokens whose activations come in Q8Batch::tiles (kernels.h): one
// pointer walks the tile's blocks, where panel_tokens keeps three per token (its quants, scales
// and sums), more than the 16 general registers hold for 5 tokens: the spilled pointers made
// a third of its instructions. VNNI only, unsigned panels without minimums.
template <typename L, int T, int kOffset, int kPanels, typename BlockAt>
void panel_tokens_tiled(int64_t n_blocks, BlockAt block_at, const Q8Batch& a, int t, float* y,
                        size_t y_stride) {
    using Panel = std::remove_cvref_t<decltype(*panel_array(block_at(0)))>;
    static_assert(kOffset == 0 || kOffset == 8 || kOffset == 16 || kOffset == 128);
    constexpr int kShift = kOffset == 8 ? 3 : kOffset == 16 ? 4 : 7;  // -sum * kOffset
    constexpr size_t kBlockBytes = T * kTiledBlockBytes;
    const uint8_t* tile = a.tiles + static_cast<size_t>(t) * n_blocks * kTiledBlockBytes;
    typename L::F acc[kPanels][T];
    for (auto& panel_acc : acc) {
        for (auto& v : panel_acc) v = L::set1(0.0f);
    }
    for (int64_t b = 0; b < n_blocks; ++b, tile += kBlockBytes) {
        const auto& block = block_at(b);
        const Panel* p = panel_array(block);
        // (Each value read where it lies: copied out of the tile first, every 4-byte read
        // waited on the copy's wider stores and measured slower than three pointers per token.)
        const uint8_t* quants = tile;  // int32 [k][i]
        const uint8_t* scales = tile + 32 * T;
        const uint8_t* negated_sums = tile + 36 * T;
        typename L::I lanes[kPanels][T];
        for (int i = 0; i < T; ++i) {
            typename L::I start = L::set1(0);
            if constexpr (kOffset != 0) {
                start = L::template shift_left<kShift>(L::set1(int32_at(negated_sums + 4 * i)));
            }
            for (int v = 0; v < kPanels; ++v) lanes[v][i] = start;
        }
        for (int k = 0; k < 8; ++k) {
            for (int i = 0; i < T; ++i) {
                const typename L::I a4 = L::set1(int32_at(quants + 4 * (k * T + i)));
                for (int v = 0; v < kPanels; ++v)
                    lanes[v][i] = L::dpbusd(lanes[v][i], p[v].q[k], a4);
            }
        }
        for (int i = 0; i < T; ++i) {
            const typename L::F scale = L::set1(float_at(scales + 4 * i));
            for (int v = 0; v < kPanels; ++v)
                acc[v][i] = L::fmadd(L::mul(p[v].d, scale), L::to_float(lanes[v][i]), acc[v][i]);
        }
    }
    for (int i = 0; i < T; ++i) {
        for (int v = 0; v < kPanels; ++v)
            L::store(y + (t + i) * y_stride + v * L::kRows, acc[v][i]);
    }
}

// One tile of for_token_tiles (x86_packed.inl): through its tiled activations where the batch
// has them and the panel can use them.
template <typename L, int T, int kOffset, int kInt16Run = 1, int kPanels = 1, typename BlockAt>
void panel_tile(int64_t n_blocks, BlockAt block_at, const Q8Batch& a, int t, float* y,
                size_t y_stride) {
    using Panel = std::remove_cvref_t<decltype(*panel_array(block_at(0)))>;
    constexpr bool kMin = requires(const Panel& p) {
        p.m;
    };
    constexpr bool kSigned = requires(const Panel& p) {
        p.sign;
    };
    if constexpr (kVnni && !kMin && !kSigned && T > 1) {
        if (a.tiles != nullptr) {
            panel_tokens_tiled<L, T, kOffset, kPanels>(n_blocks, block_at, a, t, y, y_stride);
            return;
        }
    }
    panel_tokens<L, T, kOffset, kInt16Run, kPanels>(n_blocks, block_at, a, t, y, y_stride);
}

// Every token of the batch against a whole panel (or kPanels side by side), L::kTokens per pass
// (with AVX-512, eight measured slower than four).
template <typename L, int kOffset, int kInt16Run = 1, int kPanels = 1, typename Panel>
void panel_all_tokens(int64_t n_blocks, const Panel* panel, const Q8Batch& a, float* y,
                      size_t y_stride) {
    const auto block_at = [panel](int64_t b) -> const Panel& { return panel[b]; };
    int t = 0;
    for (; t + L::kTokens <= a.n_tokens; t += L::kTokens) {
        panel_tokens<L, L::kTokens, kOffset, kInt16Run, kPanels>(n_blocks, block_at, a, t, y,
                                                                 y_stride);
    }
    for (; t < a.n_tokens; ++t)
        panel_tokens<L, 1, kOffset, kInt16Run, kPanels>(n_blocks, block_at, a, t, y, y_stride);
}

// ---- K-quants: the same with 256-value super-blocks against Q8_K (x86_avx512.cpp) ----

#if defined(__AVX512F__)
// The fields scale, coef, d, coef_d of two 8-row panels (or of their scales alone) side by side.
template <typename Narrow, typename Wide>
inline void join_scales(const Narrow& lo, const Narrow& hi, Wide* out) {
    for (int j = 0; j < 16; ++j) out->scale[j] = join(lo.scale[j], hi.scale[j]);
    for (int m = 0; m < 8; ++m) out->coef[m] = join(lo.coef[m], hi.coef[m]);
    out->d = join(lo.d, hi.d);
    out->coef_d = join(lo.coef_d, hi.coef_d);
}
inline void widen(const KPanelBlock& lo, const KPanelBlock& hi, WideKPanelBlock* out) {
    for (int k = 0; k < 64; ++k) out->q[k] = join(lo.q[k], hi.q[k]);
    join_scales(lo, hi, out);
}
#endif  // __AVX512F__

// One 16-value sub-block of the rows against one token's 16 activations `a`: each row's integer
// dot product times its sub-block scale. With VNNI: 4 vpdpbusd and a vpmulld by the scales as
// int32 lanes. Without: int16_runs against the scale held twice per lane as int16
// (scale_pairs), in place of both the widening and the vpmulld.
template <typename L, int kRun>
inline typename L::I sub_block_dot(const typename L::I q[4], const int8_t* a, typename L::I scale) {
    if constexpr (kVnni) {
        typename L::I part = L::set1(0);
        for (int m = 0; m < 4; ++m) part = L::dpbusd(part, q[m], L::set1(four_bytes(a + 4 * m)));
        return L::mullo(part, scale);
    } else {
        return int16_runs<4, kRun>(q, a, scale);
    }
}
// The K panels' scales as sub_block_dot takes them: int32 lanes with VNNI, the low 16 bits
// twice per lane without.
inline __m256i scale_pairs(__m256i scale) {
    if constexpr (kVnni) return scale;
    return _mm256_or_si256(_mm256_and_si256(scale, _mm256_set1_epi32(0xffff)),
                           _mm256_slli_epi32(scale, 16));
}

// The end of a super-block against one token: acc + d_a * (d * S - coef_d * C) for the rows'
// integer sums S and corrections C. With kIntegerOffset (the panel's coef_d is its d: an
// offset on the values, not a minimum) C comes off S in int32 first, exactly: values small
// next to their offset (the grid types' +-62 against 128) would otherwise lose their bits in
// the float cancellation of two large products.
template <typename L, bool kIntegerOffset, typename Scales>
inline typename L::F k_block_end(const Scales& s, typename L::I sum, typename L::I corr, float d_a,
                                 typename L::F acc) {
    const typename L::F da = L::set1(d_a);
    if constexpr (kIntegerOffset) {
        return L::fmadd(L::mul(s.d, da), L::to_float(L::sub(sum, corr)), acc);
    } else {
        acc = L::fmadd(L::mul(s.d, da), L::to_float(sum), acc);
        return L::fnmadd(L::mul(s.coef_d, da), L::to_float(corr), acc);
    }
}

// One super-block of the rows against one token's Q8_K block: returns
// acc + d_a * (d * S - coef_d * C). group_values(g, q) gives the values 32g..32g+31 of the rows
// (q[k]: values 32g + 4k..+3, row j in dword j); `s` has the scales (KPanelBlock's fields
// scale, coef, d, coef_d).
template <typename L, int kRun, bool kIntegerOffset = false, typename GroupValues, typename Scales>
inline typename L::F k_block_token(GroupValues group_values, const Scales& s, const BlockQ8_K& ab,
                                   typename L::F acc) {
    typename L::I sum = L::set1(0);
    // With 32 vector registers (AVX-512) the groups are unrolled, so each group's shifts and
    // masks are constants, and each group's sum is finished before the next (settle): without
    // that GCC 12 reassociates the sixteen sub-block sums into a tree and spills the partial
    // sums it keeps live (seen in the disassembly). With AVX2's 16 registers it did not pay as
    // a whole, so AVX2 keeps the loop (kernels_bench packed_token; docs/optimizations.md).
#if defined(__AVX512F__)
#pragma GCC unroll 8
#endif
    for (int g = 0; g < 8; ++g) {
        typename L::I q[8];
        group_values(g, q);
        for (int h = 0; h < 2; ++h) {  // sub-block j = 2g + h: values 32g + 16h ..
            const int j = 2 * g + h;
            sum = L::add(sum, sub_block_dot<L, kRun>(q + 4 * h, ab.qs + 16 * j, s.scale[j]));
        }
        if constexpr (kRegisters32) settle(sum);
    }
    typename L::I corr = L::set1(0);
    for (int m = 0; m < 8; ++m) {
        int32_t pair;
        std::memcpy(&pair, ab.bsums + 2 * m, 4);
        corr = L::dpwssd(corr, s.coef[m], L::set1(pair));
    }
    return k_block_end<L, kIntegerOffset>(s, sum, corr, ab.d, acc);
}

// The same for T tokens at once (a few: speculation's check, a server's slots): each group's
// values decoded once serve every token; the sums are k_block_token's, token by token.
template <typename L, int T, int kRun, bool kIntegerOffset = false, typename GroupValues,
          typename Scales>
inline void k_block_tokens(GroupValues group_values, const Scales& s, const BlockQ8_K* const* act,
                           int64_t b, typename L::F* acc) {
    typename L::I sum[T];
    for (auto& v : sum) v = L::set1(0);
#if defined(__AVX512F__)
#pragma GCC unroll 8
#endif
    for (int g = 0; g < 8; ++g) {
        typename L::I q[8];
        group_values(g, q);
        for (int h = 0; h < 2; ++h) {
            const int j = 2 * g + h;
            for (int i = 0; i < T; ++i) {
                sum[i] = L::add(
                    sum[i], sub_block_dot<L, kRun>(q + 4 * h, act[i][b].qs + 16 * j, s.scale[j]));
            }
        }
    }
    for (int i = 0; i < T; ++i) {
        typename L::I corr = L::set1(0);
        for (int m = 0; m < 8; ++m) {
            int32_t pair;
            std::memcpy(&pair, act[i][b].bsums + 2 * m, 4);
            corr = L::dpwssd(corr, s.coef[m], L::set1(pair));
        }
        acc[i] = k_block_end<L, kIntegerOffset>(s, sum[i], corr, act[i][b].d, acc[i]);
    }
}

// A stored panel against tokens [t, t + T): the same sums as k_block_token, with the loops
// turned so that each group's 8 value vectors are loaded once and serve all T tokens (one
// token at a time, the loads, not the multiply-adds, would set the pace).
// With kScalePer32 (one scale for both 16-value halves of a group: Q4_K, Q5_K, IQ4_XS) and VNNI
// each group's 32 products are summed in int32 before one multiply by the scale: the same
// integers (far inside int32), fewer instructions (docs/optimizations.md). (The few-token
// kernels, k_block_tokens, measured slower so: with the decoding beside them the chains crowd
// the registers; kernels_bench packed_few/.)
template <typename L, int T, int kRun, bool kIntegerOffset, bool kScalePer32 = false>
void k_panel_tokens(int64_t n_blocks, const typename L::KPanel* panel, const uint8_t* a,
                    size_t a_stride, int t, float* y, size_t y_stride) {
    const BlockQ8_K* act[T];
    for (int i = 0; i < T; ++i) act[i] = reinterpret_cast<const BlockQ8_K*>(a + (t + i) * a_stride);
    typename L::F acc[T];
    for (auto& v : acc) v = L::set1(0.0f);
    for (int64_t b = 0; b < n_blocks; ++b) {
        const typename L::KPanel& p = panel[b];
        typename L::I sum[T];
        for (auto& v : sum) v = L::set1(0);
        for (int g = 0; g < 8; ++g) {
            typename L::I q[8];
            for (int k = 0; k < 8; ++k) q[k] = p.q[8 * g + k];
            if constexpr (kVnni && kScalePer32) {
                // Both halves under one scale: the 32 values meet the tokens side by side, one
                // dependency chain per token, then one multiply by the scale per token.
                typename L::I part[T];
                for (auto& v : part) v = L::set1(0);
                for (int k = 0; k < 8; ++k) {
                    for (int i = 0; i < T; ++i) {
                        part[i] = L::dpbusd(part[i], q[k],
                                            L::set1(four_bytes(act[i][b].qs + 32 * g + 4 * k)));
                    }
                }
                for (int i = 0; i < T; ++i)
                    sum[i] = L::add(sum[i], L::mullo(part[i], p.scale[2 * g]));
                continue;
            }
            for (int h = 0; h < 2; ++h) {  // sub-block j = 2g + h: values 32g + 16h ..
                const int j = 2 * g + h;
                for (int i = 0; i < T; ++i) {
                    sum[i] = L::add(sum[i], sub_block_dot<L, kRun>(q + 4 * h, act[i][b].qs + 16 * j,
                                                                   p.scale[j]));
                }
            }
        }
        for (int i = 0; i < T; ++i) {
            typename L::I corr = L::set1(0);
            for (int m = 0; m < 8; ++m) {
                int32_t pair;
                std::memcpy(&pair, act[i][b].bsums + 2 * m, 4);
                corr = L::dpwssd(corr, p.coef[m], L::set1(pair));
            }
            acc[i] = k_block_end<L, kIntegerOffset>(p, sum[i], corr, act[i][b].d, acc[i]);
        }
    }
    for (int i = 0; i < T; ++i) L::store(y + (t + i) * y_stride, acc[i]);
}

// Every token of the batch against a whole K panel, L::kKTokens per pass (then 4, then 1).
template <typename L, int kRun = 4, bool kIntegerOffset = false, bool kScalePer32 = false>
void k_panel_all_tokens(int64_t n_blocks, const typename L::KPanel* panel, const Q8Batch& a,
                        float* y, size_t y_stride) {
    int t = 0;
    if constexpr (L::kKTokens > 4) {
        for (; t + L::kKTokens <= a.n_tokens; t += L::kKTokens) {
            k_panel_tokens<L, L::kKTokens, kRun, kIntegerOffset, kScalePer32>(
                n_blocks, panel, a.rows, a.row_stride, t, y, y_stride);
        }
    }
    for (; t + 4 <= a.n_tokens; t += 4) {
        k_panel_tokens<L, 4, kRun, kIntegerOffset, kScalePer32>(n_blocks, panel, a.rows,
                                                                a.row_stride, t, y, y_stride);
    }
    for (; t < a.n_tokens; ++t) {
        k_panel_tokens<L, 1, kRun, kIntegerOffset, kScalePer32>(n_blocks, panel, a.rows,
                                                                a.row_stride, t, y, y_stride);
    }
}

}  // namespace
}  // namespace ember::x86_panel
