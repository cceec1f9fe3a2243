// Several sequences in one forward pass (Context::decode_sequences, continuous batching): each
// sequence's logits and greedy continuation are those it gets alone in its own context.
#include <gtest/gtest.h>

#include <algorithm>

#include "engine/model/context.h"
#include "formats/error.h"
#include "tests/reference_data.h"
#include "tests/shared_data.h"

namespace ember {
namespace {

int32_t argmax(const float* logits, int n) {
    return static_cast<int32_t>(std::max_element(logits, logits + n) - logits);
}

// Prompt i's greedy continuation of n tokens, alone in a context.
std::vector<int32_t> greedy_alone(const Model& model, const std::vector<int32_t>& prompt, int n,
                                  std::vector<float>* first_logits) {
    ContextParams params;
    params.n_ctx = 128;
    Context context(model, params);
    context.decode(prompt);
    const int n_vocab = context.n_vocab();
    if (first_logits != nullptr) first_logits->assign(context.logits(), context.logits() + n_vocab);
    std::vector<int32_t> out;
    for (int step = 0; step < n; ++step) {
        out.push_back(argmax(context.logits(), n_vocab));
        context.decode(std::vector<int32_t>{out.back()});
    }
    return out;
}

// max_rms: how far the prompt's logits may move when the batch holds other sequences too (the
// matrix products then sum in another order: a float GEMM instead of row dot products).
void expect_batched_equals_alone(const std::string& model_path, double max_rms) {
    SCOPED_TRACE(model_path);
    const Model model(model_path);
    const int n_vocab = model.config().n_vocab;
    const std::vector<std::vector<int32_t>> prompts = {
        {1, 403, 407, 261, 378},
        {1,   20,  30,  40,  50,  60,  70,  80,  90,  100, 110, 120, 130, 140, 150, 160, 170, 180,
         190, 200, 210, 220, 230, 240, 250, 260, 270, 280, 290, 300, 310, 320, 330, 340, 350},
        {1, 99}};
    constexpr int kSteps = 12;
    std::vector<std::vector<int32_t>> expected(prompts.size());
    std::vector<std::vector<float>> expected_logits(prompts.size());
    for (size_t i = 0; i < prompts.size(); ++i) {
        expected[i] = greedy_alone(model, prompts[i], kSteps, &expected_logits[i]);
    }

    ContextParams params;
    params.n_ctx = 128;
    params.n_seq = 3;
    Context context(model, params);
    // Sequence 2's prompt waits one step: the first pass holds two prompts, the second a
    // prompt beside the first generated tokens of the others (prefill and generation mixed).
    std::vector<std::vector<int32_t>> got(prompts.size());
    std::vector<int32_t> next(prompts.size(), -1);
    for (int step = 0; step <= kSteps + 1; ++step) {
        std::vector<SequenceTokens> inputs;
        std::vector<int> seq_of_input;
        std::vector<std::vector<int32_t>> single(prompts.size());
        for (int s = 0; s < 3; ++s) {
            const int start = s == 2 ? 1 : 0;  // the step at which sequence s begins
            if (step < start || static_cast<int>(got[s].size()) == kSteps) continue;
            if (step == start) {
                inputs.push_back({s, prompts[s]});
            } else {
                single[s] = {next[s]};
                inputs.push_back({s, single[s]});
            }
            seq_of_input.push_back(s);
        }
        if (inputs.empty()) break;
        context.decode_sequences(inputs);
        for (size_t i = 0; i < inputs.size(); ++i) {
            const int s = seq_of_input[i];
            const float* logits = context.sequence_logits(static_cast<int>(i));
            if (got[s].empty()) {  // the prompt's logits, against the lone context's
                const auto cmp = test::compare_logits(
                    expected_logits[s], std::vector<float>(logits, logits + n_vocab), n_vocab);
                EXPECT_LE(cmp.rms, max_rms) << "sequence " << s;
            }
            next[s] = argmax(logits, n_vocab);
            got[s].push_back(next[s]);
        }
    }
    for (size_t s = 0; s < prompts.size(); ++s) {
        EXPECT_EQ(got[s], expected[s]) << "sequence " << s;
        EXPECT_EQ(context.n_past(static_cast<int>(s)),
                  static_cast<int>(prompts[s].size()) + kSteps - 1);
    }
}

TEST(BatchedDecode, EachSequenceAsIfAlone) {
    expect_batched_equals_alone(
        test::shared_path("models/ember-stories-5M/ember-stories-5M-F32.gguf").string(), 1e-3);
    expect_batched_equals_alone(
        test::shared_path("models/ember-stories-5M/ember-stories-5M-Q4_K_M.gguf").string(), 1e-3);
    // Sliding windows and soft-caps per sequence (Gemma 2's window is 16 positions here); a
    // near-chaotic random model of 26 layers, held to the float bound of the reference tests.
    expect_batched_equals_alone(test::shared_path("arch/models/mini-gemma2-F16.gguf").string(),
                                0.01);
    // gemma3's five local layers to one global, each with its RoPE base; qwen3's QK-norm.
    expect_batched_equals_alone(test::shared_path("arch2/models/mini-gemma3-F16.gguf").string(),
                                0.01);
    expect_batched_equals_alone(test::shared_path("arch2/models/mini-qwen3-F32.gguf").string(),
                                0.01);
    // Experts: a batch grouped by expert gives each token what it gets alone.
    expect_batched_equals_alone(test::shared_path("arch2/models/mini-qwen3moe-F32.gguf").string(),
                                0.01);
    // Short convolutions: each sequence's state apart from the others'.
    expect_batched_equals_alone(test::shared_path("arch2/models/mini-lfm2-F32.gguf").string(),
                                0.01);
    // Gated DeltaNet: each sequence's convolution window and head matrices apart.
    expect_batched_equals_alone(test::shared_path("arch2/models/mini-qwen35-F32.gguf").string(),
                                0.01);
}

// A sequence's dropped positions given back to the system (whole pages: the 5M model's heads
// are 48 values, so 590 positions span many pages) change nothing that is computed afterwards:
// the same calls with and without the release give the same logits, bit for bit, for the
// refilled sequence and for the other one.
TEST(BatchedDecode, ReleasingDroppedPositionsChangesNoResult) {
    const Model model(
        test::shared_path("models/ember-stories-5M/ember-stories-5M-F32.gguf").string());
    std::vector<int32_t> a(600), b(700);
    for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<int32_t>(1 + (i * 7) % 500);
    for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<int32_t>(1 + (i * 13) % 500);
    const int32_t next = 42;
    std::vector<std::vector<float>> results[2];
    for (int release = 0; release < 2; ++release) {
        ContextParams params;
        params.n_ctx = 1024;
        params.n_seq = 2;
        params.n_threads = 2;
        Context context(model, params);
        const auto logits_after = [&](int seq, std::span<const int32_t> tokens) {
            for (size_t at = 0; at < tokens.size(); at += 256) {
                const auto chunk = tokens.subspan(at, std::min<size_t>(256, tokens.size() - at));
                context.decode_sequences(std::vector<SequenceTokens>{{seq, chunk}});
            }
            const float* l = context.sequence_logits(0);
            return std::vector<float>(l, l + context.n_vocab());
        };
        logits_after(0, a);
        logits_after(1, b);
        context.truncate(0, 10, release == 1);  // most of sequence 0's pages go
        results[release].push_back(logits_after(1, std::span<const int32_t>(&next, 1)));
        results[release].push_back(logits_after(0, std::span<const int32_t>(a).subspan(10)));
        context.truncate(0, 0, release == 1);
        results[release].push_back(logits_after(0, a));
        EXPECT_EQ(context.n_past(0), 600);
        EXPECT_EQ(context.n_past(1), 701);
    }
    EXPECT_EQ(results[0], results[1]);
}

TEST(BatchedDecode, RefusesWhatDoesNotFit) {
    const Model model(test::shared_path("models/stories260K.gguf").string());
    ContextParams params;
    params.n_ctx = 8;
    params.n_seq = 2;
    Context context(model, params);
    const std::vector<int32_t> four = {1, 2, 3, 4}, six = {1, 2, 3, 4, 5, 6};
    EXPECT_THROW(context.decode_sequences(std::vector<SequenceTokens>{{2, four}}), Error);
    EXPECT_THROW(context.decode_sequences(std::vector<SequenceTokens>{{0, four}, {0, four}}),
                 Error);
    // 12 tokens: more than the batch (at most the context, 8).
    EXPECT_THROW(context.decode_sequences(std::vector<SequenceTokens>{{0, six}, {1, six}}), Error);
    context.decode_sequences(std::vector<SequenceTokens>{{0, six}});
    EXPECT_THROW(context.decode_sequences(std::vector<SequenceTokens>{{0, four}}),
                 ContextFullError);
    EXPECT_EQ(context.n_past(0), 6);
    EXPECT_EQ(context.n_past(1), 0);
    context.truncate(0, 2);
    EXPECT_NO_THROW(context.decode_sequences(std::vector<SequenceTokens>{{0, four}, {1, four}}));
    EXPECT_EQ(context.n_past(0), 6);
    EXPECT_EQ(context.n_past(1), 4);
    ContextParams bad;
    bad.n_seq = 0;
    EXPECT_THROW(Context(model, bad), Error);
}

}  // namespace
}  // namespace ember
