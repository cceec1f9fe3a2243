// The JNI functions behind dev.ember.Native (bindings/jvm/src/main/java/dev/ember/Native.java):
// thin calls of the C API (ember.h) on handles held as Java longs. A failure throws
// dev.ember.EmberException with ember's message and status; text crosses as UTF-8 byte arrays.
// Calls run on the calling Java thread (a generation streams its text to the Java callback
// there); the Java classes serialize calls per session and guard the handles' lifetimes.
#include <jni.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "ember.h"

namespace {

template <typename T>
T* handle_of(jlong h) {
    return reinterpret_cast<T*>(static_cast<intptr_t>(h));
}

template <typename T>
jlong to_handle(T* p) {
    return static_cast<jlong>(reinterpret_cast<intptr_t>(p));
}

jbyteArray to_bytes(JNIEnv* env, const std::string& s) {
    jbyteArray out = env->NewByteArray(static_cast<jsize>(s.size()));
    if (out != nullptr) {
        env->SetByteArrayRegion(out, 0, static_cast<jsize>(s.size()),
                                reinterpret_cast<const jbyte*>(s.data()));
    }
    return out;
}

// Throws EmberException(status, message) into Java; the caller returns right after.
void throw_ember(JNIEnv* env, ember_status status, const std::string& given = {}) {
    std::string message = given;
    if (message.empty()) message = ember_last_error();
    if (message.empty()) message = ember_status_string(status);
    jclass cls = env->FindClass("dev/ember/EmberException");
    if (cls == nullptr) return;  // NoClassDefFoundError is pending
    // The message as UTF-8 bytes (a file name may hold any bytes; NewStringUTF takes only
    // modified UTF-8, and Android's CheckJNI aborts on anything else).
    jmethodID ctor = env->GetMethodID(cls, "<init>", "(I[B)V");
    jbyteArray text = to_bytes(env, message);
    if (ctor == nullptr || text == nullptr) return;
    jobject error = env->NewObject(cls, ctor, static_cast<jint>(status), text);
    if (error != nullptr) env->Throw(static_cast<jthrowable>(error));
}

// A byte[] (UTF-8) as a std::string; a null array gives `present` false.
struct Bytes {
    Bytes(JNIEnv* env, jbyteArray array) {
        if (array == nullptr) return;
        present = true;
        const jsize n = env->GetArrayLength(array);
        text.resize(static_cast<size_t>(n));
        env->GetByteArrayRegion(array, 0, n, reinterpret_cast<jbyte*>(text.data()));
    }
    const char* c_str() const { return present ? text.c_str() : nullptr; }
    // For values the C API takes NUL-terminated: a NUL inside would cut them short without a
    // word, so it is refused (an EmberException is pending when this returns false).
    bool check_c_string(JNIEnv* env, const char* what) const {
        if (text.find('\0') == std::string::npos) return true;
        throw_ember(env, EMBER_ERROR_INVALID_ARGUMENT,
                    std::string(what) + " contains a NUL character");
        return false;
    }
    bool present = false;
    std::string text;
};

// Runs call(buffer, capacity, &length) with a buffer that grows to the size asked for;
// false (an exception pending) on failure.
template <typename Call>
bool read_out(JNIEnv* env, std::string* out, Call&& call) {
    out->assign(4096, '\0');
    for (;;) {
        size_t length = 0;
        const ember_status status = call(out->data(), out->size(), &length);
        if (status == EMBER_ERROR_BUFFER_TOO_SMALL && length > out->size()) {
            out->resize(length);
            continue;
        }
        if (status != EMBER_OK) {
            throw_ember(env, status);
            return false;
        }
        out->resize(length);
        return true;
    }
}

// {temperature, top_p, min_p, repeat_penalty, frequency_penalty, presence_penalty, top_k,
//  repeat_last_n} as GenerateParams.sampling() packs them.
bool read_sampling(JNIEnv* env, jfloatArray values, jlong seed, ember_sampler_params* s) {
    if (values == nullptr || env->GetArrayLength(values) != 8) {
        throw_ember(env, EMBER_ERROR_INVALID_ARGUMENT, "sampling: 8 values");
        return false;
    }
    float v[8];
    env->GetFloatArrayRegion(values, 0, 8, v);
    s->temperature = v[0];
    s->top_p = v[1];
    s->min_p = v[2];
    s->repeat_penalty = v[3];
    s->frequency_penalty = v[4];
    s->presence_penalty = v[5];
    s->top_k = static_cast<int32_t>(v[6]);
    s->repeat_last_n = static_cast<int32_t>(v[7]);
    s->seed = static_cast<uint64_t>(seed);
    return true;
}

// What ember_generate's callback needs to reach the Java listener on this thread.
struct Listener {
    JNIEnv* env;
    jobject chunks;
    jmethodID on_chunk;
};

bool forward_text(const char* text, size_t length, void* user) {
    auto* l = static_cast<Listener*>(user);
    JNIEnv* env = l->env;
    jbyteArray bytes = to_bytes(env, std::string(text, length));
    if (bytes == nullptr) return false;  // OutOfMemoryError pending
    const jboolean go_on = env->CallBooleanMethod(l->chunks, l->on_chunk, bytes);
    env->DeleteLocalRef(bytes);
    // A listener that threw stops the generation; its exception stays pending for Java.
    return !env->ExceptionCheck() && go_on == JNI_TRUE;
}

}  // namespace

