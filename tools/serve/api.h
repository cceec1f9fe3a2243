// What the OpenAI and the ollama routes share: the server's state, request parsing with
// errors that name the field, and following a generation while the client is connected.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/generate/reply_reader.h"
#include "tools/serve/http.h"
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
    // Message text may hold a chat format's control tokens ("<|im_end|>") that become control
    // tokens (--special-tokens-in-messages); off: they are plain text, as a user typed them.
    bool special_tokens_in_messages = false;
};

// Counts a request in ember_requests_in_flight while it lives (a streamed response keeps one
// until its last byte).
class InFlight {
  public:
    explicit InFlight(ServerState& state) : state_(state) { ++state_.active_requests; }
    ~InFlight() { --state_.active_requests; }
    InFlight(const InFlight&) = delete;
    InFlight& operator=(const InFlight&) = delete;

  private:
    ServerState& state_;
};

// JSON nested deeper than this is refused before it is parsed (a recursive reader, writer or
// schema converter would otherwise exhaust the stack).
inline constexpr int kMaxJsonDepth = 128;

// The request's JSON body; throws HttpError 400 when it is not a JSON object, nests deeper
// than kMaxJsonDepth, or holds a number no double can hold.
json parse_body(const http::Request& request);

// Refuses (400, naming it) a top-level field of `body` that is in neither list (names
// separated by spaces): `honoured` fields are read by the route; `ignored` ones are accepted and
// have no effect (docs/serve.md lists them). OpenAI's API refuses unknown fields the same way.
void check_fields(const json& body, std::string_view honoured, std::string_view ignored = "");
// The fields sampling_from() reads (OpenAI's names; also the keys of ollama's "options").
inline constexpr std::string_view kSamplingFields =
    "temperature top_p top_k min_p seed presence_penalty frequency_penalty repeat_penalty "
    "repeat_last_n";
// Refuses a field whose value asks for something ember does not do, unless it holds the
// value that means "off" (false, null, 0, "", [], {}): logprobs, echo, suffix, logit_bias...
void refuse_unless_off(const json& body, const char* name, const char* why);

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

// Whether the client of a request closed its connection (checked without reading from it).
using ClientGone = std::function<bool()>;
ClientGone client_gone_of(const http::Request& request);

// Follows a generation to its end: hands each event to on_event (return false when the client
// can no longer be written to), cancelling the generation when that happens or the client
// closes the connection (checked every 50 ms however fast events come). Returns the last event,
// or nothing when the client went away.
std::optional<GenerationEvent> follow(ServerState& state, Generation& generation,
                                      const ClientGone& client_gone,
                                      const std::function<bool(const GenerationEvent&)>& on_event);

// OpenAI's chat "messages" (string content or text parts) as message objects for the model's
// template, tool calls and results included: roles system (developer), user, assistant (content
// and/or "tool_calls", their "arguments" given as JSON text read into objects, as templates expect)
// and tool ("tool_call_id").
json chat_message_objects(const json& body);

// An assistant message's "tool_calls" (OpenAI's, arguments as JSON text; ollama's, as objects)
// as the template reads them: [{"type": "function", "function": {"name", "arguments": {...}},
// "id"?}]. HttpError 400 naming `where` for a malformed call.
json template_tool_calls(const json& calls, const std::string& where);

// What a chat request asks of tools: OpenAI's "tools", "tool_choice" (auto, none, required, or
// {"type": "function", "function": {"name": ...}}) and "parallel_tool_calls".
struct ToolRequest {
    json tools;                       // null when none are given
    bool parse = false;               // read calls out of the reply (tools given, choice not none)
    bool required = false;            // the reply must be calls (required or named)
    std::optional<std::string> only;  // the named function
    bool parallel = true;
    bool strict = false;  // a function asks for "strict": true (its schema held under auto)
};
ToolRequest tool_request(const json& body);
// A chat request's prompt and rules: the messages through the model's template (with the tools
// and the template's variables; *thinking says whether the prompt leaves the model inside a
// thinking block), the template's end of turn, and for a required call the grammar of the
// tools' calls (a 400 when the request's own grammar, from `format_field`, holds the reply too);
// under auto with a strict function, that grammar from the family's call marker on (lazy).
// The chat routes of OpenAI, the Responses API and ollama all build their prompts here.
void prepare_chat(const LoadedModel& model, const json& messages, const ToolRequest& tools,
                  const json& variables, bool special_tokens_in_messages, const char* format_field,
                  GenerationRequest& request, bool* thinking);

