// Saved sessions (engine/generate/session_state.cpp): a restored session goes on exactly as
// the original would, evaluating nothing; a state from another model, for another KV cache
// type, truncated, damaged or from a future format is refused with its reason and leaves the
// session as it was.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "engine/generate/session.h"
#include "engine/runtime/hash.h"
#include "engine/text/tokenizer.h"
#include "formats/error.h"
#include "tests/error_of.h"
#include "tests/shared_data.h"

namespace ember {
namespace {

struct Loaded {
    explicit Loaded(const std::string& file)
        : model(test::shared_path(file).string()), tokenizer(model.file()) {}
    Model model;
    Tokenizer tokenizer;
};

SessionParams params_for(TensorType kv_type, float temperature) {
    SessionParams p;
    p.context.n_ctx = 256;
    p.context.kv_type = kv_type;
    p.sampling.temperature = temperature;
    p.sampling.seed = 42;
    return p;
}

std::string continue_text(Session& session, int n, const std::string& prompt = "") {
    TurnOptions turn;
    turn.max_tokens = n;
    turn.ignore_eos = true;
    return session.generate(prompt, turn, [](std::string_view) { return true; }).text;
}

using test::error_of;

// Saved after a prompt and after a turn (a sampled token pending), with sampling on: the
// restored session's next turn equals the original's, token for token, and evaluates no prompt
// token; for the F16, Q8_0 and Q4_0 caches.
TEST(SessionState, ARestoredSessionGoesOnExactlyAsTheOriginal) {
    const Loaded m("models/ember-stories-5M/ember-stories-5M-F16.gguf");
    for (TensorType kv : {TensorType::F16, TensorType::Q8_0, TensorType::Q4_0}) {
        SCOPED_TRACE(std::string(tensor_type_name(kv)));
        Session original(m.model, m.tokenizer, params_for(kv, 0.8f));
        original.append("Once upon a time, there was a little dog");
        const std::vector<uint8_t> after_prompt = original.save_state();
        const std::vector<int32_t> prompt_tokens = original.tokens();
        const std::string first = continue_text(original, 30);
        const std::vector<uint8_t> after_turn = original.save_state();
        const std::string second = continue_text(original, 30, " The end.");

        Session restored(m.model, m.tokenizer, params_for(kv, 0.8f));
        restored.load_state(after_prompt);
        EXPECT_EQ(restored.tokens(), prompt_tokens);
        TurnOptions turn;
        turn.max_tokens = 30;
        turn.ignore_eos = true;
        const TurnResult r = restored.generate("", turn, [](std::string_view) { return true; });
        EXPECT_EQ(r.n_prompt, 0);  // nothing evaluated before the first sample
        EXPECT_EQ(r.text, first);

        Session later(m.model, m.tokenizer, params_for(kv, 0.8f));
        later.load_state(after_turn);
        EXPECT_EQ(continue_text(later, 30, " The end."), second);
    }
}

// The newer families (../shared/arch2): a session saved after a prompt goes on as the original.
TEST(SessionState, NewerFamiliesRestoreExactly) {
    for (const char* name :
         {"arch2/models/mini-qwen3-Q8_0.gguf", "arch2/models/mini-gemma3-Q8_0.gguf",
          "arch2/models/mini-smollm3-Q4_K_M.gguf", "arch2/models/mini-qwen3moe-Q4_K_M.gguf",
          "arch2/models/mini-lfm2-Q8_0.gguf", "arch2/models/mini-qwen35-Q8_0.gguf"}) {
        SCOPED_TRACE(name);
        const Loaded m(name);
        Session original(m.model, m.tokenizer, params_for(TensorType::F16, 0.8f));
        original.append("Once upon a time, there was a little dog");
        const std::vector<uint8_t> saved = original.save_state();
        const std::string first = continue_text(original, 20);
        Session restored(m.model, m.tokenizer, params_for(TensorType::F16, 0.8f));
        restored.load_state(saved);
        EXPECT_EQ(continue_text(restored, 20), first);
    }
}

TEST(SessionState, FilesRoundTripAndAreWrittenWhole) {
    const Loaded m("models/stories260K.gguf");
    const auto dir = test::temp_dir("session-state");
    const std::string path = (dir / "chat.state").string();
    Session original(m.model, m.tokenizer, params_for(TensorType::F16, 0.0f));
    original.append("Once upon a time");
    original.save_state_file(path);
    const std::string want = continue_text(original, 40);
    Session restored(m.model, m.tokenizer, params_for(TensorType::F16, 0.0f));
    restored.load_state_file(path);
    EXPECT_EQ(continue_text(restored, 40), want);
    // Only the file itself is left (no temporary beside it).
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir),
                            std::filesystem::directory_iterator()),
              1);
    EXPECT_NE(
        error_of([&] { restored.load_state_file((dir / "missing").string()); }).find("cannot open"),
        std::string::npos);
    std::filesystem::remove_all(dir);
}

