#include "tools/serve/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "formats/error.h"

namespace ember::serve::http {

using Clock = std::chrono::steady_clock;

struct Server::Connection {
    Connection(int socket, std::string address, int port, const RequestLimits& limits)
        : fd(socket), remote_addr(std::move(address)), remote_port(port), parser(limits) {}
    int fd;
    std::string remote_addr;
    int remote_port;
    std::string in;  // bytes read and not yet parsed
    RequestParser parser;
    Clock::time_point idle_since = Clock::now();
    Clock::time_point request_start{};  // set while a request is arriving
    bool continue_sent = false;
    size_t counted = 0;  // this connection's share of the server's buffered_ bytes
    // Closing: our side is shut, and what the client still sends is read and dropped for a
    // moment, so that closing with unread bytes (a reset) cannot destroy the last response
    // before the client reads it.
    bool lingering = false;
    Clock::time_point linger_until{};
};

struct Server::Job {
    std::unique_ptr<Connection> connection;
    Request request;
};

// Where a response goes: a socket (with a write deadline), or a string in-process.
class Server::Transport {
  public:
    virtual ~Transport() = default;
    virtual bool send(std::string_view bytes) = 0;
    virtual bool peer_closed() = 0;
};

namespace {

class SocketTransport : public Server::Transport {
  public:
    SocketTransport(int fd, std::chrono::milliseconds timeout) : fd_(fd), timeout_(timeout) {}
    bool send(std::string_view bytes) override {
        while (!bytes.empty() && ok_) {
            const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n > 0) {
                bytes.remove_prefix(static_cast<size_t>(n));
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                // A client that reads nothing for the write timeout is gone as far as the
                // server is concerned.
                pollfd p{fd_, POLLOUT, 0};
                const int r = ::poll(&p, 1, static_cast<int>(timeout_.count()));
                if (r > 0 && (p.revents & POLLOUT) != 0) continue;
                if (r < 0 && errno == EINTR) continue;
            }
            ok_ = false;
        }
        return ok_;
    }
    bool peer_closed() override {
        if (!ok_) return true;
        pollfd p{fd_, POLLRDHUP, 0};
        if (::poll(&p, 1, 0) <= 0) return false;
        return (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
    }

  private:
    int fd_;
    std::chrono::milliseconds timeout_;
    bool ok_ = true;
};

class StringTransport : public Server::Transport {
  public:
    bool send(std::string_view bytes) override {
        out.append(bytes);
        return true;
    }
    bool peer_closed() override { return false; }
    std::string out;
};

// A streamed body written as chunks (HTTP/1.1) or as it is (HTTP/1.0, ended by the close).
class ChunkSink : public StreamSink {
  public:
    ChunkSink(Server::Transport& transport, bool chunked)
        : transport_(transport), chunked_(chunked) {}
    bool write(std::string_view data) override {
        if (!ok_) return false;
        if (data.empty()) return true;  // an empty chunk would end the body
        ok_ = transport_.send(chunked_ ? std::string_view(chunk(data)) : data);
        return ok_;
    }
    bool client_gone() override { return !ok_ || transport_.peer_closed(); }
    bool ok() const { return ok_; }

