// `ember serve`: an HTTP server speaking OpenAI's and ollama's APIs over ember's models.
//
//   HTTP (http_server.cpp: a reactor, workers)          engine thread per model (Scheduler)
//   parse, tokenize, submit ------- Generation ------>  continuous batching over N slots
//   stream events to the client <---- events -------  sample, stop strings, limits
//
// This file is the policy in front of every route: which Hosts and browser Origins may talk
// to the server, the API key, JSON bodies only, one guard so that no failure leaves a handler.
// The routes live in openai_routes.cpp and ollama_routes.cpp, the batching in scheduler.cpp,
// embeddings in embed_queue.cpp, the models in model_pool.cpp.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "tools/serve/api.h"
#include "tools/serve/http_server.h"

namespace ember::serve {

struct ServeOptions {
    ModelPoolParams pool;
    std::string host = "127.0.0.1";
    int port = 8080;      // 0: any free port (the startup line says which)
    std::string api_key;  // non-empty: every route but /health wants "Authorization: Bearer KEY"
    size_t max_body = 8 << 20;  // bytes of a request body (413 beyond)
    int max_connections = 512;  // open connections; at the cap the longest idle one gives way
    // Browser origins allowed besides the machine's own pages (loopback, app://, file://,
    // tauri://, vscode-webview://): "https://example.com", or "*" for every origin.
    std::vector<std::string> cors_origins;
    // Host names a loopback server answers to besides its own (a proxy's name for it).
    std::vector<std::string> allowed_hosts;
    // Control tokens typed in a message ("<|im_end|>") become control tokens (off: plain text).
    bool special_tokens_in_messages = false;
    ServerLimits limits;
    std::chrono::seconds shutdown_grace{10};  // SIGTERM: time for in-flight requests to end
};

// Serves until SIGINT or SIGTERM; returns the exit status (0 after a clean shutdown).
int serve(const ServeOptions& options);

// The answer to one request, as the server gives it (every policy and route): for tests and
// the fuzzer, which feed raw bytes through http::Server::exchange.
class Service {
  public:
    Service(ModelPool& pool, const ServeOptions& options);
    ~Service();
    void handle(const http::Request& request, http::Response& response);
    // The response to a request the HTTP layer refused (malformed, too large, too slow).
    void refuse(int status, const std::string& message, http::Response& response) const;
    ServerState& state() { return state_; }

  private:
    bool host_allowed(const http::Request& request) const;
    bool origin_allowed(std::string_view origin) const;
    std::string metrics_text();

    ServeOptions options_;
    ServerState state_;
    Routes routes_;
    bool loopback_;  // listening on a loopback address only
  public:
    // Set by serve(): the HTTP server's connection counters for /metrics.
    std::function<http::ServerStats()> http_stats;
};

// Whether the address or name is this machine's loopback (127.0.0.0/8, ::1, localhost).
bool is_loopback_host(std::string_view host);

}  // namespace ember::serve
