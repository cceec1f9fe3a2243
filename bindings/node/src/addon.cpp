// The Node-API addon behind bindings/node/index.js: thin functions over the C API (ember.h) on
// opaque handles; index.js builds the classes, promises and async iterators on them.
//
// Lifetimes: every handle is a shared_ptr to a holder that frees its C object last. A session
// or embedder holds its model's holder, and a running job holds its session's, so neither
// close() nor the garbage collector (in any order) frees a model under a session or a session
// under a generation on the worker thread. Long calls (loading, generating, embedding) run on
// libuv's worker threads through AsyncWorker: the event loop never waits for them.
#include <napi.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "ember.h"

namespace {

struct ModelHolder {
    ember_model* model = nullptr;
    ~ModelHolder() { ember_model_free(model); }
};

struct SessionHolder {
    std::shared_ptr<ModelHolder> model;
    std::shared_ptr<ModelHolder> draft;  // a draft model (speculative decoding), or null
    ember_session* session = nullptr;
    bool busy = false;  // a job runs on it (set and cleared on the main thread)
    ~SessionHolder() { ember_session_free(session); }
};

struct EmbedderHolder {
    std::shared_ptr<ModelHolder> model;
    ember_embedder* embedder = nullptr;
    bool busy = false;
    ~EmbedderHolder() { ember_embedder_free(embedder); }
};

// The status's name as the error's code ("EMBER_ERROR_FILE").
const char* status_code(ember_status status) {
    switch (status) {
        case EMBER_OK:
            return "EMBER_OK";
        case EMBER_ERROR_INVALID_ARGUMENT:
            return "EMBER_ERROR_INVALID_ARGUMENT";
        case EMBER_ERROR_FILE:
            return "EMBER_ERROR_FILE";
        case EMBER_ERROR_FORMAT:
            return "EMBER_ERROR_FORMAT";
        case EMBER_ERROR_CONTEXT_FULL:
            return "EMBER_ERROR_CONTEXT_FULL";
        case EMBER_ERROR_CANCELLED:
            return "EMBER_ERROR_CANCELLED";
        case EMBER_ERROR_BUFFER_TOO_SMALL:
            return "EMBER_ERROR_BUFFER_TOO_SMALL";
        case EMBER_ERROR_OUT_OF_MEMORY:
            return "EMBER_ERROR_OUT_OF_MEMORY";
        case EMBER_ERROR_INTERNAL:
            return "EMBER_ERROR_INTERNAL";
    }
    return "EMBER_ERROR_INTERNAL";
}

// A failure's message: the one given, else ember_last_error() (this thread's), else the
// status's own words.
std::string message_of(ember_status status, const std::string& given = {}) {
    if (!given.empty()) return given;
    const std::string last = ember_last_error();
    return last.empty() ? ember_status_string(status) : last;
}

Napi::Error ember_error(Napi::Env env, ember_status status, const std::string& message) {
    Napi::Error error = Napi::Error::New(env, message);
    error.Set("code", Napi::String::New(env, status_code(status)));
    return error;
}

[[noreturn]] void throw_status(Napi::Env env, ember_status status, const std::string& given = {}) {
    throw ember_error(env, status, message_of(status, given));
}

// ---- handles: External<shared_ptr<T>>; close() empties the shared_ptr in place ----

template <typename T>
Napi::External<std::shared_ptr<T>> wrap(Napi::Env env, std::shared_ptr<T> holder) {
    return Napi::External<std::shared_ptr<T>>::New(
        env, new std::shared_ptr<T>(std::move(holder)),
        [](Napi::Env, std::shared_ptr<T>* slot) { delete slot; });
}

template <typename T>
std::shared_ptr<T> unwrap(const Napi::Value& value, const char* what) {
    Napi::Env env = value.Env();
    if (!value.IsExternal()) throw Napi::TypeError::New(env, std::string(what) + " expected");
    std::shared_ptr<T>* slot = value.As<Napi::External<std::shared_ptr<T>>>().Data();
    if (slot == nullptr || !*slot) {
        throw ember_error(env, EMBER_ERROR_INVALID_ARGUMENT,
                          std::string("the ") + what + " is closed");
    }
    return *slot;
}

// One job at a time on a session or an embedder (index.js queues its calls; this guards the
// C object against any other caller).
template <typename T>
void claim(Napi::Env env, T& holder) {
    if (holder.busy) {
        throw ember_error(env, EMBER_ERROR_INVALID_ARGUMENT,
                          "busy: another call on it has not finished");
    }
    holder.busy = true;
}

template <typename T>
void close_slot(const Napi::Value& value) {
    if (value.IsExternal()) value.As<Napi::External<std::shared_ptr<T>>>().Data()->reset();
}

// ---- reading arguments ----

std::string string_arg(const Napi::Value& value, const char* what) {
    if (!value.IsString())
        throw Napi::TypeError::New(value.Env(), std::string(what) + ": a string");
    return value.As<Napi::String>().Utf8Value();
}

// A string the C API takes NUL-terminated: a NUL inside would cut it short without a word,
// so it is refused.
std::string c_string_arg(const Napi::Value& value, const char* what) {
    std::string s = string_arg(value, what);
    if (s.find('\0') != std::string::npos) {
        throw Napi::TypeError::New(value.Env(), std::string(what) + " contains a NUL character");
    }
    return s;
}

// An optional C string: undefined or null give false.
bool optional_string(const Napi::Object& o, const char* key, std::string* out) {
    const Napi::Value v = o.Get(key);
    if (v.IsUndefined() || v.IsNull()) return false;
    *out = c_string_arg(v, key);
    return true;
}

double number_or(const Napi::Object& o, const char* key, double fallback) {
    const Napi::Value v = o.Get(key);
    if (v.IsUndefined() || v.IsNull()) return fallback;
    if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string(key) + ": a number");
    return v.As<Napi::Number>().DoubleValue();
}

