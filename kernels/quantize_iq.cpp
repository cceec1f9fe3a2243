// Quantizing weights into the lattice i-quants (IQ3_XXS, IQ3_S, IQ2_XXS, IQ2_XS, IQ2_S, IQ1_S,
// IQ1_M) as llama.cpp's quantizer does (ggml-quants.c, quantize_row_*_impl and the searches of
// iq2xs_init_impl / iq3xs_init_impl), so a file ember writes holds llama-quantize's bytes.
//
// Each type stores a group of 8 values (4 for IQ3) as the index of a point of a fixed grid
// (iq_grids.h) times a scale, with the signs apart (IQ2, IQ3) or a shift (IQ1). Quantizing a
// group: divide by a trial scale and round each value to a level; if the levels are a grid
// point, done; if not, search the grid points nearest to them (precomputed once per grid: for
// every level pattern off the grid, the points at the one to three smallest squared distances)
// for the one with the least weighted error. The scale itself is searched over a few candidates
// around max/levels, keeping the least-squares scale of the best. The weights are the
// importance matrix's, times sqrt(sigma^2 + x^2); these types need one (llama-quantize refuses
// them without), except IQ3_XXS and IQ3_S, which fall back to x^2.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/blocks.h"
#include "kernels/iq_grids.h"
#include "kernels/nearest_int.h"
#include "kernels/quant_fit.h"
#include "kernels/reference.h"

namespace ember::ref {
namespace {

constexpr float kGroupMaxEps = 1e-15f;  // a group whose largest magnitude is below this is zero

// A grid as the quantizer searches it: its points as odd coordinates 2 l + 1, a map from every
// level pattern (bits bits per value) to its point or, negated and offset, to its neighbour
// list, and the lists (a count, then point indices by distance, then index).
struct GridSearch {
    int dims = 0, bits = 0;
    std::vector<int8_t> points;  // dims per point
    std::vector<int> map;
    std::vector<uint16_t> neighbours;

