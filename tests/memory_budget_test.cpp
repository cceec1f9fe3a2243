// What a context says it takes (memory_use: ember inspect --memory, the load line) against what
// it allocates, and the memory budget (ContextParams::max_memory, --max-memory, the C API's
// max_memory): a default context shrinks to fit, a given one is refused with what would fit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "ember.h"
#include "engine/model/context.h"
#include "formats/error.h"
#include "tests/shared_data.h"

namespace ember {
namespace {

TEST(MemoryUse, TheKvCacheIsWhatTheContextAllocates) {
    const Model model(
        test::shared_path("models/ember-stories-5M/ember-stories-5M-F16.gguf").string());
    for (TensorType type : {TensorType::F32, TensorType::F16, TensorType::Q8_0, TensorType::Q4_0}) {
        SCOPED_TRACE(std::string(tensor_type_name(type)));
        ContextParams p;
        p.kv_type = type;
        p.n_seq = 3;
        p.n_ctx = 200;
        const Context context(model, p);
        const MemoryUse use = context.memory();
        EXPECT_EQ(use.kv_cache, context.kv_cache().bytes());
        EXPECT_EQ(use.weights, weight_bytes(model.file()));
        EXPECT_GT(use.scratch, 0u);
        EXPECT_EQ(use.total(), use.weights + use.kv_cache + use.scratch);
    }
}

TEST(MemoryBudget, ADefaultContextShrinksAGivenOneIsRefused) {
    const Model model(test::shared_path("models/stories260K.gguf").string());
    ContextParams p;
    p.n_threads = 1;
    p.n_ctx = 512;
    p.n_batch = 512;
    const uint64_t budget = memory_use(model.config(), weight_bytes(model.file()), p).total();

    ContextParams shrink;
    shrink.n_threads = 1;
    shrink.max_memory = budget;
    const Context shrunk(model, shrink);
    EXPECT_EQ(shrunk.n_ctx(), 512);  // the largest that fits: exactly the 512 measured
    EXPECT_LE(shrunk.memory().total(), budget);

    ContextParams given = shrink;
    given.n_ctx = 2048;
    try {
        const Context refused(model, given);
        FAIL() << "a 2048-token context over the budget was not refused";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("at most 512 tokens fit"), std::string::npos)
            << e.what();
    }
    shrink.max_memory = weight_bytes(model.file()) / 2;
    try {
        const Context refused(model, shrink);
        FAIL() << "a budget below the weights was not refused";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("not even 16 tokens fit"), std::string::npos)
            << e.what();
    }
}

TEST(MemoryBudget, TheCApiShrinksTheContextToo) {
    ember_model* model = nullptr;
    ASSERT_EQ(ember_model_load(test::shared_path("models/stories260K.gguf").c_str(), nullptr,
                               &model, nullptr, 0),
              EMBER_OK);
    ember_session_params p = ember_session_default_params();
    p.n_threads = 1;
    ember_session* session = nullptr;
    ASSERT_EQ(ember_session_create(model, &p, &session, nullptr, 0), EMBER_OK);
    EXPECT_EQ(ember_session_n_ctx(session), 2048);
    ember_session_free(session);
    p.max_memory = 2'000'000;  // 1.2 MB of weights: room for a few hundred positions
    ASSERT_EQ(ember_session_create(model, &p, &session, nullptr, 0), EMBER_OK);
    EXPECT_GT(ember_session_n_ctx(session), 16);
    EXPECT_LT(ember_session_n_ctx(session), 2048);
    ember_session_free(session);
    p.n_ctx = 2048;
    char error[256] = "";
    EXPECT_NE(ember_session_create(model, &p, &session, error, sizeof(error)), EMBER_OK);
    EXPECT_NE(std::string(error).find("tokens fit"), std::string::npos) << error;
    ember_model_free(model);
}