// ---- models ----

class LoadWorker : public Napi::AsyncWorker {
  public:
    LoadWorker(Napi::Env env, std::string path, ember_model_params params)
        : Napi::AsyncWorker(env),
          deferred_(Napi::Promise::Deferred::New(env)),
          path_(std::move(path)),
          params_(params) {}
    Napi::Promise promise() const { return deferred_.Promise(); }

    void Execute() override {
        char error[1024] = "";
        status_ = ember_model_load(path_.c_str(), &params_, &model_, error, sizeof(error));
        message_ = message_of(status_, error);
    }
    void OnOK() override {
        if (status_ != EMBER_OK) {
            deferred_.Reject(ember_error(Env(), status_, message_).Value());
            return;
        }
        auto holder = std::make_shared<ModelHolder>();
        holder->model = model_;
        deferred_.Resolve(wrap(Env(), std::move(holder)));
    }
    void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

  private:
    Napi::Promise::Deferred deferred_;
    std::string path_;
    ember_model_params params_;
    ember_model* model_ = nullptr;
    ember_status status_ = EMBER_OK;
    std::string message_;
};

// loadModel(path, {repack}) -> Promise<handle>
Napi::Value LoadModel(const Napi::CallbackInfo& info) {
    const std::string path = c_string_arg(info[0], "modelPath");
    ember_model_params params = ember_model_default_params();
    if (info[1].IsObject()) {
        const Napi::Value repack = info[1].As<Napi::Object>().Get("repack");
        if (repack.IsBoolean()) params.repack = repack.As<Napi::Boolean>().Value() ? 1 : 0;
    }
    auto* worker = new LoadWorker(info.Env(), path, params);
    const Napi::Promise promise = worker->promise();
    worker->Queue();
    return promise;
}

Napi::Value ModelInfo(const Napi::CallbackInfo& info) {
    const auto m = unwrap<ModelHolder>(info[0], "model");
    Napi::Object out = Napi::Object::New(info.Env());
    out.Set("nVocab", ember_model_n_vocab(m->model));
    out.Set("nCtxTrain", ember_model_n_ctx_train(m->model));
    out.Set("bos", ember_model_bos(m->model));
    out.Set("eos", ember_model_eos(m->model));
    return out;
}

