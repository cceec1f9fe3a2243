// The C API (ember.h) over the C++ engine. Every entry point catches every exception and turns
// it into a status code and, where the caller gave a buffer, a message.
#include <algorithm>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include "ember.h"
#include "engine/api/log.h"
#include "engine/embed/embedder.h"
#include "engine/generate/reasoning.h"
#include "engine/generate/reply_reader.h"
#include "engine/generate/session.h"
#include "engine/generate/tool_calls.h"
#include "engine/generate/turn.h"
#include "engine/grammar/grammar.h"
#include "engine/grammar/json_schema.h"
#include "engine/model/model.h"
#include "engine/text/chat_format.h"
#include "engine/text/json.h"
#include "engine/text/tokenizer.h"
#include "formats/error.h"

struct ember_model {
    ember_model(const std::string& path, const ember::ModelOptions& options)
        : model(path, options), tokenizer(model.file()) {}
    ember::Model model;
    ember::Tokenizer tokenizer;
};

struct ember_session {
    ember_session(const ember_model& m, const ember::SessionParams& params)
        : owner(m), session(m.model, m.tokenizer, params) {}
    const ember_model& owner;
    ember::Session session;
};

struct ember_context {
    ember_context(const ember_model& m, const ember::ContextParams& params)
        : context(m.model, params) {}
    ember::Context context;
    size_t n_outputs = 0;  // logits rows of the last decode
};

struct ember_sampler {
    explicit ember_sampler(const ember::SamplerParams& params) : sampler(params) {}
    ember::Sampler sampler;
};

struct ember_turn {
    ember_turn(const ember_model& m, ember_sampler& s, ember::TurnRules rules)
        : owner(m), turn(m.tokenizer, s.sampler, std::move(rules), grammar_tables) {}
    const ember_model& owner;
    std::shared_ptr<const ember::GrammarVocabulary> grammar_tables;  // before turn: it fills them
    ember::Turn turn;
    std::string text;  // the last step's text, handed out until the next call
};

struct ember_embedder {
    ember_embedder(const ember_model& m, const ember::EmbedParams& params)
        : embedder(m.model, m.tokenizer, params) {}
    ember::Embedder embedder;
};

namespace {

// The message of the last failed call on this thread, for ember_last_error().
thread_local std::string last_error;

void write_message(char* buffer, size_t size, const std::string& message) {
    last_error = message;
    if (buffer == nullptr || size == 0) return;
    const size_t n = std::min(size - 1, message.size());
    std::memcpy(buffer, message.data(), n);
    buffer[n] = '\0';
}

// Runs body, mapping exceptions to statuses. `fallback` is the status for a plain ember::Error
// (its meaning depends on the call: a bad file when loading, a bad argument elsewhere).
// Thrown inside guarded() for EMBER_ERROR_BUFFER_TOO_SMALL.
struct BufferTooSmall {};

template <typename Body>
ember_status guarded(ember_status fallback, char* error, size_t error_size, Body&& body) {
    last_error.clear();
    try {
        body();
        return EMBER_OK;
    } catch (const BufferTooSmall&) {
        last_error = "the output buffer is too small";
        return EMBER_ERROR_BUFFER_TOO_SMALL;
    } catch (const ember::CancelledError& e) {
        write_message(error, error_size, e.what());
        return EMBER_ERROR_CANCELLED;
    } catch (const ember::ContextFullError& e) {
        write_message(error, error_size, e.what());
        return EMBER_ERROR_CONTEXT_FULL;
    } catch (const ember::FileError& e) {
        write_message(error, error_size, e.what());
        return EMBER_ERROR_FILE;
    } catch (const ember::Error& e) {
        write_message(error, error_size, e.what());
        ember::log_message(ember::LogLevel::Error, e.what());
        return fallback;
    } catch (const std::bad_alloc&) {
        write_message(error, error_size, "out of memory");
        return EMBER_ERROR_OUT_OF_MEMORY;
    } catch (const std::exception& e) {
        write_message(error, error_size, e.what());
        return EMBER_ERROR_INTERNAL;
    } catch (...) {
        write_message(error, error_size, "unknown error");
        return EMBER_ERROR_INTERNAL;
    }
}

ember_status copy_out(const std::string& text, char* out, size_t capacity, size_t* length) {
    *length = text.size();
    if (text.size() > capacity) return EMBER_ERROR_BUFFER_TOO_SMALL;
    if (!text.empty()) std::memcpy(out, text.data(), text.size());
    return EMBER_OK;
}

// Throws for a value outside the enum, caught as INVALID_ARGUMENT. The field is an int32_t,
// not the enum type: a C caller may store any number there, and a C++ enum without a fixed
// type may not hold it.
ember::TensorType to_tensor_type(int32_t type) {
    switch (type) {
        case EMBER_KV_F16:
            return ember::TensorType::F16;
        case EMBER_KV_F32:
            return ember::TensorType::F32;
        case EMBER_KV_Q8_0:
            return ember::TensorType::Q8_0;
        case EMBER_KV_Q4_0:
            return ember::TensorType::Q4_0;
    }
    throw ember::Error("unknown kv_type " + std::to_string(type) +
                       " (EMBER_KV_F16, EMBER_KV_F32, EMBER_KV_Q8_0 or EMBER_KV_Q4_0)");
}

// The grammar of ember_generate_params' grammar / json_schema, or null for free text.
std::shared_ptr<const ember::Grammar> compile_grammar(const char* grammar,
                                                      const char* json_schema) {
    if (grammar != nullptr && json_schema != nullptr) {
        throw ember::Error("give a grammar or a JSON schema, not both");
    }
    if (grammar != nullptr) return ember::Grammar::parse(grammar);
    if (json_schema != nullptr) {
        return ember::Grammar::parse(ember::json_schema_to_gbnf(json_schema));
    }
    return nullptr;
}

// A built-in format by name; NULL or "": the model's own (ChatFormat::for_model).
ember::ChatFormat chat_format_of(const ember_model& model, const char* name) {
    const std::string_view family = model.model.config().arch->chat_template;
    if (name != nullptr &&
        (std::strstr(name, "{{") != nullptr || std::strstr(name, "{%") != nullptr)) {
        // A Jinja template's text (an app's own, or another file's), as llama.cpp's
        // llama_chat_apply_template takes one.
        return ember::ChatFormat::from_source(name, model.tokenizer, "the given template", family);
    }
    return ember::ChatFormat::for_model(model.model.file(), model.tokenizer, family,
                                        name != nullptr ? name : "");
}

ember::SamplerParams to_sampler_params(const ember_sampler_params& p) {
    ember::SamplerParams s;
    s.temperature = p.temperature;
    s.top_k = p.top_k;
    s.top_p = p.top_p;
    s.min_p = p.min_p;
    s.repeat_penalty = p.repeat_penalty;
    s.frequency_penalty = p.frequency_penalty;
    s.presence_penalty = p.presence_penalty;
    s.repeat_last_n = p.repeat_last_n;
    s.seed = p.seed;
    return s;
}

}  // namespace

