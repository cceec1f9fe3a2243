#include "kernels/quant_fit.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/nearest_int.h"

namespace ember::ref {

float signed_max(const float* x, int n, float* amax) {
    float max = 0;
    *amax = 0;
    for (int i = 0; i < n; ++i) {
        if (std::fabs(x[i]) > *amax) {
            *amax = std::fabs(x[i]);
            max = x[i];
        }
    }
    return max;
}

float fit_signed_scale(int n, int nmax, const float* x, const float* weights, int8_t* L) {
    float amax;
    const float max = signed_max(x, n, &amax);
    if (amax < kAllZero) {
        std::memset(L, 0, n);
        return 0.0f;
    }
    // For one candidate: the sums of w*x*l and w*l*l that give the least-squares scale.
    const auto sums = [&](float iscale, float* sumlx, float* suml2) {
        *sumlx = *suml2 = 0;
        for (int i = 0; i < n; ++i) {
            const int l = clamp(nearest_int(iscale * x[i]), -nmax, nmax - 1);
            const float w = weights != nullptr ? weights[i] : x[i] * x[i];
            *sumlx += w * x[i] * l;
            *suml2 += w * l * l;
        }
    };
    const auto assign = [&](float iscale) {
        for (int i = 0; i < n; ++i)
            L[i] = static_cast<int8_t>(nmax + clamp(nearest_int(iscale * x[i]), -nmax, nmax - 1));
    };
    float iscale = -nmax / max;
    float sumlx, suml2;
    sums(iscale, &sumlx, &suml2);
    assign(iscale);
    float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int step = -9; step <= 9; ++step) {
        if (step == 0) continue;
        iscale = -(nmax + 0.1f * step) / max;
        sums(iscale, &sumlx, &suml2);
        // sumlx^2 / suml2 is the error reduction of the least-squares scale: larger is better.
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            assign(iscale);
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

float fit_scale_and_min(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                        float* min_out, float rmin, float rdelta, int steps, bool use_abs) {
    float min = x[0], max = x[0];
    float sum_w = weights[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; ++i) {
        min = x[i] < min ? x[i] : min;
        max = x[i] > max ? x[i] : max;
        sum_w += weights[i];
        sum_x += weights[i] * x[i];
    }
    if (min > 0) min = 0;  // the offset only ever lowers values
    if (max == min) {
        std::memset(L, 0, n);
        *min_out = -min;
        return 0.0f;
    }
    const auto error = [&](float scale, float offset, const uint8_t* levels) {
        float err = 0;
        for (int i = 0; i < n; ++i) {
            float diff = scale * levels[i] + offset - x[i];
            diff = use_abs ? std::fabs(diff) : diff * diff;
            err += weights[i] * diff;
        }
        return err;
    };
    float iscale = nmax / (max - min);
    float scale = 1 / iscale;
    for (int i = 0; i < n; ++i)
        L[i] = static_cast<uint8_t>(clamp(nearest_int(iscale * (x[i] - min)), 0, nmax));
    float best = error(scale, min, L);
    uint8_t trial[32];
    for (int step = 0; step <= steps; ++step) {
        iscale = (rmin + rdelta * step + nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; ++i) {
            const int l = clamp(nearest_int(iscale * (x[i] - min)), 0, nmax);
            trial[i] = static_cast<uint8_t>(l);
            const float w = weights[i];
            sum_l += w * l;
            sum_l2 += w * l * l;
            sum_xl += w * l * x[i];
        }
        // Normal equations of min over (scale, offset) of sum w (scale * l
        // + offset - x)^2.
        const float det = sum_w * sum_l2 - sum_l * sum_l;
        if (!(det > 0)) continue;
        float this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
        float this_offset = (sum_l2 * sum_x - sum_l * sum_xl) / det;
        if (this_offset > 0) {  // offsets are subtracted minimums: at most 0
            this_offset = 0;
            this_scale = sum_xl / sum_l2;
        }
        const float err = error(this_scale, this_offset, trial);
        if (err < best) {
            std::memcpy(L, trial, n);
            best = err;
            scale = this_scale;
            min = this_offset;
        }
    }
    *min_out = -min;
    return scale;
}

float fit_positive_scale(int n, int nmax, const float* x, const float* weights, uint8_t* L) {
    float max = 0;
    for (int i = 0; i < n; ++i) max = std::max(max, x[i]);
    if (max == 0) {
        std::memset(L, 0, n);
        return 0.0f;
    }
    // The weighted error of rounding with iscale (levels capped at nmax,
    // not below 0: the rounding of the first candidate is not capped at
    // all, as in the original).
    const auto error = [&](float iscale, bool cap) {
        const float scale = 1 / iscale;
        float err = 0;
        for (int i = 0; i < n; ++i) {
            int l = nearest_int(iscale * x[i]);
            l = cap ? std::min(nmax, l) : static_cast<uint8_t>(l);  // the first is stored, uncapped
            const float diff = x[i] - scale * l;
            err += weights[i] * diff * diff;
        }
        return err;
    };
    float iscale = nmax / max;
    float best = error(iscale, false);
    for (int step = -4; step <= 4; ++step) {
        if (step == 0) continue;
        const float trial = (0.1f * step + nmax) / max;
        const float err = error(trial, true);
        if (err < best) {
            best = err;
            iscale = trial;
        }
    }
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; ++i) {
        const int l = std::min(nmax, nearest_int(iscale * x[i]));
        L[i] = static_cast<uint8_t>(l);
        sumlx += weights[i] * x[i] * l;
        suml2 += weights[i] * l * l;
    }
    for (int pass = 0; pass < 5; ++pass) {
        int changed = 0;
        for (int i = 0; i < n; ++i) {
            const float w = weights[i];
            float slx = sumlx - w * x[i] * L[i];  // the sums without value i
            float sl2 = suml2 - w * L[i] * L[i];
            if (!(slx > 0 && sl2 > 0)) continue;
            const int l = std::min(nmax, nearest_int(x[i] * sl2 / slx));
            if (l == L[i]) continue;
            slx += w * x[i] * l;
            sl2 += w * l * l;
            if (slx * slx * suml2 > sumlx * sumlx * sl2) {  // the error reduction grows
                L[i] = static_cast<uint8_t>(l);
                sumlx = slx;
                suml2 = sl2;
                ++changed;
            }
        }
        if (changed == 0) break;
    }
    return sumlx / suml2;
}

}  // namespace ember::ref