// Runs call(buffer, capacity, &length) with a buffer that grows to the size asked for.
template <typename Call>
std::string read_out(Napi::Env env, Call&& call) {
    std::string buffer(4096, '\0');
    for (;;) {
        size_t length = 0;
        const ember_status status = call(buffer.data(), buffer.size(), &length);
        if (status == EMBER_ERROR_BUFFER_TOO_SMALL && length > buffer.size()) {
            buffer.resize(length);
            continue;
        }
        if (status != EMBER_OK) throw_status(env, status);
        buffer.resize(length);
        return buffer;
    }
}

// tokenize(model, text, addSpecial, parseSpecial) -> Int32Array
Napi::Value Tokenize(const Napi::CallbackInfo& info) {
    const auto m = unwrap<ModelHolder>(info[0], "model");
    const std::string text = string_arg(info[1], "text");
    const bool add = info[2].ToBoolean(), parse = info[3].ToBoolean();
    std::vector<ember_token> tokens(text.size() + 8);
    size_t n = 0;
    ember_status status = ember_tokenize(m->model, text.data(), text.size(), add, parse,
                                         tokens.data(), tokens.size(), &n);
    if (status == EMBER_ERROR_BUFFER_TOO_SMALL) {
        tokens.resize(n);
        status = ember_tokenize(m->model, text.data(), text.size(), add, parse, tokens.data(),
                                tokens.size(), &n);
    }
    if (status != EMBER_OK) throw_status(info.Env(), status);
    Napi::Int32Array out = Napi::Int32Array::New(info.Env(), n);
    for (size_t i = 0; i < n; ++i) out[i] = tokens[i];
    return out;
}

// detokenize(model, Int32Array) -> string
Napi::Value Detokenize(const Napi::CallbackInfo& info) {
    const auto m = unwrap<ModelHolder>(info[0], "model");
    if (!info[1].IsTypedArray()) throw Napi::TypeError::New(info.Env(), "tokens: an Int32Array");
    const Napi::Int32Array tokens = info[1].As<Napi::Int32Array>();
    const std::string text = read_out(info.Env(), [&](char* out, size_t capacity, size_t* n) {
        return ember_detokenize(m->model, tokens.Data(), tokens.ElementLength(), out, capacity, n);
    });
    return Napi::String::New(info.Env(), text);
}

const char* c_str_or_null(bool given, const std::string& s) {
    return given ? s.c_str() : nullptr;
}

// formatChat(model, template|null, messagesJson, toolsJson|null, variablesJson|null) -> string
Napi::Value FormatChat(const Napi::CallbackInfo& info) {
    const auto m = unwrap<ModelHolder>(info[0], "model");
    const bool has_template = info[1].IsString();
    const std::string tmpl = has_template ? c_string_arg(info[1], "chatTemplate") : "";
    const std::string messages = string_arg(info[2], "messages");
    const bool has_tools = info[3].IsString(), has_variables = info[4].IsString();
    const std::string tools = has_tools ? info[3].As<Napi::String>().Utf8Value() : "";
    const std::string variables = has_variables ? info[4].As<Napi::String>().Utf8Value() : "";
    const std::string text = read_out(info.Env(), [&](char* out, size_t capacity, size_t* n) {
        return ember_chat_format_json(m->model, c_str_or_null(has_template, tmpl), messages.c_str(),
                                      c_str_or_null(has_tools, tools),
                                      c_str_or_null(has_variables, variables), true, out, capacity,
                                      n);
    });
    return Napi::String::New(info.Env(), text);
}

// parseReply(model, template|null, prompt, reply) -> JSON text
Napi::Value ParseReply(const Napi::CallbackInfo& info) {
    const auto m = unwrap<ModelHolder>(info[0], "model");
    const bool has_template = info[1].IsString();
    const std::string tmpl = has_template ? c_string_arg(info[1], "chatTemplate") : "";
    const std::string prompt = string_arg(info[2], "prompt");
    const std::string reply = string_arg(info[3], "reply");
    const std::string json = read_out(info.Env(), [&](char* out, size_t capacity, size_t* n) {
        return ember_chat_parse_reply(m->model, c_str_or_null(has_template, tmpl), prompt.c_str(),
                                      reply.c_str(), out, capacity, n);
    });
    return Napi::String::New(info.Env(), json);
}