    const int8_t* point(int i) const { return points.data() + static_cast<size_t>(i) * dims; }
};

// The neighbour lists of llama.cpp's init: for each pattern off the grid, every point at the
// `want` smallest distinct squared distances, in order of (distance, index).
GridSearch make_grid_search(const uint16_t* levels, int size, int dims, int bits, int want) {
    GridSearch g;
    g.dims = dims;
    g.bits = bits;
    g.points.resize(static_cast<size_t>(size) * dims);
    const int mask = (1 << bits) - 1;
    for (int i = 0; i < size; ++i) {
        for (int k = 0; k < dims; ++k)
            g.points[static_cast<size_t>(i) * dims + k] =
                static_cast<int8_t>(2 * ((levels[i] >> (bits * k)) & mask) + 1);
    }
    const int patterns = 1 << (bits * dims);
    g.map.assign(patterns, -1);
    for (int i = 0; i < size; ++i) g.map[levels[i]] = i;
    std::vector<std::pair<int, int>> dist(size);
    for (int u = 0; u < patterns; ++u) {
        if (g.map[u] >= 0) continue;
        for (int j = 0; j < size; ++j) {
            int d2 = 0;
            for (int k = 0; k < dims; ++k) {
                const int diff = g.point(j)[k] - (2 * ((u >> (bits * k)) & mask) + 1);
                d2 += diff * diff;
            }
            dist[j] = {d2, j};
        }
        // Only the `want` smallest distances matter: find the threshold, then sort those.
        std::vector<int> smallest;
        for (const auto& [d2, j] : dist) {
            if (std::find(smallest.begin(), smallest.end(), d2) != smallest.end()) continue;
            if (static_cast<int>(smallest.size()) < want) {
                smallest.push_back(d2);
            } else {
                const auto largest = std::max_element(smallest.begin(), smallest.end());
                if (d2 < *largest) *largest = d2;
            }
        }
        const int limit = *std::max_element(smallest.begin(), smallest.end());
        std::vector<std::pair<int, int>> near;
        for (const auto& e : dist) {
            if (e.first <= limit) near.push_back(e);
        }
        std::sort(near.begin(), near.end());
        g.map[u] = -(static_cast<int>(g.neighbours.size()) + 1);
        g.neighbours.push_back(static_cast<uint16_t>(near.size()));
        for (const auto& e : near) g.neighbours.push_back(static_cast<uint16_t>(e.second));
    }
    return g;
}

const GridSearch& iq2xxs_search() {
    static const GridSearch g = make_grid_search(kIq2xxsLevels, 256, 8, 2, 2);
    return g;
}
const GridSearch& iq2xs_search() {
    static const GridSearch g = make_grid_search(kIq2xsLevels, 512, 8, 2, 2);
    return g;
}
const GridSearch& iq2s_search() {
    static const GridSearch g = make_grid_search(kIq2sLevels, 1024, 8, 2, 1);
    return g;
}
const GridSearch& iq1_search() {
    static const GridSearch g = make_grid_search(kIq1sLevels, 2048, 8, 2, 3);
    return g;
}
const GridSearch& iq3xxs_search() {
    static const GridSearch g = make_grid_search(kIq3xxsLevels, 256, 4, 3, 2);
    return g;
}
const GridSearch& iq3s_search() {
    static const GridSearch g = make_grid_search(kIq3sLevels, 512, 4, 3, 3);
    return g;
}

// The grid point nearest (by weighted squared error at `scale`) among a pattern's neighbours;
// L gets its levels. Returns its index.
int best_neighbour(const GridSearch& g, int pattern, const float* xval, const float* weight,
                   float scale, int8_t* L) {
    const uint16_t* list = g.neighbours.data() + (-g.map[pattern] - 1);
    float best = FLT_MAX;
    int index = -1;
    for (int j = 1; j <= list[0]; ++j) {
        const int8_t* p = g.point(list[j]);
        float d2 = 0;
        for (int i = 0; i < g.dims; ++i) {
            const float diff = scale * p[i] - xval[i];
            d2 += weight[i] * diff * diff;
        }
        if (d2 < best) {
            best = d2;
            index = list[j];
        }
    }
    for (int i = 0; i < g.dims; ++i) L[i] = static_cast<int8_t>((g.point(index)[i] - 1) / 2);
    return index;
}

// The levels (0..max_level) of a group at inverse scale id: l = round((id x - 1) / 2), and their
// pattern.
int round_group(const GridSearch& g, const float* xval, float id, int max_level, int8_t* L) {
    int pattern = 0;
    for (int i = 0; i < g.dims; ++i) {
        const int l = clamp(nearest_int(0.5f * (id * xval[i] - 1)), 0, max_level);
        L[i] = static_cast<int8_t>(l);
        pattern |= l << (g.bits * i);
    }
    return pattern;
}

// A group's levels as a grid point: the pattern's own, or the best neighbour (L updated).
int grid_point(const GridSearch& g, const float* xval, const float* weight, float scale, int8_t* L,
               bool* on_grid = nullptr) {
    int pattern = 0;
    for (int i = 0; i < g.dims; ++i) pattern |= L[i] << (g.bits * i);
    if (on_grid != nullptr) *on_grid = g.map[pattern] >= 0;
    if (g.map[pattern] >= 0) return g.map[pattern];
    return best_neighbour(g, pattern, xval, weight, scale, L);
}

// The grid point of a group's final levels. They are one by construction (llama.cpp aborts
// otherwise); levels that are not (a degenerate block) get their nearest point instead of
// undefined behaviour.
int stored_point(const GridSearch& g, const float* xval, const float* weight, float scale,
                 int8_t* L) {
    const int mask = (1 << g.bits) - 1;
    int pattern = 0;
    for (int i = 0; i < g.dims; ++i) {
        L[i] = static_cast<int8_t>(clamp(L[i], 0, mask));
        pattern |= L[i] << (g.bits * i);
    }
    if (g.map[pattern] >= 0) return g.map[pattern];
    return best_neighbour(g, pattern, xval, weight, scale, L);
}

// The weighted least-squares scale of levels L (values 2 l + 1) for xval: sums of w x q and
// w q^2.
void odd_level_sums(int n, const float* xval, const float* weight, const int8_t* L, float* sumqx,
                    float* sumq2) {
    *sumqx = *sumq2 = 0;
    for (int i = 0; i < n; ++i) {
        const float q = 2 * L[i] + 1;
        *sumqx += weight[i] * xval[i] * q;
        *sumq2 += weight[i] * q * q;
    }
}

// IQ2 and IQ3 store magnitudes and signs of 8 values with an even number of minus signs: an odd
// count flips the sign of the value that costs least (smallest weight * x^2). xval gets the
// magnitudes (the flipped one negative); returns the 7 stored sign bits.
uint8_t even_signs(const float* x, const float* weight, float* xval) {
    int flips = 0;
    uint8_t s = 0;
    for (int i = 0; i < 8; ++i) {
        if (x[i] >= 0) {
            xval[i] = x[i];
        } else {
            xval[i] = -x[i];
            ++flips;
            s |= static_cast<uint8_t>(1 << i);
        }
    }
    if (flips % 2 != 0) {
        int imin = 0;
        float min = weight[0] * x[0] * x[0];
        for (int i = 1; i < 8; ++i) {
            const float ax = weight[i] * x[i] * x[i];
            if (ax < min) {
                min = ax;
                imin = i;
            }
        }
        xval[imin] = -xval[imin];
        s ^= static_cast<uint8_t>(1 << imin);
    }
    return s & 127;
}

// The IQ3 sub-block search (32 values, eight 4-value groups, levels 0..7): the least-squares
// scale of the best of `steps` candidates around max / 15, then the groups that needed a
// neighbour (IQ3_S: every group) rounded again at that scale. L gets the levels; returns the
// scale (0 for an all-zero sub-block: L untouched).
float fit_iq3_sub_block(const GridSearch& g, const float* xval, const float* weight,
                        const float* waux, int steps, bool refine_all, int8_t* L) {
    constexpr int kMaxQ = 8;
    float max = xval[0];
    for (int i = 1; i < 32; ++i) max = std::max(max, xval[i]);
    float best = 0;
    float scale = max / (2 * kMaxQ - 1);
    bool on_grid[8], on_grid_aux[8];
    std::fill(on_grid, on_grid + 8, !refine_all);  // IQ3_XXS leaves them unset in llama.cpp
    int8_t Laux[32];
    for (int step = -steps; step <= steps; ++step) {
        const float id = (2 * kMaxQ - 1 + step * 0.2f) / max;
        const float this_scale = 1 / id;
        for (int k = 0; k < 8; ++k) {
            round_group(g, xval + 4 * k, id, kMaxQ - 1, Laux + 4 * k);
            grid_point(g, xval + 4 * k, waux + 4 * k, this_scale, Laux + 4 * k, &on_grid_aux[k]);
        }
        float sumqx, sumq2;
        odd_level_sums(32, xval, weight, Laux, &sumqx, &sumq2);
        if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
            scale = sumqx / sumq2;
            best = scale * sumqx;
            std::memcpy(L, Laux, 32);
            std::copy(on_grid_aux, on_grid_aux + 8, on_grid);
        }
    }
    if (std::count(on_grid, on_grid + 8, false) > 0 && scale > 0) {
        const float id = 1 / scale;
        for (int k = 0; k < 8; ++k) {
            if (on_grid[k] && !refine_all) continue;
            round_group(g, xval + 4 * k, id, kMaxQ - 1, L + 4 * k);
            const int index = grid_point(g, xval + 4 * k, waux + 4 * k, scale, L + 4 * k);
            for (int i = 0; i < 4; ++i)
                L[4 * k + i] = static_cast<int8_t>((g.point(index)[i] - 1) / 2);
        }
        float sumqx, sumq2;
        odd_level_sums(32, xval, weight, L, &sumqx, &sumq2);
        if (sumq2 > 0) scale = sumqx / sumq2;
    }
    return scale;
}

// A sub-block's weights: importance * sqrt(sigma2 + x^2), or x^2 without an importance matrix.
void sub_block_weights(const float* x, const float* importance, float sigma2, int n, float* weight,
                       float* waux) {
    for (int i = 0; i < n; ++i)
        weight[i] =
            importance != nullptr ? importance[i] * std::sqrt(sigma2 + x[i] * x[i]) : x[i] * x[i];
    for (int i = 0; i < n; ++i) waux[i] = std::sqrt(weight[i]);
}

// The IQ2_XS / IQ2_S sub-block search (16 values, two 8-value groups, levels 0..2): the
// least-squares scale of the best of 19 candidates around max / 5, then the groups that needed
// a neighbour rounded again at that scale. L gets the levels; returns the scale.
float fit_iq2_sub_block16(const GridSearch& g, const float* xval, const float* weight,
                          const float* waux, float max, int8_t* L) {
    constexpr int kMaxQ = 3;
    float best = 0;
    float scale = max / (2 * kMaxQ - 1);
    bool on_grid[2] = {true, true}, on_grid_aux[2];
    int8_t Laux[16];
    for (int step = -9; step <= 9; ++step) {
        const float id = (2 * kMaxQ - 1 + step * 0.1f) / max;
        const float this_scale = 1 / id;
        for (int k = 0; k < 2; ++k) {
            round_group(g, xval + 8 * k, id, kMaxQ - 1, Laux + 8 * k);
            grid_point(g, xval + 8 * k, waux + 8 * k, this_scale, Laux + 8 * k, &on_grid_aux[k]);
        }
        float sumqx, sumq2;
        odd_level_sums(16, xval, weight, Laux, &sumqx, &sumq2);
        if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
            scale = sumqx / sumq2;
            best = scale * sumqx;
            std::memcpy(L, Laux, 16);
            on_grid[0] = on_grid_aux[0];
            on_grid[1] = on_grid_aux[1];
        }
    }
    if ((!on_grid[0] || !on_grid[1]) && scale > 0) {
        const float id = 1 / scale;
        for (int k = 0; k < 2; ++k) {
            if (on_grid[k]) continue;
            round_group(g, xval + 8 * k, id, kMaxQ - 1, L + 8 * k);
            grid_point(g, xval + 8 * k, waux + 8 * k, scale, L + 8 * k);
        }
        float sumqx, sumq2;
        odd_level_sums(16, xval, weight, L, &sumqx, &sumq2);
        if (sumq2 > 0) scale = sumqx / sumq2;
    }
    return scale;
}

