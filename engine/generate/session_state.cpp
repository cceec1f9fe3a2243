// Saving and restoring a Session (session.h: save_state, load_state and the file versions), so
// that an app the OS suspended or killed resumes a conversation without evaluating it again,
// and `ember run --prompt-cache` skips a prompt it has seen.
//
// The state, little-endian, in this order:
//   char[8]  "EMBERSES"
//   u32      format version (kStateVersion)
//   u64      the model's fingerprint (Model::fingerprint)
//   u32 x 5  n_vocab, layers with a KV cache, n_head_kv, head_dim, the KV cache's GGUF type id
//   u32      bytes of the recurrent layers' state (lfm2; 0 for attention-only models)
//            [version 2 on; version 1 has no such field and no state]
//   u32      n_tokens: positions in the cache
//   i32      pending: the last sampled token, not yet evaluated (-1: none)
//   i32[n_tokens]   the tokens
//   f32[n_vocab]    the logits after the last token (what the next sample reads)
//   u32 + bytes     the sampler's state (Sampler::state, text)
//   u32 + bytes     the caller's own data, kept as given (ember chat: its messages)
//   bytes           the cache rows (Context::save_rows: KvCache::sequence_bytes(n_tokens)),
//                   then the recurrent state
//   u64      FNV-1a of everything before it
// A state is checked whole (size, checksum, version, model, geometry, cache type, tokens)
// before anything in the session changes; a failed load leaves the session as it was.
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>

#include "engine/generate/session.h"
#include "engine/runtime/hash.h"
#include "formats/output_file.h"

namespace ember {
namespace {

constexpr char kMagic[8] = {'E', 'M', 'B', 'E', 'R', 'S', 'E', 'S'};
// 2 added the recurrent state; a version 1 state (no state) still loads where it is all there
// is (a model without recurrent layers).
constexpr uint32_t kStateVersion = 2;

class Writer {
  public:
    template <typename T>
    void put(const T& value) {
        bytes(&value, sizeof(T));
    }
    void bytes(const void* data, size_t n) {
        if (n == 0) return;
        const size_t at = out.size();
        out.resize(at + n);
        std::memcpy(out.data() + at, data, n);
    }
    std::vector<uint8_t> out;
};

class Reader {
  public:
    explicit Reader(std::span<const uint8_t> in) : in_(in) {}
    template <typename T>
    T get() {
        T value;
        std::memcpy(&value, take(sizeof(T)), sizeof(T));
        return value;
    }
    const uint8_t* take(size_t n) {
        if (n > in_.size() - at_) throw Error("the state is truncated");
        const uint8_t* p = in_.data() + at_;
        at_ += n;
        return p;
    }
    size_t left() const { return in_.size() - at_; }