// grammarCheck(grammar|null, schema|null) -> null, or the reason it cannot be used
Napi::Value GrammarCheck(const Napi::CallbackInfo& info) {
    const bool has_grammar = info[0].IsString(), has_schema = info[1].IsString();
    const std::string grammar = has_grammar ? info[0].As<Napi::String>().Utf8Value() : "";
    const std::string schema = has_schema ? info[1].As<Napi::String>().Utf8Value() : "";
    char error[1024] = "";
    if (ember_grammar_check(c_str_or_null(has_grammar, grammar), c_str_or_null(has_schema, schema),
                            error, sizeof(error)) == EMBER_OK) {
        return info.Env().Null();
    }
    return Napi::String::New(info.Env(), error);
}

// ---- sessions ----

void read_sampling(const Napi::Object& o, ember_sampler_params* s) {
    s->temperature = static_cast<float>(number_or(o, "temperature", s->temperature));
    s->top_k = static_cast<int32_t>(number_or(o, "topK", s->top_k));
    s->top_p = static_cast<float>(number_or(o, "topP", s->top_p));
    s->min_p = static_cast<float>(number_or(o, "minP", s->min_p));
    s->repeat_penalty = static_cast<float>(number_or(o, "repeatPenalty", s->repeat_penalty));
    s->frequency_penalty =
        static_cast<float>(number_or(o, "frequencyPenalty", s->frequency_penalty));
    s->presence_penalty = static_cast<float>(number_or(o, "presencePenalty", s->presence_penalty));
    s->repeat_last_n = static_cast<int32_t>(number_or(o, "repeatLastN", s->repeat_last_n));
    const double seed = number_or(o, "seed", static_cast<double>(s->seed));
    if (!(seed >= 0)) throw Napi::RangeError::New(o.Env(), "seed: a number >= 0");
    s->seed = static_cast<uint64_t>(seed);
}

// createSession(model, {contextSize, threads, batchSize, kvType, ...sampling}, draft|null)
Napi::Value CreateSession(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const auto m = unwrap<ModelHolder>(info[0], "model");
    const Napi::Object o = info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
    ember_session_params p = ember_session_default_params();
    p.n_ctx = static_cast<int32_t>(number_or(o, "contextSize", 0));
    p.n_threads = static_cast<int32_t>(number_or(o, "threads", 0));
    p.n_batch = static_cast<int32_t>(number_or(o, "batchSize", p.n_batch));
    p.kv_type = static_cast<int32_t>(number_or(o, "kvType", EMBER_KV_F16));
    p.lookup = static_cast<int32_t>(number_or(o, "lookup", 0));
    p.draft_max = static_cast<int32_t>(number_or(o, "draftMax", p.draft_max));
    read_sampling(o, &p.sampling);
    auto holder = std::make_shared<SessionHolder>();
    holder->model = m;
    if (!info[2].IsUndefined() && !info[2].IsNull()) {
        holder->draft = unwrap<ModelHolder>(info[2], "draft model");
        p.draft_model = holder->draft->model;
    }
    char error[1024] = "";
    const ember_status status =
        ember_session_create(m->model, &p, &holder->session, error, sizeof(error));
    if (status != EMBER_OK) throw_status(env, status, error);
    return wrap(env, std::move(holder));
}

Napi::Value SessionInfo(const Napi::CallbackInfo& info) {
    const auto s = unwrap<SessionHolder>(info[0], "session");
    Napi::Object out = Napi::Object::New(info.Env());
    out.Set("nCtx", ember_session_n_ctx(s->session));
    out.Set("nTokens", ember_session_n_tokens(s->session));
    return out;
}

// A reply's own cancel flag: reply.cancel() raises it (raiseCancel), and the reply's worker has
// the session watch it (ember_session_watch_cancel), so that a cancel made after the job is
// queued but before the worker starts it still stops it (ember_session_cancel() reaches only a
// call that runs).
struct ReplyCancel {
    int32_t raised = 0;
};

