// The chunked gated delta rule (engine/model/delta_rule.cpp) against the token-by-token one:
// the same outputs and the same final state, for runs shorter than a chunk, a chunk, across
// chunk borders, from a zero and from a full state, with decays from none to total and betas
// from 0 to 1, at Qwen3.5's head size and at odd ones.
#include "engine/model/delta_rule.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

namespace ember {
namespace {

struct Case {
    int n, dim;
    float g_min, g_max;  // log decays drawn from [g_min, g_max]
    float beta_min, beta_max;
    bool start_from_state;
};

// Largest |a - b| over the largest |b| (or 1 if all are small).
double relative_error(const std::vector<float>& a, const std::vector<float>& b) {
    double worst = 0, scale = 1;
    for (size_t i = 0; i < a.size(); ++i) {
        worst = std::max(worst, static_cast<double>(std::fabs(a[i] - b[i])));
        scale = std::max(scale, static_cast<double>(std::fabs(b[i])));
    }
    return worst / scale;
}

void check(const Case& c, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::uniform_real_distribution<float> g_dist(c.g_min, c.g_max), b_dist(c.beta_min, c.beta_max);
    const int d = c.dim, n = c.n;
    // q and k side by side in one row per token with a gap, as the engine's convolution output;
    // v in another array; gates interleaved with another head's (stride 2).
    const size_t qk_stride = 2 * d + 3, v_stride = d + 1, out_stride = d + 5;
    std::vector<float> qk(n * qk_stride), v(n * v_stride), gates(4 * n);
    for (int t = 0; t < n; ++t) {
        for (int part = 0; part < 2; ++part) {  // L2-normed, as the layer gives them
            float* x = &qk[t * qk_stride + part * d];
            double sum = 0;
            for (int i = 0; i < d; ++i) {
                x[i] = normal(rng);
                sum += x[i] * x[i];
            }
            for (int i = 0; i < d; ++i) x[i] /= static_cast<float>(std::sqrt(sum));
        }
        for (int i = 0; i < d; ++i) v[t * v_stride + i] = 3 * normal(rng);
        gates[2 * t] = g_dist(rng);
        gates[2 * n + 2 * t] = b_dist(rng);
    }
    std::vector<float> state0(static_cast<size_t>(d) * d, 0.0f);
    if (c.start_from_state)
        for (float& s : state0) s = normal(rng);

    DeltaRuleRun run;
    run.n = n;
    run.dim = d;
    run.q = qk.data();
    run.k = qk.data() + d;
    run.qk_stride = qk_stride;
    run.v = v.data();
    run.v_stride = v_stride;
    run.g = gates.data();
    run.beta = gates.data() + 2 * n;
    run.gate_stride = 2;
    run.out_stride = out_stride;
    run.scale = 1.0f / std::sqrt(static_cast<float>(d));

    std::vector<float> out_steps(n * out_stride, 0.0f), out_chunks(n * out_stride, 0.0f);
    std::vector<float> state_steps = state0, state_chunks = state0, scratch;
    run.out = out_steps.data();
    delta_rule_steps(run, state_steps.data());
    run.out = out_chunks.data();
    delta_rule_chunked(run, state_chunks.data(), scratch);

    EXPECT_LE(relative_error(out_chunks, out_steps), 2e-5)
        << "outputs, n " << n << " dim " << d << " seed " << seed;
    EXPECT_LE(relative_error(state_chunks, state_steps), 2e-5)
        << "state, n " << n << " dim " << d << " seed " << seed;
    for (float x : out_chunks) ASSERT_TRUE(std::isfinite(x));
}

TEST(DeltaRule, ChunksGiveWhatTokenByTokenGives) {
    const Case cases[] = {
        // Qwen3.5: head size 128; decays as its layers make them, runs around the chunk size
        {1, 128, -2.0f, 0.0f, 0.0f, 1.0f, true},
        {17, 128, -2.0f, 0.0f, 0.0f, 1.0f, false},
        {64, 128, -2.0f, 0.0f, 0.0f, 1.0f, true},
        {65, 128, -2.0f, 0.0f, 0.0f, 1.0f, true},
        {200, 128, -0.5f, 0.0f, 0.0f, 1.0f, true},
        // no decay and full writes: the state only grows by delta updates
        {130, 128, 0.0f, 0.0f, 1.0f, 1.0f, true},
        // total forgetting (e^-40 underflows products to 0) and no writes at all
        {90, 64, -40.0f, -30.0f, 0.0f, 1.0f, true},
        {70, 64, -1.0f, 0.0f, 0.0f, 0.0f, true},
        // odd sizes: columns past the float kernel's vectors
        {77, 7, -1.0f, 0.0f, 0.0f, 1.0f, true},
        {129, 33, -1.0f, 0.0f, 0.0f, 1.0f, false},
    };
    uint32_t seed = 1;
    for (const Case& c : cases) check(c, seed++);
}

}  // namespace
}  // namespace ember
