// The sampling chain on fixed logits.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

#include "engine/generate/sampler.h"

namespace ember {
namespace {

// Logits whose softmax is exactly `probs` (up to a constant).
std::vector<float> logits_of(const std::vector<double>& probs) {
    std::vector<float> logits;
    for (double p : probs) logits.push_back(static_cast<float>(std::log(p)));
    return logits;
}

std::map<int32_t, int> draw(SamplerParams params, const std::vector<float>& logits, int n) {
    std::map<int32_t, int> counts;
    for (int i = 0; i < n; ++i) {
        params.seed = static_cast<uint64_t>(i);
        Sampler sampler(params);
        ++counts[sampler.sample(logits.data(), static_cast<int>(logits.size()))];
    }
    return counts;
}

std::set<int32_t> keys(const std::map<int32_t, int>& m) {
    std::set<int32_t> out;
    for (const auto& [k, v] : m) out.insert(k);
    return out;
}

SamplerParams plain() {  // every filter off, temperature 1
    SamplerParams p;
    p.temperature = 1.0f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    return p;
}

const std::vector<float> kLogits = logits_of({0.05, 0.5, 0.1, 0.2, 0.15});  // best: 1, 3, 4, 2, 0

TEST(Sampler, TemperatureZeroIsArgmax) {
    SamplerParams p = plain();
    p.temperature = 0.0f;
    EXPECT_EQ(keys(draw(p, kLogits, 50)), (std::set<int32_t>{1}));
}

TEST(Sampler, TopKOneEqualsGreedy) {
    SamplerParams p = plain();
    p.top_k = 1;
    EXPECT_EQ(keys(draw(p, kLogits, 200)), (std::set<int32_t>{1}));
}

TEST(Sampler, TopKKeepsTheKMostLikely) {
    SamplerParams p = plain();
    p.top_k = 3;
    EXPECT_EQ(keys(draw(p, kLogits, 2000)), (std::set<int32_t>{1, 3, 4}));
}

TEST(Sampler, TopPKeepsTheSmallestNucleus) {
    SamplerParams p = plain();
    p.top_p = 0.8f;  // 0.5 + 0.2 = 0.7 < 0.8 <= 0.85 = 0.5 + 0.2 + 0.15
    EXPECT_EQ(keys(draw(p, kLogits, 2000)), (std::set<int32_t>{1, 3, 4}));
    p.top_p = 0.5f;  // the top token alone reaches it
    EXPECT_EQ(keys(draw(p, kLogits, 500)), (std::set<int32_t>{1}));
}

TEST(Sampler, TopPWithoutTopKOnALargeVocabulary) {
    std::vector<double> probs(50000, 0.5 / 49990);
    for (int i = 0; i < 10; ++i) probs[1000 * i + 7] = 0.05;  // ten tokens hold half the mass
    SamplerParams p = plain();
    p.top_p = 0.45f;
    const auto drawn = keys(draw(p, logits_of(probs), 1000));
    for (int32_t t : drawn) EXPECT_EQ(t % 1000, 7) << t;
    EXPECT_EQ(drawn.size(), 9u);  // 9 x 0.05 = 0.45
}

TEST(Sampler, TopKOnALargeVocabularyBreaksTiesByTokenId) {
    // 30 clear favourites and 99,970 tokens tied at 0: top-k 40 keeps the favourites and the
    // ten tied tokens of the smallest ids, as a full sort by (logit, id) would.
    std::vector<float> logits(100000, 0.0f);
    std::set<int32_t> expected;
    for (int i = 0; i < 30; ++i) {
        logits[3331 * i + 17] = 2.0f;
        expected.insert(3331 * i + 17);
    }
    for (int32_t id = 0; expected.size() < 40; ++id) {
        if (logits[id] == 0.0f) expected.insert(id);
    }
    SamplerParams p = plain();
    p.top_k = 40;
    EXPECT_EQ(keys(draw(p, logits, 6000)), expected);
}

TEST(Sampler, MinPDropsTokensBelowTheThreshold) {
    SamplerParams p = plain();
    p.min_p = 0.25f;  // keeps p >= 0.125: tokens 1 (0.5), 3 (0.2), 4 (0.15)
    EXPECT_EQ(keys(draw(p, kLogits, 2000)), (std::set<int32_t>{1, 3, 4}));
}

TEST(Sampler, FrequenciesFollowTheDistribution) {
    const auto counts = draw(plain(), kLogits, 20000);
    EXPECT_NEAR(counts.at(1) / 20000.0, 0.5, 0.02);
    EXPECT_NEAR(counts.at(0) / 20000.0, 0.05, 0.01);
}

TEST(Sampler, PenaltiesTouchExactlyTheRecentTokens) {
    SamplerParams p = plain();
    p.repeat_penalty = 2.0f;
    p.frequency_penalty = 0.5f;
    p.presence_penalty = 0.25f;
    p.repeat_last_n = 3;
    Sampler sampler(p);
    for (int32_t t : {0, 2, 2, 3}) sampler.accept(t);  // window of 3: 2, 2, 3
    const std::vector<float> logits = {1.0f, 1.0f, 1.0f, -1.0f, 1.0f};
    const auto out = sampler.penalized(logits.data(), 5);
    EXPECT_FLOAT_EQ(out[0], 1.0f);                         // fell out of the window
    EXPECT_FLOAT_EQ(out[1], 1.0f);                         // never seen
    EXPECT_FLOAT_EQ(out[2], 1.0f / 2 - 2 * 0.5f - 0.25f);  // positive: divided; seen twice
    EXPECT_FLOAT_EQ(out[3], -1.0f * 2 - 0.5f - 0.25f);     // negative: multiplied
    EXPECT_FLOAT_EQ(out[4], 1.0f);
}

TEST(Sampler, RepetitionPenaltyChangesTheGreedyChoice) {
    SamplerParams p = plain();
    p.temperature = 0.0f;
    p.repeat_penalty = 1.5f;
    Sampler sampler(p);
    const std::vector<float> logits = {0.0f, 2.0f, 1.9f};
    EXPECT_EQ(sampler.sample(logits.data(), 3), 1);
    sampler.accept(1);
    EXPECT_EQ(sampler.sample(logits.data(), 3), 2);
}

TEST(Sampler, SameSeedSameTokensDifferentSeedDifferentTokens) {
    SamplerParams p = plain();
    const std::vector<float> flat(1000, 0.0f);
    const auto run = [&](uint64_t seed) {
        p.seed = seed;
        Sampler sampler(p);
        std::vector<int32_t> out;
        for (int i = 0; i < 20; ++i) out.push_back(sampler.sample(flat.data(), 1000));
        return out;
    };
    EXPECT_EQ(run(42), run(42));
    EXPECT_NE(run(42), run(43));
}

}  // namespace
}  // namespace ember