// IQ1: a value is d * (t + shift), t in -1, 0, 1 (levels 0, 1, 2), shift = +-kIq1Delta per
// group; xx[level] is t + shift for one shift.
constexpr float kIq1Delta = 0.125f;
constexpr float kIq1Plus[3] = {-1 + kIq1Delta, kIq1Delta, 1 + kIq1Delta};
constexpr float kIq1Minus[3] = {-1 - kIq1Delta, -kIq1Delta, 1 - kIq1Delta};

// The neighbour of an off-grid IQ1 pattern with the least weighted error at `scale`, the
// values being xx[level]; L gets its levels. (llama.cpp's iq1_find_best_neighbour2.)
int iq1_best_neighbour(const GridSearch& g, int pattern, const float* x, const float* weight,
                       float scale, const float* xx, int8_t* L) {
    const uint16_t* list = g.neighbours.data() + (-g.map[pattern] - 1);
    float best = FLT_MAX;
    int index = -1;
    for (int j = 1; j <= list[0]; ++j) {
        const int8_t* p = g.point(list[j]);
        float d2 = 0;
        for (int i = 0; i < 8; ++i) {
            const float diff = scale * xx[(p[i] - 1) / 2] - x[i];
            d2 += weight[i] * diff * diff;
        }
        if (d2 < best) {
            best = d2;
            index = list[j];
        }
    }
    if (index < 0) index = list[1];  // only for non-finite errors
    for (int i = 0; i < 8; ++i) L[i] = static_cast<int8_t>((g.point(index)[i] - 1) / 2);
    return index;
}

// The values of a sub-block sorted by value, with their positions (a stable sort: glibc's qsort
// of llama.cpp keeps equal values in order).
void sort_by_value(const float* x, int n, int* order) {
    for (int j = 0; j < n; ++j) order[j] = j;
    std::stable_sort(order, order + n, [&](int a, int b) { return x[a] < x[b]; });
}

// Levels 0, 1, 2 for the sorted values before best1, before best2 and the rest. A negative
// scale is made positive by flipping the levels (the caller flips its shifts): returns whether
// it did.
bool split_levels(const int* order, int n, int best1, int best2, float* scale, int8_t* L) {
    for (int j = 0; j < n; ++j)
        L[order[j]] = static_cast<int8_t>(j < best1 ? 0 : j < best2 ? 1 : 2);
    if (*scale >= 0) return false;
    for (int j = 0; j < n; ++j) L[j] = static_cast<int8_t>(2 - L[j]);
    *scale = -*scale;
    return true;
}

float block_mean_square(const float* x) {
    float sum = 0;
    for (int i = 0; i < kQK_K; ++i) sum += x[i] * x[i];
    return sum / kQK_K;
}

}  // namespace