// The engine's ReplyReader (engine/generate/reply_reader.h) for a request to a model: its
// thinking format, and its family's calls when the request has tools.
// thinking: the prompt leaves the model inside a thinking block (LoadedModel::chat_prompt).
ReplyReader reply_reader(const LoadedModel& model, const ToolRequest& tools, bool thinking);
// A call's arguments text as a JSON object (an object's text, else {}).
json call_arguments(const ToolCall& call);

// A request's JSON as the engine's JSON (tools for the grammar of calls).
inline JsonValue to_engine_json(const json& j) {
    return parse_json(j.dump());
}
// Tool-call ids: 9 letters and digits (Mistral's templates accept nothing else).
std::string tool_call_id();
// The fields chat and completions share: sampling, max_tokens, stop (the route reads n).
GenerationRequest generation_fields(const json& body);
// JSON text; invalid UTF-8 (a model may sample a lone byte) becomes U+FFFD.
std::string dump(const json& j);

// Follows a generation for a response in one piece: its text into *text. Returns the last
// event (Stop or Length), nothing when the client went away; throws HttpError for the other
// ends (503 shutting down, 504 past --timeout, 500 an engine error).
std::optional<GenerationEvent> collect(ServerState& state, Generation& generation,
                                       const ClientGone& client_gone, std::string* text,
                                       std::vector<TokenLogprob>* logprobs = nullptr);

// What a generation that did not end by itself ended with (timeout, shutdown, an error).
std::string finish_message(const GenerationEvent& last);

// Embeds texts with the model under the request's deadline (--timeout; 504 past it), stopped
// when the client leaves; HttpError 400 for a text longer than the model reads (!truncate).
std::vector<Embedding> embed_texts(ServerState& state, LoadedModel& model,
                                   const std::vector<std::string>& texts, bool truncate,
                                   const ClientGone& client_gone);

// Error bodies: OpenAI's {"error": {"message", "type", "param", "code"}} or ollama's
// {"error": "message"}, chosen by the route's family.
enum class ErrorShape { OpenAI, Ollama };
json error_body(const std::string& message, const std::string& type, const std::string& code);
void send_error(http::Response& response, const HttpError& error,
                ErrorShape shape = ErrorShape::OpenAI);

// Seconds since the epoch, and a random id with a prefix ("chatcmpl-...").
int64_t unix_time();
std::string random_id(const char* prefix);

// The routes: method and path to a handler, and the shape of its errors. The server calls
// every handler through one guard (server.cpp), so a handler may throw anything.
struct Route {
    std::string method, path;
    ErrorShape shape;
    bool json_body;  // a POST whose body must be JSON (Content-Type checked)
    std::function<void(const http::Request&, http::Response&)> handler;
};
class Routes {
  public:
    void get(std::string path, ErrorShape shape,
             std::function<void(const http::Request&, http::Response&)> handler);
    void post(std::string path, ErrorShape shape,
              std::function<void(const http::Request&, http::Response&)> handler);
    // The route for method and path; null when none (path_known: some method has the path). A
    // route's path ending in "/*" matches any one last segment.
    const Route* find(std::string_view method, std::string_view path, bool* path_known) const;

  private:
    std::vector<Route> routes_;
};

void add_openai_routes(Routes& routes, ServerState& state);
void add_ollama_routes(Routes& routes, ServerState& state);
void add_responses_route(Routes& routes, ServerState& state);  // /v1/responses

// Runs a handler so that nothing escapes it: every exception becomes the request's error
// response, with the status its cause deserves (HttpError's own, 404 for an unknown model,
// 503 for a full queue, 500 for a model that fails to load or for anything unexpected, 400
// for the request's JSON of the wrong shape).
void guarded(const Route& route, const http::Request& request, http::Response& response);

}  // namespace ember::serve