#define EMBER_JNI(ret, name) extern "C" JNIEXPORT ret JNICALL Java_dev_ember_Native_##name

EMBER_JNI(jstring, version)(JNIEnv* env, jclass) {
    return env->NewStringUTF(ember_version());
}

// ---- models ----

EMBER_JNI(jlong, modelLoad)(JNIEnv* env, jclass, jbyteArray path, jboolean repack) {
    const Bytes p(env, path);
    if (!p.present) {
        throw_ember(env, EMBER_ERROR_INVALID_ARGUMENT, "the model's path is null");
        return 0;
    }
    if (!p.check_c_string(env, "the model's path")) return 0;
    ember_model_params params = ember_model_default_params();
    params.repack = repack ? 1 : 0;
    ember_model* model = nullptr;
    char error[1024] = "";
    const ember_status status = ember_model_load(p.c_str(), &params, &model, error, sizeof(error));
    if (status != EMBER_OK) {
        throw_ember(env, status, error);
        return 0;
    }
    return to_handle(model);
}

EMBER_JNI(void, modelFree)(JNIEnv*, jclass, jlong model) {
    ember_model_free(handle_of<ember_model>(model));
}

EMBER_JNI(jintArray, modelInfo)(JNIEnv* env, jclass, jlong h) {
    const auto* m = handle_of<ember_model>(h);
    const jint values[4] = {ember_model_n_vocab(m), ember_model_n_ctx_train(m), ember_model_bos(m),
                            ember_model_eos(m)};
    jintArray out = env->NewIntArray(4);
    if (out != nullptr) env->SetIntArrayRegion(out, 0, 4, values);
    return out;
}

EMBER_JNI(jintArray, tokenize)
(JNIEnv* env, jclass, jlong h, jbyteArray text, jboolean add, jboolean parse) {
    const Bytes t(env, text);
    std::vector<ember_token> tokens(t.text.size() + 8);
    size_t n = 0;
    const auto* m = handle_of<ember_model>(h);
    ember_status status = ember_tokenize(m, t.text.data(), t.text.size(), add, parse, tokens.data(),
                                         tokens.size(), &n);
    if (status == EMBER_ERROR_BUFFER_TOO_SMALL) {
        tokens.resize(n);
        status = ember_tokenize(m, t.text.data(), t.text.size(), add, parse, tokens.data(),
                                tokens.size(), &n);
    }
    if (status != EMBER_OK) {
        throw_ember(env, status);
        return nullptr;
    }
    jintArray out = env->NewIntArray(static_cast<jsize>(n));
    if (out != nullptr) env->SetIntArrayRegion(out, 0, static_cast<jsize>(n), tokens.data());
    return out;
}

EMBER_JNI(jbyteArray, detokenize)(JNIEnv* env, jclass, jlong h, jintArray tokens) {
    const jsize n = tokens ? env->GetArrayLength(tokens) : 0;
    std::vector<ember_token> ids(static_cast<size_t>(n));
    if (n > 0) env->GetIntArrayRegion(tokens, 0, n, ids.data());
    std::string text;
    if (!read_out(env, &text, [&](char* out, size_t capacity, size_t* length) {
            return ember_detokenize(handle_of<ember_model>(h), ids.data(), ids.size(), out,
                                    capacity, length);
        })) {
        return nullptr;
    }
    return to_bytes(env, text);
}

EMBER_JNI(jbyteArray, chatFormat)
(JNIEnv* env, jclass, jlong h, jbyteArray tmpl, jbyteArray messages, jbyteArray tools,
 jbyteArray variables) {
    const Bytes t(env, tmpl), m(env, messages), k(env, tools), v(env, variables);
    if (!t.check_c_string(env, "the chat template") || !m.check_c_string(env, "the messages") ||
        !k.check_c_string(env, "the tools") || !v.check_c_string(env, "the template variables")) {
        return nullptr;
    }
    std::string text;
    if (!read_out(env, &text, [&](char* out, size_t capacity, size_t* length) {
            return ember_chat_format_json(handle_of<ember_model>(h), t.c_str(), m.c_str(),
                                          k.c_str(), v.c_str(), true, out, capacity, length);
        })) {
        return nullptr;
    }
    return to_bytes(env, text);
}