  private:
    Server::Transport& transport_;
    bool chunked_;
    bool ok_ = true;
};

std::string serialize(const Response& response, int minor_version, bool keep_alive, bool head) {
    std::string out = response_head(response, minor_version, keep_alive);
    if (!head && !response.stream) out += response.body;
    return out;
}

void set_nonblocking(int fd) {
    const int flags = fcntl(fd, F_GETFL, 0);
    fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

std::string address_text(const sockaddr_storage& addr, int* port) {
    char buffer[INET6_ADDRSTRLEN] = {};
    if (addr.ss_family == AF_INET) {
        const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
        inet_ntop(AF_INET, &a->sin_addr, buffer, sizeof buffer);
        *port = ntohs(a->sin_port);
    } else if (addr.ss_family == AF_INET6) {
        const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
        inet_ntop(AF_INET6, &a->sin6_addr, buffer, sizeof buffer);
        *port = ntohs(a->sin6_port);
    }
    return buffer;
}

int to_ms(Clock::duration d) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
    return static_cast<int>(std::clamp<int64_t>(ms, 0, 1000));
}

}  // namespace

Server::Server(const ServerLimits& limits, Handler handler, ErrorResponder on_error)
    : limits_(limits), handler_(std::move(handler)), on_error_(std::move(on_error)) {}

Server::~Server() {
    stop();
    {
        std::lock_guard lock(mutex_);
        work_.notify_all();
    }
    for (std::thread& t : workers_) t.join();
    for (auto& c : connections_) {
        if (c) ::close(c->fd);
    }
    for (auto& c : returned_) ::close(c->fd);
    for (auto& j : jobs_) ::close(j->connection->fd);
    if (listen_fd_ >= 0) ::close(listen_fd_);
    for (int fd : wake_pipe_) {
        if (fd >= 0) ::close(fd);
    }
}

int Server::listen(const std::string& host, int port) {
    // Each connection is a descriptor: allow as many as the hard limit lets this process have.
    rlimit files{};
    if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max;
        setrlimit(RLIMIT_NOFILE, &files);
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    const std::string service = std::to_string(port);
    if (getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &found) != 0) {
        throw Error("cannot listen on " + host + ": not an address or a name this machine knows");
    }
    std::string why = "not an address of this machine";
    for (addrinfo* a = found; a != nullptr && listen_fd_ < 0; a = a->ai_next) {
        const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) continue;
        // SO_REUSEADDR only (a restarted server binds at once); never SO_REUSEPORT, which
        // would let a second server share the port instead of failing to start.
        const int yes = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
        if (::bind(fd, a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd, 511) == 0) {
            listen_fd_ = fd;
        } else {
            why = errno == EADDRINUSE ? "in use" : std::strerror(errno);
            ::close(fd);
        }
    }
    freeaddrinfo(found);
    if (listen_fd_ < 0) {
        throw Error("cannot listen on " + host + ":" + std::to_string(port) + " (" + why + ")");
    }
    set_nonblocking(listen_fd_);
    if (pipe2(wake_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) throw Error("cannot create a pipe");
    sockaddr_storage bound{};
    socklen_t length = sizeof bound;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&bound), &length);
    int bound_port = 0;
    address_text(bound, &bound_port);
    return bound_port;
}

void Server::stop() {
    stopping_.store(true);
    wake();
}

void Server::wake() {
    if (wake_pipe_[1] >= 0) {
        const char c = 1;
        if (::write(wake_pipe_[1], &c, 1) < 0) {
            // Full: the reactor is already due to wake.
        }
    }
}

ServerStats Server::stats() const {
    ServerStats s;
    s.connections = open_.load();
    s.refused = refused_.load();
    s.evicted = evicted_.load();
    s.timed_out = timed_out_.load();
    s.bad_requests = bad_requests_.load();
    return s;
}

void Server::run() {
    for (int i = 0; i < limits_.workers; ++i) workers_.emplace_back([this] { worker(); });
    while (!stopping_.load()) reactor_step();
}

void Server::close_connection(std::unique_ptr<Connection>& c) {
    if (!c) return;
    buffered_ -= c->counted;
    ::close(c->fd);
    c.reset();
    --open_;
}

void Server::linger(std::unique_ptr<Connection>& c) {
    ::shutdown(c->fd, SHUT_WR);
    buffered_ -= c->counted;
    c->counted = 0;
    c->in.clear();
    c->in.shrink_to_fit();
    c->lingering = true;
    c->linger_until = Clock::now() + std::chrono::seconds(2);
}

