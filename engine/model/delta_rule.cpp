// The gated delta rule, token by token and in chunks (delta_rule.h).
//
// The chunked form. Take a chunk of L tokens starting from the state S0, and let G_i be the sum
// of the log decays g_1 .. g_i inside the chunk (so G_i - G_j <= 0 for j <= i: every factor
// e^(G_i - G_j) below is at most 1). Unrolling the recurrence,
//   S_i     = e^G_i S0 + sum_{j <= i} e^(G_i - G_j) k_j delta_j^T
//   delta_i = beta_i v_i - beta_i e^G_i S0^T k_i - sum_{j < i} beta_i e^(G_i - G_j) (k_i . k_j)
//   delta_j
// The deltas solve a unit lower-triangular system: with A (L, L), A_ij = beta_i e^(G_i - G_j)
// (k_i . k_j) for j < i, and T = (I + A)^-1,
//   [U | W] = T [beta V | beta e^G K]        (the rows of V and K are the chunk's v and k)
//   delta   = U - W S0
//   O       = e^G Q S0 + P delta,  P_ij = e^(G_i - G_j) (q_i . k_j) for j <= i, else 0
//   S_L     = e^G_L S0 + (e^(G_L - G) K)^T delta
// T comes from forward substitution on the (L, L) system, L^3 / 6 multiply-adds; everything
// else is a product for the float kernel. Per token and head that is about 1.3 times the
// multiply-adds of the token-by-token form, but in products a SIMD kernel runs near its peak
// instead of sweeps over a 64 KB state that run at the cache's speed.
#include "engine/model/delta_rule.h"

#include <algorithm>
#include <cmath>

#include "kernels/kernels.h"

