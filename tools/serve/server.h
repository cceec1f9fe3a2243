// `ember serve`: an HTTP server speaking OpenAI's and ollama's APIs over ember's models.
//
//   HTTP threads (cpp-httplib, one per connection)     engine thread per model (Scheduler)
//   parse, tokenize, submit ------- Generation ------>  continuous batching over N slots
//   stream events to the client <---- events -------  sample, stop strings, limits
//
// The routes live in openai_routes.cpp and ollama_routes.cpp, the batching in scheduler.cpp,
// the models in model_pool.cpp.
#pragma once

#include <string>

#include "tools/serve/api.h"

namespace ember::serve {

struct ServeOptions {
    ModelPoolParams pool;
    std::string host = "127.0.0.1";
    int port = 8080;      // 0: any free port (the startup line says which)
    std::string api_key;  // non-empty: every route but /health wants "Authorization: Bearer KEY"
    size_t max_body = 8 << 20;  // bytes of a request body (413 beyond)
    ServerLimits limits;
    std::chrono::seconds shutdown_grace{10};  // SIGTERM: time for in-flight requests to end
};

// Serves until SIGINT or SIGTERM; returns the exit status (0 after a clean shutdown).
int serve(const ServeOptions& options);

}  // namespace ember::serve