  private:
    std::span<const uint8_t> in_;
    size_t at_ = 0;
};

struct Geometry {
    uint32_t n_vocab, n_layer, n_head_kv, head_dim, kv_type;
};

Geometry geometry_of(const Context& context) {
    const ModelConfig& c = context.model().config();
    return {static_cast<uint32_t>(c.n_vocab), static_cast<uint32_t>(c.n_attention_layers),
            static_cast<uint32_t>(c.n_head_kv), static_cast<uint32_t>(c.head_dim),
            static_cast<uint32_t>(context.kv_cache().type())};
}

}  // namespace

std::vector<uint8_t> Session::save_state(std::string_view app_data) const {
    Writer w;
    w.bytes(kMagic, sizeof(kMagic));
    w.put(kStateVersion);
    w.put(context_.model().fingerprint());
    w.put(geometry_of(context_));
    w.put(static_cast<uint32_t>(context_.saved_bytes(0)));  // the state alone
    w.put(static_cast<uint32_t>(tokens_.size()));
    w.put(pending_);
    w.bytes(tokens_.data(), tokens_.size() * sizeof(int32_t));
    std::vector<float> logits(static_cast<size_t>(context_.n_vocab()), 0.0f);
    if (!tokens_.empty()) std::copy_n(context_.logits(), logits.size(), logits.begin());
    w.bytes(logits.data(), logits.size() * sizeof(float));
    const std::string sampler = sampler_.state();
    w.put(static_cast<uint32_t>(sampler.size()));
    w.bytes(sampler.data(), sampler.size());
    w.put(static_cast<uint32_t>(app_data.size()));
    w.bytes(app_data.data(), app_data.size());
    const std::vector<uint8_t> rows = context_.save_rows(0, static_cast<int>(tokens_.size()));
    w.bytes(rows.data(), rows.size());
    w.put(fnv1a(w.out.data(), w.out.size()));
    return std::move(w.out);
}

void Session::load_state(std::span<const uint8_t> state, bool restore_sampler,
                         std::string* app_data) {
    if (state.size() < sizeof(kMagic) || std::memcmp(state.data(), kMagic, sizeof(kMagic)) != 0)
        throw Error("not an ember session state");
    Reader r(state);
    r.take(sizeof(kMagic));
    const auto version = r.get<uint32_t>();
    if (version != kStateVersion && version != 1) {
        throw Error("session state format version " + std::to_string(version) +
                    "; this ember reads versions 1 and " + std::to_string(kStateVersion));
    }
    // 1. The layout: every part present, nothing after the checksum.
    const auto fingerprint = r.get<uint64_t>();
    const auto saved = r.get<Geometry>();
    const uint32_t state_bytes = version >= 2 ? r.get<uint32_t>() : 0;
    const auto n_tokens = r.get<uint32_t>();
    const auto pending = r.get<int32_t>();
    const uint8_t* tokens_at = r.take(uint64_t{n_tokens} * sizeof(int32_t));
    const uint8_t* logits_at = r.take(uint64_t{saved.n_vocab} * sizeof(float));
    const auto sampler_bytes = r.get<uint32_t>();
    const std::string_view sampler(reinterpret_cast<const char*>(r.take(sampler_bytes)),
                                   sampler_bytes);
    const auto app_bytes = r.get<uint32_t>();
    const std::string_view app(reinterpret_cast<const char*>(r.take(app_bytes)), app_bytes);
    const std::optional<TensorTypeInfo> type = tensor_type_info(saved.kv_type);
    if (!type || saved.head_dim % type->block_size != 0)
        throw Error("the state is damaged (unknown KV cache type)");
    const uint64_t row_bytes = 2 * uint64_t{saved.n_layer} * saved.n_head_kv * n_tokens *
                                   (saved.head_dim / type->block_size) * type->bytes_per_block +
                               state_bytes;
    if (r.left() != row_bytes + sizeof(uint64_t)) {
        throw Error(r.left() < row_bytes + sizeof(uint64_t) ? "the state is truncated"
                                                            : "the state has trailing bytes");
    }
    const std::span<const uint8_t> rows(r.take(row_bytes), row_bytes);
    // 2. The bytes: as they were written.
    if (fnv1a(state.data(), state.size() - sizeof(uint64_t)) != r.get<uint64_t>())
        throw Error("the state is damaged (its checksum does not match)");
    // 3. This session can hold it.
    if (fingerprint != context_.model().fingerprint())
        throw Error("the state belongs to another model");
    const Geometry here = geometry_of(context_);
    if (saved.kv_type != here.kv_type) {
        throw Error("the state was saved with a " + std::string(type->name) +
                    " KV cache and this session's is " +
                    std::string(tensor_type_name(context_.kv_cache().type())));
    }
    if (std::memcmp(&saved, &here, sizeof(Geometry)) != 0)
        throw Error("the state's model shape differs from this model's");
    if (state_bytes != context_.saved_bytes(0)) {
        throw Error(version == 1 ? "the state was saved by an older ember (format version 1), "
                                   "which kept no recurrent state: evaluate the prompt again"
                                 : "the state's recurrent state does not fit this model");
    }
    if (n_tokens > static_cast<uint32_t>(n_ctx())) {
        throw Error("the state holds " + std::to_string(n_tokens) +
                    " tokens, more than this session's context of " + std::to_string(n_ctx()));
    }
    std::vector<int32_t> tokens(n_tokens);
    std::memcpy(tokens.data(), tokens_at, tokens.size() * sizeof(int32_t));
    std::vector<float> logits(here.n_vocab);
    std::memcpy(logits.data(), logits_at, logits.size() * sizeof(float));
    for (int32_t t : tokens) {
        if (t < 0 || t >= static_cast<int32_t>(here.n_vocab))
            throw Error("the state holds a token outside the vocabulary");
    }
    if (pending < -1 || pending >= static_cast<int32_t>(here.n_vocab))
        throw Error("the state holds a token outside the vocabulary");
    Sampler restored = sampler_;
    if (restore_sampler) restored.set_state(sampler);

    // Everything checked: apply.
    context_.load_rows(0, tokens, rows);
    context_.set_logits(logits);
    tokens_ = std::move(tokens);
    pending_ = pending;
    if (app_data) *app_data = app;
    if (restore_sampler) {
        sampler_ = restored;
    } else {  // a fresh sampler that has seen the tokens (for the penalties)
        sampler_.reset();
        for (int32_t t : tokens_) sampler_.accept(t);
    }
}

void Session::save_state_file(const std::string& path, std::string_view app_data) const {
    const std::vector<uint8_t> state = save_state(app_data);
    OutputFile out(path);
    out.write(state.data(), state.size());
    out.commit();
}

void Session::load_state_file(const std::string& path, bool restore_sampler,
                              std::string* app_data) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw FileError(path + ": cannot open");
    const std::vector<uint8_t> state((std::istreambuf_iterator<char>(in)),
                                     std::istreambuf_iterator<char>());
    if (in.bad()) throw FileError(path + ": read error");
    try {
        load_state(state, restore_sampler, app_data);
    } catch (const Error& e) {
        throw Error(path + ": " + e.what());
    }
}

}  // namespace ember