EMBER_JNI(jbyteArray, parseReply)
(JNIEnv* env, jclass, jlong h, jbyteArray tmpl, jbyteArray prompt, jbyteArray reply) {
    const Bytes t(env, tmpl), p(env, prompt), r(env, reply);
    std::string json;
    if (!read_out(env, &json, [&](char* out, size_t capacity, size_t* length) {
            return ember_chat_parse_reply(handle_of<ember_model>(h), t.c_str(), p.c_str(),
                                          r.c_str(), out, capacity, length);
        })) {
        return nullptr;
    }
    return to_bytes(env, json);
}

// ---- sessions ----

// sizes: {n_ctx, n_threads, n_batch, kv_type, lookup, draft_max}
EMBER_JNI(jlong, sessionCreate)
(JNIEnv* env, jclass, jlong model, jintArray sizes, jfloatArray sampling, jlong seed, jlong draft) {
    if (sizes == nullptr || env->GetArrayLength(sizes) != 6) {
        throw_ember(env, EMBER_ERROR_INVALID_ARGUMENT, "sessionCreate: 6 sizes");
        return 0;
    }
    jint s[6];
    env->GetIntArrayRegion(sizes, 0, 6, s);
    ember_session_params p = ember_session_default_params();
    p.n_ctx = s[0];
    p.n_threads = s[1];
    p.n_batch = s[2];
    p.kv_type = s[3];
    p.lookup = s[4];
    p.draft_max = s[5];
    p.draft_model = handle_of<ember_model>(draft);
    if (!read_sampling(env, sampling, seed, &p.sampling)) return 0;
    ember_session* session = nullptr;
    char error[1024] = "";
    const ember_status status =
        ember_session_create(handle_of<ember_model>(model), &p, &session, error, sizeof(error));
    if (status != EMBER_OK) {
        throw_ember(env, status, error);
        return 0;
    }
    return to_handle(session);
}

EMBER_JNI(void, sessionFree)(JNIEnv*, jclass, jlong session) {
    ember_session_free(handle_of<ember_session>(session));
}

EMBER_JNI(void, sessionCancel)(JNIEnv*, jclass, jlong session) {
    ember_session_cancel(handle_of<ember_session>(session));
}

EMBER_JNI(jint, sessionContextSize)(JNIEnv*, jclass, jlong session) {
    return ember_session_n_ctx(handle_of<ember_session>(session));
}

// The session starts over from prompt (ember_session_set_prompt: the cached start it shares is
// kept) and generates; returns {stop reason, prompt tokens, generated tokens}.
EMBER_JNI(jintArray, generate)
(JNIEnv* env, jclass, jlong h, jbyteArray prompt, jfloatArray sampling, jlong seed, jint max_tokens,
 jfloatArray pacing, jobjectArray stops, jbyteArray grammar, jbyteArray schema,
 jbyteArray chat_template, jobject chunks) {
    auto* session = handle_of<ember_session>(h);
    const Bytes p(env, prompt), g(env, grammar), j(env, schema), c(env, chat_template);
    ember_sampler_params s{};
    if (!read_sampling(env, sampling, seed, &s)) return nullptr;
    std::vector<std::string> stop_texts;
    const jsize n_stops = stops ? env->GetArrayLength(stops) : 0;
    for (jsize i = 0; i < n_stops; ++i) {
        auto item = static_cast<jbyteArray>(env->GetObjectArrayElement(stops, i));
        const Bytes stop(env, item);
        env->DeleteLocalRef(item);
        if (!stop.check_c_string(env, "a stop string")) return nullptr;
        stop_texts.push_back(stop.text);
    }
    if (!g.check_c_string(env, "the grammar") || !j.check_c_string(env, "the JSON schema") ||
        !c.check_c_string(env, "the chat template")) {
        return nullptr;
    }
    std::vector<const char*> stop_ptrs;
    for (const std::string& t : stop_texts) stop_ptrs.push_back(t.c_str());

    ember_status status = ember_session_set_prompt(session, p.text.data(), p.text.size(), &s);
    if (status != EMBER_OK) {
        throw_ember(env, status);
        return nullptr;
    }
    const jint n_prompt = ember_session_n_tokens(session);
    ember_generate_params params = ember_generate_default_params();
    params.n_predict = max_tokens;
    if (pacing != nullptr && env->GetArrayLength(pacing) == 2) {
        float p2[2];
        env->GetFloatArrayRegion(pacing, 0, 2, p2);
        params.max_tokens_per_second = p2[0];
        params.thermal_limit_celsius = p2[1];
    }
    params.stop_strings = stop_ptrs.data();
    params.n_stop_strings = stop_ptrs.size();
    params.grammar = g.c_str();
    params.json_schema = j.c_str();
    params.chat_template = c.c_str();
    jclass cls = env->GetObjectClass(chunks);
    Listener listener{env, chunks, env->GetMethodID(cls, "onChunk", "([B)Z")};
    if (listener.on_chunk == nullptr) return nullptr;  // NoSuchMethodError pending
    ember_generate_stats stats{};
    status = ember_generate(session, nullptr, &params, forward_text, &listener, &stats);
    if (env->ExceptionCheck()) return nullptr;  // the listener threw: Java sees its exception
    if (status != EMBER_OK) {
        throw_ember(env, status);
        return nullptr;
    }
    const jint result[3] = {stats.stop_reason, n_prompt, stats.n_generated_tokens};
    jintArray out = env->NewIntArray(3);
    if (out != nullptr) env->SetIntArrayRegion(out, 0, 3, result);
    return out;
}