// IQ2_XXS: 32-value sub-blocks, four 8-value groups of a 256-point grid (levels 0..2), one
// 4-bit scale per sub-block.
void quantize_iq2_xxs(const float* in, void* out, int64_t n, const float* importance) {
    const GridSearch& g = iq2xxs_search();
    constexpr int kMaxQ = 3;
    auto* blocks = static_cast<BlockIQ2_XXS*>(out);
    for (int64_t ibl = 0; ibl < n / kQK_K; ++ibl) {
        BlockIQ2_XXS& y = blocks[ibl];
        const float* xbl = in + kQK_K * ibl;
        y.d = f32_to_fp16(0.f);
        uint32_t q2[2 * kQK_K / 32] = {};
        float scales[kQK_K / 32];
        float max_scale = 0;
        const float sigma2 = block_mean_square(xbl);
        for (int ib = 0; ib < kQK_K / 32; ++ib) {
            const float* xb = xbl + 32 * ib;
            const float* qw = importance + kQK_K * ibl + 32 * ib;
            float weight[32], waux[32], xval[32];
            int8_t L[32], Laux[32];
            uint8_t signs[4];
            for (int i = 0; i < 32; ++i) weight[i] = qw[i] * std::sqrt(sigma2 + xb[i] * xb[i]);
            for (int i = 0; i < 32; ++i) waux[i] = std::sqrt(weight[i]);
            for (int k = 0; k < 4; ++k)
                signs[k] = even_signs(xb + 8 * k, weight + 8 * k, xval + 8 * k);
            float max = xval[0];
            for (int i = 1; i < 32; ++i) max = std::max(max, xval[i]);
            if (max < kGroupMaxEps) {
                scales[ib] = 0;
                continue;
            }
            float scale =
                fit_positive_scale(32, kMaxQ + 1, xval, weight, reinterpret_cast<uint8_t*>(L));
            const float eff_max = scale * kMaxQ;
            float best = 0;
            for (int step = -6; step <= 6; ++step) {
                const float id = (2 * kMaxQ - 1 + step * 0.1f) / eff_max;
                const float this_scale = 1 / id;
                for (int k = 0; k < 4; ++k) {
                    round_group(g, xval + 8 * k, id, kMaxQ - 1, Laux + 8 * k);
                    grid_point(g, xval + 8 * k, waux + 8 * k, this_scale, Laux + 8 * k);
                }
                float sumqx, sumq2;
                odd_level_sums(32, xval, weight, Laux, &sumqx, &sumq2);
                if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
                    scale = sumqx / sumq2;
                    best = scale * sumqx;
                    std::memcpy(L, Laux, 32);
                }
            }
            if (scale > 0) {
                const float id = 1 / scale;
                for (int k = 0; k < 4; ++k) {
                    round_group(g, xval + 8 * k, id, kMaxQ - 1, L + 8 * k);
                    const int index = grid_point(g, xval + 8 * k, waux + 8 * k, scale, L + 8 * k);
                    for (int i = 0; i < 8; ++i)
                        L[8 * k + i] = static_cast<int8_t>((g.point(index)[i] - 1) / 2);
                }
                float sumqx, sumq2;
                odd_level_sums(32, xval, weight, L, &sumqx, &sumq2);
                if (sumq2 > 0) scale = sumqx / sumq2;
            }
            if (scale < 0) {  // never expected; the stored scale is unsigned
                scale = -scale;
                for (int k = 0; k < 4; ++k) signs[k] = static_cast<uint8_t>(~signs[k] & 127);
            }
            for (int k = 0; k < 4; ++k) {
                const int index = stored_point(g, xval + 8 * k, waux + 8 * k, scale, L + 8 * k);
                q2[2 * ib] |= static_cast<uint32_t>(index) << (8 * k);
                q2[2 * ib + 1] |= static_cast<uint32_t>(signs[k]) << (7 * k);
            }
            scales[ib] = scale;
            max_scale = std::max(max_scale, scale);
        }
        if (max_scale == 0) {
            std::memset(y.qs, 0, sizeof(y.qs));
            continue;
        }
        const float d = max_scale / 31;
        y.d = f32_to_fp16(d);
        const float id = 1 / d;
        for (int ib = 0; ib < kQK_K / 32; ++ib) {
            const int l = clamp(nearest_int(0.5f * (id * scales[ib] - 1)), 0, 15);
            q2[2 * ib + 1] |= static_cast<uint32_t>(l) << 28;
        }
        std::memcpy(y.qs, q2, sizeof(y.qs));
    }
}

// IQ2_XS: 16-value sub-blocks, two 8-value groups of a 512-point grid with 7 sign bits each,
// a 4-bit scale per sub-block.
void quantize_iq2_xs(const float* in, void* out, int64_t n, const float* importance) {
    const GridSearch& g = iq2xs_search();
    auto* blocks = static_cast<BlockIQ2_XS*>(out);
    for (int64_t ibl = 0; ibl < n / kQK_K; ++ibl) {
        BlockIQ2_XS& y = blocks[ibl];
        const float* xbl = in + kQK_K * ibl;
        y.d = f32_to_fp16(0.f);
        uint16_t q2[2 * kQK_K / 16] = {};
        std::memset(y.scales, 0, sizeof(y.scales));
        float scales[kQK_K / 16];
        float max_scale = 0;
        const float sigma2 = block_mean_square(xbl);
        for (int ib = 0; ib < kQK_K / 16; ++ib) {
            const float* xb = xbl + 16 * ib;
            const float* qw = importance + kQK_K * ibl + 16 * ib;
            float weight[16], waux[16], xval[16];
            int8_t L[16] = {};
            uint8_t signs[2];
            for (int i = 0; i < 16; ++i) weight[i] = qw[i] * std::sqrt(sigma2 + xb[i] * xb[i]);
            for (int i = 0; i < 16; ++i) waux[i] = std::sqrt(weight[i]);
            for (int k = 0; k < 2; ++k)
                signs[k] = even_signs(xb + 8 * k, weight + 8 * k, xval + 8 * k);
            float max = xval[0];
            for (int i = 1; i < 16; ++i) max = std::max(max, xval[i]);
            if (max < kGroupMaxEps) {
                scales[ib] = 0;
                continue;
            }
            float scale = fit_iq2_sub_block16(g, xval, weight, waux, max, L);
            if (scale < 0) {
                scale = -scale;
                for (int k = 0; k < 2; ++k) signs[k] = static_cast<uint8_t>(~signs[k] & 127);
            }
            for (int k = 0; k < 2; ++k) {
                const int index = stored_point(g, xval + 8 * k, waux + 8 * k, scale, L + 8 * k);
                q2[2 * ib + k] = static_cast<uint16_t>(index | (signs[k] << 9));
            }
            scales[ib] = scale;
            max_scale = std::max(max_scale, scale);
        }
        if (max_scale == 0) {
            std::memset(y.qs, 0, sizeof(y.qs));
            continue;
        }
        const float d = max_scale / 31;
        y.d = f32_to_fp16(d);
        const float id = 1 / d;
        for (int ib = 0; ib < kQK_K / 16; ++ib) {
            const int l = clamp(nearest_int(0.5f * (id * scales[ib] - 1)), 0, 15);
            if (ib % 2 == 0) {
                y.scales[ib / 2] = static_cast<uint8_t>(l);
            } else {
                y.scales[ib / 2] |= static_cast<uint8_t>(l << 4);
            }
        }
        std::memcpy(y.qs, q2, sizeof(y.qs));
    }
}