void Server::refuse(Connection& c, int status, const std::string& message) {
    // Best effort and never blocking: the connection closes right after.
    Response response;
    try {
        on_error_(status, message, response);
    } catch (...) {
        response = Response();
        response.status = status;
    }
    const std::string bytes = serialize(response, 1, false, false);
    if (::send(c.fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
        // The client is gone or not reading: nothing more to tell it.
    }
    ::shutdown(c.fd, SHUT_WR);
}

void Server::reactor_step() {
    std::erase_if(connections_, [](const auto& c) { return !c; });  // closed at the cap
    const auto now = Clock::now();
    std::vector<pollfd> fds;
    fds.reserve(connections_.size() + 2);
    fds.push_back({wake_pipe_[0], POLLIN, 0});
    const bool accepting = now >= accept_paused_until_;
    fds.push_back({accepting ? listen_fd_ : -1, POLLIN, 0});
    // The nearest deadline bounds the wait.
    auto next = now + std::chrono::seconds(1);
    for (const auto& c : connections_) {
        fds.push_back({c->fd, POLLIN | POLLRDHUP, 0});
        if (c->lingering) {
            next = std::min(next, c->linger_until);
        } else if (c->parser.started()) {
            next = std::min(
                next, c->request_start + (c->parser.reading_head() ? limits_.head_timeout
                                                                   : limits_.request_timeout));
        } else {
            next = std::min(next, c->idle_since + limits_.keep_alive);
        }
    }
    const int n = ::poll(fds.data(), fds.size(), to_ms(next - now) + 1);
    if (n < 0 && errno != EINTR) throw Error("poll failed: " + std::string(std::strerror(errno)));

    const size_t n_polled = connections_.size();
    for (size_t i = 0; i < n_polled; ++i) {
        std::unique_ptr<Connection>& c = connections_[i];
        if ((fds[i + 2].revents & (POLLIN | POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) == 0) {
            continue;
        }
        if (c->lingering) {
            // Dropped unread: MSG_TRUNC discards TCP data without copying it into the buffer
            // (Linux), whose pages therefore stay untouched.
            static constexpr size_t kDrop = 1 << 20;
            if (!discard_) discard_.reset(new char[kDrop]);  // not zeroed: never touched
            ssize_t r = 0;
            for (int k = 0; k < 64 && (r = ::recv(c->fd, discard_.get(), kDrop, MSG_TRUNC)) > 0;
                 ++k) {
            }
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
                close_connection(c);
            }
            continue;
        }
        // Read what is there (at most 1 MiB per turn, so one fast client cannot starve others).
        bool eof = false;
        char buffer[64 << 10];
        for (size_t total = 0; total < (1 << 20);) {
            const ssize_t r = ::recv(c->fd, buffer, sizeof buffer, 0);
            if (r > 0) {
                c->in.append(buffer, static_cast<size_t>(r));
                total += static_cast<size_t>(r);
                if (static_cast<size_t>(r) < sizeof buffer) break;
                continue;
            }
            if (r < 0 && errno == EINTR) continue;
            if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
            eof = true;  // closed (0) or reset
            break;
        }
        if (eof && c->in.empty()) {
            close_connection(c);
            continue;
        }
        advance(c);
        // A client that closed its sending side after a partial request will send no more.
        if (c && eof) close_connection(c);
    }

    if ((fds[0].revents & POLLIN) != 0) {
        char drain[256];
        while (::read(wake_pipe_[0], drain, sizeof drain) > 0) {
        }
    }
    std::vector<std::unique_ptr<Connection>> back;
    {
        std::lock_guard lock(mutex_);
        back.swap(returned_);
    }
    for (auto& c : back) {
        connections_.push_back(std::move(c));
        // Bytes of a next request may already be here (pipelined behind the last).
        if (!connections_.back()->lingering && !connections_.back()->in.empty()) {
            advance(connections_.back());
        }
    }

    const auto later = Clock::now();
    for (auto& c : connections_) {
        if (!c) continue;
        if (c->lingering) {
            if (later > c->linger_until) close_connection(c);
        } else if (c->parser.started()) {
            const bool head = c->parser.reading_head();
            if (later - c->request_start >
                (head ? limits_.head_timeout : limits_.request_timeout)) {
                ++timed_out_;
                refuse(*c, 408,
                       head ? "the request's headers did not arrive in time"
                            : "the request's body did not arrive in time");
                linger(c);
            }
        } else if (later - c->idle_since > limits_.keep_alive) {
            ++timed_out_;
            close_connection(c);
        }
    }
    std::erase_if(connections_, [](const auto& c) { return !c; });
    if (accepting && (fds[1].revents & POLLIN) != 0) accept_connections();
}

void Server::accept_connections() {
    for (;;) {
        sockaddr_storage addr{};
        socklen_t length = sizeof addr;
        const int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &length,
                                 SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                // Out of descriptors: make room, else stop accepting for a moment (the
                // listening socket would otherwise wake every poll).
                if (!evict_one())
                    accept_paused_until_ = Clock::now() + std::chrono::milliseconds(100);
            }
            return;  // EAGAIN: no more waiting
        }
        // Small writes (an SSE event, a short reply) go out at once, not after Nagle's wait for
        // the previous segment's ACK.
        const int yes = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
        int port = 0;
        std::string address = address_text(addr, &port);
        auto c = std::make_unique<Connection>(fd, std::move(address), port, limits_.request);
        ++open_;
        if (open_.load() > limits_.max_connections && !evict_one()) {
            ++refused_;
            refuse(*c, 503,
                   "the server has " + std::to_string(limits_.max_connections) +
                       " connections open (--max-connections); try again");
            close_connection(c);
            continue;
        }
        connections_.push_back(std::move(c));
    }
}

