// ollama's API (https://github.com/ollama/ollama/blob/main/docs/api.md), so that apps written
// for ollama work unchanged: /api/chat and /api/generate (streamed as NDJSON, one JSON object
// per line, by default), /api/embed, /api/tags, /api/ps, /api/show, /api/version.
#include <cstdio>
#include <ctime>

#include "ember.h"
#include "tools/serve/api.h"
#include "tools/serve/connection.h"

namespace ember::serve {
namespace {

// RFC 3339 in UTC with nanoseconds, as ollama writes created_at.
std::string rfc3339(std::chrono::system_clock::time_point t) {
    const auto since = t.time_since_epoch();
    const std::time_t seconds = std::chrono::duration_cast<std::chrono::seconds>(since).count();
    const long nanos = static_cast<long>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(since).count() % 1000000000);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", utc.tm_year + 1900,
                  utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, nanos);
    return buffer;
}

std::string now_rfc3339() {
    return rfc3339(std::chrono::system_clock::now());
}

int64_t ns(double ms) {
    return static_cast<int64_t>(ms * 1e6);
}

// Options that say how ollama runs a model: accepted without effect (`ember serve`'s own
// flags decide these).
constexpr std::string_view kRunnerOptions =
    "num_ctx num_batch num_gpu main_gpu num_thread use_mmap use_mlock numa low_vram vocab_only "
    "f16_kv logits_all penalize_newline";

// ollama's "options" carry the sampling fields under its names.
GenerationRequest options_fields(const json& body) {
    json options = json::object();
    if (body.contains("options") && !body["options"].is_null()) {
        if (!body["options"].is_object()) throw HttpError(400, "'options' must be an object");
        options = body["options"];
    }
    check_fields(options, std::string(kSamplingFields) + " num_predict stop num_keep mirostat",
                 kRunnerOptions);
    refuse_unless_off(options, "mirostat", "ember samples without Mirostat");
    GenerationRequest request;
    request.rules.n_keep =
        static_cast<int>(integer_field(options, "num_keep", 0, 1 << 30).value_or(0));
    request.sampling = sampling_from(options);
    request.rules.max_tokens =
        static_cast<int>(integer_field(options, "num_predict", -2, 1 << 30).value_or(-1));
    if (request.rules.max_tokens < 0) request.rules.max_tokens = -1;  // -1 and -2: no limit
    request.rules.stop_strings = stop_field(options, "stop");
    // Structured output: "json" (any JSON object) or a JSON Schema object.
    if (body.contains("format") && !body["format"].is_null() && body["format"] != "") {
        const json& format = body["format"];
        if (format == "json") {
            request.rules.grammar = grammar_any_json_object();
        } else if (format.is_object()) {
            request.rules.grammar = grammar_from_schema(format, "format");
        } else {
            throw HttpError(400, "'format' must be \"json\" or a JSON Schema object");
        }
    }
    return request;
}

json details(const LoadedModel* model) {
    json d = {
        {"format", "gguf"}, {"family", ""}, {"parameter_size", ""}, {"quantization_level", ""}};
    if (model != nullptr) d["family"] = model->model().config().arch->name;
    return d;
}

json model_json(const ModelListing& m, const LoadedModel* loaded) {
    const auto modified = std::chrono::file_clock::to_sys(m.modified);
    return {{"name", m.name},
            {"model", m.name},
            {"modified_at",
             rfc3339(std::chrono::time_point_cast<std::chrono::system_clock::duration>(modified))},
            {"size", m.size},
            {"digest", ""},
            {"details", details(loaded)}};
}

// ollama's chat messages as the template's message objects: roles system, user, assistant
// (its "thinking" as the templates' reasoning_content, its "tool_calls" with arguments as
// objects) and tool ("tool_name" as the templates' name); images are refused.
json ollama_message_objects(const json& messages) {
    if (!messages.is_array()) throw HttpError(400, "'messages' must be an array");
    json out = json::array();
    for (size_t i = 0; i < messages.size(); ++i) {
        const json& m = messages[i];
        const std::string where = "messages[" + std::to_string(i) + "]";
        if (!m.is_object() || !m.contains("role") || !m["role"].is_string()) {
            throw HttpError(400, where + " needs a string 'role'");
        }
        const std::string role = m["role"].get<std::string>();
        if (role != "system" && role != "user" && role != "assistant" && role != "tool") {
            throw HttpError(400, where + ".role '" + role +
                                     "' is not supported (system, user, assistant, tool)");
        }
        json message = {{"role", role}, {"content", ""}};
        for (const auto& [key, value] : m.items()) {
            if (key == "role") continue;
            if (key == "content" && (value.is_string() || value.is_null())) {
                if (value.is_string()) message["content"] = value;
            } else if (key == "thinking" && role == "assistant" && value.is_string()) {
                if (!value.get<std::string>().empty()) message["reasoning_content"] = value;
            } else if (key == "tool_calls" && role == "assistant" && value.is_array()) {
                message["tool_calls"] = template_tool_calls(value, where);
            } else if (key == "tool_name" && role == "tool" && value.is_string()) {
                message["name"] = value;
            } else if (key == "tool_call_id" && role == "tool" && value.is_string()) {
                message["tool_call_id"] = value;
            } else if (key == "images") {
                refuse_unless_off(m, "images", "ember serve reads text only");
            } else if (key == "content") {
                throw HttpError(400, where + ".content must be a string");
            } else {
                refuse_unless_off(m, key.c_str(),
                                  "messages[] hold text, thinking, tool calls and tool results");
            }
        }
        out.push_back(std::move(message));
    }
    return out;
}

