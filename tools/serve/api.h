// What the OpenAI and the ollama routes share: the server's state, request parsing with
// errors that name the field, and following a generation while the client is connected.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "tools/serve/model_pool.h"

namespace ember::serve {

using nlohmann::json;

// A request the server answers with an error: the HTTP status and OpenAI's error type
// ("invalid_request_error", "authentication_error", "not_found_error", "server_error", ...).
class HttpError : public Error {
  public:
    HttpError(int http_status, const std::string& message,
              std::string error_type = "invalid_request_error", std::string error_code = "")
        : Error(message),
          status(http_status),
          type(std::move(error_type)),
          code(std::move(error_code)) {}
    int status;
    std::string type, code;
};

struct ServerLimits {
    std::chrono::seconds request_timeout{600};  // a generation ends after this
    int max_tokens = -1;                        // cap on a request's max_tokens; -1: none
};

// Counters for /metrics.
struct Metrics {
    std::mutex mutex;
    std::map<std::pair<std::string, int>, int64_t> requests;  // (route, status) -> count
    std::atomic<int64_t> disconnects{0};  // generations cancelled by a closed connection
    std::atomic<int64_t> rejected{0};     // 503: queue full or shutting down
};

struct ServerState {
    ServerState(ModelPool& models, const ServerLimits& server_limits)
        : pool(models), limits(server_limits) {}
    ModelPool& pool;
    ServerLimits limits;
    Metrics metrics;
    std::atomic<bool> stopping{false};
    std::atomic<int> active_requests{0};
};

// The request's JSON body; throws HttpError 400 when it is not a JSON object.
json parse_body(const httplib::Request& request);

// Optional typed fields: nothing when absent or null; HttpError 400 naming the field when the
// value has another type or lies outside [lo, hi].
std::optional<double> number_field(const json& object, const char* name, double lo, double hi);
std::optional<int64_t> integer_field(const json& object, const char* name, int64_t lo, int64_t hi);
std::optional<bool> bool_field(const json& object, const char* name);
std::optional<std::string> string_field(const json& object, const char* name);
// "stop": a string or an array of strings.
std::vector<std::string> stop_field(const json& object, const char* name);

// Sampling from OpenAI's field names (also the keys of ollama's "options"): temperature, top_p,
// top_k, min_p, seed, presence_penalty, frequency_penalty, repeat_penalty (and ollama's
// repeat_last_n). Absent fields keep ember's defaults (those of `ember run`).
SamplerParams sampling_from(const json& object);

// Structured output: the grammar of a JSON Schema given as JSON (OpenAI's response_format
// json_schema, ollama's format), of any JSON object (json_object, format "json"), of GBNF text
// (llama-server's "grammar"). HttpError 400 naming `field` and saying what ember cannot use.
std::shared_ptr<const Grammar> grammar_from_schema(const json& schema, const std::string& field);
std::shared_ptr<const Grammar> grammar_any_json_object();
std::shared_ptr<const Grammar> grammar_from_gbnf(const std::string& gbnf, const std::string& field);

// Submits to the model's scheduler (errors become HttpError: 400 for a prompt that does not
// fit, 503 for a full queue), applying the server's limits.
std::shared_ptr<Generation> submit(ServerState& state, LoadedModel& model,
                                   GenerationRequest request);

// Follows a generation to its end: hands each event to on_event (return false when the client
// can no longer be written to), cancelling the generation when that happens or the client
// closes the connection. Returns the last event, or nothing when the client went away.
std::optional<GenerationEvent> follow(ServerState& state, Generation& generation, int socket,
                                      const std::function<bool(const GenerationEvent&)>& on_event);

// OpenAI's chat "messages" (string content or text parts; the developer role is the system's).
std::vector<ChatMessage> chat_messages(const json& body);
// The fields chat and completions share: sampling, max_tokens, stop; n must be 1.
GenerationRequest generation_fields(const json& body);
// JSON text; invalid UTF-8 (a model may sample a lone byte) becomes U+FFFD.
std::string dump(const json& j);

// Follows a generation for a response in one piece: its text into *text. Returns the last
// event (Stop or Length), nothing when the client went away; throws HttpError for the other
// ends (503 shutting down, 504 past --timeout, 500 an engine error).
std::optional<GenerationEvent> collect(ServerState& state, Generation& generation, int socket,
                                       std::string* text);

// An OpenAI error body: {"error": {"message", "type", "param", "code"}}.
json error_body(const std::string& message, const std::string& type, const std::string& code);
void send_error(httplib::Response& response, const HttpError& error);

// Seconds since the epoch, and a random id with a prefix ("chatcmpl-...").
int64_t unix_time();
std::string random_id(const char* prefix);

void add_openai_routes(httplib::Server& server, ServerState& state);
void add_ollama_routes(httplib::Server& server, ServerState& state);

// Wraps a route: counts it, turns exceptions into error responses (OpenAI's shape).
httplib::Server::Handler route(ServerState& state, const std::string& name,
                               std::function<void(const httplib::Request&, httplib::Response&)>);

}  // namespace ember::serve
