// libFuzzer target: raw bytes into `ember serve`'s request handling, in-process (the server's
// own HTTP parser, every policy and route, the bundled model generating): as one connection
// would send them (mode 0), or as one well-framed request to a route the second byte picks
// with the rest as its body (mode 1, so that the routes' JSON handling is reached quickly).
// Nothing may crash, hang or leak; every answer is a well-framed HTTP/1.1 response; no request
// stays counted in flight.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "fuzz/fuzz_data.h"
#include "tools/serve/http_server.h"
#include "tools/serve/server.h"

namespace {

using namespace ember::serve;

void check(bool ok, const char* what, const std::string& detail = "") {
    if (!ok) {
        std::fprintf(stderr, "fuzz_http: %s\n%s\n", what, detail.substr(0, 2000).c_str());
        std::abort();
    }
}

struct Setup {
    ServeOptions options;
    std::unique_ptr<ModelPool> pool;
    std::unique_ptr<Service> service;
    std::unique_ptr<http::Server> server;
    http::ServerLimits limits;
    Setup() {
        options.pool.model_path = ember::fuzz::bundled_model();
        options.pool.scheduler.n_slots = 2;
        options.pool.scheduler.max_queue = 4;
        options.pool.scheduler.context.n_ctx = 128;
        options.pool.scheduler.context.n_threads = 1;
        options.limits.max_tokens = 8;  // short replies keep each run fast
        options.limits.request_timeout = std::chrono::seconds(5);
        options.max_body = 64 << 10;
        pool = std::make_unique<ModelPool>(options.pool);
        service = std::make_unique<Service>(*pool, options);
        limits.request.max_body = options.max_body;
        server = std::make_unique<http::Server>(
            limits, [this](const auto& req, auto& res) { service->handle(req, res); },
            [this](int status, const std::string& message, http::Response& res) {
                service->refuse(status, message, res);
            });
    }
};

Setup& setup() {
    static Setup s;
    return s;
}

const char* const kRoutes[] = {
    "POST /v1/chat/completions",
    "POST /v1/completions",
    "POST /v1/embeddings",
    "GET /v1/models",
    "POST /tokenize",
    "POST /detokenize",
    "POST /api/chat",
    "POST /api/generate",
    "POST /api/embed",
    "POST /api/show",
    "GET /api/tags",
    "GET /metrics",
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2) return 0;
    Setup& s = setup();
    std::string bytes;
    const std::string rest(reinterpret_cast<const char*>(data + 2), size - 2);
    if (data[0] % 2 == 0) {
        bytes = std::string(reinterpret_cast<const char*>(data + 1), size - 1);
    } else {
        const std::string line = kRoutes[data[1] % (sizeof kRoutes / sizeof *kRoutes)];
        const size_t space = line.find(' ');
        bytes = line.substr(0, space) + " " + line.substr(space + 1) +
                " HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                "Content-Length: " +
                std::to_string(rest.size()) + "\r\n\r\n" + rest;
    }
    const std::string out = s.server->exchange(bytes);
    // Which answers may have no body: those to HEAD (RFC 9110 9.3.2). The requests are read
    // again with the server's parser to know the method of each answer in turn; a refusal of
    // unreadable bytes always has its body.
    std::vector<bool> to_head;
    {
        std::string in = bytes;
        http::RequestParser parser(s.limits.request);
        while (parser.parse(in) == http::RequestParser::Status::Done) {
            to_head.push_back(parser.take().method == "HEAD");
        }
    }
    size_t answer = 0;
    // Every response: a status line of HTTP/1.1, a head, a framed body.
    size_t pos = 0;
    while (pos < out.size()) {
        check(out.compare(pos, 9, "HTTP/1.1 ") == 0, "a response without a status line",
              out.substr(pos, 200));
        const size_t head_end = out.find("\r\n\r\n", pos);
        check(head_end != std::string::npos, "a response head without its end");
        const std::string head = out.substr(pos, head_end - pos);
        const int status = std::atoi(head.c_str() + 9);
        check(status >= 100 && status < 600, "a status outside 100..599", head);
        // A client's input never makes the server fail (500 is a bug, out of memory aside).
        check(status != 500 || out.find("out of memory", pos) != std::string::npos, "a 500",
              out.substr(pos, 400));
        pos = head_end + 4;
        const bool bodiless = answer < to_head.size() && to_head[answer];
        ++answer;
        const size_t length = head.find("Content-Length: ");
        if (bodiless) {
            check(pos == out.size() || out.compare(pos, 9, "HTTP/1.1 ") == 0,
                  "an answer to HEAD with a body", out.substr(pos, 200));
        } else if (length != std::string::npos) {
            pos += std::strtoull(head.c_str() + length + 16, nullptr, 10);
        } else {
            check(head.find("Transfer-Encoding: chunked") != std::string::npos,
                  "a response neither sized nor chunked", head);
            for (;;) {
                const size_t lf = out.find("\r\n", pos);
                check(lf != std::string::npos, "a chunk without its size line");
                const size_t n = std::strtoull(out.c_str() + pos, nullptr, 16);
                pos = lf + 2 + n + 2;
                if (n == 0) break;
            }
        }
        check(pos <= out.size(), "a body shorter than its framing says");
    }
    check(s.service->state().active_requests.load() == 0, "a request still counted in flight");
    return 0;
}
