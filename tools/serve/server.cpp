#include "tools/serve/server.h"

#include <arpa/inet.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <thread>

#include "tools/serve/chat_page.h"

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
std::string metrics_body(ServerState& state, const http::ServerStats& http) {
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
    series("ember_draft_tokens_total", "counter", "Tokens guessed by speculative decoding",
           [](const Row& r) { return r.stats.drafted_tokens; });
    series("ember_draft_accepted_tokens_total", "counter",
           "Guessed tokens taken (each saved a forward pass)",
           [](const Row& r) { return r.stats.accepted_tokens; });
    series("ember_prompts_shared_total", "counter",
           "Prompts that began with another slot's rows copied (n choices, a shared prefix)",
           [](const Row& r) { return r.stats.shared_prompts; });
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
    header("ember_connections", "gauge", "HTTP connections open");
    out << "ember_connections " << http.connections << '\n';
    header("ember_connections_refused_total", "counter",
           "Connections refused or closed at the connection cap (--max-connections)");
    out << "ember_connections_refused_total " << http.refused + http.evicted << '\n';
    header("ember_requests_timed_out_total", "counter",
           "Requests too slow to arrive (408) and idle connections closed");
    out << "ember_requests_timed_out_total " << http.timed_out << '\n';
    header("ember_requests_malformed_total", "counter", "Requests the HTTP parser refused");
    out << "ember_requests_malformed_total " << http.bad_requests << '\n';
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
        case 403:
            return "permission_error";
        case 404:
            return "not_found_error";
        default:
            return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

// The host part of a Host header or an origin's authority: "[::1]:8080" -> "::1",
// "localhost:80" -> "localhost".
std::string_view host_part(std::string_view authority) {
    if (!authority.empty() && authority[0] == '[') {
        const size_t close = authority.find(']');
        return close == authority.npos ? std::string_view() : authority.substr(1, close - 1);
    }
    return authority.substr(0, authority.find(':'));
}

// Constant-time comparison: the time taken does not tell how much of a guess was right.
bool same_secret(std::string_view a, std::string_view b) {
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    const size_t n = std::max(a.size(), b.size());
    for (size_t i = 0; i < n; ++i) {
        const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
        const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
        diff |= static_cast<unsigned char>(x ^ y);
    }
    return diff == 0;
}

// A request line for the log: bytes outside printable ASCII escaped (a path may hold anything).
std::string printable(std::string_view s) {
    std::string out;
    for (char c : s.substr(0, 200)) {
        const auto u = static_cast<unsigned char>(c);
        if (u >= 0x20 && u < 0x7F) {
            out += c;
        } else {
            static const char digits[] = "0123456789abcdef";
            out += "\\x";
            out += digits[u >> 4];
            out += digits[u & 15];
        }
    }
    return out;
}

std::string media_type(std::string_view content_type) {
    std::string out(content_type.substr(0, content_type.find(';')));
    while (!out.empty() && (out.back() == ' ' || out.back() == '\t')) out.pop_back();
    while (!out.empty() && (out.front() == ' ' || out.front() == '\t')) out.erase(0, 1);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

}  // namespace

bool is_loopback_host(std::string_view host) {
    if (host == "localhost" || host == "::1" || host == "[::1]") return true;
    if (host.size() > 10 && host.substr(host.size() - 10) == ".localhost") return true;
    in_addr v4{};
    const std::string h(host);
    return inet_pton(AF_INET, h.c_str(), &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127;
}

Service::Service(ModelPool& pool, const ServeOptions& options)
    : options_(options), state_(pool, options.limits), loopback_(is_loopback_host(options.host)) {
    state_.special_tokens_in_messages = options.special_tokens_in_messages;
    routes_.get("/health", ErrorShape::OpenAI, [this](const auto&, auto& res) {
        if (state_.stopping.load()) {
            res.status = 503;
            res.set_content(R"({"status":"shutting down"})", "application/json");
        } else {
            res.set_content(R"({"status":"ok"})", "application/json");
        }
    });
    routes_.get("/", ErrorShape::OpenAI, [](const auto&, auto& res) {
        // The chat page: static, so it needs no API key (it asks for one to call the API). Its
        // script is inline; it may talk to this server only, and no other site may frame it.
        res.set_content(kChatPage, "text/html; charset=utf-8");
        res.set_header("Content-Security-Policy",
                       "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                       "connect-src 'self'; base-uri 'none'; form-action 'none'; "
                       "frame-ancestors 'none'");
        res.set_header("X-Content-Type-Options", "nosniff");
        res.set_header("Referrer-Policy", "no-referrer");
    });
    routes_.get("/metrics", ErrorShape::OpenAI, [this](const auto&, auto& res) {
        res.set_content(metrics_text(), "text/plain; version=0.0.4");
    });
    add_openai_routes(routes_, state_);
    add_ollama_routes(routes_, state_);
    add_responses_route(routes_, state_);
}

Service::~Service() = default;

std::string Service::metrics_text() {
    return metrics_body(state_, http_stats ? http_stats() : http::ServerStats{});
}

bool Service::host_allowed(const http::Request& request) const {
    // DNS rebinding: a web page whose name now resolves to 127.0.0.1 reaches a loopback
    // server with its own name in Host. A loopback server answers only to names no outside
    // DNS can give it (as ollama): loopback and private addresses, names without a dot (an
    // upstream in a proxy's config, a container's name), .localhost, .local and .internal,
    // this machine's name, and --allowed-host names. One listening beyond loopback answers any.
    if (!loopback_) return true;
    const std::string* host = request.header("host");
    if (host == nullptr) return request.minor_version == 0;
    std::string name(host_part(*host));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (is_loopback_host(name) || name == options_.host) return true;
    for (const std::string& allowed : options_.allowed_hosts) {
        if (http::iequals(allowed, name)) return true;
    }
    const auto ends_with = [&](std::string_view suffix) {
        return name.size() > suffix.size() && name.substr(name.size() - suffix.size()) == suffix;
    };
    if (ends_with(".local") || ends_with(".internal")) return true;
    in_addr v4{};
    in6_addr v6{};
    if (inet_pton(AF_INET, name.c_str(), &v4) == 1) {
        const uint32_t a = ntohl(v4.s_addr);
        return (a >> 24) == 10 || (a >> 20) == 0xAC1 || (a >> 16) == 0xC0A8 || a == 0;
    }
    if (inet_pton(AF_INET6, name.c_str(), &v6) == 1) {
        return (v6.s6_addr[0] & 0xFE) == 0xFC || IN6_IS_ADDR_UNSPECIFIED(&v6);
    }
    if (name.find('.') == std::string::npos && !name.empty()) return true;
    char machine[256] = {};
    if (gethostname(machine, sizeof machine - 1) == 0 && http::iequals(machine, name)) return true;
    return false;
}

bool Service::origin_allowed(std::string_view origin) const {
    for (const std::string& allowed : options_.cors_origins) {
        if (allowed == "*" || http::iequals(allowed, origin)) return true;
    }
    // The machine's own pages and apps, as ollama allows them by default.
    for (std::string_view scheme :
         {"app://", "file://", "tauri://", "vscode-webview://", "vscode-file://"}) {
        if (origin.substr(0, scheme.size()) == scheme) return true;
    }
    for (std::string_view scheme : {"http://", "https://"}) {
        if (origin.substr(0, scheme.size()) != scheme) continue;
        const std::string_view host = host_part(origin.substr(scheme.size()));
        return is_loopback_host(host) || host == "0.0.0.0";
    }
    return false;
}

void Service::refuse(int status, const std::string& message, http::Response& response) const {
    send_error(response, HttpError(status, message, status_type(status)));
    response.close = true;
}

void Service::handle(const http::Request& request, http::Response& response) {
    const auto log = [&] {
        std::fprintf(stderr, "ember serve: %s %s %d\n", printable(request.method).c_str(),
                     printable(request.path).c_str(), response.status);
    };
    const auto fail = [&](int status, const std::string& message, ErrorShape shape,
                          const char* code = "") {
        send_error(response, HttpError(status, message, status_type(status), code), shape);
        log();
    };
    if (!host_allowed(request)) {
        fail(403,
             "Host '" + request.header_value("host") +
                 "' is not this server's: a loopback server answers only to local names "
                 "(DNS rebinding protection; ember serve --allowed-host NAME adds one)",
             ErrorShape::OpenAI);
        return;
    }
    const std::string* origin = request.header("origin");
    if (origin != nullptr) {
        if (!origin_allowed(*origin)) {
            fail(403,
                 "Origin '" + *origin +
                     "' may not use this server (web pages of other sites may not; "
                     "ember serve --cors-origin ORIGIN allows one)",
                 ErrorShape::OpenAI);
            return;
        }
        response.set_header("Access-Control-Allow-Origin", *origin);
        response.set_header("Vary", "Origin");
    }
    bool path_known = false;
    const Route* route = nullptr;
    if (request.method == "OPTIONS") {  // a browser's CORS preflight
        routes_.find("GET", request.path, &path_known);
        if (path_known || request.path == "*") {
            response.status = 204;
            response.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
            // The headers the page asks for (client libraries add their own: the openai SDK's
            // x-stainless-*, OpenAI-Organization), when they are a plain list of names.
            std::string allowed = "Authorization, Content-Type";
            if (const std::string* asked = request.header("access-control-request-headers");
                asked != nullptr && !asked->empty() && asked->size() <= 2048 &&
                std::all_of(asked->begin(), asked->end(), [](char c) {
                    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ||
                           c == ',' || c == ' ';
                })) {
                allowed = *asked;
            }
            response.set_header("Access-Control-Allow-Headers", allowed);
            response.set_header("Access-Control-Max-Age", "600");
            log();
            return;
        }
    } else {
        route = routes_.find(request.method, request.path, &path_known);
    }
    const ErrorShape shape =
        request.path.rfind("/api/", 0) == 0 ? ErrorShape::Ollama : ErrorShape::OpenAI;
    if (route == nullptr) {
        if (path_known) {
            fail(405, "method " + request.method + " is not allowed on " + request.path, shape);
        } else {
            fail(404, "no route " + request.method + " " + request.path, shape);
        }
        return;
    }
    if (route->path != "/health") {
        if (state_.stopping.load()) {
            ++state_.metrics.rejected;
            response.close = true;
            fail(503, "the server is shutting down", shape);
            return;
        }
        if (!options_.api_key.empty() && route->path != "/") {
            // "Authorization: Bearer KEY" (the scheme is case-insensitive, RFC 9110 11.1).
            const std::string authorization = request.header_value("authorization");
            const bool bearer =
                authorization.size() > 7 &&
                http::iequals(std::string_view(authorization).substr(0, 7), "bearer ");
            const std::string_view key =
                bearer ? std::string_view(authorization).substr(7) : std::string_view();
            if (!bearer || !same_secret(key, options_.api_key)) {
                fail(401,
                     request.header("authorization") != nullptr
                         ? "the API key is not the server's"
                         : "an API key is required: Authorization: Bearer KEY",
                     shape, "invalid_api_key");
                return;
            }
        }
        if (route->json_body && origin != nullptr) {
            // From a browser (it sent an Origin), JSON only: a page may send text/plain or a
            // form without asking first, and those are never read. Other clients (curl's -d
            // sends a form type, fetch a text type) may label the JSON as they like.
            const std::string* type = request.header("content-type");
            const std::string media = type ? media_type(*type) : "";
            if (media != "application/json" &&
                !(media.size() > 5 && media.substr(media.size() - 5) == "+json")) {
                fail(415,
                     "a request from a web page must send JSON as application/json, not '" +
                         (type ? *type : std::string("(no type)")) + "'",
                     shape);
                return;
            }
        }
    }
    {
        InFlight in_flight(state_);
        guarded(*route, request, response);
    }
    {
        std::lock_guard lock(state_.metrics.mutex);
        ++state_.metrics.requests[{route->path, response.status}];
    }
    log();
}

int serve(const ServeOptions& options) {
    // SIGINT/SIGTERM/SIGHUP reach a thread that shuts down in order, through a pipe (a signal
    // may land on any thread, OpenBLAS's included, so masks cannot route it).
    if (pipe(g_signal_pipe) != 0) throw Error("cannot create a pipe for signals");
    for (int s : {SIGINT, SIGTERM, SIGHUP}) std::signal(s, on_stop_signal);
    // Memory given back after a large request: big buffers are mapped and unmapped on their
    // own (a fixed threshold stops glibc from raising it after each large free), and the HTTP
    // threads share a few malloc arenas instead of keeping one peak each.
    mallopt(M_MMAP_THRESHOLD, 256 << 10);
    mallopt(M_TRIM_THRESHOLD, 1 << 20);
    mallopt(M_ARENA_MAX, 2);

    if (!is_loopback_host(options.host) && options.api_key.empty()) {
        std::fprintf(stderr,
                     "ember serve: warning: listening on %s without an API key: anyone who can "
                     "reach this address can use the models (--api-key-file FILE or "
                     "EMBER_API_KEY set one)\n",
                     options.host.c_str());
    }
    ModelPool pool(options.pool);
    Service service(pool, options);
    ServerState& state = service.state();

    http::ServerLimits limits;
    limits.request.max_body = options.max_body;
    limits.max_connections = options.max_connections;
    // Enough workers for every request the model queues may hold, generation and embeddings
    // (each waits on a worker), and some for the quick routes; idle or slow connections hold
    // none (the reactor keeps them).
    limits.workers = 2 * (options.pool.scheduler.n_slots + options.pool.scheduler.max_queue) + 16;
    http::Server server(
        limits,
        [&service](const http::Request& req, http::Response& res) { service.handle(req, res); },
        [&service](int status, const std::string& message, http::Response& res) {
            service.refuse(status, message, res);
        });
    service.http_stats = [&server] { return server.stats(); };
    const int port = server.listen(options.host, options.port);

    std::string models;
    for (const ModelListing& m : pool.list()) models += (models.empty() ? "" : ", ") + m.name;
    std::string slots;
    for (const auto& m : pool.loaded()) {
        if (m->generates_text()) {
            slots = ", " + std::to_string(m->scheduler().n_slots()) + " slots x " +
                    std::to_string(m->scheduler().n_ctx()) + " positions";
        }
    }
    const bool v6 = options.host.find(':') != std::string::npos;
    std::fprintf(stderr, "ember serve: listening on http://%s%s%s:%d (models: %s%s)\n",
                 v6 ? "[" : "", options.host.c_str(), v6 ? "]" : "", port,
                 models.empty() ? "none yet" : models.c_str(), slots.c_str());
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
        // New requests get 503 from here on (a load balancer moves on to another server);
        // the listening socket stays open until the process ends, so they are answered.
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
        // Idle keep-alive connections and their threads end with the process.
        std::_Exit(0);
    });
    stopper.detach();
    server.run();
    done.store(true);
    janitor.join();
    throw Error("the server stopped listening");
}

}  // namespace ember::serve
