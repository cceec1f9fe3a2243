// The forward pass against llama.cpp (c392e50) on the shared models: logits of a 58-token
// prompt from one batch, then greedy decoding one token at a time through the KV cache.
// Tolerances follow ../shared/README.md: float weights agree to rms 1e-3..1e-2 with identical
// greedy ids; quantized weights differ by the 8-bit rounding of activations, so they are
// compared statistically (rms and top-1 agreement).
#include <gtest/gtest.h>

#include <algorithm>

#include "engine/generate/session.h"
#include "engine/model/context.h"
#include "engine/text/tokenizer.h"
#include "formats/error.h"
#include "tests/reference_data.h"

namespace ember {
namespace {

struct Case {
    std::string dir, name;
    double max_rms;
    double min_top1;
    bool greedy_must_match;
};

std::vector<int32_t> greedy(const Model& model, const std::vector<int32_t>& prompt, int n) {
    const Tokenizer tokenizer(model.file());
    SessionParams params;
    params.sampling.temperature = 0;
    Session session(model, tokenizer, params);
    session.append_tokens(prompt);
    std::vector<int32_t> out;
    TurnOptions options;
    options.max_tokens = n;
    options.ignore_eos = true;
    options.on_token = [&](int32_t t) {
        out.push_back(t);
        return true;
    };
    session.generate("", options, [](std::string_view) { return true; });
    return out;
}

// Greedy decoding through the KV cache against llama.cpp's ids: each of the first `n` steps
// must pick llama.cpp's token, unless that step is a near tie (llama.cpp's token within `tie`
// of our best logit), where float-order noise legitimately decides and the sequences part;
// comparing stops there. Returns the steps that matched.
int greedy_steps_matching(const Model& model, const std::vector<int32_t>& prompt,
                          const std::vector<int32_t>& reference, int n, float tie) {
    Context context(model, {});
    context.decode(prompt);
    const int n_vocab = model.config().n_vocab;
    for (int step = 0; step < n; ++step) {
        const float* logits = context.logits(0);
        const int32_t best =
            static_cast<int32_t>(std::max_element(logits, logits + n_vocab) - logits);
        if (best != reference[step]) {
            EXPECT_LE(logits[best] - logits[reference[step]], tie)
                << "step " << step << ": " << best << " instead of " << reference[step];
            return step;
        }
        context.decode(std::vector<int32_t>{best});
    }
    return n;
}

// The logits of the reference's prompt, evaluated in one batch, against llama.cpp's.
test::LogitsComparison prompt_logits_against(const Model& model, const test::Reference& ref) {
    Context context(model, {});
    context.decode(ref.prompt_ids, /*all_logits=*/true);
    const std::vector<float> logits(context.logits(0),
                                    context.logits(0) + ref.prompt_ids.size() * ref.n_vocab);
    return test::compare_logits(ref.logits, logits, ref.n_vocab);
}

class ReferenceModel : public ::testing::TestWithParam<Case> {};

TEST_P(ReferenceModel, LogitsAndGreedyIdsMatchLlamaCpp) {
    const Case& c = GetParam();
    const test::Reference ref = test::load_reference(c.dir, c.name);
    const Model model(ref.model_path);
    ASSERT_EQ(model.config().n_vocab, ref.n_vocab);

    const auto cmp = prompt_logits_against(model, ref);
    RecordProperty("rms", std::to_string(cmp.rms));
    EXPECT_LE(cmp.rms, c.max_rms) << "max |diff| " << cmp.max_abs;
    EXPECT_GE(cmp.top1_agreement, c.min_top1);

    const int n_greedy = static_cast<int>(ref.greedy_ids.size());
    if (c.greedy_must_match) {
        // Float weights: the whole sequence, unless a near tie (0.01 apart: the float-order
        // noise of a different summation) parts it in the second half. mini-BF16 meets one at
        // step 45: tokens 287 and 448 lie 0.005 apart.
        const int matched =
            greedy_steps_matching(model, ref.prompt_ids, ref.greedy_ids, n_greedy, 0.01f);
        EXPECT_GE(matched, n_greedy / 2);
    } else {
        // Quantized: llama.cpp's own sequences part after a few dozen tokens when only its
        // KV cache type changes; ask for the first few, where a step may only differ at a near
        // tie. (mini-Q3_K_M meets one at step 0: tokens 94 and 188 lie 0.05 apart, and
        // mini-Q3_K_S at step 1: 441 and 98, 0.04.)
        greedy_steps_matching(model, ref.prompt_ids, ref.greedy_ids, std::min(4, n_greedy), 0.1f);
    }
}

std::vector<Case> mini_cases() {
    // BF16 rounds every activation to 8 significant bits, so the float-order noise of any
    // summation flips some roundings and moves the logits more than F16's 11 bits do. Batches
    // through OpenBLAS's sgemm (long sequential sums) put mini-BF16 at rms 0.0100-0.0101, so
    // BF16 batches take ember's blocked float kernel (engine/ops.cpp): 0.0097-0.0099. F32 and
    // F16 sit near 0.0005 and 0.0017.
    std::vector<Case> cases = {{"mini", "mini-F32", 0.01, 1.0, true},
                               {"mini", "mini-F16", 0.01, 1.0, true},
                               {"mini", "mini-BF16", 0.01, 1.0, true}};
    for (const char* t : {"Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K_S", "Q3_K_M",
                          "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K"}) {
        cases.push_back({"mini", std::string("mini-") + t, 0.12, 0.90, false});
    }
    return cases;
}

std::vector<Case> stories_5m_cases() {
    std::vector<Case> cases = {{"ember-stories-5M", "ember-stories-5M-F32", 0.01, 1.0, true},
                               {"ember-stories-5M", "ember-stories-5M-F16", 0.01, 1.0, true}};
    for (const char* t : {"Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q4_0", "Q3_K_M", "Q2_K"}) {
        cases.push_back(
            {"ember-stories-5M", std::string("ember-stories-5M-") + t, 0.12, 0.98, false});
    }
    return cases;
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
    std::string name = info.param.name;
    for (char& ch : name) {
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
    }
    return name;
}

INSTANTIATE_TEST_SUITE_P(Mini, ReferenceModel, ::testing::ValuesIn(mini_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(Stories5M, ReferenceModel, ::testing::ValuesIn(stories_5m_cases()),
                         case_name);

// Other architectures (../shared/arch): synthetic near-chaotic models, judged against
// llama.cpp's own spread when only its KV cache type changes (README there): float files to
// rms 0.01 and llama.cpp's greedy ids for the first `greedy_same` steps exactly; quantized
// files to rms max(0.12, 1.5 x spread) and top-1 agreement min(0.90, spread - 0.05).
std::string arch_case_name(const ::testing::TestParamInfo<std::string>& param) {
    std::string name = param.param;
    for (char& ch : name) {
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
    }
    return name;
}

class ArchitectureReference : public ::testing::TestWithParam<std::string> {};

// A file judged against llama.cpp's own spread (the rule above).
void check_within_spread(const test::Reference& ref, bool float_weights) {
    const Model model(ref.model_path);
    ASSERT_EQ(model.config().n_vocab, ref.n_vocab);
    const auto cmp = prompt_logits_against(model, ref);
    ::testing::Test::RecordProperty("rms", std::to_string(cmp.rms));
    ::testing::Test::RecordProperty("top1", std::to_string(cmp.top1_agreement));
    const double max_rms = float_weights ? 0.01 : std::max(0.12, 1.5 * ref.spread_rms);
    // Float files agree at every position, except where llama.cpp itself flips its top token
    // when only its KV cache type changes (a near-tie: mini-qwen3-F32 has one of 58).
    // (The spread is written to 4 decimals: 57/58 reads 0.9828.)
    const double min_top1 =
        float_weights ? (ref.spread_top1 > 0 ? std::min(1.0, ref.spread_top1 - 1e-3) : 1.0)
                      : std::min(0.90, ref.spread_top1 - 0.05);
    EXPECT_LE(cmp.rms, max_rms) << "max |diff| " << cmp.max_abs;
    EXPECT_GE(cmp.top1_agreement, min_top1);

    if (float_weights) {
        const int n = ref.spread_greedy_same;
        EXPECT_EQ(greedy_steps_matching(model, ref.prompt_ids, ref.greedy_ids, n, 0.0f), n);
    } else {
        greedy_steps_matching(model, ref.prompt_ids, ref.greedy_ids,
                              std::min(4, ref.spread_greedy_same), 0.1f);
    }
}

TEST_P(ArchitectureReference, LogitsAndGreedyIdsMatchLlamaCpp) {
    // "arch2/NAME": the 2025-2026 families of ../shared/arch2 (a llama.cpp of August 2026).
    const std::string& param = GetParam();
    const bool arch2 = param.starts_with("arch2/");
    const std::string name = arch2 ? param.substr(6) : param;
    check_within_spread(test::load_reference(arch2 ? "arch2" : "arch", name),
                        name.ends_with("F32") || name.ends_with("F16"));
}

INSTANTIATE_TEST_SUITE_P(Arch, ArchitectureReference,
                         ::testing::Values("mini-llama3-F32", "mini-llama3-Q8_0",
                                           "mini-llama3-Q4_K_M", "mini-qwen2-F32",
                                           "mini-qwen2-Q8_0", "mini-qwen2-Q4_K_M", "mini-phi3-F16",
                                           "mini-phi3-Q8_0", "mini-phi3-Q4_K_M", "mini-gemma2-F16",
                                           "mini-gemma2-Q8_0", "mini-gemma2-Q4_0"),
                         arch_case_name);
INSTANTIATE_TEST_SUITE_P(Arch2, ArchitectureReference,
                         ::testing::Values("arch2/mini-qwen3-F32", "arch2/mini-qwen3-Q8_0",
                                           "arch2/mini-qwen3-Q4_K_M", "arch2/mini-gemma3-F16",
                                           "arch2/mini-gemma3-Q8_0", "arch2/mini-gemma3-Q4_K_M",
                                           "arch2/mini-smollm3-F32", "arch2/mini-smollm3-Q4_K_M",
                                           "arch2/mini-qwen3moe-F32", "arch2/mini-qwen3moe-Q8_0",
                                           "arch2/mini-qwen3moe-Q4_K_M", "arch2/mini-lfm2-F32",
                                           "arch2/mini-lfm2-Q8_0", "arch2/mini-qwen35-F32",
                                           "arch2/mini-qwen35-Q8_0"),
                         arch_case_name);

TEST(Stories260K, GreedyIdsMatchLlamaCppForBothPrompts) {
    for (const char* name : {"stories260K-once", "stories260K-robot"}) {
        SCOPED_TRACE(name);
        const test::Reference ref = test::load_reference("stories260K", name);
        const Model model(ref.model_path);
        EXPECT_EQ(greedy(model, ref.prompt_ids, static_cast<int>(ref.greedy_ids.size())),
                  ref.greedy_ids);
    }
}

// Logits computed one token at a time through the KV cache equal the batched ones.
TEST(KvCache, TokenByTokenLogitsEqualTheBatchedOnes) {
    const test::Reference ref = test::load_reference("mini", "mini-F32");
    const Model model(ref.model_path);
    for (TensorType kv_type : {TensorType::F32, TensorType::F16}) {
        ContextParams params;
        params.kv_type = kv_type;
        Context batched(model, params);
        batched.decode(ref.prompt_ids, true);
        Context stepwise(model, params);
        std::vector<float> step_logits;
        for (int32_t id : ref.prompt_ids) {
            const int32_t one[] = {id};
            stepwise.decode(one);
            step_logits.insert(step_logits.end(), stepwise.logits(0),
                               stepwise.logits(0) + ref.n_vocab);
        }
        const std::vector<float> batch_logits(batched.logits(0),
                                              batched.logits(0) + step_logits.size());
        const auto cmp = test::compare_logits(batch_logits, step_logits, ref.n_vocab);
        EXPECT_LE(cmp.rms, 1e-3) << tensor_type_name(kv_type);
        EXPECT_EQ(cmp.top1_agreement, 1.0);
    }
}

// Load-time packing (ModelOptions::repack) changes only the summation order of the matrix
// products: the logits of a batch and of one token stay within float noise of the mapped-weights
// path (measured: rms <= 6e-7), for every type whose mapped weights also go through panels.
// Where they do not (Q4_1 and Q5_1 on AVX-512; every type on AVX2, which has no panels for
// mapped rows), the mapped batch runs row dot products, another summation order, which the
// 8-bit rounding of later activations amplifies over 58 tokens (measured rms 0.016-0.052 with
// EMBER_KERNELS=avx2): there the batch is held to the top-1 agreement and the statistical bound
// of the llama.cpp comparisons, and one token still to float noise. The packed kernels are
// checked row by row in kernels_simd_test, and the packed model against llama.cpp in
// ReferenceModel (run again with EMBER_KERNELS=avx2 and avx2-vnni, tests/CMakeLists.txt).
TEST(PackedWeights, GiveTheLogitsOfTheMappedWeights) {
    int packed_types = 0;
    for (const char* type :
         {"Q4_0", "Q8_0", "Q2_K", "Q3_K_M", "Q4_K_M", "Q5_K_M", "Q6_K", "Q5_0"}) {
        const std::string name = type;
        const test::Reference ref =
            name == "Q5_0" ? test::load_reference("mini", "mini-Q5_0")  // no such stories file
                           : test::load_reference("ember-stories-5M", "ember-stories-5M-" + name);
        ModelOptions mapped_only;
        mapped_only.repack = false;
        const Model packed(ref.model_path), mapped(ref.model_path, mapped_only);
        EXPECT_EQ(mapped.layers[0].wq.packed, nullptr);
        if (packed.layers[0].wq.packed == nullptr) continue;  // no packing kernels on this CPU
        ++packed_types;
        const bool mapped_panels = packed.layers[0].wq.kernels->gemm8 != nullptr;
        for (int n_tokens : {1, static_cast<int>(ref.prompt_ids.size())}) {
            const std::vector<int32_t> prompt(ref.prompt_ids.begin(),
                                              ref.prompt_ids.begin() + n_tokens);
            Context a(packed, {}), b(mapped, {});
            a.decode(prompt);
            b.decode(prompt);
            const std::vector<float> la(a.logits(0), a.logits(0) + ref.n_vocab),
                lb(b.logits(0), b.logits(0) + ref.n_vocab);
            const auto cmp = test::compare_logits(la, lb, ref.n_vocab);
            const double bound = n_tokens == 1 || mapped_panels ? 1e-4 : 0.12;
            EXPECT_LE(cmp.rms, bound) << type << ", " << n_tokens << " tokens";
            EXPECT_EQ(cmp.top1_agreement, 1.0) << type << ", " << n_tokens << " tokens";
        }
    }
    if (packed_types == 0) GTEST_SKIP() << "no packing kernels on this CPU";
}

TEST(Context, RefusesTokensOutsideTheVocabularyAndContextOverflow) {
    const Model model(test::load_reference("mini", "mini-F32").model_path);
    ContextParams params;
    params.n_ctx = 8;
    Context context(model, params);
    const int32_t bad[] = {1, 512};
    EXPECT_THROW(context.decode(bad), Error);
    const int32_t negative[] = {-1};
    EXPECT_THROW(context.decode(negative), Error);
    const std::vector<int32_t> nine(9, 1);
    EXPECT_THROW(context.decode(nine), Error);
    const std::vector<int32_t> eight(8, 1);
    context.decode(eight);
    const int32_t one_more[] = {1};
    EXPECT_THROW(context.decode(one_more), Error);
    context.truncate(4);
    EXPECT_NO_THROW(context.decode(one_more));
}

// The i-quant and ternary files of ../shared (README there, "i-quants"): every ggml i-quant and
// ternary type, in llama.cpp's mixes, judged by the same spread rule.
class IQuantReference : public ::testing::TestWithParam<std::string> {};

TEST_P(IQuantReference, LogitsAndGreedyIdsMatchLlamaCpp) {
    const std::string& name = GetParam();
    const std::string dir = name.starts_with("mini-") ? "mini" : "ember-stories-5M";
    check_within_spread(test::load_reference(dir, name), /*float_weights=*/false);
}

INSTANTIATE_TEST_SUITE_P(
    IQuants, IQuantReference,
    ::testing::Values("mini-IQ4_NL", "mini-IQ4_XS", "mini-IQ3_XXS", "mini-IQ2_XXS", "mini-IQ2_XS",
                      "mini-IQ1_S", "mini-IQ1_M", "mini-TQ1_0", "mini-TQ2_0",
                      "ember-stories-5M-IQ4_NL", "ember-stories-5M-IQ4_XS",
                      "ember-stories-5M-IQ3_XXS", "ember-stories-5M-IQ3_S",
                      "ember-stories-5M-IQ3_M", "ember-stories-5M-IQ2_XXS",
                      "ember-stories-5M-IQ2_XS", "ember-stories-5M-IQ2_M", "ember-stories-5M-IQ1_S",
                      "ember-stories-5M-IQ1_M", "ember-stories-5M-TQ1_0", "ember-stories-5M-TQ2_0",
                      "ember-stories-5M-Q4_K_M-imat", "ember-stories-5M-Q2_K-imat"),
    arch_case_name);

}  // namespace
}  // namespace ember
