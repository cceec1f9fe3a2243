// libFuzzer target: random sequences of C API calls on the bundled model (stories260K), read
// from the input bytes: create sessions with odd parameters, append text and token ids (also
// outside the vocabulary), generate with a callback that stops early, rewind, reset, cancel,
// free; decode several sequences of a multi-sequence context at once (odd sequence numbers,
// duplicates, overflows); sample replies with ember_sampler and ember_turn; embed texts. Every
// call returns a status (never crashes, never leaks); token counts move only as each call says.
#include <cmath>
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
    int32_t cancel_flag = 0;  // watched by the session (case 6)
    const int32_t n_vocab = ember_model_n_vocab(model());
    ember_context* context = nullptr;
    for (int step = 0; step < 32 && !in.empty(); ++step) {
        const uint8_t op = in.u8() % 12;
        if (op == 9) {  // several sequences in one decode
            if (context == nullptr) {
                ember_context_params p = ember_context_default_params();
                p.n_seq = 1 + in.u8() % 4;
                p.n_ctx = 4 + in.u8() % 40;
                p.n_threads = 1 + in.u8() % 2;
                check(ember_context_create(model(), &p, &context, nullptr, 0) == EMBER_OK,
                      "context create");
            }
            std::vector<std::vector<ember_token>> ids(1 + in.u8() % 4);
            std::vector<ember_sequence_tokens> inputs;
            std::vector<int32_t> before_past;
            for (auto& seq_ids : ids) {
                seq_ids.resize(in.u8() % 12);
                for (ember_token& id : seq_ids) id = static_cast<int16_t>(in.u16()) % (n_vocab + 4);
                const int32_t seq = static_cast<int8_t>(in.u8()) % 5;  // some out of range
                inputs.push_back({seq, seq_ids.data(), seq_ids.size()});
            }
            for (int32_t seq = 0; seq < 4; ++seq)
                before_past.push_back(ember_context_n_past(context, seq));
            const ember_status s = ember_context_decode(context, inputs.data(), inputs.size());
            for (int32_t seq = 0; seq < 4; ++seq) {
                int32_t added = 0;
                for (const auto& input : inputs) {
                    if (input.seq == seq) added += static_cast<int32_t>(input.n_tokens);
                }
                const int32_t expected = before_past[seq] + (s == EMBER_OK ? added : 0);
                check(ember_context_n_past(context, seq) == expected, "context decode: n_past");
            }
            if (s == EMBER_OK) {
                const float* logits = ember_context_logits(context, inputs.size() - 1);
                check(logits != nullptr && std::isfinite(logits[0]), "context decode: logits");
            }
            if (in.u8() & 1) ember_context_truncate(context, in.u8() % 4, in.u8() % 8);
            continue;
        }
        if (op == 11) {  // a turn's steps over the last decode's logits (or made-up ones)
            ember_sampler_params sp = ember_session_default_params().sampling;
            sp.temperature = (in.u8() % 20) / 10.0f;
            sp.repeat_penalty = 0.5f + (in.u8() % 10) / 10.0f;
            sp.seed = in.u8();
            ember_sampler* sampler = nullptr;
            check(ember_sampler_create(&sp, &sampler, nullptr, 0) == EMBER_OK, "sampler create");
            ember_turn_params tp = ember_turn_default_params();
            tp.max_tokens = static_cast<int8_t>(in.u8()) % 12;
            const std::string stop = in.text(3), grammar = in.text(24);
            const char* stops[] = {stop.c_str()};
            if (!stop.empty()) tp.stop_strings = stops, tp.n_stop_strings = 1;
            const ember_token end = static_cast<int16_t>(in.u16()) % (n_vocab + 4);
            if (in.u8() & 1) tp.end_tokens = &end, tp.n_end_tokens = 1;
            if (in.u8() & 1) tp.grammar = grammar.c_str();
            if (in.u8() & 1) tp.chat_template = (in.u8() & 1) ? "" : "chatml";
            tp.ignore_eos = in.u8() & 1;
            ember_turn* turn = nullptr;
            if (ember_turn_create(model(), sampler, &tp, &turn, nullptr, 0) == EMBER_OK) {
                std::vector<float> made_up(static_cast<size_t>(n_vocab));
                for (float& v : made_up) v = static_cast<int8_t>(in.u8()) / 8.0f;
                const float* last = context ? ember_context_logits(context, 0) : nullptr;
                int32_t reason = EMBER_STOP_NONE;
                for (int i = 0; i < 16 && reason == EMBER_STOP_NONE; ++i) {
                    ember_token token = 0;
                    const char* text = nullptr;
                    size_t length = 0;
                    if (ember_turn_next(turn, last ? last : made_up.data(), &token, &text, &length,
                                        &reason) != EMBER_OK) {
                        break;
                    }
                    check(text != nullptr && (token == -1 || (token >= 0 && token < n_vocab)),
                          "turn next: token or text");
                }
                check(ember_turn_n_kept(turn) <= ember_turn_n_generated(turn), "turn: kept");
                ember_turn_free(turn);
            }
            ember_sampler_free(sampler);
            continue;
        }
        if (op == 10) {  // embeddings of a few texts (the decoder's last states)
            ember_embedder_params p = ember_embedder_default_params();
            p.n_ctx = static_cast<int8_t>(in.u8());
            p.truncate = in.u8() & 1;
            ember_embedder* embedder = nullptr;
            if (ember_embedder_create(model(), &p, &embedder, nullptr, 0) != EMBER_OK) continue;
            const std::string a = in.text(40), b = in.text(40);
            const char* texts[] = {a.c_str(), b.c_str()};
            std::vector<float> out(2 * static_cast<size_t>(ember_embedder_dimension(embedder)));
            const ember_status s =
                ember_embed(embedder, texts, 2, out.data(), out.size() - (in.u8() & 1), nullptr);
            if (s == EMBER_OK) {
                for (float v : out) check(std::isfinite(v), "embed: a vector is not finite");
            }
            ember_embedder_free(embedder);
            continue;
        }
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
                p.kv_type = in.u8() % 5;  // 4: refused
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
                // A cancel before the next call (forgotten by it), or a watched flag: raised,
                // lowered or none (a flag raised stops every call until it is lowered).
                if (in.u8() & 1) {
                    ember_session_cancel(session);
                } else {
                    cancel_flag = in.u8() & 1;
                    ember_session_watch_cancel(session, (in.u8() & 1) ? &cancel_flag : nullptr);
                }
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
    ember_context_free(context);
    return 0;
}