extern "C" {

const char* ember_version(void) {
    return EMBER_VERSION_STRING;
}

const char* ember_last_error(void) {
    return last_error.c_str();
}

const char* ember_status_string(ember_status status) {
    switch (status) {
        case EMBER_OK:
            return "ok";
        case EMBER_ERROR_INVALID_ARGUMENT:
            return "invalid argument";
        case EMBER_ERROR_FILE:
            return "file error";
        case EMBER_ERROR_FORMAT:
            return "invalid or unsupported model file";
        case EMBER_ERROR_CONTEXT_FULL:
            return "context full";
        case EMBER_ERROR_CANCELLED:
            return "cancelled";
        case EMBER_ERROR_BUFFER_TOO_SMALL:
            return "buffer too small";
        case EMBER_ERROR_OUT_OF_MEMORY:
            return "out of memory";
        case EMBER_ERROR_INTERNAL:
            return "internal error";
    }
    return "unknown status";
}

void ember_set_log_callback(ember_log_callback callback, void* user_data) {
    if (callback == nullptr) {
        ember::set_log_sink({});
        return;
    }
    ember::set_log_sink([callback, user_data](ember::LogLevel level, const char* message) {
        callback(static_cast<ember_log_level>(level), message, user_data);
    });
}

ember_model_params ember_model_default_params(void) {
    ember_model_params params{};
    params.repack = 1;
    return params;
}

ember_status ember_model_load(const char* path, const ember_model_params* params,
                              ember_model** out_model, char* error, size_t error_size) {
    if (out_model == nullptr || path == nullptr) {
        write_message(error, error_size, "ember_model_load: path and out_model must not be NULL");
        return EMBER_ERROR_INVALID_ARGUMENT;
    }
    *out_model = nullptr;
    return guarded(EMBER_ERROR_FORMAT, error, error_size, [&] {
        ember::ModelOptions options;
        options.repack = params == nullptr || params->repack != 0;
        *out_model = new ember_model(path, options);
        const ember::ModelConfig& c = (*out_model)->model.config();
        ember::log_message(ember::LogLevel::Info, std::string("loaded ") + path + ": " +
                                                      std::to_string(c.n_layer) +
                                                      " layers, width " + std::to_string(c.n_embd) +
                                                      ", vocabulary " + std::to_string(c.n_vocab));
    });
}

void ember_model_free(ember_model* model) {
    delete model;
}

int32_t ember_model_n_vocab(const ember_model* model) {
    return model ? model->model.config().n_vocab : 0;
}
int32_t ember_model_n_ctx_train(const ember_model* model) {
    return model ? model->model.config().n_ctx_train : 0;
}
ember_token ember_model_bos(const ember_model* model) {
    return model ? model->tokenizer.vocab().bos : -1;
}
ember_token ember_model_eos(const ember_model* model) {
    return model ? model->tokenizer.vocab().eos : -1;
}

ember_status ember_tokenize(const ember_model* model, const char* text, size_t text_length,
                            bool add_special, bool parse_special, ember_token* tokens,
                            size_t capacity, size_t* n_tokens) {
    if (model == nullptr || n_tokens == nullptr || (text == nullptr && text_length > 0) ||
        (tokens == nullptr && capacity > 0)) {
        return EMBER_ERROR_INVALID_ARGUMENT;
    }
    ember_status status = EMBER_OK;
    const ember_status caught = guarded(EMBER_ERROR_INVALID_ARGUMENT, nullptr, 0, [&] {
        const auto ids = model->tokenizer.encode(std::string_view(text ? text : "", text_length),
                                                 add_special, parse_special);
        *n_tokens = ids.size();
        if (ids.size() > capacity) {
            status = EMBER_ERROR_BUFFER_TOO_SMALL;
            return;
        }
        std::copy(ids.begin(), ids.end(), tokens);
    });
    return caught != EMBER_OK ? caught : status;
}

ember_status ember_detokenize(const ember_model* model, const ember_token* tokens, size_t n_tokens,
                              char* text, size_t capacity, size_t* length) {
    if (model == nullptr || length == nullptr || (tokens == nullptr && n_tokens > 0) ||
        (text == nullptr && capacity > 0)) {
        return EMBER_ERROR_INVALID_ARGUMENT;
    }
    ember_status status = EMBER_OK;
    const ember_status caught = guarded(EMBER_ERROR_INVALID_ARGUMENT, nullptr, 0, [&] {
        status =
            copy_out(model->tokenizer.decode(std::span(tokens, n_tokens)), text, capacity, length);
    });
    return caught != EMBER_OK ? caught : status;
}

ember_session_params ember_session_default_params(void) {
    const ember::SamplerParams s;
    ember_session_params p{};
    p.n_ctx = 0;
    p.n_threads = 0;
    p.n_batch = 512;
    p.kv_type = EMBER_KV_F16;
    p.sampling = {s.temperature,
                  s.top_k,
                  s.top_p,
                  s.min_p,
                  s.repeat_penalty,
                  s.frequency_penalty,
                  s.presence_penalty,
                  s.repeat_last_n,
                  s.seed};
    const ember::DraftParams d;
    p.draft_model = nullptr;
    p.draft_max = d.max;
    p.draft_min = d.min;
    p.draft_p_min = d.p_min;
    p.lookup = 0;
    return p;
}

ember_status ember_session_create(const ember_model* model, const ember_session_params* params,
                                  ember_session** out_session, char* error, size_t error_size) {
    if (model == nullptr || out_session == nullptr) {
        write_message(error, error_size,
                      "ember_session_create: model and out_session must not be NULL");
        return EMBER_ERROR_INVALID_ARGUMENT;
    }
    *out_session = nullptr;
    const ember_session_params p = params ? *params : ember_session_default_params();
    if (p.n_ctx < 0 || p.n_threads < 0 || p.n_batch < 0) {
        write_message(error, error_size,
                      "ember_session_create: negative n_ctx, n_threads or n_batch");
        return EMBER_ERROR_INVALID_ARGUMENT;
    }
    return guarded(EMBER_ERROR_INVALID_ARGUMENT, error, error_size, [&] {
        ember::SessionParams sp;
        sp.context.n_ctx = p.n_ctx;
        sp.context.n_threads = p.n_threads;
        sp.context.n_batch = p.n_batch > 0 ? p.n_batch : 512;
        sp.context.kv_type = to_tensor_type(p.kv_type);
        sp.context.max_memory = p.max_memory;
        sp.sampling = to_sampler_params(p.sampling);
        if (p.draft_model != nullptr && p.lookup > 0) {
            throw ember::Error("ember_session_create: draft_model or lookup, not both");
        }
        sp.speculation.draft_model = p.draft_model ? &p.draft_model->model : nullptr;
        sp.speculation.lookup = p.lookup > 0;
        sp.speculation.draft.max = p.lookup > 0 ? p.lookup : p.draft_max;
        sp.speculation.draft.min = p.draft_min;
        sp.speculation.draft.p_min = p.draft_p_min;
        *out_session = new ember_session(*model, sp);
    });
}

void ember_session_free(ember_session* session) {
    delete session;
}

ember_status ember_session_append(ember_session* session, const char* text, size_t text_length) {
    if (session == nullptr || (text == nullptr && text_length > 0))
        return EMBER_ERROR_INVALID_ARGUMENT;
    return guarded(EMBER_ERROR_INVALID_ARGUMENT, nullptr, 0, [&] {
        session->session.append(std::string_view(text ? text : "", text_length));
    });
}

ember_status ember_session_set_prompt(ember_session* session, const char* text, size_t text_length,
                                      const ember_sampler_params* sampling) {
    if (session == nullptr || (text == nullptr && text_length > 0)) {
        write_message(nullptr, 0, "ember_session_set_prompt: session or text is NULL");
        return EMBER_ERROR_INVALID_ARGUMENT;
    }
    return guarded(EMBER_ERROR_INVALID_ARGUMENT, nullptr, 0, [&] {
        const std::vector<int32_t> tokens = session->owner.tokenizer.encode(
            std::string_view(text ? text : "", text_length), /*add_special=*/true,
            /*parse_special=*/true);
        if (tokens.empty()) throw ember::Error("ember_session_set_prompt: the prompt is empty");
        if (sampling != nullptr) {
            const ember::SamplerParams params = to_sampler_params(*sampling);
            session->session.start_over(tokens, &params);
        } else {
            session->session.start_over(tokens);
        }
    });
}

ember_status ember_session_append_tokens(ember_session* session, const ember_token* tokens,
                                         size_t n_tokens) {
    if (session == nullptr || (tokens == nullptr && n_tokens > 0))
        return EMBER_ERROR_INVALID_ARGUMENT;
    return guarded(EMBER_ERROR_INVALID_ARGUMENT, nullptr, 0,
                   [&] { session->session.append_tokens(std::span(tokens, n_tokens)); });
}

const float* ember_session_logits(ember_session* session) {
    if (session == nullptr || session->session.n_past() == 0) return nullptr;
    return session->session.context().logits();
}

int32_t ember_session_n_ctx(const ember_session* session) {
    return session ? static_cast<int32_t>(session->session.n_ctx()) : 0;
}

int32_t ember_session_n_tokens(const ember_session* session) {
    return session ? static_cast<int32_t>(session->session.n_tokens()) : 0;
}

ember_status ember_session_reset(ember_session* session) {
    if (session == nullptr) return EMBER_ERROR_INVALID_ARGUMENT;
    session->session.reset();
    return EMBER_OK;
}

ember_status ember_session_rewind(ember_session* session, int32_t n_tokens) {
    if (session == nullptr || n_tokens < 0) return EMBER_ERROR_INVALID_ARGUMENT;
    session->session.rewind(n_tokens);
    return EMBER_OK;
}

ember_status ember_session_save_state(const ember_session* session, void* buffer, size_t capacity,
                                      size_t* length) {
    if (session == nullptr || length == nullptr || (buffer == nullptr && capacity > 0))
        return EMBER_ERROR_INVALID_ARGUMENT;
    return guarded(EMBER_ERROR_INTERNAL, nullptr, 0, [&] {
        const std::vector<uint8_t> state = session->session.save_state();
        *length = state.size();
        if (state.size() > capacity) throw BufferTooSmall();
        std::memcpy(buffer, state.data(), state.size());
    });
}

ember_status ember_session_load_state(ember_session* session, const void* state, size_t size,
                                      char* error, size_t error_size) {
    if (session == nullptr || (state == nullptr && size > 0)) {
        write_message(error, error_size,
                      "ember_session_load_state: session and state must not be NULL");
        return EMBER_ERROR_INVALID_ARGUMENT;
    }
    return guarded(EMBER_ERROR_FORMAT, error, error_size, [&] {
        session->session.load_state(std::span(static_cast<const uint8_t*>(state), size));
    });
}

ember_status ember_session_save_file(const ember_session* session, const char* path, char* error,
                                     size_t error_size) {
    if (session == nullptr || path == nullptr) {
        write_message(error, error_size,
                      "ember_session_save_file: session and path must not be NULL");
        return EMBER_ERROR_INVALID_ARGUMENT;
    }
    return guarded(EMBER_ERROR_FILE, error, error_size,
                   [&] { session->session.save_state_file(path); });
}

ember_status ember_session_load_file(ember_session* session, const char* path, char* error,
                                     size_t error_size) {
    if (session == nullptr || path == nullptr) {
        write_message(error, error_size,
                      "ember_session_load_file: session and path must not be NULL");
        return EMBER_ERROR_INVALID_ARGUMENT;
    }
    return guarded(EMBER_ERROR_FORMAT, error, error_size,
                   [&] { session->session.load_state_file(path); });
}

ember_generate_params ember_generate_default_params(void) {
    ember_generate_params p{};
    p.n_predict = 256;
    p.stop_strings = nullptr;
    p.n_stop_strings = 0;
    p.ignore_eos = false;
    p.context_shift = false;
    p.n_keep = 0;
    p.max_tokens_per_second = 0;
    p.thermal_limit_celsius = 0;
    p.grammar = nullptr;
    p.json_schema = nullptr;
    p.chat_template = nullptr;
    return p;
}

ember_status ember_grammar_check(const char* grammar, const char* json_schema, char* error,
                                 size_t error_size) {
    return guarded(EMBER_ERROR_INVALID_ARGUMENT, error, error_size, [&] {
        if (grammar == nullptr && json_schema == nullptr) {
            throw ember::Error("neither a grammar nor a JSON schema was given");
        }
        compile_grammar(grammar, json_schema);
    });
}

ember_status ember_generate(ember_session* session, const char* prompt,
                            const ember_generate_params* params, ember_text_callback callback,
                            void* user_data, ember_generate_stats* stats) {
    if (session == nullptr || callback == nullptr) {
        write_message(nullptr, 0, "ember_generate: session or callback is NULL");
        return EMBER_ERROR_INVALID_ARGUMENT;
    }
    const ember_generate_params p = params ? *params : ember_generate_default_params();
    if (p.stop_strings == nullptr && p.n_stop_strings > 0) {
        write_message(nullptr, 0, "ember_generate: stop_strings is NULL with a count");
        return EMBER_ERROR_INVALID_ARGUMENT;
    }
    return guarded(EMBER_ERROR_INVALID_ARGUMENT, nullptr, 0, [&] {
        ember::TurnOptions options;
        options.max_tokens = p.n_predict;
        options.ignore_eos = p.ignore_eos;
        options.context_shift = p.context_shift;
        options.n_keep = std::max(0, p.n_keep);
        if (!(p.max_tokens_per_second >= 0)) throw ember::Error("max_tokens_per_second < 0");
        options.max_tokens_per_second = p.max_tokens_per_second;
        if (!(p.thermal_limit_celsius >= 0)) throw ember::Error("thermal_limit_celsius < 0");
        options.thermal_limit_celsius = p.thermal_limit_celsius;
        for (size_t i = 0; i < p.n_stop_strings; ++i) {
            if (p.stop_strings[i] != nullptr) options.stop_strings.emplace_back(p.stop_strings[i]);
        }
        options.grammar = compile_grammar(p.grammar, p.json_schema);
        if (p.chat_template != nullptr) {
            const ember_model& model = session->owner;
            ember::add_chat_ends(options, chat_format_of(model, p.chat_template), model.tokenizer);
        }
        const ember::TurnResult r = session->session.generate(
            prompt ? prompt : "", options,
            [&](std::string_view text) { return callback(text.data(), text.size(), user_data); });
        if (stats != nullptr) {
            stats->n_prompt_tokens = r.n_prompt;
            stats->prompt_ms = r.prompt_ms;
            stats->n_generated_tokens = r.n_generated;
            stats->generate_ms = r.generate_ms;
            stats->stop_reason = static_cast<int32_t>(r.reason);
            stats->thermal_slowdowns = r.thermal_slowdowns;
            stats->n_drafted = r.n_drafted;
            stats->n_accepted = r.n_accepted;
        }
    });
}

void ember_session_cancel(ember_session* session) {
    if (session != nullptr) session->session.cancel();
}

void ember_session_watch_cancel(ember_session* session, const int32_t* flag) {
    if (session != nullptr) session->session.watch_cancel(flag);
}

ember_status ember_chat_format(const ember_model* model, const char* template_name,
                               const ember_chat_message* messages, size_t n_messages,
                               bool add_assistant_start, char* text, size_t capacity,
                               size_t* length) {
    if (model == nullptr || length == nullptr || (messages == nullptr && n_messages > 0) ||
        (text == nullptr && capacity > 0)) {
        return EMBER_ERROR_INVALID_ARGUMENT;
    }
    ember_status status = EMBER_OK;
    const ember_status caught = guarded(EMBER_ERROR_INVALID_ARGUMENT, nullptr, 0, [&] {
        const ember::ChatFormat format = chat_format_of(*model, template_name);
        std::vector<ember::ChatMessage> chat;
        for (size_t i = 0; i < n_messages; ++i) {
            if (messages[i].role == nullptr || messages[i].content == nullptr) {
                throw ember::Error("ember_chat_format: a message has a NULL role or content");
            }
            chat.push_back({messages[i].role, messages[i].content});
        }
        ember::ChatInputs inputs;
        inputs.add_generation_prompt = add_assistant_start;
        status = copy_out(format.render(chat, inputs).text, text, capacity, length);
    });
    return caught != EMBER_OK ? caught : status;
}

namespace {

// An assistant's tool calls with their arguments as objects: OpenAI sends the arguments as JSON
// text, and templates read objects.
void arguments_as_objects(ember::JsonValue& messages) {
    for (ember::JsonValue& message : messages.items) {
        for (auto& [key, calls] : message.members) {
            if (key != "tool_calls" || !calls.is_array()) continue;
            for (ember::JsonValue& call : calls.items) {
                for (auto& [name, function] : call.members) {
                    if (name != "function") continue;
                    for (auto& [field, arguments] : function.members) {
                        if (field == "arguments" && arguments.is_string())
                            arguments = ember::parse_json(arguments.text);
                    }
                }
            }
        }
    }
}

}  // namespace

ember_status ember_chat_format_json(const ember_model* model, const char* template_name,
                                    const char* messages_json, const char* tools_json,
                                    const char* variables_json, bool add_assistant_start,
                                    char* text, size_t capacity, size_t* length) {
    if (model == nullptr || length == nullptr || messages_json == nullptr ||
        (text == nullptr && capacity > 0)) {
        return EMBER_ERROR_INVALID_ARGUMENT;
    }
    ember_status status = EMBER_OK;
    const ember_status caught = guarded(EMBER_ERROR_INVALID_ARGUMENT, nullptr, 0, [&] {
        const ember::ChatFormat format = chat_format_of(*model, template_name);
        ember::JsonValue messages = ember::parse_json(messages_json);
        if (!messages.is_array()) throw ember::Error("messages_json must be a JSON array");
        arguments_as_objects(messages);
        ember::ChatInputs inputs;
        inputs.add_generation_prompt = add_assistant_start;
        ember::JsonValue tools;
        if (tools_json != nullptr) {
            tools = ember::parse_json(tools_json);
            if (!tools.is_array()) throw ember::Error("tools_json must be a JSON array");
            if (!format.is_jinja()) throw ember::Error("a built-in chat format shows no tools");
            inputs.tools = &tools;
        }
        if (variables_json != nullptr) {
            ember::JsonValue variables = ember::parse_json(variables_json);
            if (!variables.is_object()) throw ember::Error("variables_json must be a JSON object");
            for (auto& member : variables.members) inputs.variables.push_back(std::move(member));
        }
        status = copy_out(format.render_json(messages, inputs).text, text, capacity, length);
    });
    return caught != EMBER_OK ? caught : status;
}

ember_status ember_chat_parse_reply(const ember_model* model, const char* template_name,
                                    const char* prompt, const char* reply, char* json,
                                    size_t capacity, size_t* length) {
    if (model == nullptr || reply == nullptr || length == nullptr ||
        (json == nullptr && capacity > 0)) {
        return EMBER_ERROR_INVALID_ARGUMENT;
    }
    ember_status status = EMBER_OK;
    const ember_status caught = guarded(EMBER_ERROR_INVALID_ARGUMENT, nullptr, 0, [&] {
        const ember::ChatFormat format = chat_format_of(*model, template_name);
        const ember::ReasoningFormat reasoning =
            ember::ReasoningFormat::for_template(format.source());
        const bool inside = prompt != nullptr && reasoning.opens_thinking(prompt);
        std::optional<ember::ToolCallFormat> call_format;
        if (format.is_jinja()) call_format = ember::ToolCallFormat::for_template(format.source());
        const ember::ReplyReader::Parts parts =
            ember::ReplyReader(reasoning, call_format, /*parallel=*/true, inside).whole(reply);
        const std::string& content = parts.content;
        const std::vector<ember::ToolCall>& calls = parts.calls;
        std::string out = "{\"content\":";
        ember::append_json_string(out, content);
        if (!parts.reasoning.empty()) {
            out += ",\"reasoning_content\":";
            ember::append_json_string(out, parts.reasoning);
        }
        out += ",\"tool_calls\":[";
        for (size_t i = 0; i < calls.size(); ++i) {
            out += i > 0 ? ",{\"name\":" : "{\"name\":";
            ember::append_json_string(out, calls[i].name);
            std::string arguments = "{}";  // (the reader gives an object's text)
            try {
                arguments = ember::parse_json(calls[i].arguments).dump();
            } catch (const ember::Error&) {
            }
            out += ",\"arguments\":" + arguments + "}";
        }
        out += "]}";
        status = copy_out(out, json, capacity, length);
    });
    return caught != EMBER_OK ? caught : status;
}

ember_status ember_sampler_create(const ember_sampler_params* params, ember_sampler** out_sampler,
                                  char* error, size_t error_size) {
    if (out_sampler == nullptr) {
        write_message(error, error_size, "ember_sampler_create: out_sampler must not be NULL");
        return EMBER_ERROR_INVALID_ARGUMENT;
    }
    *out_sampler = nullptr;
    const ember_sampler_params p = params ? *params : ember_session_default_params().sampling;
    return guarded(EMBER_ERROR_INVALID_ARGUMENT, error, error_size,
                   [&] { *out_sampler = new ember_sampler(to_sampler_params(p)); });
}

void ember_sampler_free(ember_sampler* sampler) {
    delete sampler;
}

ember_status ember_sampler_accept(ember_sampler* sampler, const ember_token* tokens,
                                  size_t n_tokens) {
    if (sampler == nullptr || (tokens == nullptr && n_tokens > 0)) {
        return EMBER_ERROR_INVALID_ARGUMENT;
    }
    for (size_t i = 0; i < n_tokens; ++i) sampler->sampler.accept(tokens[i]);
    return EMBER_OK;
}

ember_status ember_sampler_reset(ember_sampler* sampler) {
    if (sampler == nullptr) return EMBER_ERROR_INVALID_ARGUMENT;
    sampler->sampler.reset();
    return EMBER_OK;
}

ember_turn_params ember_turn_default_params(void) {
    ember_turn_params p{};
    p.max_tokens = 256;
    return p;
}

ember_status ember_turn_create(const ember_model* model, ember_sampler* sampler,
                               const ember_turn_params* params, ember_turn** out_turn, char* error,
                               size_t error_size) {
    if (model == nullptr || sampler == nullptr || out_turn == nullptr) {
        write_message(error, error_size,
                      "ember_turn_create: model, sampler and out_turn must not be NULL");
        return EMBER_ERROR_INVALID_ARGUMENT;
    }
    *out_turn = nullptr;
    const ember_turn_params p = params ? *params : ember_turn_default_params();
    if ((p.stop_strings == nullptr && p.n_stop_strings > 0) ||
        (p.end_tokens == nullptr && p.n_end_tokens > 0)) {
        write_message(error, error_size,
                      "ember_turn_create: stop_strings or end_tokens is NULL with a count");
        return EMBER_ERROR_INVALID_ARGUMENT;
    }
    return guarded(EMBER_ERROR_INVALID_ARGUMENT, error, error_size, [&] {
        ember::TurnRules rules;
        rules.max_tokens = p.max_tokens < 0 ? -1 : p.max_tokens;
        for (size_t i = 0; i < p.n_stop_strings; ++i) {
            if (p.stop_strings[i] != nullptr) rules.stop_strings.emplace_back(p.stop_strings[i]);
        }
        const int32_t n_vocab = model->model.config().n_vocab;
        for (size_t i = 0; i < p.n_end_tokens; ++i) {
            if (p.end_tokens[i] < 0 || p.end_tokens[i] >= n_vocab) {
                throw ember::Error("ember_turn_create: end token " +
                                   std::to_string(p.end_tokens[i]) + " is not in the vocabulary");
            }
            rules.end_tokens.push_back(p.end_tokens[i]);
        }
        if (p.chat_template != nullptr) {
            ember::add_chat_ends(rules, chat_format_of(*model, p.chat_template), model->tokenizer);
        }
        rules.ignore_eos = p.ignore_eos;
        rules.grammar = compile_grammar(p.grammar, p.json_schema);
        *out_turn = new ember_turn(*model, *sampler, std::move(rules));
    });
}

void ember_turn_free(ember_turn* turn) {
    delete turn;
}

ember_status ember_turn_next(ember_turn* turn, const float* logits, ember_token* token,
                             const char** text, size_t* length, int32_t* stop_reason) {
    if (turn == nullptr || logits == nullptr || token == nullptr || text == nullptr ||
        length == nullptr || stop_reason == nullptr) {
        return EMBER_ERROR_INVALID_ARGUMENT;
    }
    *token = -1;
    *text = "";
    *length = 0;
    *stop_reason = EMBER_STOP_NONE;
    return guarded(EMBER_ERROR_INVALID_ARGUMENT, nullptr, 0, [&] {
        ember::Turn::Step step = turn->turn.next(logits, turn->owner.model.config().n_vocab);
        turn->text = std::move(step.text);
        *token = step.token;
        *text = turn->text.c_str();
        *length = turn->text.size();
        if (step.stop) *stop_reason = static_cast<int32_t>(*step.stop);
    });
}

ember_status ember_turn_end(ember_turn* turn, int32_t stop_reason, const char** text,
                            size_t* length) {
    if (turn == nullptr || text == nullptr || length == nullptr || stop_reason < EMBER_STOP_END ||
        stop_reason > EMBER_STOP_ERROR) {
        return EMBER_ERROR_INVALID_ARGUMENT;
    }
    *text = "";
    *length = 0;
    return guarded(EMBER_ERROR_INVALID_ARGUMENT, nullptr, 0, [&] {
        turn->text = turn->turn.end(static_cast<ember::StopReason>(stop_reason));
        *text = turn->text.c_str();
        *length = turn->text.size();
    });
}

int32_t ember_turn_n_generated(const ember_turn* turn) {
    return turn ? turn->turn.n_generated() : 0;
}
int32_t ember_turn_n_kept(const ember_turn* turn) {
    return turn ? turn->turn.n_kept() : 0;
}
int32_t ember_turn_stop_reason(const ember_turn* turn) {
    if (turn == nullptr || !turn->turn.done()) return EMBER_STOP_NONE;
    return static_cast<int32_t>(turn->turn.reason());
}

ember_embedder_params ember_embedder_default_params(void) {
    ember_embedder_params params{};
    params.pooling = EMBER_POOLING_DEFAULT;
    params.normalize = true;
    params.truncate = true;
    return params;
}

ember_status ember_embedder_create(const ember_model* model, const ember_embedder_params* params,
                                   ember_embedder** out_embedder, char* error, size_t error_size) {
    if (model == nullptr || out_embedder == nullptr) {
        write_message(error, error_size,
                      "ember_embedder_create: model and out_embedder must not be NULL");
        return EMBER_ERROR_INVALID_ARGUMENT;
    }
    *out_embedder = nullptr;
    const ember_embedder_params p = params ? *params : ember_embedder_default_params();
    if (p.n_ctx < 0 || p.n_threads < 0 ||
        (p.pooling != EMBER_POOLING_DEFAULT && p.pooling != EMBER_POOLING_MEAN &&
         p.pooling != EMBER_POOLING_CLS && p.pooling != EMBER_POOLING_LAST)) {
        write_message(error, error_size,
                      "ember_embedder_create: negative n_ctx or n_threads, or an unknown pooling");
        return EMBER_ERROR_INVALID_ARGUMENT;
    }
    return guarded(EMBER_ERROR_INVALID_ARGUMENT, error, error_size, [&] {
        ember::EmbedParams ep;
        ep.context.n_ctx = p.n_ctx;
        ep.context.n_threads = p.n_threads;
        if (p.pooling != EMBER_POOLING_DEFAULT) ep.pooling = static_cast<ember::Pooling>(p.pooling);
        ep.normalize = p.normalize ? ember::Normalization::L2 : ember::Normalization::None;
        ep.overflow = p.truncate ? ember::Overflow::Truncate : ember::Overflow::Error;
        auto made = std::make_unique<ember_embedder>(*model, ep);
        if (made->embedder.pooling() == ember::Pooling::None) {
            throw ember::Error(model->model.file().name() +
                               ": the model's pooling_type is none (a vector per token); choose "
                               "a pooling in ember_embedder_params");
        }
        *out_embedder = made.release();
    });
}

void ember_embedder_free(ember_embedder* embedder) {
    delete embedder;
}

int32_t ember_embedder_dimension(const ember_embedder* embedder) {
    return embedder ? embedder->embedder.dimension() : 0;
}
int32_t ember_embedder_pooling(const ember_embedder* embedder) {
    return embedder ? static_cast<int32_t>(embedder->embedder.pooling()) : EMBER_POOLING_DEFAULT;
}
bool ember_embedder_normalize(const ember_embedder* embedder) {
    return embedder && embedder->embedder.normalization() == ember::Normalization::L2;
}
int32_t ember_embedder_n_ctx(const ember_embedder* embedder) {
    return embedder ? embedder->embedder.n_ctx() : 0;
}

namespace {

// Embeds the sequences into out (n x dimension floats) after checking the buffer.
ember_status embed_into(ember_embedder* e, const std::vector<std::vector<int32_t>>& sequences,
                        float* out, size_t capacity, int32_t* n_tokens) {
    const size_t d = static_cast<size_t>(e->embedder.dimension());
    if (capacity < sequences.size() * d) return EMBER_ERROR_BUFFER_TOO_SMALL;
    return guarded(EMBER_ERROR_INVALID_ARGUMENT, nullptr, 0, [&] {
        const std::vector<ember::Embedding> result = e->embedder.embed_tokens(sequences);
        for (size_t i = 0; i < result.size(); ++i) {
            std::copy(result[i].values.begin(), result[i].values.end(), out + i * d);
            if (n_tokens != nullptr) n_tokens[i] = result[i].n_tokens;
        }
    });
}

}  // namespace

ember_status ember_embed(ember_embedder* embedder, const char* const* texts, size_t n_texts,
                         float* out, size_t capacity, int32_t* n_tokens) {
    if (embedder == nullptr || (texts == nullptr && n_texts > 0) ||
        (out == nullptr && capacity > 0)) {
        return EMBER_ERROR_INVALID_ARGUMENT;
    }
    std::vector<std::vector<int32_t>> sequences;
    const ember_status tokenized = guarded(EMBER_ERROR_INVALID_ARGUMENT, nullptr, 0, [&] {
        for (size_t i = 0; i < n_texts; ++i) {
            if (texts[i] == nullptr) throw ember::Error("ember_embed: a text is NULL");
            sequences.push_back(embedder->embedder.tokenize(texts[i]));
        }
    });
    if (tokenized != EMBER_OK) return tokenized;
    return embed_into(embedder, sequences, out, capacity, n_tokens);
}

ember_status ember_embed_tokens(ember_embedder* embedder, const ember_token* const* sequences,
                                const size_t* lengths, size_t n_sequences, float* out,
                                size_t capacity, int32_t* n_tokens) {
    if (embedder == nullptr || ((sequences == nullptr || lengths == nullptr) && n_sequences > 0) ||
        (out == nullptr && capacity > 0)) {
        return EMBER_ERROR_INVALID_ARGUMENT;
    }
    std::vector<std::vector<int32_t>> copies;
    const ember_status copied = guarded(EMBER_ERROR_INVALID_ARGUMENT, nullptr, 0, [&] {
        for (size_t i = 0; i < n_sequences; ++i) {
            if (sequences[i] == nullptr && lengths[i] > 0) {
                throw ember::Error("ember_embed_tokens: a sequence is NULL");
            }
            copies.emplace_back(sequences[i], sequences[i] + lengths[i]);
        }
    });
    if (copied != EMBER_OK) return copied;
    return embed_into(embedder, copies, out, capacity, n_tokens);
}

void ember_embedder_cancel(ember_embedder* embedder) {
    if (embedder != nullptr) embedder->embedder.cancel();
}

void ember_embedder_watch_cancel(ember_embedder* embedder, const int32_t* flag) {
    if (embedder != nullptr) embedder->embedder.watch_cancel(flag);
}

ember_context_params ember_context_default_params(void) {
    ember_context_params params{};
    params.n_seq = 1;
    params.n_batch = 512;
    return params;
}

ember_status ember_context_create(const ember_model* model, const ember_context_params* params,
                                  ember_context** out_context, char* error, size_t error_size) {
    if (model == nullptr || out_context == nullptr) {
        write_message(error, error_size,
                      "ember_context_create: model and out_context must not be NULL");
        return EMBER_ERROR_INVALID_ARGUMENT;
    }
    *out_context = nullptr;
    const ember_context_params p = params ? *params : ember_context_default_params();
    if (p.n_ctx < 0 || p.n_threads < 0 || p.n_batch < 0) {
        write_message(error, error_size,
                      "ember_context_create: negative n_ctx, n_threads or n_batch");
        return EMBER_ERROR_INVALID_ARGUMENT;
    }
    return guarded(EMBER_ERROR_INVALID_ARGUMENT, error, error_size, [&] {
        if (model->model.config().arch->encoder) {
            throw ember::Error(model->model.file().name() +
                               ": an encoder makes embeddings (ember_embedder_create), not logits");
        }
        ember::ContextParams cp;
        cp.n_ctx = p.n_ctx;
        cp.n_seq = p.n_seq;
        cp.n_threads = p.n_threads;
        cp.n_batch = p.n_batch > 0 ? p.n_batch : 512;
        cp.kv_type = to_tensor_type(p.kv_type);
        *out_context = new ember_context(*model, cp);
    });
}

void ember_context_free(ember_context* context) {
    delete context;
}

ember_status ember_context_decode(ember_context* context, const ember_sequence_tokens* inputs,
                                  size_t n_inputs) {
    if (context == nullptr || inputs == nullptr || n_inputs == 0) {
        return EMBER_ERROR_INVALID_ARGUMENT;
    }
    return guarded(EMBER_ERROR_INVALID_ARGUMENT, nullptr, 0, [&] {
        std::vector<ember::SequenceTokens> in(n_inputs);
        for (size_t i = 0; i < n_inputs; ++i) {
            if (inputs[i].tokens == nullptr && inputs[i].n_tokens > 0) {
                throw ember::Error("ember_context_decode: NULL tokens");
            }
            in[i] = {inputs[i].seq, std::span<const int32_t>(inputs[i].tokens, inputs[i].n_tokens)};
        }
        context->n_outputs = 0;
        context->context.decode_sequences(in);
        context->n_outputs = n_inputs;
    });
}

const float* ember_context_logits(const ember_context* context, size_t i) {
    if (context == nullptr || i >= context->n_outputs) return nullptr;
    return context->context.sequence_logits(static_cast<int>(i));
}

int32_t ember_context_n_past(const ember_context* context, int32_t seq) {
    if (context == nullptr || seq < 0 || seq >= context->context.n_seq()) return -1;
    return context->context.n_past(seq);
}

ember_status ember_context_truncate(ember_context* context, int32_t seq, int32_t n) {
    if (context == nullptr || seq < 0 || n < 0 || seq >= context->context.n_seq()) {
        return EMBER_ERROR_INVALID_ARGUMENT;
    }
    // A recurrent model evaluates the kept tokens again, which can fail (memory).
    return guarded(EMBER_ERROR_INVALID_ARGUMENT, nullptr, 0,
                   [&] { context->context.truncate(seq, n); });
}

}  // extern "C"