namespace ember {

void delta_rule_steps(const DeltaRuleRun& run, float* state) {
    // Each token needs two sweeps over S: decay it and read S^T k (for its delta), then add
    // k delta^T and read S^T q. Token t's second sweep and token t + 1's first go together, so
    // S streams through the cache once per token instead of twice; every element sees the same
    // operations in the same order as two sweeps would give it.
    const int d = run.dim;
    std::vector<float> delta(d), next(d), o(d);
    float* __restrict dl = delta.data();
    float* __restrict nx = next.data();
    float* __restrict ol = o.data();
    const auto q_of = [&](int t) { return run.q + static_cast<size_t>(t) * run.qk_stride; };
    const auto k_of = [&](int t) { return run.k + static_cast<size_t>(t) * run.qk_stride; };
    const auto v_of = [&](int t) { return run.v + static_cast<size_t>(t) * run.v_stride; };
    const auto decay_of = [&](int t) {
        return std::exp(run.g[static_cast<size_t>(t) * run.gate_stride]);
    };
    const auto beta_of = [&](int t) { return run.beta[static_cast<size_t>(t) * run.gate_stride]; };
    for (int t = 0; t < run.n; ++t) {
        if (t == 0) {  // S = decay S; delta = beta (v - S^T k)
            const float decay = decay_of(0);
            const float* k = k_of(0);
            for (int j = 0; j < d; ++j) dl[j] = 0;
            for (int i = 0; i < d; ++i) {
                float* __restrict s = state + static_cast<size_t>(i) * d;
                const float ki = k[i];
                for (int j = 0; j < d; ++j) {
                    const float sj = s[j] * decay;
                    s[j] = sj;
                    dl[j] += sj * ki;
                }
            }
            const float* v = v_of(0);
            const float b = beta_of(0);
            for (int j = 0; j < d; ++j) dl[j] = b * (v[j] - dl[j]);
        }
        // S += k delta^T and o = S^T q; with a next token, also its S = decay S and S^T k.
        const bool more = t + 1 < run.n;
        const float* k = k_of(t);
        const float* q = q_of(t);
        for (int j = 0; j < d; ++j) ol[j] = 0;
        if (more) {
            const float decay = decay_of(t + 1);
            const float* k1 = k_of(t + 1);
            for (int j = 0; j < d; ++j) nx[j] = 0;
            for (int i = 0; i < d; ++i) {
                float* __restrict s = state + static_cast<size_t>(i) * d;
                const float ki = k[i], qi = q[i], k1i = k1[i];
                for (int j = 0; j < d; ++j) {
                    const float sj = s[j] + ki * dl[j];
                    ol[j] += sj * qi;
                    const float decayed = sj * decay;
                    s[j] = decayed;
                    nx[j] += decayed * k1i;
                }
            }
        } else {
            for (int i = 0; i < d; ++i) {
                float* __restrict s = state + static_cast<size_t>(i) * d;
                const float ki = k[i], qi = q[i];
                for (int j = 0; j < d; ++j) {
                    const float sj = s[j] + ki * dl[j];
                    s[j] = sj;
                    ol[j] += sj * qi;
                }
            }
        }
        float* out = run.out + static_cast<size_t>(t) * run.out_stride;
        for (int j = 0; j < d; ++j) out[j] = ol[j] * run.scale;
        if (more) {
            const float* v = v_of(t + 1);
            const float b = beta_of(t + 1);
            for (int j = 0; j < d; ++j) dl[j] = b * (v[j] - nx[j]);
        }
    }
}

void delta_rule_chunked(const DeltaRuleRun& run, float* state, std::vector<float>& scratch) {
    const MatMulF32Fn matmul = float_kernels().matmul;
    const ExpF32Fn exp = float_kernels().exp;
    const int d = run.dim;
    const size_t C = kDeltaRuleChunk, D = static_cast<size_t>(d);
    scratch.resize(3 * C + 2 * D * C + 4 * C * C + 4 * C * D + 2 * C * D + D * D);
    float* G = scratch.data();     // (L): the running sum of the log decays
    float* eG = G + C;             // (L): e^G_i
    float* to_end = eG + C;        // (L): e^(G_L - G_j)
    float* decay = to_end + C;     // (L, L): e^(G_i - G_j) for j <= i, 0 past i
    float* kt = decay + C * C;     // (d, L): K^T
    float* kd = kt + D * C;        // (d, L): K^T, column j times e^(G_L - G_j)
    float* kk = kd + D * C;        // (L, L): K K^T, then A
    float* qk = kk + C * C;        // (L, L): Q K^T, then P
    float* tri = qk + C * C;       // (L, L): T = (I + A)^-1
    float* r = tri + C * C;        // (L, 2d): [beta V | beta e^G K]
    float* x = r + 2 * C * D;      // (L, 2d): [U | W] = T r
    float* delta = x + 2 * C * D;  // (L, d)
    float* y = delta + C * D;      // (L, d): W S0, then Q S0
    float* upd = y + C * D;        // (d, d)
    for (int c0 = 0; c0 < run.n; c0 += kDeltaRuleChunk) {
        const int L = std::min(kDeltaRuleChunk, run.n - c0);
        const float* q = run.q + static_cast<size_t>(c0) * run.qk_stride;
        const float* k = run.k + static_cast<size_t>(c0) * run.qk_stride;
        const float* v = run.v + static_cast<size_t>(c0) * run.v_stride;
        const auto beta_of = [&](int i) {
            return run.beta[static_cast<size_t>(c0 + i) * run.gate_stride];
        };
        float sum = 0;
        for (int i = 0; i < L; ++i) {
            sum += run.g[static_cast<size_t>(c0 + i) * run.gate_stride];
            G[i] = sum;
        }
        exp(G, eG, L);
        for (int i = 0; i < L; ++i) {
            float* row = decay + static_cast<size_t>(i) * L;
            for (int j = 0; j <= i; ++j) row[j] = G[i] - G[j];
            exp(row, row, i + 1);
            std::fill(row + i + 1, row + L, 0.0f);
        }
        for (int i = 0; i < L; ++i) {
            const float* ki = k + static_cast<size_t>(i) * run.qk_stride;
            for (int a = 0; a < d; ++a) kt[static_cast<size_t>(a) * L + i] = ki[a];
        }
        // K (L, d) @ K^T (d, L) -> kk (L, L); Q (L, d) @ K^T (d, L) -> qk (L, L)
        matmul(L, L, d, k, run.qk_stride, kt, L, kk, L);
        matmul(L, L, d, q, run.qk_stride, kt, L, qk, L);
        // T = (I + A)^-1 row by row: T_i = e_i - sum_{m < i} A_im T_m (T_m is zero past m).
        for (int i = 0; i < L; ++i) {
            float* ti = tri + static_cast<size_t>(i) * L;
            std::fill(ti, ti + L, 0.0f);
            ti[i] = 1.0f;
            const float bi = beta_of(i);
            for (int m = 0; m < i; ++m) {
                const size_t im = static_cast<size_t>(i) * L + m;
                const float a = bi * decay[im] * kk[im];
                const float* tm = tri + static_cast<size_t>(m) * L;
                for (int j = 0; j <= m; ++j) ti[j] -= a * tm[j];
            }
        }
        // r = [beta V | beta e^G K]; T (L, L) @ r (L, 2d) -> x = [U | W] (L, 2d)
        for (int i = 0; i < L; ++i) {
            const float bi = beta_of(i), bg = bi * eG[i];
            const float* vi = v + static_cast<size_t>(i) * run.v_stride;
            const float* ki = k + static_cast<size_t>(i) * run.qk_stride;
            float* ri = r + static_cast<size_t>(i) * 2 * d;
            for (int a = 0; a < d; ++a) ri[a] = bi * vi[a];
            for (int a = 0; a < d; ++a) ri[d + a] = bg * ki[a];
        }
        matmul(L, 2 * d, L, tri, L, r, 2 * D, x, 2 * D);
        // W (L, d) @ S0 (d, d) -> y (L, d); delta = U - y
        matmul(L, d, d, x + d, 2 * D, state, D, y, D);
        for (int i = 0; i < L; ++i) {
            const float* ui = x + static_cast<size_t>(i) * 2 * d;
            const float* yi = y + static_cast<size_t>(i) * d;
            float* di = delta + static_cast<size_t>(i) * d;
            for (int a = 0; a < d; ++a) di[a] = ui[a] - yi[a];
        }
        // O = scale (e^G Q S0 + P delta): Q (L, d) @ S0 (d, d) -> y; P (L, L) @ delta (L, d) -> out
        matmul(L, d, d, q, run.qk_stride, state, D, y, D);
        for (size_t i = 0; i < static_cast<size_t>(L) * L; ++i) qk[i] *= decay[i];
        float* out = run.out + static_cast<size_t>(c0) * run.out_stride;
        matmul(L, d, L, qk, L, delta, D, out, run.out_stride);
        for (int i = 0; i < L; ++i) {
            const float e = eG[i];
            const float* yi = y + static_cast<size_t>(i) * d;
            float* oi = out + static_cast<size_t>(i) * run.out_stride;
            for (int a = 0; a < d; ++a) oi[a] = run.scale * (oi[a] + e * yi[a]);
        }
        // S = e^G_L S0 + kd (d, L) @ delta (L, d)
        const float last = G[L - 1];
        for (int j = 0; j < L; ++j) to_end[j] = last - G[j];
        exp(to_end, to_end, L);
        for (int a = 0; a < d; ++a)
            for (int j = 0; j < L; ++j) {
                const size_t at = static_cast<size_t>(a) * L + j;
                kd[at] = kt[at] * to_end[j];
            }
        matmul(d, d, L, kd, L, delta, D, upd, D);
        const float e = std::exp(last);
        for (size_t i = 0; i < D * D; ++i) state[i] = e * state[i] + upd[i];
    }
}

}  // namespace ember