// IQ2_S: 16-value sub-blocks, two 8-value groups of a 1024-point grid (10-bit indices), all 8
// signs, 4-bit scales; x^2 + sigma^2 / 4 weighs the values without an importance matrix.
void quantize_iq2_s(const float* in, void* out, int64_t n, const float* importance) {
    const GridSearch& g = iq2s_search();
    auto* blocks = static_cast<BlockIQ2_S*>(out);
    for (int64_t ibl = 0; ibl < n / kQK_K; ++ibl) {
        BlockIQ2_S& y = blocks[ibl];
        std::memset(&y, 0, sizeof(y));
        const float* xbl = in + kQK_K * ibl;
        float scales[kQK_K / 16];
        float max_scale = 0;
        const float sigma2 = 2 * block_mean_square(xbl);
        for (int ib = 0; ib < kQK_K / 16; ++ib) {
            const float* xb = xbl + 16 * ib;
            float weight[16], waux[16], xval[16];
            int8_t L[16] = {};
            uint8_t signs[2];
            for (int i = 0; i < 16; ++i) {
                weight[i] = importance != nullptr ? importance[kQK_K * ibl + 16 * ib + i] *
                                                        std::sqrt(sigma2 + xb[i] * xb[i])
                                                  : 0.25f * sigma2 + xb[i] * xb[i];
            }
            for (int i = 0; i < 16; ++i) waux[i] = std::sqrt(weight[i]);
            for (int k = 0; k < 2; ++k) {
                uint8_t s = 0;
                for (int i = 0; i < 8; ++i) {
                    xval[8 * k + i] = std::fabs(xb[8 * k + i]);
                    if (xb[8 * k + i] < 0) s |= static_cast<uint8_t>(1 << i);
                }
                signs[k] = s;
            }
            float max = xval[0];
            for (int i = 1; i < 16; ++i) max = std::max(max, xval[i]);
            if (max < 1e-8f) {
                scales[ib] = 0;
                continue;
            }
            float scale = fit_iq2_sub_block16(g, xval, weight, waux, max, L);
            if (scale < 0) {
                scale = -scale;
                for (int k = 0; k < 2; ++k) signs[k] = static_cast<uint8_t>(~signs[k]);
            }
            for (int k = 0; k < 2; ++k) {
                const int index = stored_point(g, xval + 8 * k, waux + 8 * k, scale, L + 8 * k);
                const int i8 = 2 * ib + k;
                y.qs[i8] = static_cast<uint8_t>(index & 255);
                y.qh[i8 / 4] |= static_cast<uint8_t>((index >> 8) << (2 * (i8 % 4)));
                y.qs[kQK_K / 8 + i8] = signs[k];
            }
            scales[ib] = scale;
            max_scale = std::max(max_scale, scale);
        }
        if (max_scale == 0) continue;
        const float d = max_scale / 31;
        y.d = f32_to_fp16(d * 0.9875f);  // llama.cpp's fudge factor
        const float id = 1 / d;
        for (int ib = 0; ib < kQK_K / 16; ++ib) {
            const int l = clamp(nearest_int(0.5f * (id * scales[ib] - 1)), 0, 15);
            if (ib % 2 == 0) {
                y.scales[ib / 2] = static_cast<uint8_t>(l);
            } else {
                y.scales[ib / 2] |= static_cast<uint8_t>(l << 4);
            }
        }
    }
}

// IQ3_XXS: 32-value sub-blocks, eight 4-value groups of a 256-point grid (levels 0..7), the
// signs of 8 values in 7 bits and a 4-bit scale in one 32-bit word per sub-block.
void quantize_iq3_xxs(const float* in, void* out, int64_t n, const float* importance) {
    const GridSearch& g = iq3xxs_search();
    auto* blocks = static_cast<BlockIQ3_XXS*>(out);
    for (int64_t ibl = 0; ibl < n / kQK_K; ++ibl) {
        BlockIQ3_XXS& y = blocks[ibl];
        const float* xbl = in + kQK_K * ibl;
        y.d = f32_to_fp16(0.f);
        uint8_t indices[kQK_K / 4] = {};
        uint32_t scales_and_signs[kQK_K / 32] = {};
        float scales[kQK_K / 32];
        float max_scale = 0;
        const float sigma2 = 2 * block_mean_square(xbl);
        for (int ib = 0; ib < kQK_K / 32; ++ib) {
            const float* xb = xbl + 32 * ib;
            float weight[32], waux[32], xval[32];
            int8_t L[32] = {};
            uint8_t signs[4];
            sub_block_weights(xb,
                              importance != nullptr ? importance + kQK_K * ibl + 32 * ib : nullptr,
                              sigma2, 32, weight, waux);
            for (int k = 0; k < 4; ++k)
                signs[k] = even_signs(xb + 8 * k, weight + 8 * k, xval + 8 * k);
            float max = xval[0];
            for (int i = 1; i < 32; ++i) max = std::max(max, xval[i]);
            if (max < 1e-8f) {
                scales[ib] = 0;
                continue;
            }
            float scale = fit_iq3_sub_block(g, xval, weight, waux, 15, false, L);
            if (scale < 0) {
                scale = -scale;
                for (int k = 0; k < 4; ++k) signs[k] = static_cast<uint8_t>(~signs[k] & 127);
            }
            for (int k = 0; k < 8; ++k) {
                indices[8 * ib + k] = static_cast<uint8_t>(
                    stored_point(g, xval + 4 * k, waux + 4 * k, scale, L + 4 * k));
            }
            scales_and_signs[ib] = signs[0] | (signs[1] << 7) | (signs[2] << 14) | (signs[3] << 21);
            scales[ib] = scale;
            max_scale = std::max(max_scale, scale);
        }
        if (max_scale == 0) {
            std::memset(y.qs, 0, sizeof(y.qs));
            continue;
        }
        const float d = max_scale / 31;
        y.d = f32_to_fp16(d * 1.0125f);  // llama.cpp's fudge factor
        const float id = 1 / d;
        for (int ib = 0; ib < kQK_K / 32; ++ib) {
            const int l = clamp(nearest_int(0.5f * (id * scales[ib] - 1)), 0, 15);
            scales_and_signs[ib] |= static_cast<uint32_t>(l) << 28;
        }
        std::memcpy(y.qs, indices, sizeof(indices));
        std::memcpy(y.qs + sizeof(indices), scales_and_signs, sizeof(scales_and_signs));
    }
}

