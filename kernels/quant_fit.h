// The scale searches of llama.cpp's quantizers (ggml-quants.c: make_qx_quants, make_qkx2_quants
// and make_qkx3_quants, make_qp_quants), shared by the legacy and K-quant quantizers with and
// without an importance matrix. Each fits a block of n values x to levels L times a scale,
// minimising a weighted squared error; the float expressions keep llama.cpp's order of
// operations, because a different rounding of one intermediate can pick another scale.
#pragma once

#include <cstdint>

namespace ember::ref {

constexpr float kAllZero = 1e-15f;  // a block whose largest magnitude is below this is zero

inline int clamp(int v, int lo, int hi) {
    return v < lo ? lo : (v > hi ? hi : v);
}

// The value of largest magnitude, with its sign (the first on ties); *amax gets its magnitude.
float signed_max(const float* x, int n, float* amax);

// x ~ scale * (L - nmax), L in 0..2*nmax-1, weighted by `weights` (null: x^2): tries
// iscale = -(nmax + 0.1 k) / max for k = -9..9 and keeps the least-squares scale of the best.
// Returns the scale (make_qx_quants, rmse_type 1).
float fit_signed_scale(int n, int nmax, const float* x, const float* weights, int8_t* L);

// x ~ scale * L - min, L in 0..nmax, min >= 0, minimising sum w * |err| (use_abs) or w * err^2.
// Tries iscale = (nmax + rmin + rdelta * k) / (max - min) for k = 0..steps; for each rounding it
// solves the weighted least squares for scale and min. *min_out gets min. n <= 32.
float fit_scale_and_min(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                        float* min_out, float rmin, float rdelta, int steps, bool use_abs);

// x >= 0 ~ scale * L, L in 0..nmax (the sub-block scales and minimums of the K-quants under an
// importance matrix): the best of iscale = (nmax + 0.1 k) / max for k = -4..4 by weighted
// error, then up to five passes that move single values to a better level. Returns the scale
// (make_qp_quants).
float fit_positive_scale(int n, int nmax, const float* x, const float* weights, uint8_t* L);

}  // namespace ember::ref