// One reply on a worker thread: its text goes to onChunk on the main thread as it comes (in
// order, through AsyncProgressQueueWorker's queue); the promise resolves with the stats.
class GenerateWorker : public Napi::AsyncProgressQueueWorker<char> {
  public:
    GenerateWorker(Napi::Env env, std::shared_ptr<SessionHolder> session, Napi::Function on_chunk)
        : Napi::AsyncProgressQueueWorker<char>(env),
          deferred_(Napi::Promise::Deferred::New(env)),
          session_(std::move(session)),
          on_chunk_(Napi::Persistent(on_chunk)) {
        params_ = ember_generate_default_params();
    }
    Napi::Promise promise() const { return deferred_.Promise(); }

    std::shared_ptr<ReplyCancel> cancel;  // null: only ember_session_cancel() stops it
    // The request: the whole prompt (the session starts over from it, keeping the cache of
    // the start it shares: ember_session_set_prompt), and the rules of the reply.
    std::string prompt;
    ember_sampler_params sampling{};
    bool has_sampling = false;
    std::vector<std::string> stops;
    std::string grammar, schema, chat_template;
    bool has_grammar = false, has_schema = false, has_chat_template = false;
    int32_t n_predict = 256;

    void Execute(const ExecutionProgress& progress) override {
        ember_session* session = session_->session;
        ember_session_watch_cancel(session, cancel ? &cancel->raised : nullptr);
        run(progress);
        ember_session_watch_cancel(session, nullptr);
    }
    void run(const ExecutionProgress& progress) {
        ember_session* session = session_->session;
        status_ = ember_session_set_prompt(session, prompt.data(), prompt.size(),
                                           has_sampling ? &sampling : nullptr);
        if (status_ != EMBER_OK) {
            message_ = message_of(status_);
            return;
        }
        n_prompt_ = ember_session_n_tokens(session);
        std::vector<const char*> stop_ptrs;
        for (const std::string& s : stops) stop_ptrs.push_back(s.c_str());
        params_.n_predict = n_predict;
        params_.stop_strings = stop_ptrs.data();
        params_.n_stop_strings = stop_ptrs.size();
        params_.grammar = c_str_or_null(has_grammar, grammar);
        params_.json_schema = c_str_or_null(has_schema, schema);
        params_.chat_template = c_str_or_null(has_chat_template, chat_template);
        const auto forward = [](const char* text, size_t length, void* user) {
            auto* self = static_cast<GenerateWorker*>(user);
            self->wait_for_room();
            self->progress_->Send(text, length);
            return true;
        };
        progress_ = &progress;
        status_ = ember_generate(session, nullptr, &params_, forward, this, &stats_);
        if (status_ != EMBER_OK) message_ = message_of(status_);
    }
    void OnProgress(const char* data, size_t count) override {
        {
            std::lock_guard<std::mutex> lock(ahead_mutex_);
            --ahead_;
        }
        ahead_room_.notify_one();
        on_chunk_.Call({Napi::String::New(Env(), data, count)});
    }
    void OnOK() override {
        Napi::Env env = Env();
        session_->busy = false;
        if (status_ != EMBER_OK) {
            deferred_.Reject(ember_error(env, status_, message_).Value());
            return;
        }
        Napi::Object out = Napi::Object::New(env);
        out.Set("stopReason", stats_.stop_reason);
        out.Set("promptTokens", n_prompt_);
        out.Set("generatedTokens", stats_.n_generated_tokens);
        out.Set("promptMs", stats_.prompt_ms);
        out.Set("generateMs", stats_.generate_ms);
        out.Set("drafted", stats_.n_drafted);
        out.Set("accepted", stats_.n_accepted);
        deferred_.Resolve(out);
    }
    void OnError(const Napi::Error& error) override {
        session_->busy = false;
        deferred_.Reject(error.Value());
    }