// IQ3_S: 32-value sub-blocks, eight 4-value groups of a 512-point grid (9-bit indices), all 8
// signs per 8 values, 4-bit scales.
void quantize_iq3_s(const float* in, void* out, int64_t n, const float* importance) {
    const GridSearch& g = iq3s_search();
    auto* blocks = static_cast<BlockIQ3_S*>(out);
    for (int64_t ibl = 0; ibl < n / kQK_K; ++ibl) {
        BlockIQ3_S& y = blocks[ibl];
        std::memset(&y, 0, sizeof(y));
        const float* xbl = in + kQK_K * ibl;
        // As llama.cpp, the index and sign bytes advance only past sub-blocks that are not all
        // zero (a zero sub-block's place goes to the next one): the same bytes for such rows.
        uint8_t* qs = y.qs;
        uint8_t* signs_out = y.signs;
        float scales[kQK_K / 32];
        float max_scale = 0;
        const float sigma2 = 2 * block_mean_square(xbl);
        for (int ib = 0; ib < kQK_K / 32; ++ib) {
            const float* xb = xbl + 32 * ib;
            float weight[32], waux[32], xval[32];
            int8_t L[32] = {};
            uint8_t signs[4];
            sub_block_weights(xb,
                              importance != nullptr ? importance + kQK_K * ibl + 32 * ib : nullptr,
                              sigma2, 32, weight, waux);
            for (int k = 0; k < 4; ++k) {
                uint8_t s = 0;
                for (int i = 0; i < 8; ++i) {
                    xval[8 * k + i] = std::fabs(xb[8 * k + i]);
                    if (xb[8 * k + i] < 0) s |= static_cast<uint8_t>(1 << i);
                }
                signs[k] = s;
            }
            float max = xval[0];
            for (int i = 1; i < 32; ++i) max = std::max(max, xval[i]);
            if (max == 0) {
                scales[ib] = 0;
                continue;
            }
            float scale = fit_iq3_sub_block(g, xval, weight, waux, 9, true, L);
            if (scale < 0) {
                scale = -scale;
                for (int k = 0; k < 4; ++k) signs[k] = static_cast<uint8_t>(~signs[k]);
            }
            for (int k = 0; k < 8; ++k) {
                const int index = stored_point(g, xval + 4 * k, waux + 4 * k, scale, L + 4 * k);
                qs[k] = static_cast<uint8_t>(index & 255);
                y.qh[(ib * 8 + k) / 8] |= static_cast<uint8_t>((index >> 8) << ((ib * 8 + k) % 8));
            }
            qs += 8;
            std::memcpy(signs_out, signs, 4);
            signs_out += 4;
            scales[ib] = scale;
            max_scale = std::max(max_scale, scale);
        }
        if (max_scale == 0) continue;
        const float d = max_scale / 31;
        y.d = f32_to_fp16(d * 1.033f);  // llama.cpp's fudge factor
        const float id = 1 / d;
        for (int ib = 0; ib < kQK_K / 32; ib += 2) {
            const int l1 = clamp(nearest_int(0.5f * (id * scales[ib] - 1)), 0, 15);
            const int l2 = clamp(nearest_int(0.5f * (id * scales[ib + 1] - 1)), 0, 15);
            y.scales[ib / 2] = static_cast<uint8_t>(l1 | (l2 << 4));
        }
    }
}

// IQ1_S: 32-value sub-blocks of four 8-value groups of a 2048-point ternary grid, one shift
// sign and a 3-bit scale per sub-block. The levels are found exactly: with three values the
// best split of the sorted values into -1, 0, 1 is searched over all boundary pairs (prefix
// sums make each one O(1)), for both shifts.
void quantize_iq1_s(const float* in, void* out, int64_t n, const float* importance) {
    const GridSearch& g = iq1_search();
    constexpr int kBlock = 32;
    auto* blocks = static_cast<BlockIQ1_S*>(out);
    int8_t shifts[kQK_K / kBlock] = {};  // llama.cpp keeps a zero sub-block's stale shift
    for (int64_t ibl = 0; ibl < n / kQK_K; ++ibl) {
        BlockIQ1_S& y = blocks[ibl];
        y.d = f32_to_fp16(0.f);
        std::memset(y.qs, 0, sizeof(y.qs));
        std::memset(y.qh, 0, sizeof(y.qh));
        const float* xbl = in + kQK_K * ibl;
        float scales[kQK_K / kBlock];
        float max_scale = 0;
        const float sigma2 = 2 * block_mean_square(xbl);
        for (int ib = 0; ib < kQK_K / kBlock; ++ib) {
            const float* xb = xbl + kBlock * ib;
            const float* qw = importance + kQK_K * ibl + kBlock * ib;
            float weight[kBlock];
            for (int i = 0; i < kBlock; ++i) weight[i] = qw[i] * std::sqrt(sigma2 + xb[i] * xb[i]);
            float max = std::fabs(xb[0]);
            for (int i = 1; i < kBlock; ++i) max = std::max(max, std::fabs(xb[i]));
            if (max < 1e-12f) {
                scales[ib] = 0;
                continue;
            }
            int order[kBlock];
            sort_by_value(xb, kBlock, order);
            float sumx[kBlock + 1], sumw[kBlock + 1];
            sumx[0] = sumw[0] = 0;
            for (int j = 0; j < kBlock; ++j) {
                const int i = order[j];
                sumx[j + 1] = sumx[j] + weight[i] * xb[i];
                sumw[j + 1] = sumw[j] + weight[i];
            }
            float best_score = -FLT_MIN, scale = max;
            int best1 = -1, best2 = -1, best_shift = 0;
            for (int i1 = 0; i1 <= kBlock; ++i1) {
                for (int i2 = i1; i2 <= kBlock; ++i2) {
                    for (const int shift : {1, -1}) {
                        const float* xx = shift == 1 ? kIq1Plus : kIq1Minus;
                        const float sumqx = (sumx[i1] - sumx[0]) * xx[0] +
                                            (sumx[i2] - sumx[i1]) * xx[1] +
                                            (sumx[kBlock] - sumx[i2]) * xx[2];
                        const float sumq2 = (sumw[i1] - sumw[0]) * xx[0] * xx[0] +
                                            (sumw[i2] - sumw[i1]) * xx[1] * xx[1] +
                                            (sumw[kBlock] - sumw[i2]) * xx[2] * xx[2];
                        if (sumq2 > 0 && sumqx * sumqx > best_score * sumq2) {
                            scale = sumqx / sumq2;
                            best_score = scale * sumqx;
                            best1 = i1;
                            best2 = i2;
                            best_shift = shift;
                        }
                    }
                }
            }
            int8_t L[kBlock];
            if (split_levels(order, kBlock, best1, best2, &scale, L)) best_shift = -best_shift;
            const float* xx = best_shift == 1 ? kIq1Plus : kIq1Minus;
            bool all_on_grid = true;
            int index[kBlock / 8];
            for (int k = 0; k < kBlock / 8; ++k) {
                int pattern = 0;
                for (int j = 0; j < 8; ++j) pattern |= L[8 * k + j] << (2 * j);
                index[k] = g.map[pattern];
                if (index[k] < 0) {
                    all_on_grid = false;
                    index[k] = iq1_best_neighbour(g, pattern, xb + 8 * k, weight + 8 * k, scale, xx,
                                                  L + 8 * k);
                }
            }
            if (!all_on_grid) {
                float sumqx = 0, sumq2 = 0;
                for (int k = 0; k < kBlock / 8; ++k) {
                    const int8_t* p = g.point(index[k]);
                    for (int j = 0; j < 8; ++j) {
                        const float w = weight[8 * k + j];
                        const float q = xx[(p[j] - 1) / 2];
                        sumqx += w * q * xb[8 * k + j];
                        sumq2 += w * q * q;
                    }
                }
                if (sumqx > 0 && sumq2 > 0) scale = sumqx / sumq2;
            }
            uint16_t h = 0;
            for (int k = 0; k < kBlock / 8; ++k) {
                y.qs[(kBlock / 8) * ib + k] = static_cast<uint8_t>(index[k] & 255);
                h = static_cast<uint16_t>(h | ((index[k] >> 8) << (3 * k)));
            }
            y.qh[ib] = h;
            scales[ib] = scale;
            shifts[ib] = static_cast<int8_t>(best_shift);
            max_scale = std::max(max_scale, scale);
        }
        if (max_scale == 0) continue;
        const float d = max_scale / 15;
        y.d = f32_to_fp16(d * 1.125f);  // llama.cpp's fudge factor
        const float id = 1 / d;
        for (int ib = 0; ib < kQK_K / kBlock; ++ib) {
            int l = clamp(nearest_int(0.5f * (id * scales[ib] - 1)), 0, 7);
            if (shifts[ib] == -1) l |= 8;
            y.qh[ib] = static_cast<uint16_t>(y.qh[ib] | (l << 12));
        }
    }
}

