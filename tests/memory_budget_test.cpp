// What a context says it takes (memory_use: ember inspect --memory, the load line) against what
// it allocates, and the memory budget (ContextParams::max_memory, --max-memory, the C API's
// max_memory): a default context shrinks to fit, a given one is refused with what would fit.
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace ember