EMBER_JNI(jbyteArray, saveState)(JNIEnv* env, jclass, jlong h) {
    const auto* session = handle_of<ember_session>(h);
    size_t length = 0;
    ember_status status = ember_session_save_state(session, nullptr, 0, &length);
    if (status != EMBER_OK && status != EMBER_ERROR_BUFFER_TOO_SMALL) {
        throw_ember(env, status);
        return nullptr;
    }
    std::string state(length, '\0');
    status = ember_session_save_state(session, state.data(), state.size(), &length);
    if (status != EMBER_OK) {
        throw_ember(env, status);
        return nullptr;
    }
    return to_bytes(env, state);
}

EMBER_JNI(void, loadState)(JNIEnv* env, jclass, jlong h, jbyteArray state) {
    const Bytes s(env, state);
    char error[1024] = "";
    const ember_status status = ember_session_load_state(handle_of<ember_session>(h), s.text.data(),
                                                         s.text.size(), error, sizeof(error));
    if (status != EMBER_OK) throw_ember(env, status, error);
}

// ---- embeddings ----

EMBER_JNI(jlong, embedderCreate)
(JNIEnv* env, jclass, jlong model, jint n_ctx, jint threads, jint pooling, jboolean normalize,
 jboolean truncate) {
    ember_embedder_params p = ember_embedder_default_params();
    p.n_ctx = n_ctx;
    p.n_threads = threads;
    p.pooling = pooling;
    p.normalize = normalize;
    p.truncate = truncate;
    ember_embedder* embedder = nullptr;
    char error[1024] = "";
    const ember_status status =
        ember_embedder_create(handle_of<ember_model>(model), &p, &embedder, error, sizeof(error));
    if (status != EMBER_OK) {
        throw_ember(env, status, error);
        return 0;
    }
    return to_handle(embedder);
}

EMBER_JNI(void, embedderFree)(JNIEnv*, jclass, jlong embedder) {
    ember_embedder_free(handle_of<ember_embedder>(embedder));
}

EMBER_JNI(void, embedderCancel)(JNIEnv*, jclass, jlong embedder) {
    ember_embedder_cancel(handle_of<ember_embedder>(embedder));
}

EMBER_JNI(jint, embedderDimension)(JNIEnv*, jclass, jlong embedder) {
    return ember_embedder_dimension(handle_of<ember_embedder>(embedder));
}

EMBER_JNI(jfloatArray, embed)(JNIEnv* env, jclass, jlong h, jobjectArray texts) {
    auto* embedder = handle_of<ember_embedder>(h);
    const jsize n = texts ? env->GetArrayLength(texts) : 0;
    std::vector<std::string> data;
    for (jsize i = 0; i < n; ++i) {
        auto item = static_cast<jbyteArray>(env->GetObjectArrayElement(texts, i));
        const Bytes text(env, item);
        env->DeleteLocalRef(item);
        if (!text.check_c_string(env, "a text")) return nullptr;
        data.push_back(text.text);
    }
    std::vector<const char*> ptrs;
    for (const std::string& t : data) ptrs.push_back(t.c_str());
    const size_t dim = static_cast<size_t>(ember_embedder_dimension(embedder));
    std::vector<float> vectors(dim * data.size());
    const ember_status status =
        ember_embed(embedder, ptrs.data(), ptrs.size(), vectors.data(), vectors.size(), nullptr);
    if (status != EMBER_OK) {
        throw_ember(env, status);
        return nullptr;
    }
    jfloatArray out = env->NewFloatArray(static_cast<jsize>(vectors.size()));
    if (out != nullptr) {
        env->SetFloatArrayRegion(out, 0, static_cast<jsize>(vectors.size()), vectors.data());
    }
    return out;
}
