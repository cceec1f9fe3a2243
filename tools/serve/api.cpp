#include "tools/serve/api.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <random>

#include "engine/grammar/grammar.h"
#include "engine/grammar/json_schema.h"
#include "tools/serve/connection.h"

namespace ember::serve {

namespace {

// The deepest nesting of arrays and objects in JSON text (strings skipped), without parsing it.
int json_depth(std::string_view text) {
    int depth = 0, deepest = 0;
    bool in_string = false;
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\') {
                ++i;
            } else if (c == '"') {
                in_string = false;
            }
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            deepest = std::max(deepest, ++depth);
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    return deepest;
}

}  // namespace

json parse_body(const http::Request& request) {
    if (json_depth(request.body) > kMaxJsonDepth) {
        throw HttpError(400, "the body nests arrays and objects deeper than " +
                                 std::to_string(kMaxJsonDepth) + " levels");
    }
    json body;
    try {
        body = json::parse(request.body);
    } catch (const json::exception& e) {
        // Syntax, invalid UTF-8, a number out of a double's range (1e999).
        throw HttpError(400, std::string("the body is not valid JSON: ") + e.what());
    }
    if (!body.is_object()) throw HttpError(400, "the body must be a JSON object");
    return body;
}

void check_fields(const json& body, std::string_view honoured, std::string_view ignored) {
    const auto listed = [](std::string_view list, const std::string& key) {
        for (size_t at = list.find(key); at != std::string_view::npos;
             at = list.find(key, at + 1)) {
            const size_t end = at + key.size();
            if ((at == 0 || list[at - 1] == ' ') && (end == list.size() || list[end] == ' ')) {
                return true;
            }
        }
        return false;
    };
    for (const auto& item : body.items()) {
        const std::string& key = item.key();
        if (!key.empty() && key.find(' ') == std::string::npos &&
            (listed(honoured, key) || listed(ignored, key))) {
            continue;
        }
        throw HttpError(400, "unknown field '" + key +
                                 "' (ember serve refuses fields it does not understand rather "
                                 "than ignore them; docs/serve.md lists the fields)");
    }
}

void refuse_unless_off(const json& body, const char* name, const char* why) {
    const auto it = body.find(name);
    if (it == body.end()) return;
    const json& v = *it;
    const bool off = v.is_null() || (v.is_boolean() && !v.get<bool>()) ||
                     (v.is_number() && v.get<double>() == 0) || (v.is_string() && v.empty()) ||
                     (v.is_structured() && v.empty());
    if (!off) throw HttpError(400, std::string("'") + name + "' is not supported: " + why);
}

ClientGone client_gone_of(const http::Request& request) {
    const int socket = request.socket;
    return [socket] { return peer_closed(socket); };
}