// IQ1_M: 16-value sub-blocks of two 8-value groups, each group with its own shift sign,
// 3-bit scales; the fp16 super-block scale spread over the scales' top bits. The split search
// covers the four shift combinations at once.
void quantize_iq1_m(const float* in, void* out, int64_t n, const float* importance) {
    const GridSearch& g = iq1_search();
    constexpr int kBlock = 16;
    constexpr uint8_t kMasks[4] = {0x00, 0x80, 0x08, 0x88};
    auto* blocks = static_cast<BlockIQ1_M*>(out);
    int8_t shifts[kQK_K / kBlock] = {};  // llama.cpp keeps a zero sub-block's stale shift
    // The values of group k (0, 1) of a sub-block with shift combination c: 0 ++, 1 +-, 2 -+, 3 --.
    const auto values = [](int c, int k) {
        return (k == 0 ? c < 2 : c % 2 == 0) ? kIq1Plus : kIq1Minus;
    };
    for (int64_t ibl = 0; ibl < n / kQK_K; ++ibl) {
        BlockIQ1_M& y = blocks[ibl];
        std::memset(y.qs, 0, sizeof(y.qs));
        std::memset(y.qh, 0, sizeof(y.qh));
        std::memset(y.scales, 0, sizeof(y.scales));
        const float* xbl = in + kQK_K * ibl;
        float scales[kQK_K / kBlock];
        float max_scale = 0;
        const float sigma2 = 2 * block_mean_square(xbl);
        const auto weights_of = [&](int ib, float* weight) {
            const float* xb = xbl + kBlock * ib;
            for (int i = 0; i < kBlock; ++i) {
                weight[i] = importance != nullptr ? importance[kQK_K * ibl + kBlock * ib + i] *
                                                        std::sqrt(sigma2 + xb[i] * xb[i])
                                                  : xb[i] * xb[i];
            }
        };
        for (int ib = 0; ib < kQK_K / kBlock; ++ib) {
            const float* xb = xbl + kBlock * ib;
            float weight[kBlock];
            weights_of(ib, weight);
            float max = std::fabs(xb[0]);
            for (int i = 1; i < kBlock; ++i) max = std::max(max, std::fabs(xb[i]));
            if (max < 1e-7f) {
                scales[ib] = 0;
                continue;
            }
            int order[kBlock];
            sort_by_value(xb, kBlock, order);
            float best_score = -FLT_MIN, scale = max;
            int best1 = -1, best2 = -1, best_c = -1;
            for (int i1 = 0; i1 <= kBlock; ++i1) {
                for (int i2 = i1; i2 <= kBlock; ++i2) {
                    // Summed in llama.cpp's order (value by value in sorted order), so the
                    // floats round alike.
                    float sumqx[4] = {}, sumq2[4] = {};
                    for (int j = 0; j < kBlock; ++j) {
                        const int level = j < i1 ? 0 : j < i2 ? 1 : 2;
                        const int i = order[j];
                        const float p = kIq1Plus[level], m = kIq1Minus[level];
                        const float wx = weight[i];
                        if (i < kBlock / 2) {
                            sumqx[0] += wx * p * xb[i];
                            sumqx[1] += wx * p * xb[i];
                            sumqx[2] += wx * m * xb[i];
                            sumqx[3] += wx * m * xb[i];
                            sumq2[0] += wx * p * p;
                            sumq2[1] += wx * p * p;
                            sumq2[2] += wx * m * m;
                            sumq2[3] += wx * m * m;
                        } else {
                            sumqx[0] += wx * p * xb[i];
                            sumqx[2] += wx * p * xb[i];
                            sumqx[1] += wx * m * xb[i];
                            sumqx[3] += wx * m * xb[i];
                            sumq2[0] += wx * p * p;
                            sumq2[2] += wx * p * p;
                            sumq2[1] += wx * m * m;
                            sumq2[3] += wx * m * m;
                        }
                    }
                    for (int c = 0; c < 4; ++c) {
                        if (sumq2[c] > 0 && sumqx[c] * sumqx[c] > best_score * sumq2[c]) {
                            scale = sumqx[c] / sumq2[c];
                            best_score = scale * sumqx[c];
                            best1 = i1;
                            best2 = i2;
                            best_c = c;
                        }
                    }
                }
            }
            int8_t L[kBlock];
            if (split_levels(order, kBlock, best1, best2, &scale, L)) best_c = 3 - best_c;
            bool all_on_grid = true;
            int index[2];
            for (int k = 0; k < 2; ++k) {
                int pattern = 0;
                for (int j = 0; j < 8; ++j) pattern |= L[8 * k + j] << (2 * j);
                index[k] = g.map[pattern];
                if (index[k] < 0) {
                    all_on_grid = false;
                    index[k] = iq1_best_neighbour(g, pattern, xb + 8 * k, weight + 8 * k, scale,
                                                  values(best_c, k), L + 8 * k);
                }
            }
            if (!all_on_grid) {
                float sumqx = 0, sumq2 = 0;
                for (int k = 0; k < 2; ++k) {
                    const float* xx = values(best_c, k);
                    const int8_t* p = g.point(index[k]);
                    for (int j = 0; j < 8; ++j) {
                        const float w = weight[8 * k + j];
                        const float q = xx[(p[j] - 1) / 2];
                        sumqx += w * q * xb[8 * k + j];
                        sumq2 += w * q * q;
                    }
                }
                if (sumqx > 0 && sumq2 > 0) scale = sumqx / sumq2;
            }
            y.qs[2 * ib] = static_cast<uint8_t>(index[0] & 255);
            y.qs[2 * ib + 1] = static_cast<uint8_t>(index[1] & 255);
            y.qh[ib] = static_cast<uint8_t>((index[0] >> 8) | ((index[1] >> 8) << 4));
            scales[ib] = scale;
            shifts[ib] = static_cast<int8_t>(best_c);
            max_scale = std::max(max_scale, scale);
        }
        if (max_scale == 0) continue;
        // 3-bit sub-block scales against max / 15, then the super-block scale refitted by least
        // squares over the whole block with those scales and the stored points.
        uint16_t sc[4] = {};
        float d = max_scale / 15;
        const float id = 1 / d;
        float sumqx = 0, sumq2 = 0;
        for (int ib = 0; ib < kQK_K / kBlock; ++ib) {
            const int l = clamp(nearest_int(0.5f * (id * scales[ib] - 1)), 0, 7);
            sc[ib / 4] = static_cast<uint16_t>(sc[ib / 4] | (l << (3 * (ib % 4))));
            y.qh[ib] |= kMasks[shifts[ib]];
            const float* xb = xbl + kBlock * ib;
            float weight[kBlock];
            weights_of(ib, weight);
            for (int k = 0; k < 2; ++k) {
                const float* xx = values(shifts[ib], k);
                const int8_t* p = g.point(y.qs[2 * ib + k] + ((y.qh[ib] << (8 - 4 * k)) & 0x700));
                for (int j = 0; j < 8; ++j) {
                    const float w = weight[8 * k + j];
                    const float q = xx[(p[j] - 1) / 2] * (2 * l + 1);
                    sumqx += w * q * xb[8 * k + j];
                    sumq2 += w * q * q;
                }
            }
        }
        if (sumq2 > 0) d = sumqx / sumq2;
        const fp16_t dh = f32_to_fp16(d * 1.1125f);  // llama.cpp's fudge factor
        uint16_t bits;
        std::memcpy(&bits, &dh, 2);
        sc[0] = static_cast<uint16_t>(sc[0] | ((bits & 0x000f) << 12));
        sc[1] = static_cast<uint16_t>(sc[1] | ((bits & 0x00f0) << 8));
        sc[2] = static_cast<uint16_t>(sc[2] | ((bits & 0x0f00) << 4));
        sc[3] = static_cast<uint16_t>(sc[3] | (bits & 0xf000));
        std::memcpy(y.scales, sc, sizeof(sc));
    }
}

