// Speculative decoding (engine/generate/draft.h): with a draft model or by lookup, the text is
// the one plain generation gives, token for token, greedy and sampled alike (the target draws
// each token from its own logits, once per token); the tokens follow the target's
// distribution (a chi-square test against its own probabilities); and drafts that cannot work
// (another vocabulary, a recurrent model, bad sizes) are refused saying why.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/generate/session.h"
#include "engine/model/ops.h"
#include "engine/text/tokenizer.h"
#include "engine/text/vocab.h"
#include "formats/error.h"
#include "tests/broken_gguf.h"
#include "tests/error_of.h"
#include "tests/shared_data.h"

namespace ember {
namespace {

const std::string kStories = "models/ember-stories-5M/ember-stories-5M-";

struct Loaded {
    explicit Loaded(const std::string& file)
        : model(test::shared_path(file).string()), tokenizer(model.file()) {}
    Model model;
    Tokenizer tokenizer;
};

struct Generated {
    std::vector<int32_t> ids;
    std::string text;
    TurnResult result;
};

Generated generate(const Loaded& target, const SpeculationParams& speculation,
                   const std::string& prompt, int n, float temperature, uint64_t seed = 7,
                   int n_threads = 2) {
    SessionParams params;
    params.context.n_ctx = 256;
    params.context.n_threads = n_threads;
    params.sampling.temperature = temperature;
    params.sampling.seed = seed;
    params.speculation = speculation;
    Session session(target.model, target.tokenizer, params);
    TurnOptions turn;
    turn.max_tokens = n;
    Generated g;
    turn.on_token = [&](int32_t id) {
        g.ids.push_back(id);
        return true;
    };
    g.result = session.generate(prompt, turn, [](std::string_view) { return true; });
    g.text = g.result.text;
    return g;
}

SpeculationParams with_draft(const Model& draft, int max) {
    SpeculationParams s;
    s.draft_model = &draft;
    s.draft.max = max;
    return s;
}

SpeculationParams with_lookup(int max) {
    SpeculationParams s;
    s.lookup = true;
    s.draft.max = max;
    return s;
}

// A prompt whose continuation copies from it (the story told twice), for lookup.
const std::string kStory =
    "Once upon a time, there was a little girl named Lily. She liked to play in the park with "
    "her red ball. One day, the ball rolled into the pond.";

TEST(Speculative, GreedyTextIsPlainGenerationsWithEveryDraft) {
    const Loaded f32(kStories + "F32.gguf");
    const Loaded q8(kStories + "Q8_0.gguf");
    const Loaded q4km(kStories + "Q4_K_M.gguf");
    const Model q4(test::shared_path(kStories + "Q4_0.gguf").string());
    const Model q2k(test::shared_path(kStories + "Q2_K.gguf").string());
    const Model small(test::shared_path("models/stories260K.gguf").string());
    const std::string prompt = "Once upon a time";
    for (const Loaded* target : {&f32, &q8, &q4km}) {
        const Generated plain = generate(*target, {}, prompt, 96, 0.0f);
        ASSERT_EQ(plain.ids.size(), 96u);
        EXPECT_EQ(plain.result.n_drafted, 0);
        for (const Model* draft : {&q4, &q2k, &small}) {
            for (int k : {1, 4, 8, 16}) {
                SCOPED_TRACE(target->model.file().name() + " drafted by " + draft->file().name() +
                             ", k " + std::to_string(k));
                const Generated fast = generate(*target, with_draft(*draft, k), prompt, 96, 0.0f);
                EXPECT_EQ(fast.ids, plain.ids);
                EXPECT_EQ(fast.text, plain.text);
                EXPECT_GT(fast.result.n_drafted, 0);
                EXPECT_LE(fast.result.n_accepted, fast.result.n_drafted);
            }
        }
        // The model's own quantized copy guesses most tokens right.
        const Generated own = generate(*target, with_draft(q4, 8), prompt, 96, 0.0f);
        EXPECT_GT(own.result.n_accepted, own.result.n_drafted / 2);
    }
}

TEST(Speculative, LookupCopiesWhatTheTextRepeats) {
    const Loaded f32(kStories + "F32.gguf");
    const std::string prompt = kStory + "\n" + kStory.substr(0, 40);
    const Generated plain = generate(f32, {}, prompt, 64, 0.0f);
    for (int k : {2, 8, 32}) {
        SCOPED_TRACE("k " + std::to_string(k));
        const Generated fast = generate(f32, with_lookup(k), prompt, 64, 0.0f);
        EXPECT_EQ(fast.ids, plain.ids);
        EXPECT_GT(fast.result.n_accepted, 0);
    }
}

// Architectures with their own hooks (QK-norm, local/global layers, experts) as targets of
// lookup: random weights, so the guesses are few, but every one taken must be the target's.
TEST(Speculative, OtherArchitecturesGiveTheirPlainText) {
    for (const char* file :
         {"arch2/models/mini-qwen3-F32.gguf", "arch2/models/mini-gemma3-F16.gguf",
          "arch2/models/mini-qwen3moe-F32.gguf", "arch/models/mini-gemma2-F16.gguf"}) {
        SCOPED_TRACE(file);
        const Loaded m(file);
        const Generated plain = generate(m, {}, "a b c a b c a b", 40, 0.0f);
        const Generated fast = generate(m, with_lookup(6), "a b c a b c a b", 40, 0.0f);
        EXPECT_EQ(fast.ids, plain.ids);
        EXPECT_GT(fast.result.n_drafted, 0);
    }
}

// The sampler draws once per token, with or without guesses: the same seed gives the same text.
TEST(Speculative, SampledTextIsPlainGenerationsWithTheSameSeed) {
    const Loaded f32(kStories + "F32.gguf");
    const Model q4(test::shared_path(kStories + "Q4_0.gguf").string());
    for (uint64_t seed : {1, 2, 3}) {
        const Generated plain = generate(f32, {}, "Once upon a time", 80, 0.9f, seed);
        const Generated fast = generate(f32, with_draft(q4, 6), "Once upon a time", 80, 0.9f, seed);
        EXPECT_EQ(fast.ids, plain.ids) << "seed " << seed;
        EXPECT_GT(fast.result.n_accepted, 0);
    }
}

// The third token's distribution, given the first two: from many seeds at temperature 1, the
// runs whose first two tokens were the commonest pair, against the target's own probabilities
// after that prefix (a chi-square test over the likely tokens, the rest pooled). The third
// token comes from a verified row whenever the draft guessed the second.
TEST(Speculative, SampledTokensFollowTheTargetsDistribution) {
    const Loaded f32(kStories + "F32.gguf");
    const Model q4(test::shared_path(kStories + "Q4_0.gguf").string());
    const std::string prompt = "The little dog";
    constexpr int kRuns = 1500;
    std::map<std::pair<int32_t, int32_t>, std::vector<int32_t>> third;  // by the first two
    int accepted = 0;
    for (int run = 0; run < kRuns; ++run) {
        SessionParams params;
        params.context.n_ctx = 32;
        params.context.n_threads = 1;
        params.sampling.temperature = 1.0f;
        params.sampling.top_k = 0;
        params.sampling.top_p = 1.0f;
        params.sampling.min_p = 0.0f;
        params.sampling.seed = 1000 + run;
        params.speculation = with_draft(q4, 4);
        params.speculation.draft.p_min = 0.0f;  // always guess
        Session session(f32.model, f32.tokenizer, params);
        TurnOptions turn;
        turn.max_tokens = 3;
        turn.ignore_eos = true;
        std::vector<int32_t> ids;
        turn.on_token = [&](int32_t id) {
            ids.push_back(id);
            return true;
        };
        accepted +=
            session.generate(prompt, turn, [](std::string_view) { return true; }).n_accepted;
        ASSERT_EQ(ids.size(), 3u);
        third[{ids[0], ids[1]}].push_back(ids[2]);
    }
    EXPECT_GT(accepted, kRuns / 4);
    const auto commonest = std::max_element(
        third.begin(), third.end(),
        [](const auto& a, const auto& b) { return a.second.size() < b.second.size(); });
    const std::vector<int32_t>& seen = commonest->second;
    ASSERT_GE(seen.size(), 300u);

    // The target's probabilities after the prompt and the pair (temperature 1: the softmax).
    ContextParams cp;
    cp.n_ctx = 32;
    Context context(f32.model, cp);
    std::vector<int32_t> prefix = f32.tokenizer.encode(prompt, true, true);
    prefix.push_back(commonest->first.first);
    prefix.push_back(commonest->first.second);
    context.decode(prefix);
    std::vector<float> p(context.logits(), context.logits() + context.n_vocab());
    softmax(p.data(), static_cast<int>(p.size()));

    // Bins: tokens expected at least 5 times each; the rest pooled into one.
    const double n = static_cast<double>(seen.size());
    std::map<int32_t, int> counts;
    for (int32_t id : seen) ++counts[id];
    double chi2 = 0, pooled_expected = 0, pooled_seen = 0;
    int bins = 0;
    for (int32_t id = 0; id < static_cast<int32_t>(p.size()); ++id) {
        const double expected = n * p[id];
        const double got = counts.count(id) ? counts[id] : 0;
        if (expected >= 5) {
            chi2 += (got - expected) * (got - expected) / expected;
            ++bins;
        } else {
            pooled_expected += expected;
            pooled_seen += got;
        }
    }
    if (pooled_expected >= 5) {
        chi2 += (pooled_seen - pooled_expected) * (pooled_seen - pooled_expected) / pooled_expected;
        ++bins;
    }
    ASSERT_GE(bins, 3);
    // The 99.9th percentile of chi-square with df = bins - 1 (Wilson-Hilferty).
    const double df = bins - 1, z = 3.09;
    const double limit = df * std::pow(1 - 2 / (9 * df) + z * std::sqrt(2 / (9 * df)), 3);
    EXPECT_LT(chi2, limit) << bins << " bins, " << seen.size() << " samples";
}

using test::error_of;

TEST(Speculative, RefusesDraftsThatCannotWork) {
    const Loaded f32(kStories + "F32.gguf");
    // A draft whose token 300 is another text.
    const std::filesystem::path dir = test::temp_dir("speculative");
    const std::string other_path = (dir / "other-vocabulary.gguf").string();
    {
        const Vocab vocab(f32.model.file());
        std::vector<std::string> texts;
        for (int32_t id = 0; id < vocab.size(); ++id) texts.emplace_back(vocab.text(id));
        texts[300] = "something else";
        test::copy_with(
            test::shared_path(kStories + "Q4_0.gguf").string(), other_path,
            [&](gguf::Writer& w) { w.set_array_strings("tokenizer.ggml.tokens", texts); });
    }
    const Model other(other_path);
    const std::string refused = error_of([&] { generate(f32, with_draft(other, 4), "a", 4, 0); });
    EXPECT_NE(refused.find("token 300 is 'something else' there"), std::string::npos) << refused;
    EXPECT_NE(refused.find("must share the target's vocabulary"), std::string::npos) << refused;
    const Loaded lfm2("arch2/models/mini-lfm2-F32.gguf");
    EXPECT_NE(error_of([&] { generate(lfm2, with_lookup(4), "a", 4, 0); }).find("recurrent"),
              std::string::npos);
    const Model q4(test::shared_path(kStories + "Q4_0.gguf").string());
    SpeculationParams bad = with_draft(q4, 4);
    bad.draft.min = 5;
    EXPECT_NE(error_of([&] { generate(f32, bad, "a", 4, 0); }).find("the draft min"),
              std::string::npos);
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ember