// ollama's "think": true or false (the template's enable_thinking), or "high", "medium", "low"
// (thinking on, and the template's reasoning_effort, as gpt-oss reads it).
json think_variables(const json& body) {
    json variables = json::object();
    const auto it = body.find("think");
    if (it == body.end() || it->is_null()) return variables;
    if (it->is_boolean()) {
        variables["enable_thinking"] = *it;
    } else if (*it == "high" || *it == "medium" || *it == "low") {
        variables["enable_thinking"] = true;
        variables["reasoning_effort"] = *it;
    } else {
        throw HttpError(400, "'think' must be true, false, \"high\", \"medium\" or \"low\"");
    }
    return variables;
}

// A reply's calls as ollama writes them: {"function": {"index", "name", "arguments": {...}}}.
json ollama_calls(const std::vector<ToolCall>& calls) {
    json out = json::array();
    for (size_t i = 0; i < calls.size(); ++i) {
        out.push_back(
            {{"function",
              {{"index", i}, {"name", calls[i].name}, {"arguments", call_arguments(calls[i])}}}});
    }
    return out;
}

enum class Kind { Chat, Generate };

void generate_route(ServerState& state, Kind kind, const http::Request& http,
                    http::Response& response) {
    const json body = parse_body(http);
    if (kind == Kind::Chat) {
        check_fields(body, "model messages format options stream tools think", "keep_alive");
    } else {
        check_fields(body,
                     "model prompt format options system stream raw suffix images template "
                     "context think",
                     "keep_alive");
        refuse_unless_off(body, "suffix", "ember serve does not fill in the middle");
        refuse_unless_off(body, "images", "ember serve reads text only");
        refuse_unless_off(body, "template", "the model's own chat format is used");
        refuse_unless_off(body, "context", "pass the conversation as /api/chat messages");
        refuse_unless_off(body, "think", "thinking is read apart on /api/chat");
    }
    const std::optional<std::string> name = string_field(body, "model");
    if (!name) throw HttpError(400, "'model' is required");
    std::shared_ptr<LoadedModel> model = state.pool.get(*name);
    GenerationRequest request = options_fields(body);
    ToolRequest tools;      // (chat) the request's tools: calls are read out of the reply
    bool thinking = false;  // (chat) the prompt leaves the model inside a thinking block
    if (kind == Kind::Chat) {
        if (!body.contains("messages") ||
            (body["messages"].is_array() && body["messages"].empty())) {
            // ollama: a chat without messages loads the model.
            response.set_content(dump(json{{"model", model->name()},
                                           {"created_at", now_rfc3339()},
                                           {"message", {{"role", "assistant"}, {"content", ""}}},
                                           {"done_reason", "load"},
                                           {"done", true}}),
                                 "application/json");
            return;
        }
        tools = tool_request(body);
        prepare_chat(*model, ollama_message_objects(body["messages"]), tools, think_variables(body),
                     state.special_tokens_in_messages, "'format'", request, &thinking);
    } else {
        const std::string prompt = string_field(body, "prompt").value_or("");
        if (prompt.empty()) {
            response.set_content(dump(json{{"model", model->name()},
                                           {"created_at", now_rfc3339()},
                                           {"response", ""},
                                           {"done_reason", "load"},
                                           {"done", true}}),
                                 "application/json");
            return;
        }
        if (bool_field(body, "raw").value_or(false)) {
            request.prompt = model->tokenizer().encode(prompt, true, true);
        } else {  // ollama applies the model's template to the prompt (and a system message)
            std::vector<ChatMessage> messages;
            if (auto system = string_field(body, "system")) messages.push_back({"system", *system});
            messages.push_back({"user", prompt});
            request.prompt = model->chat_prompt(messages, state.special_tokens_in_messages);
            add_chat_ends(request.rules, model->chat_format(), model->tokenizer());
        }
    }
    const bool stream = bool_field(body, "stream").value_or(true);  // ollama streams by default
    const std::shared_ptr<Generation> generation = submit(state, *model, std::move(request));
    // Whatever happens to this response, a generation nobody reads must not keep its slot.
    const auto cancel_on_drop =
        std::shared_ptr<void>(nullptr, [generation](void*) { generation->cancel(); });

    // One line: a piece of the answer, of the thinking, or the calls.
    const auto piece = [kind, model](const std::string& text, const std::string& thought = "",
                                     const json& calls = nullptr) {
        json j = {{"model", model->name()}, {"created_at", now_rfc3339()}};
        if (kind == Kind::Chat) {
            j["message"] = {{"role", "assistant"}, {"content", text}};
            if (!thought.empty()) j["message"]["thinking"] = thought;
            if (!calls.is_null()) j["message"]["tool_calls"] = calls;
        } else {
            j["response"] = text;
        }
        j["done"] = false;
        return j;
    };
    const auto final_object = [piece](const GenerationEvent& last,
                                      const ReplyReader::Parts& parts) {
        json j = piece(parts.content, parts.reasoning,
                       parts.calls.empty() ? json(nullptr) : ollama_calls(parts.calls));
        j["done"] = true;
        j["done_reason"] = finish_reason(last.finish);
        j["total_duration"] = ns(last.queue_ms + last.prompt_ms + last.generate_ms);
        j["load_duration"] = 0;
        j["prompt_eval_count"] = last.n_prompt - last.n_cached;
        j["prompt_eval_duration"] = ns(last.prompt_ms);
        j["eval_count"] = last.n_generated;
        j["eval_duration"] = ns(last.generate_ms);
        return j;
    };
    if (!stream) {
        std::string text;
        const std::optional<GenerationEvent> last =
            collect(state, *generation, client_gone_of(http), &text);
        if (!last) {  // the client is gone
            response.close = true;
            return;
        }
        const ReplyReader::Parts parts = kind == Kind::Chat
                                             ? reply_reader(*model, tools, thinking).whole(text)
                                             : ReplyReader::Parts{"", text, {}};
        response.set_content(dump(final_object(*last, parts)), "application/json");
        return;
    }
    auto in_flight = std::make_shared<InFlight>(state);  // until the last line is sent
    auto reader = std::make_shared<ReplyReader>(reply_reader(*model, tools, thinking));
    response.set_stream(
        "application/x-ndjson", [&state, generation, cancel_on_drop, in_flight, piece, final_object,
                                 reader, kind](http::StreamSink& sink) {
            const auto send = [&](const json& j) { return sink.write(dump(j) + "\n"); };
            // The thinking and the answer as they come (ReplyReader holds back what may begin a
            // call); the calls in a line of their own once the reply has ended.
            const auto send_parts = [&](const ReplyReader::Parts& p) {
                return (p.reasoning.empty() || send(piece("", p.reasoning))) &&
                       (p.content.empty() || send(piece(p.content))) &&
                       (p.calls.empty() || send(piece("", "", ollama_calls(p.calls))));
            };
            const std::optional<GenerationEvent> last = follow(
                state, *generation, [&sink] { return sink.client_gone(); },
                [&](const GenerationEvent& e) {
                    if (e.text.empty()) return true;
                    if (kind != Kind::Chat) return send(piece(e.text));
                    return send_parts(reader->add(e.text));
                });
            if (!last) return false;
            if (ended_whole(last->finish)) {
                if (kind == Kind::Chat && !send_parts(reader->finish())) return false;
                return send(final_object(*last, {}));
            }
            return send(json{{"error", finish_message(*last)}});
        });
}

}  // namespace