// Without an importance matrix: IQ3_XXS, IQ3_S, IQ2_S and IQ1_M have llama.cpp's own fallback
// weights; IQ2_XXS, IQ2_XS and IQ1_S have none (llama-quantize refuses them, and so does ember
// quantize), so every column weighs the same here (ember synth's random models).
namespace {
template <void (*Quantize)(const float*, void*, int64_t, const float*)>
void with_uniform_importance(const float* in, void* out, int64_t n) {
    const std::vector<float> ones(static_cast<size_t>(n), 1.0f);
    Quantize(in, out, n, ones.data());
}
}  // namespace

void quantize_weights_iq2_xxs(const float* in, void* out, int64_t n) {
    with_uniform_importance<quantize_iq2_xxs>(in, out, n);
}
void quantize_weights_iq2_xs(const float* in, void* out, int64_t n) {
    with_uniform_importance<quantize_iq2_xs>(in, out, n);
}
void quantize_weights_iq1_s(const float* in, void* out, int64_t n) {
    with_uniform_importance<quantize_iq1_s>(in, out, n);
}
void quantize_weights_iq2_s(const float* in, void* out, int64_t n) {
    quantize_iq2_s(in, out, n, nullptr);
}
void quantize_weights_iq3_xxs(const float* in, void* out, int64_t n) {
    quantize_iq3_xxs(in, out, n, nullptr);
}
void quantize_weights_iq3_s(const float* in, void* out, int64_t n) {
    quantize_iq3_s(in, out, n, nullptr);
}
void quantize_weights_iq1_m(const float* in, void* out, int64_t n) {
    quantize_iq1_m(in, out, n, nullptr);
}

}  // namespace ember::ref