bool Server::evict_one() {
    // First the connection idle the longest between requests; else one whose request has been
    // arriving for over a second (a slow client gives way to a new one).
    std::unique_ptr<Connection>* victim = nullptr;
    for (auto& c : connections_) {
        if (c && c->lingering) {  // closing anyway
            ++evicted_;
            close_connection(c);
            return true;
        }
    }
    for (auto& c : connections_) {
        if (c && !c->parser.started() &&
            (victim == nullptr || c->idle_since < (*victim)->idle_since)) {
            victim = &c;
        }
    }
    const auto now = Clock::now();
    if (victim == nullptr) {
        for (auto& c : connections_) {
            if (c && c->parser.started() && now - c->request_start > std::chrono::seconds(1) &&
                (victim == nullptr || c->request_start < (*victim)->request_start)) {
                victim = &c;
            }
        }
        if (victim != nullptr) {
            refuse(**victim, 408, "the request was too slow to arrive while the server is full");
        }
    }
    if (victim == nullptr) return false;
    ++evicted_;
    close_connection(*victim);
    return true;
}

void Server::advance(std::unique_ptr<Connection>& c) {
    const RequestParser::Status status = c->parser.parse(c->in);
    if (status == RequestParser::Status::Error) {
        ++bad_requests_;
        refuse(*c, c->parser.error_status(), c->parser.error_message());
        linger(c);
        return;
    }
    if (status == RequestParser::Status::NeedMore) {
        if (!c->parser.started()) return;
        if (c->request_start == Clock::time_point{}) c->request_start = Clock::now();
        // Memory: every connection's unparsed bytes and partial body count against one budget.
        const size_t now_counted = c->in.size() + c->parser.body_size();
        buffered_ += now_counted;
        buffered_ -= c->counted;
        c->counted = now_counted;
        if (buffered_.load() > limits_.max_buffered) {
            refuse(*c, 503, "the server is reading too many large requests; try again");
            linger(c);
            return;
        }
        if (c->parser.wants_continue() && !c->continue_sent) {
            static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
            c->continue_sent = true;
            if (::send(c->fd, kContinue.data(), kContinue.size(), MSG_NOSIGNAL | MSG_DONTWAIT) <
                0) {
                // The client sends its body after a short wait anyway.
            }
        }
        return;
    }
    auto job = std::make_unique<Job>();
    job->request = c->parser.take();
    buffered_ += job->request.body.size() + c->in.size();
    buffered_ -= c->counted;
    c->counted = job->request.body.size() + c->in.size();
    c->request_start = {};
    c->continue_sent = false;
    job->connection = std::move(c);
    {
        std::lock_guard lock(mutex_);
        jobs_.push_back(std::move(job));
    }
    work_.notify_one();
}