void add_ollama_routes(Routes& routes, ServerState& state) {
    const ErrorShape ollama = ErrorShape::Ollama;
    routes.post("/api/chat", ollama, [&state](const auto& req, auto& res) {
        generate_route(state, Kind::Chat, req, res);
    });
    routes.post("/api/generate", ollama, [&state](const auto& req, auto& res) {
        generate_route(state, Kind::Generate, req, res);
    });
    const auto embed = [&state](const http::Request& req, http::Response& res, bool legacy) {
        const json body = parse_body(req);
        if (legacy) {
            check_fields(body, "model prompt options", "keep_alive");
        } else {
            check_fields(body, "model input truncate options dimensions", "keep_alive");
            if (integer_field(body, "dimensions", 1, 1 << 20)) {
                throw HttpError(400,
                                "'dimensions' is not supported (the model's own size is used)");
            }
        }
        if (body.contains("options") && !body["options"].is_null()) {
            if (!body["options"].is_object()) throw HttpError(400, "'options' must be an object");
            check_fields(body["options"], "", kRunnerOptions);
        }
        const std::optional<std::string> name = string_field(body, "model");
        if (!name) throw HttpError(400, "'model' is required");
        std::shared_ptr<LoadedModel> model = state.pool.get(*name);
        std::vector<std::string> texts;
        const json& input = legacy ? body.value("prompt", json()) : body.value("input", json());
        if (input.is_string()) {
            texts.push_back(input.get<std::string>());
        } else if (!legacy && input.is_array()) {
            for (const json& x : input) {
                if (!x.is_string()) throw HttpError(400, "'input' must be a string or strings");
                texts.push_back(x.get<std::string>());
            }
        } else {
            throw HttpError(400, legacy ? "'prompt' must be a string"
                                        : "'input' must be a string or an array of strings");
        }
        const auto start = std::chrono::steady_clock::now();
        const std::vector<Embedding> embeddings = embed_texts(
            state, *model, texts, bool_field(body, "truncate").value_or(true), client_gone_of(req));
        const double ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                .count();
        if (legacy) {
            res.set_content(dump(json{{"embedding", embeddings[0].values}}), "application/json");
            return;
        }
        json vectors = json::array();
        int tokens = 0;
        for (const Embedding& e : embeddings) {
            vectors.push_back(e.values);
            tokens += e.n_tokens;
        }
        res.set_content(dump(json{{"model", model->name()},
                                  {"embeddings", vectors},
                                  {"total_duration", ns(ms)},
                                  {"load_duration", 0},
                                  {"prompt_eval_count", tokens}}),
                        "application/json");
    };
    routes.post("/api/embed", ollama,
                [embed](const auto& req, auto& res) { embed(req, res, false); });
    routes.post("/api/embeddings", ollama,
                [embed](const auto& req, auto& res) { embed(req, res, true); });
    routes.get("/api/tags", ollama, [&state](const auto&, auto& res) {
        json models = json::array();
        for (const ModelListing& m : state.pool.list()) models.push_back(model_json(m, nullptr));
        res.set_content(dump(json{{"models", models}}), "application/json");
    });
    routes.get("/api/ps", ollama, [&state](const auto&, auto& res) {
        json models = json::array();
        const auto loaded = state.pool.loaded();
        for (const ModelListing& m : state.pool.list()) {
            if (!m.loaded) continue;
            const LoadedModel* model = nullptr;
            for (const auto& l : loaded) {
                if (l->name() == m.name) model = l.get();
            }
            json j = model_json(m, model);
            const auto left = m.expires - std::chrono::steady_clock::now();
            j["expires_at"] =
                m.expires == std::chrono::steady_clock::time_point::max()
                    ? "2318-01-01T00:00:00Z"  // never (ollama's keep_alive -1)
                    : rfc3339(
                          std::chrono::system_clock::now() +
                          std::chrono::duration_cast<std::chrono::system_clock::duration>(left));
            j["size_vram"] = 0;
            models.push_back(std::move(j));
        }
        res.set_content(dump(json{{"models", models}}), "application/json");
    });
    routes.post("/api/show", ollama, [&state](const auto& req, auto& res) {
        const json body = parse_body(req);
        check_fields(body, "model name", "verbose");
        std::string name = string_field(body, "model").value_or("");
        if (name.empty()) name = string_field(body, "name").value_or("");
        std::shared_ptr<LoadedModel> model = state.pool.get(name);
        const ModelConfig& c = model->model().config();
        const std::string arch(c.arch->name);
        res.set_content(dump(json{{"modelfile", ""},
                                  {"parameters", ""},
                                  {"template", model->chat_format().is_jinja()
                                                   ? model->chat_format().source()
                                                   : model->chat_format().describe()},
                                  {"details", {{"format", "gguf"}, {"family", arch}}},
                                  {"model_info",
                                   {{"general.architecture", arch},
                                    {arch + ".context_length", c.n_ctx_train},
                                    {arch + ".embedding_length", c.n_embd},
                                    {arch + ".block_count", c.n_layer}}}}),
                        "application/json");
    });
    routes.get("/api/version", ollama, [](const auto&, auto& res) {
        res.set_content(dump(json{{"version", std::string("ember ") + ember_version()}}),
                        "application/json");
    });
}

}  // namespace ember::serve