  private:
    // The engine runs at most kAhead chunks ahead of the main thread: a reply that is left
    // (break, cancel) stops within that many tokens of what JavaScript saw, however fast the
    // model and however busy the event loop, and an event loop that stalls holds no growing
    // queue. The wait ends early when the reply is cancelled, and gives up after kStall (the
    // main thread may be shutting down a worker_threads environment, where chunks are no
    // longer delivered before its work is waited for).
    static constexpr int kAhead = 16;
    static constexpr std::chrono::milliseconds kStall{2000};
    void wait_for_room() {
        std::unique_lock<std::mutex> lock(ahead_mutex_);
        const auto give_up = std::chrono::steady_clock::now() + kStall;
        while (ahead_ >= kAhead && std::chrono::steady_clock::now() < give_up) {
            if (cancel && std::atomic_ref<int32_t>(cancel->raised).load() != 0) break;
            ahead_room_.wait_for(lock, std::chrono::milliseconds(2));
        }
        ++ahead_;
    }

    Napi::Promise::Deferred deferred_;
    const ExecutionProgress* progress_ = nullptr;
    std::mutex ahead_mutex_;
    std::condition_variable ahead_room_;
    int ahead_ = 0;                           // chunks sent and not yet handed to onChunk
    std::shared_ptr<SessionHolder> session_;  // alive until the worker is done
    Napi::FunctionReference on_chunk_;
    ember_generate_params params_;
    ember_generate_stats stats_{};
    ember_status status_ = EMBER_OK;
    std::string message_;
    int32_t n_prompt_ = 0;
};

// generate(session, {prompt, sampling, maxTokens, stop, grammar, jsonSchema, chatTemplate},
//          onChunk[, cancel]) -> Promise<stats>
Napi::Value Generate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto s = unwrap<SessionHolder>(info[0], "session");
    if (!info[1].IsObject() || !info[2].IsFunction()) {
        throw Napi::TypeError::New(env, "generate(session, request, onChunk)");
    }
    const Napi::Object o = info[1].As<Napi::Object>();
    auto* worker = new GenerateWorker(env, s, info[2].As<Napi::Function>());
    try {
        const Napi::Value prompt = o.Get("prompt");  // passed with its length: any bytes
        if (prompt.IsString()) worker->prompt = prompt.As<Napi::String>().Utf8Value();
        const Napi::Value sampling = o.Get("sampling");
        if (sampling.IsObject()) {
            worker->has_sampling = true;
            worker->sampling = ember_session_default_params().sampling;
            read_sampling(sampling.As<Napi::Object>(), &worker->sampling);
        }
        worker->n_predict = static_cast<int32_t>(number_or(o, "maxTokens", 256));
        const Napi::Value stop = o.Get("stop");
        if (stop.IsArray()) {
            const Napi::Array a = stop.As<Napi::Array>();
            for (uint32_t i = 0; i < a.Length(); ++i) {
                worker->stops.push_back(c_string_arg(a.Get(i), "stop"));
            }
        }
        worker->has_grammar = optional_string(o, "grammar", &worker->grammar);
        worker->has_schema = optional_string(o, "jsonSchema", &worker->schema);
        worker->has_chat_template = optional_string(o, "chatTemplate", &worker->chat_template);
        if (info.Length() > 3 && !info[3].IsUndefined()) {
            worker->cancel = unwrap<ReplyCancel>(info[3], "cancel flag");
        }
    } catch (...) {
        delete worker;
        throw;
    }
    claim(env, *s);
    const Napi::Promise promise = worker->promise();
    worker->Queue();
    return promise;
}

Napi::Value Cancel(const Napi::CallbackInfo& info) {
    if (info[0].IsExternal()) {
        const auto* slot = info[0].As<Napi::External<std::shared_ptr<SessionHolder>>>().Data();
        if (slot != nullptr && *slot) ember_session_cancel((*slot)->session);
    }
    return info.Env().Undefined();
}

// newCancel() -> a reply's cancel flag, for generate(); raiseCancel(flag) raises it.
Napi::Value NewCancel(const Napi::CallbackInfo& info) {
    return wrap(info.Env(), std::make_shared<ReplyCancel>());
}
Napi::Value RaiseCancel(const Napi::CallbackInfo& info) {
    const auto flag = unwrap<ReplyCancel>(info[0], "cancel flag");
    std::atomic_ref<int32_t>(flag->raised).store(1);
    return info.Env().Undefined();
}