void Server::worker() {
    for (;;) {
        std::unique_ptr<Job> job;
        {
            std::unique_lock lock(mutex_);
            work_.wait(lock, [&] { return stopping_.load() || !jobs_.empty(); });
            if (jobs_.empty()) return;
            job = std::move(jobs_.front());
            jobs_.pop_front();
        }
        std::unique_ptr<Connection>& c = job->connection;
        SocketTransport transport(c->fd, limits_.write_timeout);
        Request request = std::move(job->request);
        for (;;) {
            request.remote_addr = c->remote_addr;
            request.remote_port = c->remote_port;
            request.socket = c->fd;
            const bool keep = answer(request, transport);
            request = Request();
            buffered_ -= c->counted;
            c->counted = 0;
            if (!keep || stopping_.load()) {
                give_back(c, /*closing=*/true);
                break;
            }
            // The next request of a pipelining client may be here already: answered in order,
            // by this thread, before the connection goes back to the reactor.
            const RequestParser::Status status = c->parser.parse(c->in);
            if (status == RequestParser::Status::Done) {
                request = c->parser.take();
                continue;
            }
            if (status == RequestParser::Status::Error) {
                ++bad_requests_;
                Response response;
                on_error_(c->parser.error_status(), c->parser.error_message(), response);
                transport.send(serialize(response, 1, false, false));
                give_back(c, /*closing=*/true);
                break;
            }
            c->idle_since = Clock::now();
            c->request_start = c->parser.started() ? Clock::now() : Clock::time_point{};
            give_back(c, /*closing=*/false);
            break;
        }
    }
}

void Server::give_back(std::unique_ptr<Connection>& c, bool closing) {
    if (closing) linger(c);
    {
        std::lock_guard lock(mutex_);
        returned_.push_back(std::move(c));
    }
    wake();
}

bool Server::answer(Request& request, Transport& transport) {
    Response response;
    try {
        handler_(request, response);
    } catch (...) {
        // The handler guards its own routes; this is the last line (nothing escapes a worker).
        response = Response();
        on_error_(500, "the server failed to answer this request", response);
    }
    bool keep = request.keep_alive() && !response.close;
    const bool chunked = request.minor_version >= 1;
    if (response.stream && !chunked) keep = false;  // HTTP/1.0: the close ends the body
    const bool head = request.method == "HEAD";
    if (!transport.send(serialize(response, request.minor_version, keep, head))) return false;
    if (!response.stream || head) return keep;
    ChunkSink sink(transport, chunked);
    bool whole = false;
    try {
        whole = response.stream(sink);
    } catch (...) {
        whole = false;
    }
    if (!whole || !sink.ok()) return false;
    if (chunked && !transport.send(kLastChunk)) return false;
    return keep;
}

std::string Server::exchange(std::string_view bytes) {
    std::string in(bytes);
    RequestParser parser(limits_.request);
    StringTransport transport;
    for (;;) {
        const RequestParser::Status status = parser.parse(in);
        if (status == RequestParser::Status::Done) {
            Request request = parser.take();
            request.remote_addr = "127.0.0.1";
            if (!answer(request, transport)) break;
            continue;
        }
        if (status == RequestParser::Status::Error) {
            Response response;
            on_error_(parser.error_status(), parser.error_message(), response);
            transport.send(serialize(response, 1, false, false));
        }
        break;  // NeedMore: the client closed in the middle of a request
    }
    return transport.out;
}

}  // namespace ember::serve::http
