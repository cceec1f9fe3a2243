// ember's C++ API: RAII classes over the C API in ember.h, header-only. Errors become
// ember::Exception (thrown in your code, from these inline functions; nothing crosses the C
// boundary). The classes live in an inline namespace so their symbols never clash with the
// library's internals: write ember::Model, ember::Session.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ember.h"

namespace ember {
inline namespace api_v1 {

inline std::string_view version() {
    return ember_version();
}

class Exception : public std::runtime_error {
  public:
    Exception(ember_status status, const std::string& message)
        : std::runtime_error(message.empty() ? ember_status_string(status) : message),
          status_(status) {}
    ember_status status() const { return status_; }

  private:
    ember_status status_;
};

inline void check(ember_status status, const char* message = "") {
    if (status != EMBER_OK) throw Exception(status, message);
}

struct ChatMessage {
    std::string role;  // "system", "user" or "assistant"
    std::string content;
};

class Model {
  public:
    explicit Model(const std::string& path,
                   const ember_model_params& params = ember_model_default_params()) {
        char error[512] = "";
        check(ember_model_load(path.c_str(), &params, &model_, error, sizeof(error)), error);
    }
    ~Model() { ember_model_free(model_); }
    Model(Model&& other) noexcept : model_(std::exchange(other.model_, nullptr)) {}
    Model& operator=(Model&& other) noexcept {
        std::swap(model_, other.model_);
        return *this;
    }
    Model(const Model&) = delete;
    Model& operator=(const Model&) = delete;

    const ember_model* get() const { return model_; }
    int n_vocab() const { return ember_model_n_vocab(model_); }
    ember_token eos() const { return ember_model_eos(model_); }

    std::vector<ember_token> tokenize(std::string_view text, bool add_special = true,
                                      bool parse_special = true) const {
        std::vector<ember_token> tokens(text.size() + 8);
        size_t n = 0;
        ember_status s = ember_tokenize(model_, text.data(), text.size(), add_special,
                                        parse_special, tokens.data(), tokens.size(), &n);
        if (s == EMBER_ERROR_BUFFER_TOO_SMALL) {
            tokens.resize(n);
            s = ember_tokenize(model_, text.data(), text.size(), add_special, parse_special,
                               tokens.data(), tokens.size(), &n);
        }
        check(s);
        tokens.resize(n);
        return tokens;
    }

    std::string detokenize(std::span<const ember_token> tokens) const {
        size_t length = 0;
        ember_status s =
            ember_detokenize(model_, tokens.data(), tokens.size(), nullptr, 0, &length);
        if (s != EMBER_ERROR_BUFFER_TOO_SMALL) check(s);
        std::string text(length, '\0');
        check(ember_detokenize(model_, tokens.data(), tokens.size(), text.data(), text.size(),
                               &length));
        return text;
    }

    // template_name: nullptr for the model's own format.
    std::string format_chat(const std::vector<ChatMessage>& messages,
                            bool add_assistant_start = true,
                            const char* template_name = nullptr) const {
        std::vector<ember_chat_message> c;
        for (const ChatMessage& m : messages) c.push_back({m.role.c_str(), m.content.c_str()});
        size_t length = 0;
        ember_status s = ember_chat_format(model_, template_name, c.data(), c.size(),
                                           add_assistant_start, nullptr, 0, &length);
        if (s != EMBER_ERROR_BUFFER_TOO_SMALL) check(s);
        std::string text(length, '\0');
        check(ember_chat_format(model_, template_name, c.data(), c.size(), add_assistant_start,
                                text.data(), text.size(), &length));
        return text;
    }

    // The conversation as JSON, with tools and the template's variables (ember_chat_format_json;
    // tools_json and variables_json may be nullptr).
    std::string format_chat_json(const std::string& messages_json, const char* tools_json = nullptr,
                                 const char* variables_json = nullptr,
                                 bool add_assistant_start = true,
                                 const char* template_name = nullptr) const {
        return sized([&](char* out, size_t capacity, size_t* length) {
            return ember_chat_format_json(model_, template_name, messages_json.c_str(), tools_json,
                                          variables_json, add_assistant_start, out, capacity,
                                          length);
        });
    }
    // A finished reply's text, thinking and tool calls as JSON (ember_chat_parse_reply).
    std::string parse_reply(const std::string& reply, const char* prompt = nullptr,
                            const char* template_name = nullptr) const {
        return sized([&](char* out, size_t capacity, size_t* length) {
            return ember_chat_parse_reply(model_, template_name, prompt, reply.c_str(), out,
                                          capacity, length);
        });
    }

  private:
    // A string from a call that reports the size it needs (EMBER_ERROR_BUFFER_TOO_SMALL first).
    template <typename Call>
    static std::string sized(const Call& call) {
        size_t length = 0;
        ember_status s = call(nullptr, 0, &length);
        if (s != EMBER_ERROR_BUFFER_TOO_SMALL) check(s);
        std::string text(length, '\0');
        check(call(text.data(), text.size(), &length));
        text.resize(length);
        return text;
    }
    ember_model* model_ = nullptr;
};

class Session {
  public:
    explicit Session(const Model& model,
                     const ember_session_params& params = ember_session_default_params()) {
        char error[512] = "";
        check(ember_session_create(model.get(), &params, &session_, error, sizeof(error)), error);
    }
    ~Session() { ember_session_free(session_); }
    Session(Session&& other) noexcept : session_(std::exchange(other.session_, nullptr)) {}
    Session& operator=(Session&& other) noexcept {
        std::swap(session_, other.session_);
        return *this;
    }
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    void append(std::string_view text) {
        check(ember_session_append(session_, text.data(), text.size()));
    }

    // Streams generated text to on_text (return false to stop); returns the statistics.
    ember_generate_stats generate(std::string_view prompt,
                                  const std::function<bool(std::string_view)>& on_text,
                                  int n_predict = 256, const std::vector<std::string>& stop = {}) {
        std::vector<const char*> stop_ptrs;
        for (const std::string& s : stop) stop_ptrs.push_back(s.c_str());
        ember_generate_params params = ember_generate_default_params();
        params.n_predict = n_predict;
        params.stop_strings = stop_ptrs.data();
        params.n_stop_strings = stop_ptrs.size();
        return generate(prompt, on_text, params);
    }
    // The same with every parameter (a grammar, a JSON schema, a power budget...). A grammar
    // or schema ember cannot use throws ember::Exception with the reason.
    ember_generate_stats generate(std::string_view prompt,
                                  const std::function<bool(std::string_view)>& on_text,
                                  const ember_generate_params& params) {
        if (params.grammar != nullptr || params.json_schema != nullptr) {
            char error[512] = "";
            check(ember_grammar_check(params.grammar, params.json_schema, error, sizeof(error)),
                  error);
        }
        ember_generate_stats stats{};
        const std::string prompt_text(prompt);
        check(ember_generate(
            session_, prompt_text.c_str(), &params,
            [](const char* text, size_t length, void* user_data) {
                return (*static_cast<const std::function<bool(std::string_view)>*>(user_data))(
                    std::string_view(text, length));
            },
            const_cast<std::function<bool(std::string_view)>*>(&on_text), &stats));
        return stats;
    }

    // The whole state (ember_session_save_state), and back; and the same through a file.
    std::vector<uint8_t> save_state() const {
        size_t size = 0;
        ember_status status = ember_session_save_state(session_, nullptr, 0, &size);
        if (status != EMBER_ERROR_BUFFER_TOO_SMALL) check(status);
        std::vector<uint8_t> state(size);
        check(ember_session_save_state(session_, state.data(), state.size(), &size));
        return state;
    }
    void load_state(const std::vector<uint8_t>& state) {
        char error[512] = "";
        check(ember_session_load_state(session_, state.data(), state.size(), error, sizeof(error)),
              error);
    }
    void save_file(const std::string& path) const {
        char error[512] = "";
        check(ember_session_save_file(session_, path.c_str(), error, sizeof(error)), error);
    }
    void load_file(const std::string& path) {
        char error[512] = "";
        check(ember_session_load_file(session_, path.c_str(), error, sizeof(error)), error);
    }

    void cancel() { ember_session_cancel(session_); }
    void reset() { check(ember_session_reset(session_)); }
    int n_tokens() const { return ember_session_n_tokens(session_); }
    ember_session* get() { return session_; }

  private:
    ember_session* session_ = nullptr;
};

// Sentence vectors: one std::vector<float> of dimension() values per text.
class Embedder {
  public:
    explicit Embedder(const Model& model,
                      const ember_embedder_params& params = ember_embedder_default_params()) {
        char error[512] = "";
        check(ember_embedder_create(model.get(), &params, &embedder_, error, sizeof(error)), error);
    }
    ~Embedder() { ember_embedder_free(embedder_); }
    Embedder(Embedder&& other) noexcept : embedder_(std::exchange(other.embedder_, nullptr)) {}
    Embedder& operator=(Embedder&& other) noexcept {
        std::swap(embedder_, other.embedder_);
        return *this;
    }
    Embedder(const Embedder&) = delete;
    Embedder& operator=(const Embedder&) = delete;

    int dimension() const { return ember_embedder_dimension(embedder_); }
    ember_pooling pooling() const {
        return static_cast<ember_pooling>(ember_embedder_pooling(embedder_));
    }

    std::vector<std::vector<float>> embed(const std::vector<std::string>& texts) {
        std::vector<const char*> ptrs;
        for (const std::string& t : texts) ptrs.push_back(t.c_str());
        const size_t d = static_cast<size_t>(dimension());
        std::vector<float> flat(texts.size() * d);
        check(ember_embed(embedder_, ptrs.data(), ptrs.size(), flat.data(), flat.size(), nullptr));
        std::vector<std::vector<float>> out;
        for (size_t i = 0; i < texts.size(); ++i) {
            out.emplace_back(flat.begin() + static_cast<ptrdiff_t>(i * d),
                             flat.begin() + static_cast<ptrdiff_t>((i + 1) * d));
        }
        return out;
    }

    void cancel() { ember_embedder_cancel(embedder_); }
    ember_embedder* get() { return embedder_; }

  private:
    ember_embedder* embedder_ = nullptr;
};

}  // namespace api_v1
}  // namespace ember