TEST(SessionState, BadStatesAreRefusedAndChangeNothing) {
    const Loaded m("models/ember-stories-5M/ember-stories-5M-F16.gguf");
    const Loaded other("models/stories260K.gguf");
    Session source(m.model, m.tokenizer, params_for(TensorType::F16, 0.0f));
    source.append("Once upon a time, there was a big red ball");
    const std::vector<uint8_t> good = source.save_state();

    // The session that refuses keeps what it had: it holds a different prompt and goes on
    // from it exactly as a twin that never saw the bad states.
    Session target(m.model, m.tokenizer, params_for(TensorType::F16, 0.0f));
    Session twin(m.model, m.tokenizer, params_for(TensorType::F16, 0.0f));
    target.append("The cat sat");
    twin.append("The cat sat");
    const auto refused = [&](std::span<const uint8_t> state, const std::string& phrase) {
        const std::string e = error_of([&] { target.load_state(state); });
        EXPECT_NE(e.find(phrase), std::string::npos) << "got: " << e;
    };

    refused({}, "not an ember session state");
    std::vector<uint8_t> bytes = good;
    bytes[8] = 9;  // the format version
    refused(bytes, "format version 9; this ember reads versions 1 and 2");
    {  // Version 1 (no recurrent state field) still loads into a model that has none.
        std::vector<uint8_t> v1 = good;
        v1[8] = 1;
        v1.erase(v1.begin() + 40, v1.begin() + 44);  // after magic, version, fingerprint, shape
        v1.resize(v1.size() - 8);
        const uint64_t sum = fnv1a(v1.data(), v1.size());
        v1.insert(v1.end(), reinterpret_cast<const uint8_t*>(&sum),
                  reinterpret_cast<const uint8_t*>(&sum) + 8);
        Session old(m.model, m.tokenizer, params_for(TensorType::F16, 0.0f));
        EXPECT_EQ(error_of([&] { old.load_state(v1); }), "(no error)");
        EXPECT_EQ(old.n_tokens(), source.n_tokens());
    }
    for (size_t cut : {size_t{10}, size_t{20}, size_t{60}, good.size() / 2, good.size() - 1}) {
        SCOPED_TRACE(cut);
        refused(std::span(good).first(cut), "truncated");
    }
    bytes = good;
    bytes.push_back(0);
    refused(bytes, "trailing bytes");
    for (size_t at : {size_t{12}, size_t{40}, good.size() / 2, good.size() - 20}) {
        SCOPED_TRACE(at);
        bytes = good;
        bytes[at] ^= 0x10;  // one bit anywhere after the version
        const std::string e = error_of([&] { target.load_state(bytes); });
        EXPECT_TRUE(e.find("damaged") != std::string::npos ||
                    e.find("truncated") != std::string::npos)
            << e;
    }
    // Another model's state.
    Session small(other.model, other.tokenizer, params_for(TensorType::F16, 0.0f));
    small.append("Once");
    refused(small.save_state(), "another model");
    // Another KV cache type.
    Session quantized(m.model, m.tokenizer, params_for(TensorType::Q8_0, 0.0f));
    EXPECT_NE(error_of([&] {
                  quantized.load_state(good);
              }).find("saved with a F16 KV cache and this session's is Q8_0"),
              std::string::npos);
    // More tokens than the context holds.
    SessionParams tiny = params_for(TensorType::F16, 0.0f);
    tiny.context.n_ctx = 8;
    Session short_context(m.model, m.tokenizer, tiny);
    EXPECT_NE(error_of([&] { short_context.load_state(good); }).find("more than this session's"),
              std::string::npos);

    EXPECT_EQ(target.tokens(), twin.tokens());
    EXPECT_EQ(continue_text(target, 20), continue_text(twin, 20));
}

}  // namespace
}  // namespace ember
