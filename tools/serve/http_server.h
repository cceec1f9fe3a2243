// The HTTP/1.1 server under `ember serve`: connections, limits and timeouts; the routes are
// the caller's (one Handler for every request).
//
//   reactor thread (poll)                         worker threads (a fixed pool)
//   accept, read bytes, parse requests ---------> answer a whole request, write the response
//   every idle or half-sent connection <--------- (streamed, if so), then the connection's
//   deadlines, the connection cap                 pipelined requests in order; back to the reactor
//
// A connection costs a thread only while its request is being answered, so clients that
// connect and say nothing, or trickle a header a byte at a time, hold no worker: they hold a
// place under the connection cap until their deadline, and at the cap the longest-idle (then
// the slowest) connection is closed to make room for a new one. Memory is bounded by the
// request limits per connection and a budget over all requests being read.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tools/serve/http.h"

namespace ember::serve::http {

using Handler = std::function<void(const Request&, Response&)>;
// Fills the response to a request the server refuses before any handler sees it (malformed,
// too large, too slow, too many connections): status and message.
using ErrorResponder = std::function<void(int status, const std::string& message, Response&)>;

struct ServerLimits {
    RequestLimits request;
    int max_connections = 512;
    std::chrono::milliseconds head_timeout{10000};     // a request's first byte -> its blank line
    std::chrono::milliseconds request_timeout{60000};  // a request's first byte -> its last
    std::chrono::milliseconds keep_alive{65000};       // an idle connection closes after this
    std::chrono::milliseconds write_timeout{60000};    // a write that makes no progress
    int workers = 32;
    size_t max_buffered = 256 << 20;  // bytes of requests being read, over all connections
};

struct ServerStats {
    int connections = 0;       // open now
    int64_t refused = 0;       // new connections refused at the cap (503)
    int64_t evicted = 0;       // connections closed to make room at the cap
    int64_t timed_out = 0;     // requests too slow to arrive (408) and idle connections ended
    int64_t bad_requests = 0;  // requests refused by the parser (4xx/5xx)
};

class Server {
  public:
    Server(const ServerLimits& limits, Handler handler, ErrorResponder on_error);
    ~Server();  // stops and joins the threads
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Binds and listens; returns the port (the chosen one for port 0). Throws ember::Error.
    int listen(const std::string& host, int port);
    // Serves until stop() (from any thread).
    void run();
    void stop();
    ServerStats stats() const;

    // In-process, for tests and fuzzing: what a client gets back for sending `bytes` on one
    // connection and then closing its side (every whole request answered, in order).
    std::string exchange(std::string_view bytes);

    struct Connection;
    class Transport;

  private:
    struct Job;
    void reactor_step();
    void accept_connections();
    bool evict_one();
    // Parses what a connection has read; a whole request goes to the workers.
    void advance(std::unique_ptr<Connection>& connection);
    void worker();
    // Answers one request over `transport`; whether the connection may stay open.
    bool answer(Request& request, Transport& transport);
    void refuse(Connection& connection, int status, const std::string& message);
    // Shuts our side and drops what the client still sends for a moment, then closes.
    void linger(std::unique_ptr<Connection>& connection);
    // A worker's connection back to the reactor: for the next request, or to linger.
    void give_back(std::unique_ptr<Connection>& connection, bool closing);
    void close_connection(std::unique_ptr<Connection>& connection);
    void wake();

    const ServerLimits limits_;
    const Handler handler_;
    const ErrorResponder on_error_;
    int listen_fd_ = -1;
    int wake_pipe_[2] = {-1, -1};
    std::atomic<bool> stopping_{false};

    // Reactor-owned connections (null entries are compacted away after each poll).
    std::vector<std::unique_ptr<Connection>> connections_;
    std::chrono::steady_clock::time_point accept_paused_until_{};
    std::unique_ptr<char[]> discard_;  // where lingering connections' bytes are dropped

    std::mutex mutex_;  // guards jobs_, returned_
    std::condition_variable work_;
    std::deque<std::unique_ptr<Job>> jobs_;
    std::vector<std::unique_ptr<Connection>> returned_;  // from workers, back to the reactor
    std::vector<std::thread> workers_;

    std::atomic<int> open_{0};
    std::atomic<size_t> buffered_{0};
    std::atomic<int64_t> refused_{0}, evicted_{0}, timed_out_{0}, bad_requests_{0};
};

}  // namespace ember::serve::http