// saveState(session) -> Buffer
Napi::Value SaveState(const Napi::CallbackInfo& info) {
    const auto s = unwrap<SessionHolder>(info[0], "session");
    claim(info.Env(), *s);
    s->busy = false;  // synchronous: only the check
    size_t length = 0;
    ember_status status = ember_session_save_state(s->session, nullptr, 0, &length);
    if (status != EMBER_ERROR_BUFFER_TOO_SMALL && status != EMBER_OK) {
        throw_status(info.Env(), status);
    }
    Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(info.Env(), length);
    status = ember_session_save_state(s->session, out.Data(), out.Length(), &length);
    if (status != EMBER_OK) throw_status(info.Env(), status);
    return out;
}

// loadState(session, Buffer)
Napi::Value LoadState(const Napi::CallbackInfo& info) {
    const auto s = unwrap<SessionHolder>(info[0], "session");
    claim(info.Env(), *s);
    s->busy = false;  // synchronous: only the check
    if (!info[1].IsBuffer()) throw Napi::TypeError::New(info.Env(), "state: a Buffer");
    const Napi::Buffer<uint8_t> state = info[1].As<Napi::Buffer<uint8_t>>();
    char error[1024] = "";
    const ember_status status =
        ember_session_load_state(s->session, state.Data(), state.Length(), error, sizeof(error));
    if (status != EMBER_OK) throw_status(info.Env(), status, error);
    return info.Env().Undefined();
}

// ---- embeddings ----

// createEmbedder(model, {contextSize, threads, pooling, normalize, truncate})
Napi::Value CreateEmbedder(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const auto m = unwrap<ModelHolder>(info[0], "model");
    const Napi::Object o = info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
    ember_embedder_params p = ember_embedder_default_params();
    p.n_ctx = static_cast<int32_t>(number_or(o, "contextSize", 0));
    p.n_threads = static_cast<int32_t>(number_or(o, "threads", 0));
    p.pooling = static_cast<int32_t>(number_or(o, "pooling", EMBER_POOLING_DEFAULT));
    if (o.Get("normalize").IsBoolean()) p.normalize = o.Get("normalize").ToBoolean();
    if (o.Get("truncate").IsBoolean()) p.truncate = o.Get("truncate").ToBoolean();
    auto holder = std::make_shared<EmbedderHolder>();
    holder->model = m;
    char error[1024] = "";
    const ember_status status =
        ember_embedder_create(m->model, &p, &holder->embedder, error, sizeof(error));
    if (status != EMBER_OK) throw_status(env, status, error);
    Napi::Object out = Napi::Object::New(env);
    out.Set("handle", wrap(env, holder));
    out.Set("dimension", ember_embedder_dimension(holder->embedder));
    return out;
}

class EmbedWorker : public Napi::AsyncWorker {
  public:
    EmbedWorker(Napi::Env env, std::shared_ptr<EmbedderHolder> embedder,
                std::vector<std::string> texts)
        : Napi::AsyncWorker(env),
          deferred_(Napi::Promise::Deferred::New(env)),
          embedder_(std::move(embedder)),
          texts_(std::move(texts)) {}
    Napi::Promise promise() const { return deferred_.Promise(); }

    void Execute() override {
        const size_t dim = static_cast<size_t>(ember_embedder_dimension(embedder_->embedder));
        std::vector<const char*> ptrs;
        for (const std::string& t : texts_) ptrs.push_back(t.c_str());
        vectors_.resize(dim * texts_.size());
        n_tokens_.resize(texts_.size());
        status_ = ember_embed(embedder_->embedder, ptrs.data(), ptrs.size(), vectors_.data(),
                              vectors_.size(), n_tokens_.data());
        if (status_ != EMBER_OK) message_ = message_of(status_);
    }
    void OnOK() override {
        Napi::Env env = Env();
        embedder_->busy = false;
        if (status_ != EMBER_OK) {
            deferred_.Reject(ember_error(env, status_, message_).Value());
            return;
        }
        const size_t n = texts_.size(), dim = n ? vectors_.size() / n : 0;
        Napi::Array vectors = Napi::Array::New(env, n);
        int64_t tokens = 0;
        for (size_t i = 0; i < n; ++i) {
            Napi::Float32Array v = Napi::Float32Array::New(env, dim);
            std::copy_n(vectors_.data() + i * dim, dim, v.Data());
            vectors.Set(static_cast<uint32_t>(i), v);
            tokens += n_tokens_[i];
        }
        Napi::Object out = Napi::Object::New(env);
        out.Set("vectors", vectors);
        out.Set("tokens", static_cast<double>(tokens));
        deferred_.Resolve(out);
    }