// A mixture of experts with its experts left in the mapping: the budget counts the share of
// them a token reads, the context that fits is the one that fits with that count, and the
// logits are those of the packed model.
TEST(MemoryBudget, MappedExpertsCountAsWhatATokenReads) {
    const std::string path = test::shared_path("arch2/models/mini-qwen3moe-Q8_0.gguf").string();
    ModelOptions mapped_options;
    mapped_options.pack_experts = false;
    const Model packed(path), mapped(path, mapped_options);
    const ModelConfig& c = packed.config();
    ASSERT_GT(c.n_expert, c.n_expert_used);
    EXPECT_FALSE(packed.experts_mapped());
    EXPECT_TRUE(mapped.experts_mapped());
    uint64_t all = 0, experts = 0;
    for (const auto& t : packed.file().tensors()) {
        all += t.n_bytes;
        if (t.name.find("_exps.") != std::string_view::npos) experts += t.n_bytes;
    }
    ASSERT_GT(experts, 0u);
    EXPECT_EQ(resident_weight_bytes(c, packed.file(), packed.experts_mapped()), all);
    const uint64_t active = all - experts + experts / c.n_expert * c.n_expert_used;
    EXPECT_EQ(resident_weight_bytes(c, mapped.file(), mapped.experts_mapped()), active);

    ContextParams p;
    p.n_threads = 1;
    p.n_ctx = 128;  // below the file's training context of 256
    p.n_batch = 128;
    const uint64_t budget = memory_use(c, active, p).total();
    ContextParams under;
    under.n_threads = 1;
    under.max_memory = budget;
    const Context fits(mapped, under);
    EXPECT_EQ(fits.memory().weights, active);
    EXPECT_EQ(fits.n_ctx(), 128);  // the largest that fits: exactly the 128 measured
    EXPECT_LE(fits.memory().total(), budget);
    // Counting every expert, less fits.
    const Context packed_fits(packed, under);
    EXPECT_EQ(packed_fits.memory().weights, all);
    EXPECT_LT(packed_fits.n_ctx(), 128);

    // The mapped experts compute what the packed ones do.
    const std::vector<int32_t> tokens = {1, 5, 9, 200, 33, 7, 64, 128};
    Context a(packed, p), b(mapped, p);
    a.decode(tokens, /*all_logits=*/true);
    b.decode(tokens, /*all_logits=*/true);
    double worst = 0, scale = 0;
    for (size_t i = 0; i < tokens.size() * c.n_vocab; ++i) {
        worst = std::max(worst, static_cast<double>(std::fabs(a.logits(0)[i] - b.logits(0)[i])));
        scale = std::max(scale, static_cast<double>(std::fabs(a.logits(0)[i])));
    }
    EXPECT_LE(worst, 1e-3 * scale);
}

// IQ1_M, whose packing on x86 with VNNI unpacks its values: the memory counts the growth (as
// inspect --memory foretells it from the file), ModelOptions::unpack off leaves those matrices
// mapped (the tools' choice under --max-memory), and both compute the same logits.
TEST(MemoryUse, UnpackedWeightsAreCountedAndOptional) {
    const std::string path =
        test::shared_path("models/ember-stories-5M/ember-stories-5M-IQ1_M.gguf").string();
    ModelOptions mapped_options;
    mapped_options.unpack = false;
    const Model unpacked(path), mapped(path, mapped_options);
    EXPECT_EQ(mapped.unpacked_bytes(), 0u);
    EXPECT_EQ(unpacked.unpacked_bytes(), unpacked_bytes(unpacked.file()));
    if (unpacked.unpacked_bytes() == 0) GTEST_SKIP() << "no kernel set here unpacks IQ1_M";
    ContextParams p;
    p.n_threads = 1;
    p.n_ctx = 64;
    p.n_batch = 64;
    Context a(unpacked, p), b(mapped, p);
    EXPECT_EQ(a.memory().weights, weight_bytes(unpacked.file()) + unpacked.unpacked_bytes());
    EXPECT_EQ(b.memory().weights, weight_bytes(mapped.file()));
    // 36% more for the IQ1_M matrices (608 bytes for 8 rows' 448).
    uint64_t iq1_m = 0;
    for (const auto& t : unpacked.file().tensors())
        if (t.type == TensorType::IQ1_M && t.name != "token_embd.weight") iq1_m += t.n_bytes;
    EXPECT_EQ(unpacked.unpacked_bytes(), iq1_m / 448 * 160);

    const std::vector<int32_t> tokens = {1, 5, 9, 200, 33, 7, 64, 128};
    a.decode(tokens, /*all_logits=*/true);
    b.decode(tokens, /*all_logits=*/true);
    const int n_vocab = unpacked.config().n_vocab;
    double worst = 0, scale = 0;
    for (size_t i = 0; i < tokens.size() * n_vocab; ++i) {
        worst = std::max(worst, static_cast<double>(std::fabs(a.logits(0)[i] - b.logits(0)[i])));
        scale = std::max(scale, static_cast<double>(std::fabs(a.logits(0)[i])));
    }
    EXPECT_LE(worst, 1e-3 * scale);
}

}  // namespace
}  // namespace ember
