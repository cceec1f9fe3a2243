// libFuzzer target: random sequences of C API calls on the bundled model (stories260K), read
// from the input bytes: create sessions with odd parameters, append text and token ids (also
// outside the vocabulary), generate with a callback that stops early, rewind, reset, cancel,
// free. Every call returns a status (never crashes, never leaks); the session's token count
// moves only as each call says.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "ember.h"
#include "fuzz/fuzz_data.h"

namespace {

// Reads the input front to back; zeros once it runs out.
class Bytes {
  public:
    Bytes(const uint8_t* data, size_t size) : data_(data), size_(size) {}
    bool empty() const { return at_ >= size_; }
    uint8_t u8() { return at_ < size_ ? data_[at_++] : 0; }
    uint16_t u16() { return static_cast<uint16_t>(u8() | u8() << 8); }
    std::string text(size_t max) {
        const size_t n = std::min<size_t>(u8() % (max + 1), size_ - std::min(at_, size_));
        std::string s(reinterpret_cast<const char*>(data_ + at_), n);
        at_ += n;
        return s;
    }

  private:
    const uint8_t* data_;
    size_t size_, at_ = 0;
};

void check(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "c api: %s\n", what);
        std::abort();
    }
}

ember_model* model() {
    static ember_model* m = [] {
        ember_model* loaded = nullptr;
        char error[256];
        if (ember_model_load(ember::fuzz::bundled_model().c_str(), nullptr, &loaded, error,
                             sizeof(error)) != EMBER_OK) {
            std::fprintf(stderr, "cannot load the bundled model: %s\n", error);
            std::abort();
        }
        return loaded;
    }();
    return m;
}

struct StopAfter {
    int left;
};

bool on_text(const char*, size_t, void* user) {
    auto* s = static_cast<StopAfter*>(user);
    return --s->left > 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Bytes in(data, size);
    ember_session* session = nullptr;
    const int32_t n_vocab = ember_model_n_vocab(model());
    for (int step = 0; step < 32 && !in.empty(); ++step) {
        const uint8_t op = in.u8() % 9;
        if (session == nullptr && op != 0) continue;
        const int32_t before = session ? ember_session_n_tokens(session) : 0;
        switch (op) {
            case 0: {  // create (again: the old one is freed)
                ember_session_free(session);
                session = nullptr;
                ember_session_params p = ember_session_default_params();
                p.n_ctx = static_cast<int8_t>(in.u8());  // negative ones included
                p.n_threads = in.u8() % 4;
                p.n_batch = static_cast<int8_t>(in.u8());
                p.kv_f32 = in.u8() & 1;
                p.sampling.temperature = (in.u8() % 20) / 10.0f;
                p.sampling.top_k = static_cast<int8_t>(in.u8());
                p.sampling.top_p = (in.u8() % 12) / 10.0f;
                p.sampling.seed = in.u8();
                const ember_status s = ember_session_create(model(), &p, &session, nullptr, 0);
                check((s == EMBER_OK) == (session != nullptr), "create: status and session");
                break;
            }
            case 1: {  // append text
                const std::string text = in.text(48);
                const ember_status s = ember_session_append(session, text.data(), text.size());
                check(s == EMBER_OK || ember_session_n_tokens(session) == before,
                      "append: a failed call changed the session");
                break;
            }
            case 2: {  // append ids, some outside the vocabulary
                std::vector<ember_token> ids(in.u8() % 8);
                for (ember_token& id : ids) id = static_cast<int16_t>(in.u16()) % (n_vocab + 8);
                const ember_status s = ember_session_append_tokens(session, ids.data(), ids.size());
                check(s != EMBER_OK || ember_session_n_tokens(session) ==
                                           before + static_cast<int32_t>(ids.size()),
                      "append tokens: count");
                check(s == EMBER_OK || ember_session_n_tokens(session) == before,
                      "append tokens: a failed call changed the session");
                break;
            }
            case 3: {  // generate, stopping early sometimes
                ember_generate_params g = ember_generate_default_params();
                g.n_predict = static_cast<int8_t>(in.u8()) % 24;
                g.ignore_eos = in.u8() & 1;
                const std::string stop = in.text(4);
                const char* stops[] = {stop.c_str()};
                if (!stop.empty()) g.stop_strings = stops, g.n_stop_strings = 1;
                const std::string prompt = in.text(16);
                StopAfter stop_after{1 + in.u8() % 16};
                ember_generate_stats stats{};
                (void)ember_generate(session, prompt.empty() ? nullptr : prompt.c_str(), &g,
                                     on_text, &stop_after, &stats);
                break;
            }
            case 4:
                check(ember_session_rewind(session, static_cast<int8_t>(in.u8())) != EMBER_OK ||
                          ember_session_n_tokens(session) <= before,
                      "rewind grew the session");
                break;
            case 5:
                check(ember_session_reset(session) == EMBER_OK &&
                          ember_session_n_tokens(session) == 0,
                      "reset");
                break;
            case 6:
                ember_session_cancel(session);
                break;
            case 7: {
                const float* logits = ember_session_logits(session);
                check((logits != nullptr) == (ember_session_n_tokens(session) > 0) ||
                          logits == nullptr,
                      "logits");
                break;
            }
            case 8:
                ember_session_free(session);
                session = nullptr;
                break;
        }
    }
    ember_session_free(session);
    return 0;
}