    void OnError(const Napi::Error& error) override {
        embedder_->busy = false;
        deferred_.Reject(error.Value());
    }

  private:
    Napi::Promise::Deferred deferred_;
    std::shared_ptr<EmbedderHolder> embedder_;
    std::vector<std::string> texts_;
    std::vector<float> vectors_;
    std::vector<int32_t> n_tokens_;
    ember_status status_ = EMBER_OK;
    std::string message_;
};

// embed(embedder, [texts]) -> Promise<{vectors: Float32Array[], tokens}>
Napi::Value Embed(const Napi::CallbackInfo& info) {
    auto e = unwrap<EmbedderHolder>(info[0], "embedder");
    if (!info[1].IsArray()) throw Napi::TypeError::New(info.Env(), "texts: an array of strings");
    const Napi::Array a = info[1].As<Napi::Array>();
    std::vector<std::string> texts;
    for (uint32_t i = 0; i < a.Length(); ++i) texts.push_back(c_string_arg(a.Get(i), "text"));
    claim(info.Env(), *e);
    auto* worker = new EmbedWorker(info.Env(), e, std::move(texts));
    const Napi::Promise promise = worker->promise();
    worker->Queue();
    return promise;
}

Napi::Value CancelEmbed(const Napi::CallbackInfo& info) {
    if (info[0].IsExternal()) {
        const auto* slot = info[0].As<Napi::External<std::shared_ptr<EmbedderHolder>>>().Data();
        if (slot != nullptr && *slot) ember_embedder_cancel((*slot)->embedder);
    }
    return info.Env().Undefined();
}

// close{Model,Session,Embedder}(handle): lets go of this handle's share; the C object is freed
// when nothing else (a session, a running job) holds it.
Napi::Value CloseModel(const Napi::CallbackInfo& info) {
    close_slot<ModelHolder>(info[0]);
    return info.Env().Undefined();
}
Napi::Value CloseSession(const Napi::CallbackInfo& info) {
    Cancel(info);
    close_slot<SessionHolder>(info[0]);
    return info.Env().Undefined();
}
Napi::Value CloseEmbedder(const Napi::CallbackInfo& info) {
    CancelEmbed(info);
    close_slot<EmbedderHolder>(info[0]);
    return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
    exports.Set("version", Napi::String::New(env, ember_version()));
    const std::pair<const char*, Napi::Function::Callback> functions[] = {
        {"loadModel", LoadModel},
        {"modelInfo", ModelInfo},
        {"tokenize", Tokenize},
        {"detokenize", Detokenize},
        {"formatChat", FormatChat},
        {"parseReply", ParseReply},
        {"grammarCheck", GrammarCheck},
        {"createSession", CreateSession},
        {"sessionInfo", SessionInfo},
        {"generate", Generate},
        {"cancel", Cancel},
        {"newCancel", NewCancel},
        {"raiseCancel", RaiseCancel},
        {"saveState", SaveState},
        {"loadState", LoadState},
        {"createEmbedder", CreateEmbedder},
        {"embed", Embed},
        {"cancelEmbed", CancelEmbed},
        {"closeModel", CloseModel},
        {"closeSession", CloseSession},
        {"closeEmbedder", CloseEmbedder},
    };
    for (const auto& [name, fn] : functions) exports.Set(name, Napi::Function::New(env, fn, name));
    return exports;
}

}  // namespace

NODE_API_MODULE(ember, Init)
