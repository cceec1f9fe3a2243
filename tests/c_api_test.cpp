// The public C API (ember.h) and the C++ wrapper (ember.hpp) as an application uses them.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "ember.hpp"
#include "tests/shared_data.h"

namespace {

std::string bundled_model() {
    return std::string(EMBER_SOURCE_DIR) + "/models/stories260K.gguf";
}

struct Collected {
    std::string text;
    int calls = 0;
    int stop_after = -1;  // return false on this call
};

bool collect(const char* text, size_t length, void* user_data) {
    auto* c = static_cast<Collected*>(user_data);
    c->text.append(text, length);
    return ++c->calls != c->stop_after;
}

ember_session_params greedy_params() {
    ember_session_params p = ember_session_default_params();
    p.sampling.temperature = 0.0f;
    p.n_threads = 1;
    return p;
}

class CApi : public ::testing::Test {
  protected:
    void SetUp() override {
        char error[256];
        ASSERT_EQ(ember_model_load(bundled_model().c_str(), nullptr, &model_, error, sizeof(error)),
                  EMBER_OK)
            << error;
    }
    void TearDown() override { ember_model_free(model_); }
    // A greedy one-thread session on the bundled model (free it), or null after a failure.
    ember_session* greedy_session() {
        const ember_session_params params = greedy_params();
        ember_session* session = nullptr;
        EXPECT_EQ(ember_session_create(model_, &params, &session, nullptr, 0), EMBER_OK);
        return session;
    }
    ember_model* model_ = nullptr;
};

TEST(CApiErrors, BadArgumentsReturnErrorsNeverCrash) {
    char error[256] = "";
    ember_model* model = reinterpret_cast<ember_model*>(0x1);
    EXPECT_EQ(ember_model_load(nullptr, nullptr, &model, error, sizeof(error)),
              EMBER_ERROR_INVALID_ARGUMENT);
    EXPECT_EQ(ember_model_load("x.gguf", nullptr, nullptr, nullptr, 0),
              EMBER_ERROR_INVALID_ARGUMENT);
    EXPECT_EQ(ember_model_load("/nonexistent/model.gguf", nullptr, &model, error, sizeof(error)),
              EMBER_ERROR_FILE);
    EXPECT_EQ(model, nullptr);
    EXPECT_NE(std::string(error).find("/nonexistent/model.gguf"), std::string::npos) << error;

    // A valid GGUF file that is not a model ember can run: a vocabulary-only file.
    const std::string vocab = ember::test::shared_path("vocab/ggml-vocab-gpt-2.gguf").string();
    EXPECT_EQ(ember_model_load(vocab.c_str(), nullptr, &model, error, sizeof(error)),
              EMBER_ERROR_FORMAT);
    EXPECT_NE(std::string(error).find("architecture 'gpt2'"), std::string::npos) << error;
    // A message buffer of one byte still gets a terminator.
    char tiny[1] = {'x'};
    EXPECT_EQ(ember_model_load("/nonexistent.gguf", nullptr, &model, tiny, 1), EMBER_ERROR_FILE);
    EXPECT_EQ(tiny[0], '\0');

    ember_session* session = nullptr;
    EXPECT_EQ(ember_session_create(nullptr, nullptr, &session, error, sizeof(error)),
              EMBER_ERROR_INVALID_ARGUMENT);
    EXPECT_EQ(ember_session_append(nullptr, "x", 1), EMBER_ERROR_INVALID_ARGUMENT);
    EXPECT_EQ(ember_generate(nullptr, "x", nullptr, collect, nullptr, nullptr),
              EMBER_ERROR_INVALID_ARGUMENT);
    size_t n = 0;
    EXPECT_EQ(ember_tokenize(nullptr, "x", 1, true, true, nullptr, 0, &n),
              EMBER_ERROR_INVALID_ARGUMENT);
    EXPECT_EQ(ember_model_n_vocab(nullptr), 0);
    EXPECT_EQ(ember_session_logits(nullptr), nullptr);
    ember_model_free(nullptr);
    ember_session_free(nullptr);
    ember_session_cancel(nullptr);
    EXPECT_STREQ(ember_status_string(EMBER_ERROR_CONTEXT_FULL), "context full");
    EXPECT_STREQ(ember_version(), EMBER_VERSION_STRING);
}

// Parameters out of their domain are refused with a message, never run: a context that cannot
// fit in memory, more threads than 4x the CPUs, a top_p of 2, a NaN temperature.
TEST_F(CApi, SessionParametersOutsideTheirDomainAreRefused) {
    const auto refused = [&](const ember_session_params& p, const char* phrase) {
        char error[256] = "";
        ember_session* session = nullptr;
        EXPECT_NE(ember_session_create(model_, &p, &session, error, sizeof(error)), EMBER_OK);
        EXPECT_EQ(session, nullptr);
        EXPECT_NE(std::string(error).find(phrase), std::string::npos) << error;
    };
    ember_session_params p = ember_session_default_params();
    p.n_ctx = 1 << 30;
    refused(p, "available");
    p = ember_session_default_params();
    p.n_threads = 100000;
    refused(p, "CPUs this process may use");
    p = ember_session_default_params();
    p.sampling.top_p = 2;
    refused(p, "top_p");
    p = ember_session_default_params();
    p.sampling.temperature = std::nanf("");
    refused(p, "temperature");
    // The bundled model's heads have 8 values: no room for blocks of 32.
    p = ember_session_default_params();
    p.kv_type = EMBER_KV_Q8_0;
    refused(p, "blocks of 32");
    p.kv_type = 7;
    refused(p, "unknown kv_type 7");
}

// A quantized KV cache through the C API, on a model whose heads hold 32 values: greedy text
// close to the F16 cache's (the same opening), in about half the memory.
TEST(CApiKvTypes, QuantizedCacheGeneratesTheSameOpening) {
    ember_model* model = nullptr;
    const std::string path =
        ember::test::shared_path("models/ember-stories-5M/ember-stories-5M-F16.gguf").string();
    ASSERT_EQ(ember_model_load(path.c_str(), nullptr, &model, nullptr, 0), EMBER_OK);
    std::string texts[3];
    const int32_t types[3] = {EMBER_KV_F16, EMBER_KV_Q8_0, EMBER_KV_Q4_0};
    for (int i = 0; i < 3; ++i) {
        ember_session_params p = ember_session_default_params();
        p.sampling.temperature = 0;
        p.kv_type = types[i];
        ember_session* session = nullptr;
        ASSERT_EQ(ember_session_create(model, &p, &session, nullptr, 0), EMBER_OK);
        ember_generate_params gp = ember_generate_default_params();
        gp.n_predict = 24;
        Collected out;
        ASSERT_EQ(ember_generate(session, "Once upon a time", &gp, collect, &out, nullptr),
                  EMBER_OK);
        texts[i] = out.text;
        ember_session_free(session);
    }
    EXPECT_EQ(texts[1], texts[0]);
    EXPECT_EQ(texts[2].substr(0, 20), texts[0].substr(0, 20));
    ember_model_free(model);
}

// Speculative decoding through the C API: a draft model (or lookup) gives the text of plain
// generation, and the stats count the guesses; a draft and lookup at once are refused (other
// refusals: speculative_test).
TEST(CApiSpeculation, DraftAndLookupGiveThePlainText) {
    const std::string dir = ember::test::shared_path("models/ember-stories-5M/").string();
    ember_model* target = nullptr;
    ember_model* draft = nullptr;
    ASSERT_EQ(
        ember_model_load((dir + "ember-stories-5M-F32.gguf").c_str(), nullptr, &target, nullptr, 0),
        EMBER_OK);
    ASSERT_EQ(
        ember_model_load((dir + "ember-stories-5M-Q4_0.gguf").c_str(), nullptr, &draft, nullptr, 0),
        EMBER_OK);
    const auto generate = [&](const ember_model* d, int32_t lookup, ember_generate_stats* stats) {
        ember_session_params p = ember_session_default_params();
        p.sampling.temperature = 0;
        p.draft_model = d;
        p.draft_max = 6;
        p.lookup = lookup;
        ember_session* session = nullptr;
        EXPECT_EQ(ember_session_create(target, &p, &session, nullptr, 0), EMBER_OK);
        ember_generate_params gp = ember_generate_default_params();
        gp.n_predict = 64;
        Collected out;
        EXPECT_EQ(ember_generate(session, "Once upon a time", &gp, collect, &out, stats), EMBER_OK);
        ember_session_free(session);
        return out.text;
    };
    ember_generate_stats plain{}, drafted{}, looked_up{};
    const std::string text = generate(nullptr, 0, &plain);
    EXPECT_EQ(plain.n_drafted, 0);
    EXPECT_EQ(generate(draft, 0, &drafted), text);
    EXPECT_GT(drafted.n_drafted, 0);
    EXPECT_GT(drafted.n_accepted, 0);
    EXPECT_LE(drafted.n_accepted, drafted.n_drafted);
    EXPECT_EQ(generate(nullptr, 8, &looked_up), text);

    ember_session_params both = ember_session_default_params();
    both.draft_model = draft;
    both.lookup = 4;
    ember_session* session = nullptr;
    char error[256] = "";
    EXPECT_EQ(ember_session_create(target, &both, &session, error, sizeof(error)),
              EMBER_ERROR_INVALID_ARGUMENT);
    EXPECT_EQ(session, nullptr);
    EXPECT_NE(std::string(error).find("not both"), std::string::npos) << error;
    ember_model_free(draft);
    ember_model_free(target);
}

TEST_F(CApi, TokenizeAndDetokenizeWithBufferSizes) {
    EXPECT_EQ(ember_model_n_vocab(model_), 512);
    EXPECT_EQ(ember_model_bos(model_), 1);
    size_t n = 0;
    ember_token tokens[2];
    EXPECT_EQ(ember_tokenize(model_, "Once upon a time", 16, true, true, tokens, 2, &n),
              EMBER_ERROR_BUFFER_TOO_SMALL);
    EXPECT_EQ(n, 5u);
    std::vector<ember_token> all(n);
    ASSERT_EQ(
        ember_tokenize(model_, "Once upon a time", 16, true, true, all.data(), all.size(), &n),
        EMBER_OK);
    EXPECT_EQ(all, (std::vector<ember_token>{1, 403, 407, 261, 378}));
    char text[64];
    size_t length = 0;
    ASSERT_EQ(ember_detokenize(model_, all.data(), all.size(), text, sizeof(text), &length),
              EMBER_OK);
    EXPECT_EQ(std::string(text, length), "Once upon a time");
    EXPECT_EQ(ember_detokenize(model_, all.data(), all.size(), text, 3, &length),
              EMBER_ERROR_BUFFER_TOO_SMALL);
    EXPECT_EQ(length, 16u);
    const ember_token bad[] = {99999};
    EXPECT_EQ(ember_detokenize(model_, bad, 1, text, sizeof(text), &length),
              EMBER_OK);  // unknown ids: no text
    EXPECT_EQ(length, 0u);
}

TEST_F(CApi, GreedyGenerationStreamsLlamaCppsStory) {
    ember_session* session = nullptr;
    const ember_session_params params = greedy_params();
    ASSERT_EQ(ember_session_create(model_, &params, &session, nullptr, 0), EMBER_OK);
    ember_generate_params gp = ember_generate_default_params();
    gp.n_predict = 200;
    Collected out;
    ember_generate_stats stats{};
    ASSERT_EQ(ember_generate(session, "Once upon a time", &gp, collect, &out, &stats), EMBER_OK);
    const auto expected = ember::test::read_file(
        ember::test::shared_path("reference/stories260K/stories260K-once.txt"));
    EXPECT_EQ(out.text, std::string(expected.begin(), expected.end()));
    EXPECT_GT(out.calls, 100);
    EXPECT_EQ(stats.n_prompt_tokens, 5);
    EXPECT_EQ(stats.n_generated_tokens, 200);
    EXPECT_EQ(stats.stop_reason, 2);
    ember_session_free(session);
}

// An app suspended mid-conversation: the state saved to memory (size asked first) and to a
// file, restored into new sessions, which go on with the same reply (sampling on: the
// sampler's state travels too); a damaged state is refused with its reason.
TEST_F(CApi, SavedStateResumesTheConversation) {
    ember_session_params params = ember_session_default_params();
    params.sampling.seed = 9;
    ember_session* session = nullptr;
    ASSERT_EQ(ember_session_create(model_, &params, &session, nullptr, 0), EMBER_OK);
    ember_generate_params gp = ember_generate_default_params();
    gp.n_predict = 30;
    Collected first;
    ASSERT_EQ(ember_generate(session, "Once upon a time", &gp, collect, &first, nullptr), EMBER_OK);

    size_t size = 0;
    ASSERT_EQ(ember_session_save_state(session, nullptr, 0, &size), EMBER_ERROR_BUFFER_TOO_SMALL);
    ASSERT_GT(size, 0u);
    std::vector<uint8_t> state(size);
    ASSERT_EQ(ember_session_save_state(session, state.data(), state.size(), &size), EMBER_OK);
    const std::string path = (ember::test::temp_dir("c-api-state") / "s.state").string();
    char error[256] = "";
    ASSERT_EQ(ember_session_save_file(session, path.c_str(), error, sizeof(error)), EMBER_OK)
        << error;
    Collected want;
    ASSERT_EQ(ember_generate(session, " The dog", &gp, collect, &want, nullptr), EMBER_OK);
    ember_session_free(session);

    for (int from_file = 0; from_file < 2; ++from_file) {
        ember_session* resumed = nullptr;
        ASSERT_EQ(ember_session_create(model_, &params, &resumed, nullptr, 0), EMBER_OK);
        ASSERT_EQ(from_file ? ember_session_load_file(resumed, path.c_str(), error, sizeof(error))
                            : ember_session_load_state(resumed, state.data(), state.size(), error,
                                                       sizeof(error)),
                  EMBER_OK)
            << error;
        Collected got;
        ember_generate_stats stats{};
        ASSERT_EQ(ember_generate(resumed, " The dog", &gp, collect, &got, &stats), EMBER_OK);
        EXPECT_EQ(got.text, want.text);
        ember_session_free(resumed);
    }

    ember_session* other = nullptr;
    ASSERT_EQ(ember_session_create(model_, &params, &other, nullptr, 0), EMBER_OK);
    state[state.size() / 2] ^= 4;
    EXPECT_EQ(ember_session_load_state(other, state.data(), state.size(), error, sizeof(error)),
              EMBER_ERROR_FORMAT);
    EXPECT_NE(std::string(error).find("damaged"), std::string::npos) << error;
    EXPECT_EQ(ember_session_n_tokens(other), 0);
    EXPECT_EQ(ember_session_load_file(other, "/nonexistent/state", error, sizeof(error)),
              EMBER_ERROR_FILE);
    EXPECT_EQ(ember_session_load_state(nullptr, state.data(), state.size(), error, sizeof(error)),
              EMBER_ERROR_INVALID_ARGUMENT);
    ember_session_free(other);
    std::filesystem::remove_all(std::filesystem::path(path).parent_path());
}

TEST_F(CApi, StopStringsEndTheTextBeforeThem) {
    ember_session* session = nullptr;
    const ember_session_params params = greedy_params();
    ASSERT_EQ(ember_session_create(model_, &params, &session, nullptr, 0), EMBER_OK);
    const char* stops[] = {"Lily"};
    ember_generate_params gp = ember_generate_default_params();
    gp.stop_strings = stops;
    gp.n_stop_strings = 1;
    Collected out;
    ember_generate_stats stats{};
    ASSERT_EQ(ember_generate(session, "Once upon a time", &gp, collect, &out, &stats), EMBER_OK);
    EXPECT_EQ(out.text, ", there was a little girl named ");
    EXPECT_EQ(stats.stop_reason, 1);
    // The session keeps exactly the emitted text: prompt + ", there was a little girl named".
    std::vector<ember_token> expected(64);
    size_t n = 0;
    ASSERT_EQ(ember_tokenize(model_, "Once upon a time, there was a little girl named", 47, true,
                             true, expected.data(), expected.size(), &n),
              EMBER_OK);
    EXPECT_LE(ember_session_n_tokens(session), static_cast<int32_t>(n) + 1);
    ember_session_free(session);
}

TEST_F(CApi, CallbackReturningFalseStops) {
    ember_session* session = nullptr;
    ASSERT_EQ(ember_session_create(model_, nullptr, &session, nullptr, 0), EMBER_OK);
    Collected out;
    out.stop_after = 3;
    ember_generate_stats stats{};
    ASSERT_EQ(ember_generate(session, "Once", nullptr, collect, &out, &stats), EMBER_OK);
    EXPECT_EQ(out.calls, 3);
    EXPECT_EQ(stats.stop_reason, 3);
    ember_session_free(session);
}

TEST_F(CApi, SecondTurnEvaluatesOnlyItsNewTokens) {
    ember_session* session = nullptr;
    const ember_session_params params = greedy_params();
    ASSERT_EQ(ember_session_create(model_, &params, &session, nullptr, 0), EMBER_OK);
    ember_generate_params gp = ember_generate_default_params();
    gp.n_predict = 10;
    Collected out;
    ember_generate_stats stats{};
    ASSERT_EQ(ember_generate(session, "Once upon a time", &gp, collect, &out, &stats), EMBER_OK);
    EXPECT_EQ(stats.n_prompt_tokens, 5);
    const int32_t after_first = ember_session_n_tokens(session);
    ASSERT_EQ(ember_generate(session, " The end.", &gp, collect, &out, &stats), EMBER_OK);
    // " The end." is 3-4 tokens, plus the last token of turn one, sampled but not yet evaluated.
    EXPECT_LE(stats.n_prompt_tokens, 6);
    EXPECT_GT(ember_session_n_tokens(session), after_first);
    ASSERT_EQ(ember_session_reset(session), EMBER_OK);
    EXPECT_EQ(ember_session_n_tokens(session), 0);
    ember_session_free(session);
}

// ember_session_set_prompt: a stateless caller's reply depends on its prompt and sampling only,
// whatever the session held before, and equals a fresh session's.
TEST_F(CApi, SetPromptStartsOverAsAFreshSessionWould) {
    ember_session_params params = greedy_params();
    params.sampling.temperature = 0.9f;
    params.sampling.seed = 7;
    const auto fresh = [&](const char* prompt) {
        ember_session* s = nullptr;
        EXPECT_EQ(ember_session_create(model_, &params, &s, nullptr, 0), EMBER_OK);
        ember_generate_params gp = ember_generate_default_params();
        gp.n_predict = 24;
        Collected out;
        EXPECT_EQ(ember_generate(s, prompt, &gp, collect, &out, nullptr), EMBER_OK);
        ember_session_free(s);
        return out.text;
    };
    ember_session* session = nullptr;
    ember_session_params other = params;
    other.sampling.seed = 99;
    ASSERT_EQ(ember_session_create(model_, &other, &session, nullptr, 0), EMBER_OK);
    ember_generate_params gp = ember_generate_default_params();
    gp.n_predict = 24;
    const auto reply = [&](const char* prompt) {
        EXPECT_EQ(ember_session_set_prompt(session, prompt, std::strlen(prompt), &params.sampling),
                  EMBER_OK);
        Collected out;
        EXPECT_EQ(ember_generate(session, nullptr, &gp, collect, &out, nullptr), EMBER_OK);
        return out.text;
    };
    const std::string once = reply("Once upon a time");
    EXPECT_EQ(once, fresh("Once upon a time"));
    reply("The dog ran to the park");
    EXPECT_EQ(reply("Once upon a time"), once);
    // A longer prompt sharing the start: only its new tokens are evaluated, same reply.
    const std::string longer = "Once upon a time" + once;
    EXPECT_EQ(reply(longer.c_str()), fresh(longer.c_str()));
    EXPECT_EQ(reply("Once upon a time"), once);  // shorter again: the cache is cut back
    ember_token tokens[64];
    size_t n = 0;
    ASSERT_EQ(ember_tokenize(model_, "Once upon a time", 16, true, true, tokens, 64, &n), EMBER_OK);
    ASSERT_EQ(ember_session_set_prompt(session, "Once upon a time", 16, nullptr), EMBER_OK);
    EXPECT_EQ(ember_session_n_tokens(session), static_cast<int32_t>(n));
    EXPECT_EQ(ember_session_set_prompt(nullptr, "x", 1, nullptr), EMBER_ERROR_INVALID_ARGUMENT);
    ember_sampler_params bad = params.sampling;
    bad.top_p = 2.0f;
    EXPECT_EQ(ember_session_set_prompt(session, "x", 1, &bad), EMBER_ERROR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(ember_last_error()).find("top_p"), std::string::npos)
        << ember_last_error();
    EXPECT_EQ(ember_session_n_tokens(session), static_cast<int32_t>(n));  // nothing changed
    ember_session_free(session);
}

// Calls without an error buffer leave their reason for ember_last_error(); a call that
// succeeds clears it.
TEST_F(CApi, LastErrorHoldsTheReasonOfTheLastFailure) {
    ember_session* session = greedy_session();
    ASSERT_NE(session, nullptr);
    ember_generate_params gp = ember_generate_default_params();
    gp.grammar = "root ::= (";
    Collected out;
    EXPECT_EQ(ember_generate(session, "Once", &gp, collect, &out, nullptr),
              EMBER_ERROR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(ember_last_error()).find("grammar"), std::string::npos)
        << ember_last_error();
    std::string seen_on_other_thread = "unset";
    std::thread([&] { seen_on_other_thread = ember_last_error(); }).join();
    EXPECT_EQ(seen_on_other_thread, "");  // per thread
    gp.grammar = nullptr;
    gp.n_predict = 2;
    EXPECT_EQ(ember_generate(session, "Once", &gp, collect, &out, nullptr), EMBER_OK);
    EXPECT_STREQ(ember_last_error(), "");
    ember_session_free(session);
}

// ember_generate_params.chat_template: the template's end-of-turn markers end the reply.
TEST_F(CApi, GenerateEndsWhereTheChatTemplateEndsATurn) {
    ember_session* session = greedy_session();
    ASSERT_NE(session, nullptr);
    ember_generate_params gp = ember_generate_default_params();
    gp.grammar = "root ::= \"Hi there<|im_end|> and on\"";
    Collected plain;
    ember_generate_stats stats{};
    ASSERT_EQ(ember_generate(session, "Once", &gp, collect, &plain, &stats), EMBER_OK);
    EXPECT_EQ(plain.text, "Hi there<|im_end|> and on");
    gp.chat_template = "chatml";
    Collected chat;
    ASSERT_EQ(ember_session_reset(session), EMBER_OK);
    ASSERT_EQ(ember_generate(session, "Once", &gp, collect, &chat, &stats), EMBER_OK);
    EXPECT_EQ(chat.text, "Hi there");
    EXPECT_EQ(stats.stop_reason, EMBER_STOP_STRING);
    gp.chat_template = "no-such-format";
    EXPECT_EQ(ember_generate(session, "Once", &gp, collect, &chat, &stats),
              EMBER_ERROR_INVALID_ARGUMENT);
    ember_session_free(session);
}

// What a binding does in a loop (its tests run 1,000 of these): under ASan and LeakSanitizer in
// the sanitizer build, any leak or use after free fails here.
TEST(CApiLifetimes, AThousandModelsSessionsAndEmbeddersComeAndGo) {
    for (int i = 0; i < 1000; ++i) {
        ember_model* model = nullptr;
        ASSERT_EQ(ember_model_load(bundled_model().c_str(), nullptr, &model, nullptr, 0), EMBER_OK);
        ember_session_params params = greedy_params();
        params.n_ctx = 64;
        ember_session* session = nullptr;
        ASSERT_EQ(ember_session_create(model, &params, &session, nullptr, 0), EMBER_OK);
        ember_generate_params gp = ember_generate_default_params();
        gp.n_predict = 2;
        Collected out;
        ASSERT_EQ(ember_session_set_prompt(session, "Once", 4, nullptr), EMBER_OK);
        ASSERT_EQ(ember_generate(session, nullptr, &gp, collect, &out, nullptr), EMBER_OK);
        ember_embedder_params ep = ember_embedder_default_params();
        ep.n_ctx = 64;
        ep.n_threads = 1;
        ember_embedder* embedder = nullptr;
        ASSERT_EQ(ember_embedder_create(model, &ep, &embedder, nullptr, 0), EMBER_OK);
        const char* texts[] = {"Once"};
        std::vector<float> vector(static_cast<size_t>(ember_embedder_dimension(embedder)));
        ASSERT_EQ(ember_embed(embedder, texts, 1, vector.data(), vector.size(), nullptr), EMBER_OK);
        ember_embedder_free(embedder);
        ember_session_free(session);
        ember_model_free(model);
    }
}

TEST_F(CApi, ContextFullIsReported) {
    ember_session_params params = greedy_params();
    params.n_ctx = 8;
    ember_session* session = nullptr;
    ASSERT_EQ(ember_session_create(model_, &params, &session, nullptr, 0), EMBER_OK);
    const std::string long_text(200, 'a');
    EXPECT_EQ(ember_session_append(session, long_text.c_str(), long_text.size()),
              EMBER_ERROR_CONTEXT_FULL);
    Collected out;
    ember_generate_stats stats{};
    EXPECT_EQ(ember_generate(session, "Once", nullptr, collect, &out, &stats), EMBER_OK);
    EXPECT_EQ(stats.stop_reason, 5);  // filled the 8 positions, then stopped
    // With a context shift the session goes on past its 8 positions.
    ember_session_reset(session);
    ember_generate_params shifting = ember_generate_default_params();
    shifting.n_predict = 40;
    shifting.ignore_eos = true;
    shifting.context_shift = true;
    shifting.n_keep = 2;
    EXPECT_EQ(ember_generate(session, "Once", &shifting, collect, &out, &stats), EMBER_OK);
    EXPECT_EQ(stats.stop_reason, 2);
    EXPECT_EQ(stats.n_generated_tokens, 40);
    EXPECT_LE(ember_session_n_tokens(session), 9);  // 8 positions and the last token sampled
    ember_session_free(session);
}

// A power budget holds the pace: 11 tokens at 50 tokens/s take at least 10 gaps of 20 ms
// (a lower bound only: a slow machine makes it longer, never shorter).
TEST_F(CApi, MaxTokensPerSecondHoldsThePace) {
    ember_session_params params = greedy_params();
    ember_session* session = nullptr;
    ASSERT_EQ(ember_session_create(model_, &params, &session, nullptr, 0), EMBER_OK);
    ember_generate_params capped = ember_generate_default_params();
    capped.n_predict = 11;
    capped.ignore_eos = true;
    capped.max_tokens_per_second = 50;
    Collected out;
    ember_generate_stats stats{};
    ASSERT_EQ(ember_generate(session, "Once", &capped, collect, &out, &stats), EMBER_OK);
    EXPECT_EQ(stats.n_generated_tokens, 11);
    EXPECT_GE(stats.generate_ms, 195.0);
    capped.max_tokens_per_second = -1;
    EXPECT_EQ(ember_generate(session, "", &capped, collect, &out, &stats),
              EMBER_ERROR_INVALID_ARGUMENT);
    ember_session_free(session);
}

TEST_F(CApi, CancelFromAnotherThreadInterruptsALongPromptEvaluation) {
    ember_session_params params = greedy_params();
    params.n_batch = 1;  // one forward pass per token: a long evaluation
    params.n_ctx = 2048;
    ember_session* session = nullptr;
    ASSERT_EQ(ember_session_create(model_, &params, &session, nullptr, 0), EMBER_OK);
    std::string prompt;
    for (int i = 0; i < 300; ++i) prompt += "Once upon a time ";
    std::atomic<bool> done{false};
    std::thread canceller([&] {
        while (!done.load()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            ember_session_cancel(session);
        }
    });
    Collected out;
    const auto start = std::chrono::steady_clock::now();
    const ember_status status =
        ember_generate(session, prompt.c_str(), nullptr, collect, &out, nullptr);
    done.store(true);
    canceller.join();
    EXPECT_EQ(status, EMBER_ERROR_CANCELLED);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
    // The interrupted prompt left nothing behind, and the session is still usable.
    EXPECT_EQ(ember_session_n_tokens(session), 0);
    ember_generate_params one = ember_generate_default_params();
    one.n_predict = 3;
    EXPECT_EQ(ember_generate(session, "Once", &one, collect, &out, nullptr), EMBER_OK);
    // BOS and "Once", then the three generated tokens (the last is sampled, not yet evaluated,
    // but held: it goes in with the next call)
    EXPECT_EQ(ember_session_n_tokens(session), 2 + 3);
    // Rewinding past it drops it: appending then continues from the rewound text only.
    ASSERT_EQ(ember_session_rewind(session, 3), EMBER_OK);
    EXPECT_EQ(ember_session_n_tokens(session), 3);
    const ember_token next = 400;
    ASSERT_EQ(ember_session_append_tokens(session, &next, 1), EMBER_OK);
    EXPECT_EQ(ember_session_n_tokens(session), 4);
    ASSERT_EQ(ember_session_reset(session), EMBER_OK);
    ember_generate_params gp = ember_generate_default_params();
    gp.n_predict = 5;
    EXPECT_EQ(ember_generate(session, "Once", &gp, collect, &out, nullptr), EMBER_OK);
    ember_session_free(session);
}

TEST_F(CApi, AWatchedFlagRaisedBeforeTheCallStopsIt) {
    ember_session* session = greedy_session();
    ASSERT_NE(session, nullptr);
    Collected out;
    // ember_session_cancel() before a call is forgotten by it (meant for an earlier call) ...
    ember_session_cancel(session);
    ember_generate_params gp = ember_generate_default_params();
    gp.n_predict = 4;
    ember_generate_stats stats{};
    ASSERT_EQ(ember_generate(session, "Once", &gp, collect, &out, &stats), EMBER_OK);
    EXPECT_EQ(stats.stop_reason, EMBER_STOP_LIMIT);
    EXPECT_EQ(stats.n_generated_tokens, 4);
    // ... a watched flag raised before it is not: the prompt's evaluation stops, nothing kept.
    ASSERT_EQ(ember_session_reset(session), EMBER_OK);
    int32_t flag = 1;
    ember_session_watch_cancel(session, &flag);
    EXPECT_EQ(ember_generate(session, "Once", &gp, collect, &out, nullptr), EMBER_ERROR_CANCELLED);
    EXPECT_EQ(ember_session_n_tokens(session), 0);
    EXPECT_EQ(ember_session_append(session, "Once", 4), EMBER_ERROR_CANCELLED);
    // Lowered, the session goes on; raised between tokens (here by the text callback), the
    // generation ends cancelled with its text so far, and the session does not lower it.
    flag = 0;
    ASSERT_EQ(ember_session_append(session, "Once", 4), EMBER_OK);
    struct Raiser {
        int32_t* flag;
        int calls = 0;
    } raiser{&flag};
    const auto raise_at_second = [](const char*, size_t, void* user) {
        auto* r = static_cast<Raiser*>(user);
        if (++r->calls == 2) std::atomic_ref<int32_t>(*r->flag).store(1);
        return true;
    };
    gp.n_predict = 50;
    ASSERT_EQ(ember_generate(session, nullptr, &gp, raise_at_second, &raiser, &stats), EMBER_OK);
    EXPECT_EQ(stats.stop_reason, EMBER_STOP_CANCELLED);
    EXPECT_GE(stats.n_generated_tokens, 2);
    EXPECT_LT(stats.n_generated_tokens, 50);
    EXPECT_EQ(raiser.calls, 2);
    // (the next call first evaluates the last sampled token: that evaluation is cancelled)
    const int32_t held = ember_session_n_tokens(session);
    EXPECT_EQ(ember_generate(session, nullptr, &gp, collect, &out, &stats), EMBER_ERROR_CANCELLED);
    EXPECT_EQ(ember_session_n_tokens(session), held);
    // Watching none: the flag no longer matters.
    ember_session_watch_cancel(session, nullptr);
    ASSERT_EQ(ember_generate(session, nullptr, &gp, collect, &out, &stats), EMBER_OK);
    EXPECT_EQ(stats.stop_reason, EMBER_STOP_LIMIT);
    ember_session_watch_cancel(nullptr, &flag);  // a null session: nothing happens
    ember_session_free(session);
}

TEST_F(CApi, TwoSessionsOnTwoThreadsMatchRunningThemOneAfterTheOther) {
    const auto story = [&](const char* prompt, uint64_t seed) {
        ember_session_params params = ember_session_default_params();
        params.n_threads = 1;
        params.sampling.seed = seed;
        ember_session* session = nullptr;
        EXPECT_EQ(ember_session_create(model_, &params, &session, nullptr, 0), EMBER_OK);
        ember_generate_params gp = ember_generate_default_params();
        gp.n_predict = 120;
        Collected out;
        EXPECT_EQ(ember_generate(session, prompt, &gp, collect, &out, nullptr), EMBER_OK);
        ember_session_free(session);
        return out.text;
    };
    const std::string a = story("Once upon a time", 1), b = story("The little dog", 2);
    std::string a2, b2;
    std::thread ta([&] { a2 = story("Once upon a time", 1); });
    std::thread tb([&] { b2 = story("The little dog", 2); });
    ta.join();
    tb.join();
    EXPECT_EQ(a, a2);
    EXPECT_EQ(b, b2);
    EXPECT_NE(a, b);
}

TEST_F(CApi, LogCallbackReceivesTheLibrarysLines) {
    static std::vector<std::string> lines;
    lines.clear();
    ember_set_log_callback(
        [](ember_log_level, const char* message, void*) { lines.emplace_back(message); }, nullptr);
    ember_model* model = nullptr;
    ASSERT_EQ(ember_model_load(bundled_model().c_str(), nullptr, &model, nullptr, 0), EMBER_OK);
    ember_model_free(model);
    ember_set_log_callback(nullptr, nullptr);
    ASSERT_FALSE(lines.empty());
    EXPECT_NE(lines[0].find("loaded"), std::string::npos);
}

TEST_F(CApi, ChatFormatUsesTheNamedTemplate) {
    const ember_chat_message chat[] = {{"user", "Hi"}};
    char text[128];
    size_t length = 0;
    ASSERT_EQ(ember_chat_format(model_, "chatml", chat, 1, true, text, sizeof(text), &length),
              EMBER_OK);
    EXPECT_EQ(std::string(text, length), "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    EXPECT_EQ(ember_chat_format(model_, "nope", chat, 1, true, text, sizeof(text), &length),
              EMBER_ERROR_INVALID_ARGUMENT);
    const ember_chat_message broken[] = {{nullptr, "x"}};
    EXPECT_EQ(ember_chat_format(model_, nullptr, broken, 1, true, text, sizeof(text), &length),
              EMBER_ERROR_INVALID_ARGUMENT);
}

// Conversations with tools and thinking as JSON, through a Jinja template given as text (Qwen3's,
// from ../shared/templates): the rendering transformers gives, byte for byte; and a reply read
// back into its thinking, its text and its calls.
TEST_F(CApi, ChatWithToolsAsJsonAndRepliesReadBack) {
    const auto read = [](const std::filesystem::path& path) {
        std::ifstream in(path, std::ios::binary);
        return std::string(std::istreambuf_iterator<char>(in), {});
    };
    const std::filesystem::path templates = ember::test::shared_path("templates");
    const std::string qwen3 = read(templates / "templates" / "Qwen-Qwen3-0.6B.jinja");
    // 05_tools: {"messages": [...], "tools": [...], ...}; the messages and tools as JSON text.
    const std::string tools_case = read(templates / "cases" / "05_tools.json");
    const auto member = [&](const std::string& key) {  // the case's top-level array `key`
        const size_t at = tools_case.find("\"" + key + "\": [");
        size_t i = tools_case.find('[', at), depth = 0;
        const size_t begin = i;
        bool in_string = false;
        for (; i < tools_case.size(); ++i) {
            const char c = tools_case[i];
            if (in_string) {
                if (c == '\\')
                    ++i;
                else if (c == '"')
                    in_string = false;
            } else if (c == '"') {
                in_string = true;
            } else if (c == '[' || c == '{') {
                ++depth;
            } else if ((c == ']' || c == '}') && --depth == 0) {
                break;
            }
        }
        return tools_case.substr(begin, i + 1 - begin);
    };
    std::string text(1 << 14, '\0');
    size_t length = 0;
    ASSERT_EQ(ember_chat_format_json(model_, qwen3.c_str(), member("messages").c_str(),
                                     member("tools").c_str(), nullptr, true, text.data(),
                                     text.size(), &length),
              EMBER_OK);
    EXPECT_EQ(text.substr(0, length),
              read(templates / "expected" / "Qwen-Qwen3-0.6B" / "05_tools.txt"));
    // Variables reach the template; a built-in format shows no tools; bad JSON is refused.
    ASSERT_EQ(ember_chat_format_json(model_, qwen3.c_str(), R"([{"role":"user","content":"Hi"}])",
                                     nullptr, R"({"enable_thinking":false})", true, text.data(),
                                     text.size(), &length),
              EMBER_OK);
    EXPECT_NE(text.substr(0, length).find("<think>\n\n</think>"), std::string::npos);
    EXPECT_EQ(ember_chat_format_json(model_, "chatml", R"([{"role":"user","content":"Hi"}])", "[]",
                                     nullptr, true, text.data(), text.size(), &length),
              EMBER_ERROR_INVALID_ARGUMENT);
    EXPECT_EQ(ember_chat_format_json(model_, qwen3.c_str(), "[{", nullptr, nullptr, true,
                                     text.data(), text.size(), &length),
              EMBER_ERROR_INVALID_ARGUMENT);
    // An assistant's call with arguments as JSON text (OpenAI's) renders as with an object.
    std::string as_object, as_text;
    for (const char* arguments : {R"({"city":"Paris"})", R"("{\"city\":\"Paris\"}")"}) {
        const std::string messages =
            std::string(
                R"([{"role":"user","content":"Weather?"},{"role":"assistant","content":"",)"
                R"("tool_calls":[{"type":"function","function":{"name":"get_weather","arguments":)") +
            arguments + "}}]}]";
        ASSERT_EQ(ember_chat_format_json(model_, qwen3.c_str(), messages.c_str(), nullptr, nullptr,
                                         false, text.data(), text.size(), &length),
                  EMBER_OK);
        (as_object.empty() ? as_object : as_text) = text.substr(0, length);
    }
    EXPECT_EQ(as_object, as_text);
    EXPECT_NE(as_object.find(R"("arguments": {"city": "Paris"})"), std::string::npos) << as_object;

    const char* reply =
        "<think>\nThe user wants the weather.\n</think>\n\n<tool_call>\n"
        R"({"name": "get_weather", "arguments": {"city": "Paris"}})"
        "\n</tool_call>";
    ASSERT_EQ(ember_chat_parse_reply(model_, qwen3.c_str(), nullptr, reply, text.data(),
                                     text.size(), &length),
              EMBER_OK);
    EXPECT_EQ(text.substr(0, length),
              R"({"content":"","reasoning_content":"The user wants the weather.",)"
              R"("tool_calls":[{"name":"get_weather","arguments":{"city":"Paris"}}]})");
    ASSERT_EQ(ember_chat_parse_reply(model_, qwen3.c_str(), nullptr, "Sunny, \"21\" C.",
                                     text.data(), text.size(), &length),
              EMBER_OK);
    EXPECT_EQ(text.substr(0, length), R"({"content":"Sunny, \"21\" C.","tool_calls":[]})");
    EXPECT_EQ(
        ember_chat_parse_reply(model_, qwen3.c_str(), nullptr, reply, text.data(), 4, &length),
        EMBER_ERROR_BUFFER_TOO_SMALL);
}

TEST(CppApi, ModelAndSessionStreamAStory) {
    ember::Model model(bundled_model());
    EXPECT_EQ(model.tokenize("Once upon a time"),
              (std::vector<ember_token>{1, 403, 407, 261, 378}));
    EXPECT_EQ(model.detokenize(model.tokenize("Once upon a time")), "Once upon a time");
    EXPECT_EQ(model.format_chat_json(R"([{"role":"user","content":"Hi"}])", nullptr, nullptr, true,
                                     "chatml"),
              "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    EXPECT_EQ(model.parse_reply("Hello."), R"({"content":"Hello.","tool_calls":[]})");
    EXPECT_THROW(model.format_chat_json("{"), std::exception);
    ember_session_params params = ember_session_default_params();
    params.sampling.temperature = 0;
    ember::Session session(model, params);
    std::string text;
    const auto stats = session.generate(
        "Once upon a time",
        [&](std::string_view piece) {
            text += piece;
            return true;
        },
        20);
    EXPECT_EQ(stats.n_generated_tokens, 20);
    EXPECT_EQ(text.rfind(", there was a little girl named Lily.", 0), 0u) << text;
    EXPECT_THROW(ember::Model("/nonexistent.gguf"), ember::Exception);
    try {
        ember::Model missing("/nonexistent.gguf");
    } catch (const ember::Exception& e) {
        EXPECT_EQ(e.status(), EMBER_ERROR_FILE);
    }
}

// Embeddings through the C API: the reference encoder's vectors (by cosine), the resolved
// settings, buffer sizes, truncation, and an encoder refusing to be a chat session.
TEST(CApiEmbeddings, EmbedsTextsAsLlamaCppPoolsThem) {
    const std::string path = ember::test::shared_path("arch/models/mini-bert-F16.gguf").string();
    char error[512] = "";
    ember_model* model = nullptr;
    ASSERT_EQ(ember_model_load(path.c_str(), nullptr, &model, error, sizeof(error)), EMBER_OK)
        << error;
    ember_session* session = nullptr;
    EXPECT_EQ(ember_session_create(model, nullptr, &session, error, sizeof(error)),
              EMBER_ERROR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(error).find("encoder"), std::string::npos) << error;

    ember_embedder* embedder = nullptr;
    ASSERT_EQ(ember_embedder_create(model, nullptr, &embedder, error, sizeof(error)), EMBER_OK)
        << error;
    EXPECT_EQ(ember_embedder_dimension(embedder), 128);
    EXPECT_EQ(ember_embedder_pooling(embedder), EMBER_POOLING_MEAN);
    EXPECT_TRUE(ember_embedder_normalize(embedder));
    EXPECT_EQ(ember_embedder_n_ctx(embedder), 512);

    // llama.cpp's vectors for the first two reference texts.
    const auto bytes =
        ember::test::read_file(ember::test::shared_path("arch/reference/mini-bert-F16.embd.f32"));
    std::vector<float> reference(bytes.size() / 4);
    std::memcpy(reference.data(), bytes.data(), bytes.size());
    const char* texts[] = {"The cat sat on the mat.", "A small kitten is sleeping on a rug."};
    std::vector<float> out(2 * 128);
    int32_t n_tokens[2] = {0, 0};
    EXPECT_EQ(ember_embed(embedder, texts, 2, out.data(), 2 * 128 - 1, n_tokens),
              EMBER_ERROR_BUFFER_TOO_SMALL);
    ASSERT_EQ(ember_embed(embedder, texts, 2, out.data(), out.size(), n_tokens), EMBER_OK);
    EXPECT_EQ(n_tokens[0], 9);
    EXPECT_EQ(n_tokens[1], 11);
    for (int i = 0; i < 2; ++i) {
        double ab = 0, aa = 0, bb = 0;
        for (int k = 0; k < 128; ++k) {
            const double a = out[i * 128 + k], b = reference[i * 128 + k];
            ab += a * b, aa += a * a, bb += b * b;
        }
        EXPECT_GE(ab / std::sqrt(aa * bb), 0.999) << i;
        EXPECT_NEAR(aa, 1.0, 1e-5);
    }
    // Token sequences as given: the first text's ids give its vector again.
    const ember_token ids[] = {101, 1996, 4937, 2938, 2006, 1996, 13523, 1012, 102};
    const ember_token* sequences[] = {ids};
    const size_t lengths[] = {9};
    std::vector<float> again(128);
    ASSERT_EQ(ember_embed_tokens(embedder, sequences, lengths, 1, again.data(), 128, nullptr),
              EMBER_OK);
    for (int k = 0; k < 128; ++k) EXPECT_NEAR(again[k], out[k], 1e-6f);
    const char* null_text[] = {nullptr};
    EXPECT_EQ(ember_embed(embedder, null_text, 1, out.data(), out.size(), nullptr),
              EMBER_ERROR_INVALID_ARGUMENT);
    EXPECT_EQ(ember_embed(nullptr, texts, 2, out.data(), out.size(), nullptr),
              EMBER_ERROR_INVALID_ARGUMENT);
    // A watched flag raised before the call cancels it; lowered, the same vector again.
    int32_t flag = 1;
    ember_embedder_watch_cancel(embedder, &flag);
    EXPECT_EQ(ember_embed_tokens(embedder, sequences, lengths, 1, again.data(), 128, nullptr),
              EMBER_ERROR_CANCELLED);
    flag = 0;
    ASSERT_EQ(ember_embed_tokens(embedder, sequences, lengths, 1, again.data(), 128, nullptr),
              EMBER_OK);
    for (int k = 0; k < 128; ++k) EXPECT_NEAR(again[k], out[k], 1e-6f);
    ember_embedder_watch_cancel(embedder, nullptr);
    ember_embedder_watch_cancel(nullptr, &flag);
    ember_embedder_free(embedder);

    // No truncation asked: a text longer than the context is refused.
    ember_embedder_params strict = ember_embedder_default_params();
    strict.n_ctx = 8;
    strict.truncate = false;
    strict.pooling = EMBER_POOLING_CLS;
    ASSERT_EQ(ember_embedder_create(model, &strict, &embedder, error, sizeof(error)), EMBER_OK);
    EXPECT_EQ(ember_embedder_pooling(embedder), EMBER_POOLING_CLS);
    EXPECT_EQ(ember_embed(embedder, texts, 1, out.data(), out.size(), nullptr),
              EMBER_ERROR_CONTEXT_FULL);
    ember_embedder_free(embedder);
    strict.pooling = 7;
    EXPECT_EQ(ember_embedder_create(model, &strict, &embedder, error, sizeof(error)),
              EMBER_ERROR_INVALID_ARGUMENT);
    EXPECT_EQ(embedder, nullptr);
    ember_model_free(model);
}

TEST(CppApi, EmbedderGivesUnitVectors) {
    ember::Model model(ember::test::shared_path("arch/models/mini-nomic-Q8_0.gguf").string());
    ember::Embedder embedder(model);
    const auto vectors = embedder.embed({"The cat sat on the mat.", "How do I reset my password?"});
    ASSERT_EQ(vectors.size(), 2u);
    ASSERT_EQ(vectors[0].size(), 128u);
    double norm = 0;
    for (float v : vectors[1]) norm += static_cast<double>(v) * v;
    EXPECT_NEAR(norm, 1.0, 1e-5);
}

// Two sequences decoded together through the C API: sequence 0 still tells llama.cpp's story.
TEST_F(CApi, ContextDecodesSeveralSequencesTogether) {
    ember_context_params params = ember_context_default_params();
    params.n_seq = 2;
    params.n_ctx = 64;
    ember_context* context = nullptr;
    char error[256] = "";
    ASSERT_EQ(ember_context_create(model_, &params, &context, error, sizeof(error)), EMBER_OK)
        << error;
    const ember_token story[] = {1, 403, 407, 261, 378};  // "Once upon a time"
    const ember_token other[] = {1, 20, 30, 40};
    std::vector<ember_token> generated;
    ember_sequence_tokens inputs[2] = {{0, story, 5}, {1, other, 4}};
    const int32_t n_vocab = ember_model_n_vocab(model_);
    for (int step = 0; step < 8; ++step) {
        ASSERT_EQ(ember_context_decode(context, inputs, 2), EMBER_OK);
        EXPECT_EQ(ember_context_logits(context, 2), nullptr);
        ember_token next[2];
        for (int i = 0; i < 2; ++i) {
            const float* logits = ember_context_logits(context, i);
            ASSERT_NE(logits, nullptr);
            next[i] = static_cast<ember_token>(std::max_element(logits, logits + n_vocab) - logits);
        }
        generated.push_back(next[0]);
        static ember_token one[2];
        one[0] = next[0], one[1] = next[1];
        inputs[0] = {0, &one[0], 1};
        inputs[1] = {1, &one[1], 1};
    }
    // The first 8 greedy ids of stories260K-once (llama.cpp's).
    const auto ref = ember::test::read_file(
        ember::test::shared_path("reference/stories260K/stories260K-once.json"));
    const std::string json(ref.begin(), ref.end());
    const size_t at = json.find("\"greedy_ids\"");
    ASSERT_NE(at, std::string::npos);
    std::vector<ember_token> expected;
    size_t pos = json.find('[', at) + 1;
    for (int i = 0; i < 8; ++i) {
        expected.push_back(std::stoi(json.substr(pos)));
        pos = json.find(',', pos) + 1;
    }
    EXPECT_EQ(generated, expected);
    EXPECT_EQ(ember_context_n_past(context, 0), 5 + 7);
    EXPECT_EQ(ember_context_n_past(context, 2), -1);
    EXPECT_EQ(ember_context_truncate(context, 1, 0), EMBER_OK);
    EXPECT_EQ(ember_context_n_past(context, 1), 0);
    const ember_sequence_tokens twice[2] = {{0, story, 5}, {0, story, 5}};
    EXPECT_EQ(ember_context_decode(context, twice, 2), EMBER_ERROR_INVALID_ARGUMENT);
    const ember_token long_prompt[60] = {1};
    const ember_sequence_tokens overflow[1] = {{0, long_prompt, 60}};
    EXPECT_EQ(ember_context_decode(context, overflow, 1), EMBER_ERROR_CONTEXT_FULL);
    EXPECT_EQ(ember_context_n_past(context, 0), 12);  // unchanged by the failures
    ember_context_free(context);
}

// ember_sampler and ember_turn: the refusals, the end tokens and the chat template's end of turn,
// a grammar's message, a stop string's kept tokens. (examples/embed/c/batch.c checks that a
// batched conversation gets ember_generate's text.)
TEST_F(CApi, TurnsObeyTheRulesOfAReplyAndRefuseBadArguments) {
    char error[256] = "";
    ember_sampler* sampler = nullptr;
    ember_sampler_params bad = ember_session_default_params().sampling;
    bad.top_p = 2;
    EXPECT_EQ(ember_sampler_create(&bad, &sampler, error, sizeof(error)),
              EMBER_ERROR_INVALID_ARGUMENT);
    EXPECT_EQ(sampler, nullptr);
    EXPECT_NE(std::string(error).find("top_p"), std::string::npos) << error;
    ember_sampler_params greedy = ember_session_default_params().sampling;
    greedy.temperature = 0;
    ASSERT_EQ(ember_sampler_create(&greedy, &sampler, error, sizeof(error)), EMBER_OK);
    EXPECT_EQ(ember_sampler_accept(sampler, nullptr, 3), EMBER_ERROR_INVALID_ARGUMENT);

    ember_turn* turn = nullptr;
    EXPECT_EQ(ember_turn_create(model_, nullptr, nullptr, &turn, error, sizeof(error)),
              EMBER_ERROR_INVALID_ARGUMENT);
    ember_turn_params params = ember_turn_default_params();
    params.grammar = "root ::= \"a\" b";
    EXPECT_EQ(ember_turn_create(model_, sampler, &params, &turn, error, sizeof(error)),
              EMBER_ERROR_INVALID_ARGUMENT);
    EXPECT_EQ(std::string(error).rfind("grammar", 0), 0u) << error;
    params = ember_turn_default_params();
    const ember_token out_of_vocabulary = 1 << 20;
    params.end_tokens = &out_of_vocabulary;
    params.n_end_tokens = 1;
    EXPECT_EQ(ember_turn_create(model_, sampler, &params, &turn, error, sizeof(error)),
              EMBER_ERROR_INVALID_ARGUMENT);
    params.chat_template = "no-such-template";
    params.n_end_tokens = 0;
    EXPECT_EQ(ember_turn_create(model_, sampler, &params, &turn, error, sizeof(error)),
              EMBER_ERROR_INVALID_ARGUMENT);
    EXPECT_EQ(turn, nullptr);

    // The greedy story's first tokens, from "Once upon a time" (llama.cpp's ids: 13 = ",").
    ember_context_params cp = ember_context_default_params();
    cp.n_ctx = 64;
    ember_context* context = nullptr;
    ASSERT_EQ(ember_context_create(model_, &cp, &context, error, sizeof(error)), EMBER_OK);
    const ember_token story[] = {1, 403, 407, 261, 378};
    ember_sequence_tokens input = {0, story, 5};
    ASSERT_EQ(ember_context_decode(context, &input, 1), EMBER_OK);
    const float* logits = ember_context_logits(context, 0);
    ember_token token = 0;
    const char* text = nullptr;
    size_t length = 0;
    int32_t reason = 0;
    // The first greedy token as an end token: the reply ends at once, with nothing printed.
    ASSERT_EQ(ember_turn_create(model_, sampler, nullptr, &turn, error, sizeof(error)), EMBER_OK);
    ASSERT_EQ(ember_turn_next(turn, logits, &token, &text, &length, &reason), EMBER_OK);
    const ember_token first = token;
    EXPECT_EQ(reason, EMBER_STOP_NONE);
    EXPECT_EQ(ember_turn_next(turn, nullptr, &token, &text, &length, &reason),
              EMBER_ERROR_INVALID_ARGUMENT);
    EXPECT_EQ(ember_turn_end(turn, 42, &text, &length), EMBER_ERROR_INVALID_ARGUMENT);
    EXPECT_EQ(ember_turn_end(turn, EMBER_STOP_LIMIT, &text, &length), EMBER_OK);
    EXPECT_EQ(ember_turn_stop_reason(turn), EMBER_STOP_LIMIT);
    EXPECT_EQ(ember_turn_end(turn, EMBER_STOP_CANCELLED, &text, &length), EMBER_OK);
    EXPECT_EQ(ember_turn_stop_reason(turn), EMBER_STOP_LIMIT);  // it had ended already
    ember_turn_free(turn);
    params = ember_turn_default_params();
    params.end_tokens = &first;
    params.n_end_tokens = 1;
    ASSERT_EQ(ember_turn_create(model_, sampler, &params, &turn, error, sizeof(error)), EMBER_OK);
    ASSERT_EQ(ember_turn_next(turn, logits, &token, &text, &length, &reason), EMBER_OK);
    EXPECT_EQ(token, -1);
    EXPECT_EQ(length, 0u);
    EXPECT_EQ(reason, EMBER_STOP_END);
    EXPECT_EQ(ember_turn_n_generated(turn), 0);
    ember_turn_free(turn);
    // A stop string inside the first token's text: nothing handed on, nothing kept.
    char piece[64];
    size_t piece_length = 0;
    ASSERT_EQ(ember_detokenize(model_, &first, 1, piece, sizeof(piece), &piece_length), EMBER_OK);
    ASSERT_GT(piece_length, 0u);
    const std::string stop(piece, 1);
    const char* stops[] = {stop.c_str()};
    params = ember_turn_default_params();
    params.stop_strings = stops;
    params.n_stop_strings = 1;
    ASSERT_EQ(ember_turn_create(model_, sampler, &params, &turn, error, sizeof(error)), EMBER_OK);
    ASSERT_EQ(ember_turn_next(turn, logits, &token, &text, &length, &reason), EMBER_OK);
    EXPECT_EQ(token, first);
    EXPECT_EQ(reason, EMBER_STOP_STRING);
    EXPECT_EQ(ember_turn_n_generated(turn), 1);
    EXPECT_EQ(ember_turn_n_kept(turn), 0);
    ember_turn_free(turn);
    // A chat template's end of turn: llama3's <|eot_id|> is no token of this vocabulary, so
    // it is a stop string only; the turn is made all the same.
    params = ember_turn_default_params();
    params.chat_template = "llama3";
    ASSERT_EQ(ember_turn_create(model_, sampler, &params, &turn, error, sizeof(error)), EMBER_OK);
    ember_turn_free(turn);
    ember_context_free(context);
    ember_sampler_free(sampler);
}

}  // namespace
