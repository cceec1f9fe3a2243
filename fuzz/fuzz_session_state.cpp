// libFuzzer target: saved session states (engine/generate/session_state.cpp), damaged. A valid
// state of the bundled model is edited by the input (bytes flipped at offsets, cut short,
// bytes appended) or replaced by the input outright. load_state must accept exactly the
// unchanged state and refuse every other one with an ember::Error (never a crash, never a
// partly restored session): the refusing session keeps the tokens it had.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "engine/generate/session.h"
#include "engine/text/tokenizer.h"
#include "formats/error.h"
#include "fuzz/fuzz_data.h"

namespace {

void check(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "session state: %s\n", what);
        std::abort();
    }
}

struct Fixture {
    Fixture() : model(ember::fuzz::bundled_model()), tokenizer(model.file()) {
        ember::SessionParams params;
        params.context.n_ctx = 128;
        params.context.n_threads = 1;
        params.sampling.seed = 5;
        ember::Session source(model, tokenizer, params);
        ember::TurnOptions turn;
        turn.max_tokens = 6;
        source.generate("Once upon a time", turn, [](std::string_view) { return true; });
        valid = source.save_state("app data");
        target = std::make_unique<ember::Session>(model, tokenizer, params);
        target->append("The cat sat");
        before = target->tokens();
    }
    ember::Model model;
    ember::Tokenizer tokenizer;
    std::vector<uint8_t> valid;
    std::unique_ptr<ember::Session> target;
    std::vector<int32_t> before;
};

Fixture& fixture() {
    static Fixture f;
    return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    Fixture& f = fixture();
    std::vector<uint8_t> state;
    const uint8_t mode = data[0] % 4;
    if (mode == 0) {  // the input itself
        state.assign(data + 1, data + size);
    } else {  // the valid state edited: mode 2 first cuts it (a u16 length), then every mode
        // flips bytes ((u16 offset, u8 xor) triples), and mode 3 appends the rest instead
        state = f.valid;
        size_t at = 1;
        size_t cut = state.size();
        if (mode == 2 && size >= 3) {
            cut = (data[1] | (data[2] << 8)) % (state.size() + 1);
            at = 3;
        }
        if (mode == 3) {
            state.insert(state.end(), data + 1, data + size);
        } else {
            for (; at + 3 <= size; at += 3) {
                const size_t offset = (data[at] | (data[at + 1] << 8)) % state.size();
                state[offset] ^= data[at + 2];
            }
            state.resize(cut);
        }
    }
    try {
        std::string app;
        f.target->load_state(state, true, &app);
        check(state == f.valid, "a changed state was accepted");
        check(app == "app data", "the app data did not come back");
        f.target->reset();  // back to the refusing session's own tokens for the next input
        f.target->append("The cat sat");
    } catch (const ember::Error&) {
        check(state != f.valid, "the valid state was refused");
    }
    check(f.target->tokens() == f.before, "a refused state changed the session");
    return 0;
}