namespace {

const json* field(const json& object, const char* name) {
    const auto it = object.find(name);
    if (it == object.end() || it->is_null()) return nullptr;
    return &*it;
}

std::string format_number(double x) {
    std::string s = std::to_string(x);
    while (s.size() > 1 && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
    return s;
}

}  // namespace

std::optional<double> number_field(const json& object, const char* name, double lo, double hi) {
    const json* value = field(object, name);
    if (value == nullptr) return std::nullopt;
    if (!value->is_number()) throw HttpError(400, std::string("'") + name + "' must be a number");
    const double x = value->get<double>();
    if (!std::isfinite(x) || x < lo || x > hi) {
        throw HttpError(400, std::string("'") + name + "' must lie in [" + format_number(lo) +
                                 ", " + format_number(hi) + "], not " + value->dump());
    }
    return x;
}

std::optional<int64_t> integer_field(const json& object, const char* name, int64_t lo, int64_t hi) {
    const json* value = field(object, name);
    if (value == nullptr) return std::nullopt;
    if (!value->is_number_integer() && !value->is_number_unsigned()) {
        throw HttpError(400, std::string("'") + name + "' must be an integer");
    }
    if (value->is_number_unsigned() && value->get<uint64_t>() > static_cast<uint64_t>(hi)) {
        throw HttpError(400, std::string("'") + name + "' is too large: " + value->dump());
    }
    const int64_t x = value->get<int64_t>();
    if (x < lo || x > hi) {
        throw HttpError(400, std::string("'") + name + "' must lie in [" + std::to_string(lo) +
                                 ", " + std::to_string(hi) + "], not " + value->dump());
    }
    return x;
}

std::optional<bool> bool_field(const json& object, const char* name) {
    const json* value = field(object, name);
    if (value == nullptr) return std::nullopt;
    if (!value->is_boolean())
        throw HttpError(400, std::string("'") + name + "' must be true or false");
    return value->get<bool>();
}

std::optional<std::string> string_field(const json& object, const char* name) {
    const json* value = field(object, name);
    if (value == nullptr) return std::nullopt;
    if (!value->is_string()) throw HttpError(400, std::string("'") + name + "' must be a string");
    return value->get<std::string>();
}

std::vector<std::string> stop_field(const json& object, const char* name) {
    const json* value = field(object, name);
    if (value == nullptr) return {};
    if (value->is_string()) return {value->get<std::string>()};
    const std::string message =
        std::string("'") + name + "' must be a string or an array of strings";
    if (!value->is_array()) throw HttpError(400, message);
    std::vector<std::string> stops;
    for (const json& s : *value) {
        if (!s.is_string()) throw HttpError(400, message);
        if (!s.get<std::string>().empty()) stops.push_back(s.get<std::string>());
    }
    return stops;
}

std::shared_ptr<const Grammar> grammar_from_schema(const json& schema, const std::string& field) {
    if (!schema.is_object() && !schema.is_boolean()) {
        throw HttpError(400, "'" + field + "' must be a JSON Schema (an object)");
    }
    try {
        auto grammar = Grammar::parse(json_schema_to_gbnf(schema.dump()));
        GrammarMatcher first(grammar);  // the start state: a too deep or too ambiguous start
        return grammar;
    } catch (const Error& e) {
        throw HttpError(400, "'" + field + "': " + e.what());
    }
}

std::shared_ptr<const Grammar> grammar_any_json_object() {
    static const std::shared_ptr<const Grammar> grammar = Grammar::parse(json_object_gbnf());
    return grammar;
}

std::shared_ptr<const Grammar> grammar_from_gbnf(const std::string& gbnf,
                                                 const std::string& field) {
    try {
        auto grammar = Grammar::parse(gbnf);
        GrammarMatcher first(grammar);  // the start state: a too deep or too ambiguous start
        return grammar;
    } catch (const Error& e) {
        throw HttpError(400, "'" + field + "': " + e.what());
    }
}

SamplerParams sampling_from(const json& object) {
    SamplerParams p;  // ember's defaults, as `ember run`
    if (auto x = number_field(object, "temperature", 0, 100)) p.temperature = float(*x);
    if (auto x = number_field(object, "top_p", 0, 1)) p.top_p = float(*x);
    if (auto x = integer_field(object, "top_k", 0, 1 << 30)) p.top_k = int(*x);
    if (auto x = number_field(object, "min_p", 0, 1)) p.min_p = float(*x);
    if (auto x = number_field(object, "presence_penalty", -2, 2)) p.presence_penalty = float(*x);
    if (auto x = number_field(object, "frequency_penalty", -2, 2)) p.frequency_penalty = float(*x);
    if (auto x = number_field(object, "repeat_penalty", 0.01, 100)) p.repeat_penalty = float(*x);
    if (auto x = integer_field(object, "repeat_last_n", 0, 1 << 20)) p.repeat_last_n = int(*x);
    const json* seed = field(object, "seed");
    if (seed != nullptr && !(seed->is_number_integer() && seed->get<int64_t>() == -1)) {
        if (!seed->is_number_integer() && !seed->is_number_unsigned()) {
            throw HttpError(400, "'seed' must be an integer");
        }
        p.seed = seed->is_number_unsigned() ? seed->get<uint64_t>()
                                            : static_cast<uint64_t>(seed->get<int64_t>());
    } else {
        p.seed = std::random_device{}();
    }
    return p;
}

std::shared_ptr<Generation> submit(ServerState& state, LoadedModel& model,
                                   GenerationRequest request) {
    if (state.stopping.load()) throw HttpError(503, "the server is shutting down", "server_error");
    Scheduler& scheduler = model.scheduler();
    if (static_cast<int>(request.prompt.size()) >= scheduler.n_ctx()) {
        throw HttpError(400,
                        "the prompt has " + std::to_string(request.prompt.size()) +
                            " tokens; a slot's context holds " + std::to_string(scheduler.n_ctx()) +
                            " (ember serve -c)",
                        "invalid_request_error", "context_length_exceeded");
    }
    if (state.limits.max_tokens >= 0 &&
        (request.rules.max_tokens < 0 || request.rules.max_tokens > state.limits.max_tokens)) {
        request.rules.max_tokens = state.limits.max_tokens;
    }
    request.deadline = std::chrono::steady_clock::now() + state.limits.request_timeout;
    try {
        return scheduler.submit(std::move(request));
    } catch (const QueueFullError& e) {
        ++state.metrics.rejected;
        throw HttpError(503, e.what(), "server_error", "server_busy");
    }
}

std::optional<GenerationEvent> follow(ServerState& state, Generation& generation,
                                      const ClientGone& client_gone,
                                      const std::function<bool(const GenerationEvent&)>& on_event) {
    auto next_check = std::chrono::steady_clock::now();
    for (;;) {
        std::optional<GenerationEvent> event = generation.next(std::chrono::milliseconds(50));
        // The connection is looked at every 50 ms whether or not tokens come (a fast model
        // would otherwise generate for a client that left).
        if (std::chrono::steady_clock::now() >= next_check) {
            next_check = std::chrono::steady_clock::now() + std::chrono::milliseconds(50);
            if ((!event || !event->done) && client_gone()) {
                generation.cancel();
                ++state.metrics.disconnects;
                return std::nullopt;
            }
        }
        if (!event) continue;
        if (!on_event(*event)) {
            if (!event->done) {
                generation.cancel();
                ++state.metrics.disconnects;
            }
            return std::nullopt;
        }
        if (event->done) return event;
    }
}

std::optional<GenerationEvent> collect(ServerState& state, Generation& generation,
                                       const ClientGone& client_gone, std::string* text,
                                       std::vector<TokenLogprob>* logprobs) {
    const std::optional<GenerationEvent> last =
        follow(state, generation, client_gone, [text, logprobs](const GenerationEvent& e) {
            *text += e.text;
            if (logprobs != nullptr)
                logprobs->insert(logprobs->end(), e.logprobs.begin(), e.logprobs.end());
            return true;
        });
    if (!last) return last;
    if (ended_whole(last->finish)) return last;
    if (last->finish == StopReason::Cancelled || last->finish == StopReason::Callback) {
        throw HttpError(503, finish_message(*last), "server_error");
    }
    if (last->finish == StopReason::Timeout) {
        throw HttpError(504, finish_message(*last), "server_error", "timeout");
    }
    // A request's own grammar failing is the request's fault; anything else the server's.
    if (last->error.rfind("grammar", 0) == 0) throw HttpError(400, last->error);
    throw HttpError(500, last->error, "server_error");
}

std::string finish_message(const GenerationEvent& last) {
    switch (last.finish) {
        case StopReason::Timeout:
            return "the request ran longer than the server's --timeout";
        case StopReason::Cancelled:
            return "the server is shutting down";
        default:
            return last.error;
    }
}

std::vector<Embedding> embed_texts(ServerState& state, LoadedModel& model,
                                   const std::vector<std::string>& texts, bool truncate,
                                   const ClientGone& client_gone) {
    if (state.stopping.load()) throw HttpError(503, "the server is shutting down", "server_error");
    std::vector<Embedding> out;
    const auto deadline = std::chrono::steady_clock::now() + state.limits.request_timeout;
    switch (model.embed(texts, truncate, deadline, client_gone, &out)) {
        case EmbedQueue::Outcome::Done:
            return out;
        case EmbedQueue::Outcome::Timeout:
            throw HttpError(504, "the request ran longer than the server's --timeout",
                            "server_error", "timeout");
        case EmbedQueue::Outcome::Cancelled:
            break;
    }
    ++state.metrics.disconnects;
    throw HttpError(503, "the request was cancelled (its client left, or the server is stopping)",
                    "server_error");
}

std::string dump(const json& j) {
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

json error_body(const std::string& message, const std::string& type, const std::string& code) {
    return {{"error",
             {{"message", message},
              {"type", type},
              {"param", nullptr},
              {"code", code.empty() ? json(nullptr) : json(code)}}}};
}

void send_error(http::Response& response, const HttpError& error, ErrorShape shape) {
    response.status = error.status;
    response.body.clear();
    response.stream = nullptr;
    // What a failed handler set goes; the CORS headers the server set before it stay, so that
    // an allowed page can read the error.
    std::erase_if(response.headers, [](const http::Header& h) {
        return h.name.rfind("Access-Control-", 0) != 0 && h.name != "Vary";
    });
    if (error.status == 503) response.set_header("Retry-After", "1");
    const json body = shape == ErrorShape::Ollama
                          ? json{{"error", error.what()}}
                          : error_body(error.what(), error.type, error.code);
    response.set_content(dump(body), "application/json");
}

int64_t unix_time() {
    return static_cast<int64_t>(std::time(nullptr));
}

std::string random_id(const char* prefix) {
    static thread_local std::mt19937_64 rng(std::random_device{}());
    static const char digits[] = "0123456789abcdef";
    std::string id = prefix;
    for (int i = 0; i < 24; ++i) id += digits[rng() & 15];
    return id;
}

void Routes::get(std::string path, ErrorShape shape,
                 std::function<void(const http::Request&, http::Response&)> handler) {
    routes_.push_back({"GET", std::move(path), shape, false, std::move(handler)});
}

void Routes::post(std::string path, ErrorShape shape,
                  std::function<void(const http::Request&, http::Response&)> handler) {
    routes_.push_back({"POST", std::move(path), shape, true, std::move(handler)});
}

const Route* Routes::find(std::string_view method, std::string_view path, bool* path_known) const {
    *path_known = false;
    for (const Route& r : routes_) {
        // A path ending in "/*" takes one more segment (/v1/models/{id}).
        const bool wildcard = r.path.size() > 2 && r.path.compare(r.path.size() - 2, 2, "/*") == 0;
        const std::string_view prefix = std::string_view(r.path).substr(0, r.path.size() - 1);
        const bool matches = wildcard ? path.size() > prefix.size() &&
                                            path.substr(0, prefix.size()) == prefix &&
                                            path.find('/', prefix.size()) == std::string_view::npos
                                      : r.path == path;
        if (!matches) continue;
        *path_known = true;
        // HEAD is GET without the body (the server leaves it out).
        if (r.method == method || (method == "HEAD" && r.method == "GET")) return &r;
    }
    return nullptr;
}

void guarded(const Route& route, const http::Request& request, http::Response& response) {
    const auto fail = [&](const HttpError& e) { send_error(response, e, route.shape); };
    try {
        route.handler(request, response);
    } catch (const HttpError& e) {
        fail(e);
    } catch (const ModelNotFoundError& e) {
        fail(HttpError(404, e.what(), "invalid_request_error", "model_not_found"));
    } catch (const ModelLoadError& e) {
        fail(HttpError(500, e.what(), "server_error", "model_load_failed"));
    } catch (const QueueFullError& e) {
        fail(HttpError(503, e.what(), "server_error", "server_busy"));
    } catch (const json::exception& e) {
        // A field of the wrong type deep inside the body (the routes check the common ones).
        fail(HttpError(
            400, std::string("a field of the body has the wrong type or value: ") + e.what()));
    } catch (const std::bad_alloc&) {
        fail(HttpError(500, "out of memory", "server_error"));
    } catch (const Error& e) {
        // ember's own errors from reading the request (a prompt that does not fit, a token
        // outside the vocabulary).
        fail(HttpError(400, e.what()));
    } catch (const std::exception& e) {
        fail(HttpError(500, e.what(), "server_error"));
    } catch (...) {
        fail(HttpError(500, "the server failed to answer this request", "server_error"));
    }
}

json template_tool_calls(const json& calls, const std::string& where) {
    json out = json::array();
    for (const json& call : calls) {
        const json* function =
            call.is_object() && call.contains("function") ? &call["function"] : nullptr;
        if (function == nullptr || !function->is_object() || !function->contains("name") ||
            !(*function)["name"].is_string()) {
            throw HttpError(400, where + ".tool_calls[] needs {\"function\": {\"name\": ...}}");
        }
        json arguments = function->value("arguments", json::object());
        if (arguments.is_string()) {
            // OpenAI sends the arguments as JSON text; templates read an object.
            arguments = json::parse(arguments.get<std::string>(), nullptr, false);
            if (arguments.is_discarded()) {
                throw HttpError(400, where + ".tool_calls[].function.arguments is not JSON");
            }
        }
        json c = {{"type", "function"},
                  {"function", {{"name", (*function)["name"]}, {"arguments", arguments}}}};
        if (call.contains("id") && call["id"].is_string()) c["id"] = call["id"];
        out.push_back(std::move(c));
    }
    return out;
}

void prepare_chat(const LoadedModel& model, const json& messages, const ToolRequest& tools,
                  const json& variables, bool special_tokens_in_messages, const char* format_field,
                  GenerationRequest& request, bool* thinking) {
    request.prompt =
        model.chat_prompt(messages, tools.tools, variables, special_tokens_in_messages, thinking);
    add_chat_ends(request.rules, model.chat_format(), model.tokenizer());
    if (tools.parse && !tools.required && tools.strict) {
        // auto with a strict function: free text, but a call, from its marker on, held to the
        // schemas. Not where a call is the whole reply (no marker), where the request's own
        // grammar holds the text, or for Harmony, whose marker (<|start|>) begins any message.
        const std::string_view marker = model.tool_calls().marker();
        if (marker.empty() || request.rules.grammar ||
            model.tool_calls().style() == ToolCallFormat::Style::Harmony) {
            return;
        }
        try {
            request.rules.grammar = Grammar::parse(model.tool_calls().grammar(
                to_engine_json(tools.tools), std::nullopt, tools.parallel));
        } catch (const Error& e) {
            throw HttpError(400, std::string("'tools' (strict): ") + e.what());
        }
        request.rules.grammar_trigger = std::string(marker);
        return;
    }
    if (!tools.required) return;
    if (request.rules.grammar) {
        throw HttpError(400, std::string("a required tool call and ") + format_field +
                                 " cannot both hold the reply");
    }
    try {
        request.rules.grammar = Grammar::parse(
            model.tool_calls().grammar(to_engine_json(tools.tools), tools.only, tools.parallel));
    } catch (const Error& e) {
        throw HttpError(400, std::string("'tools': ") + e.what());
    }
}

ReplyReader reply_reader(const LoadedModel& model, const ToolRequest& tools, bool thinking) {
    return ReplyReader(model.reasoning(),
                       tools.parse ? std::optional(model.tool_calls()) : std::nullopt,
                       tools.parallel, thinking);
}

json call_arguments(const ToolCall& call) {
    json arguments = json::parse(call.arguments, nullptr, false);
    return arguments.is_object() ? arguments : json::object();
}

}  // namespace ember::serve
