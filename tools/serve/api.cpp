#include "tools/serve/api.h"

#include <cmath>
#include <ctime>
#include <random>

#include "engine/generate/grammar.h"
#include "engine/generate/json_schema.h"
#include "tools/serve/connection.h"

namespace ember::serve {

json parse_body(const httplib::Request& request) {
    json body;
    try {
        body = json::parse(request.body);
    } catch (const json::parse_error& e) {
        throw HttpError(400, std::string("the body is not valid JSON: ") + e.what());
    }
    if (!body.is_object()) throw HttpError(400, "the body must be a JSON object");
    return body;
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
        return Grammar::parse(json_schema_to_gbnf(schema.dump()));
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
        return Grammar::parse(gbnf);
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
        (request.max_tokens < 0 || request.max_tokens > state.limits.max_tokens)) {
        request.max_tokens = state.limits.max_tokens;
    }
    request.deadline = std::chrono::steady_clock::now() + state.limits.request_timeout;
    try {
        return scheduler.submit(std::move(request));
    } catch (const QueueFullError& e) {
        ++state.metrics.rejected;
        throw HttpError(503, e.what(), "server_error", "server_busy");
    }
}

std::optional<GenerationEvent> follow(ServerState& state, Generation& generation, int socket,
                                      const std::function<bool(const GenerationEvent&)>& on_event) {
    for (;;) {
        std::optional<GenerationEvent> event = generation.next(std::chrono::milliseconds(50));
        if (!event) {
            if (peer_closed(socket)) {
                generation.cancel();
                ++state.metrics.disconnects;
                return std::nullopt;
            }
            continue;
        }
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

std::optional<GenerationEvent> collect(ServerState& state, Generation& generation, int socket,
                                       std::string* text) {
    const std::optional<GenerationEvent> last =
        follow(state, generation, socket, [text](const GenerationEvent& e) {
            *text += e.text;
            return true;
        });
    if (!last) return last;
    switch (last->finish) {
        case Finish::Stop:
        case Finish::Length:
            return last;
        case Finish::Cancelled:
            throw HttpError(503, "the server is shutting down", "server_error");
        case Finish::Timeout:
            throw HttpError(504, "the request ran longer than the server's --timeout",
                            "server_error", "timeout");
        case Finish::Error:
            break;
    }
    throw HttpError(500, last->error, "server_error");
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

void send_error(httplib::Response& response, const HttpError& error) {
    response.status = error.status;
    if (error.status == 503) response.set_header("Retry-After", "1");
    response.set_content(error_body(error.what(), error.type, error.code).dump(),
                         "application/json");
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

httplib::Server::Handler route(
    ServerState& state, const std::string& name,
    std::function<void(const httplib::Request&, httplib::Response&)> handler) {
    return [&state, name, handler = std::move(handler)](const httplib::Request& request,
                                                        httplib::Response& response) {
        ++state.active_requests;
        try {
            handler(request, response);
        } catch (const HttpError& e) {
            send_error(response, e);
        } catch (const ModelNotFoundError& e) {
            send_error(response,
                       HttpError(404, e.what(), "invalid_request_error", "model_not_found"));
        } catch (const QueueFullError& e) {
            send_error(response, HttpError(503, e.what(), "server_error", "server_busy"));
        } catch (const std::bad_alloc&) {
            send_error(response, HttpError(500, "out of memory", "server_error"));
        } catch (const Error& e) {
            // ember's own errors are about the request or the model it named.
            send_error(response, HttpError(400, e.what()));
        } catch (const std::exception& e) {
            send_error(response, HttpError(500, e.what(), "server_error"));
        }
        {
            std::lock_guard lock(state.metrics.mutex);
            // cpp-httplib fills in 200 after the handler when it set none.
            ++state.metrics.requests[{name, response.status < 0 ? 200 : response.status}];
        }
        --state.active_requests;
    };
}

}  // namespace ember::serve
