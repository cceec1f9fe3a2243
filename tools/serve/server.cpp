#include "tools/serve/server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <csignal>

#include <cstdio>
#include <sstream>
#include <thread>

namespace ember::serve {
namespace {

// A label value as Prometheus' text format wants it: backslash, quote and newline escaped (a
// model is named after its file, which may hold any of them).
std::string label(const std::string& value) {
    std::string out;
    for (char c : value) {
        if (c == '\\' || c == '"') out += '\\';
        out += c == '\n' ? std::string("\\n") : std::string(1, c);
    }
    return out;
}

// Prometheus' text format (https://prometheus.io/docs/instrumenting/exposition_formats/).
std::string metrics_text(ServerState& state) {
    std::ostringstream out;
    const auto header = [&](const char* name, const char* type, const char* help) {
        out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
    };
    header("ember_requests_total", "counter", "HTTP requests answered, by route and status");
    {
        std::lock_guard lock(state.metrics.mutex);
        for (const auto& [key, count] : state.metrics.requests) {
            out << "ember_requests_total{route=\"" << key.first << "\",status=\"" << key.second
                << "\"} " << count << '\n';
        }
    }
    header("ember_requests_rejected_total", "counter", "Requests refused with 503 (queue full)");
    out << "ember_requests_rejected_total " << state.metrics.rejected.load() << '\n';
    header("ember_client_disconnects_total", "counter",
           "Generations cancelled because the client closed its connection");
    out << "ember_client_disconnects_total " << state.metrics.disconnects.load() << '\n';
    header("ember_requests_in_flight", "gauge", "Requests being answered");
    out << "ember_requests_in_flight " << state.active_requests.load() << '\n';

    struct Row {
        std::string model;
        SchedulerStats stats;
        int slots;
    };
    std::vector<Row> rows;
    for (const auto& m : state.pool.loaded()) {
        if (m->generates_text()) {
            rows.push_back({m->name(), m->scheduler().stats(), m->scheduler().n_slots()});
        }
    }
    const auto series = [&](const char* name, const char* type, const char* help, auto value) {
        header(name, type, help);
        for (const Row& r : rows) {
            out << name << "{model=\"" << label(r.model) << "\"} " << value(r) << '\n';
        }
    };
    series("ember_prompt_tokens_total", "counter", "Prompt tokens evaluated",
           [](const Row& r) { return r.stats.prompt_tokens; });
    series("ember_prompt_tokens_cached_total", "counter",
           "Prompt tokens found in a slot's cache (not evaluated again)",
           [](const Row& r) { return r.stats.cached_tokens; });
    series("ember_generated_tokens_total", "counter", "Tokens generated",
           [](const Row& r) { return r.stats.generated_tokens; });
    series("ember_queue_depth", "gauge", "Requests waiting for a slot",
           [](const Row& r) { return r.stats.queued; });
    series("ember_slots_busy", "gauge", "Slots generating",
           [](const Row& r) { return r.stats.busy_slots; });
    series("ember_slots", "gauge", "Slots", [](const Row& r) { return r.slots; });
    series("ember_kv_positions_used", "gauge",
           "KV cache positions holding tokens (idle slots keep theirs as a prompt cache)",
           [](const Row& r) { return r.stats.kv_positions_used; });
    series("ember_kv_positions", "gauge", "KV cache positions (slots x context)",
           [](const Row& r) { return r.stats.kv_positions; });
    header("ember_models_loaded", "gauge", "Models in memory");
    out << "ember_models_loaded " << state.pool.loaded().size() << '\n';
    return out.str();
}

int g_signal_pipe[2] = {-1, -1};

extern "C" void on_stop_signal(int signal) {
    const unsigned char s = static_cast<unsigned char>(signal);
    if (write(g_signal_pipe[1], &s, 1) != 1) {
        // Nothing to do in a signal handler; the pipe holds 64 KiB of signals.
    }
}

const char* status_type(int status) {
    switch (status) {
        case 401:
            return "authentication_error";
        case 404:
            return "not_found_error";
        case 413:
            return "invalid_request_error";
        case 503:
            return "server_error";
        default:
            return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

}  // namespace

int serve(const ServeOptions& options) {
    // SIGINT/SIGTERM/SIGHUP reach a thread that shuts down in order, through a pipe (a signal
    // may land on any thread, OpenBLAS's included, so masks cannot route it).
    if (pipe(g_signal_pipe) != 0) throw Error("cannot create a pipe for signals");
    for (int s : {SIGINT, SIGTERM, SIGHUP}) std::signal(s, on_stop_signal);

    ModelPool pool(options.pool);
    ServerState state(pool, options.limits);
    httplib::Server server;

    // One thread per connection (cpp-httplib's model): enough for every slot's client, the
    // queue's, and idle keep-alive connections.
    const int threads =
        std::max(32, 2 * (options.pool.scheduler.n_slots + options.pool.scheduler.max_queue));
    server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    // An idle keep-alive connection is closed by the server only after 65 s, longer than the
    // clients' own idle timeouts (Node's 5 s, undici's 4 s, Python's requests: none), so the
    // client closes first and never sends a request into a connection being closed.
    server.set_keep_alive_timeout(65);
    server.set_keep_alive_max_count(100000);
    server.set_read_timeout(60);
    server.set_write_timeout(60);
    server.set_payload_max_length(options.max_body);
    // SO_REUSEADDR only: cpp-httplib's default adds SO_REUSEPORT, which lets a second server
    // on the same port share its connections instead of failing to start.
    server.set_socket_options([](int sock) {
        int yes = 1;
        setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });

    server.set_pre_routing_handler([&](const httplib::Request& req, httplib::Response& res) {
        res.set_header("Access-Control-Allow-Origin", "*");
        if (req.method == "OPTIONS") {  // a browser's CORS preflight
            res.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
            res.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type");
            res.status = 204;
            return httplib::Server::HandlerResponse::Handled;
        }
        if (req.path == "/health") return httplib::Server::HandlerResponse::Unhandled;
        if (state.stopping.load()) {
            res.set_header("Connection", "close");
            send_error(res, HttpError(503, "the server is shutting down", "server_error"));
            return httplib::Server::HandlerResponse::Handled;
        }
        if (!options.api_key.empty() &&
            req.get_header_value("Authorization") != "Bearer " + options.api_key) {
            send_error(res, HttpError(401,
                                      req.has_header("Authorization")
                                          ? "the API key is not the server's (--api-key)"
                                          : "an API key is required: Authorization: Bearer KEY",
                                      "authentication_error", "invalid_api_key"));
            return httplib::Server::HandlerResponse::Handled;
        }
        return httplib::Server::HandlerResponse::Unhandled;
    });
    server.set_error_handler([&](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return;
        std::string message = "HTTP " + std::to_string(res.status);
        if (res.status == 404) message = "no route " + req.method + " " + req.path;
        if (res.status == 413) {
            message = "the request body is larger than the server's limit of " +
                      std::to_string(options.max_body) + " bytes (--max-body)";
        }
        if (res.status == 400) message = "a malformed HTTP request";
        res.set_content(error_body(message, status_type(res.status), "").dump(),
                        "application/json");
    });
    server.set_logger([](const httplib::Request& req, const httplib::Response& res) {
        std::fprintf(stderr, "ember serve: %s %s %d\n", req.method.c_str(), req.path.c_str(),
                     res.status);
    });

    server.Get("/health", [&state](const httplib::Request&, httplib::Response& res) {
        if (state.stopping.load()) {
            res.status = 503;
            res.set_content(R"({"status":"shutting down"})", "application/json");
        } else {
            res.set_content(R"({"status":"ok"})", "application/json");
        }
    });
    server.Get("/metrics", route(state, "/metrics", [&state](const auto&, auto& res) {
                   res.set_content(metrics_text(state), "text/plain; version=0.0.4");
               }));
    add_openai_routes(server, state);
    add_ollama_routes(server, state);

    const int port = options.port == 0 ? server.bind_to_any_port(options.host)
                     : server.bind_to_port(options.host, options.port) ? options.port
                                                                       : -1;
    if (port < 0) {
        throw Error("cannot listen on " + options.host + ":" + std::to_string(options.port) +
                    " (in use, or not an address of this machine)");
    }
    std::string models;
    for (const ModelListing& m : pool.list()) models += (models.empty() ? "" : ", ") + m.name;
    std::string slots;
    for (const auto& m : pool.loaded()) {
        if (m->generates_text()) {
            slots = ", " + std::to_string(m->scheduler().n_slots()) + " slots x " +
                    std::to_string(m->scheduler().n_ctx()) + " positions";
        }
    }
    std::fprintf(stderr, "ember serve: listening on http://%s:%d (models: %s%s)\n",
                 options.host.c_str(), port, models.empty() ? "none yet" : models.c_str(),
                 slots.c_str());
    std::fflush(stderr);

    std::atomic<bool> done{false};
    std::thread janitor([&] {  // unloads --models-dir models that sat idle
        while (!done.load()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(500));
            pool.unload_idle();
        }
    });
    std::thread stopper([&] {
        unsigned char signal = 0;
        while (read(g_signal_pipe[0], &signal, 1) != 1) {
        }
        std::fprintf(stderr, "ember serve: %s: finishing requests (at most %lld s)\n",
                     signal == SIGTERM  ? "SIGTERM"
                     : signal == SIGINT ? "SIGINT"
                                        : "SIGHUP",
                     static_cast<long long>(options.shutdown_grace.count()));
        // New requests get 503 from here on (a load balancer moves on to another server).
        // cpp-httplib's stop() would also cut the responses being streamed, so the listening
        // socket stays open until the process ends.
        state.stopping.store(true);
        const auto deadline = std::chrono::steady_clock::now() + options.shutdown_grace;
        pool.drain(deadline);
        // The last events of finished generations are still being written.
        const auto flush_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        while (state.active_requests.load() > 0 &&
               std::chrono::steady_clock::now() < flush_deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        std::fprintf(stderr, "ember serve: stopped\n");
        std::fflush(stderr);
        // Idle keep-alive connections would hold cpp-httplib's threads for up to their timeout:
        // end the process here instead of joining them.
        std::_Exit(0);
    });
    stopper.detach();
    server.listen_after_bind();
    if (state.stopping.load()) {  // the stopper thread ends the process
        for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    done.store(true);
    janitor.join();
    throw Error("the server stopped listening");
}

}  // namespace ember::serve
