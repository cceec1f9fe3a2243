// HTTP/1.1 messages as `ember serve` reads and writes them (RFC 9112): a request parser that
// takes bytes as they arrive and refuses, with the status RFC 9110 gives, anything outside its
// limits or the grammar (an oversized head or body, a smuggling-prone framing, a bare CR), and
// the response a route fills in (whole, or streamed in chunks).
//
// Every byte comes from a client that may be hostile: nothing here trusts a length, a count
// or an encoding it has not checked, and memory never grows past the limits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace ember::serve::http {

struct Header {
    std::string name;  // lower case (names are case-insensitive)
    std::string value;
};

struct Request {
    std::string method;     // "GET", "POST", ... (case-sensitive, as RFC 9110 says)
    std::string target;     // as sent: "/v1/models?x=1"
    std::string path;       // percent-decoded, without the query (may hold any byte but NUL)
    std::string query;      // after '?', as sent
    int minor_version = 1;  // HTTP/1.0 or HTTP/1.1
    std::vector<Header> headers;
    std::string body;  // Content-Length or chunked bodies, decoded

    // Set by the connection that read it:
    std::string remote_addr;
    int remote_port = 0;
    int socket = -1;  // the connection's socket (to notice a client that left); -1 in-process

    // The first header of that name (lower case), or null.
    const std::string* header(std::string_view name) const;
    std::string header_value(std::string_view name) const;
    // Whether the connection stays open after the response (HTTP/1.1 unless "Connection:
    // close"; HTTP/1.0 only with "Connection: keep-alive").
    bool keep_alive() const;
};

struct RequestLimits {
    size_t max_request_line = 8 << 10;  // 414 beyond
    size_t max_head = 64 << 10;         // request line and headers together: 431 beyond
    int max_headers = 100;              // header lines (trailers of a chunked body included)
    size_t max_body = 8 << 20;          // decoded body, for every framing: 413 beyond
};

// Reads one request at a time from a connection's bytes. Bytes after a whole request (the next
// request of a pipelining client) stay in the buffer for the next call.
class RequestParser {
  public:
    enum class Status { NeedMore, Done, Error };

    explicit RequestParser(const RequestLimits& limits) : limits_(limits) {}

    // Parses from the front of `buffer`, erasing what it consumed. Done: take() gives the
    // request; Error: error_status() and error_message() say why (the connection must close,
    // since what follows cannot be framed).
    Status parse(std::string& buffer);
    Request take();

    int error_status() const { return error_status_; }
    const std::string& error_message() const { return error_message_; }
    // The head is read, the client asked "Expect: 100-continue" and the body has not started:
    // it waits for "100 Continue" before sending it.
    bool wants_continue() const;
    // Whether any byte of a request has been read (so the connection is not idle).
    bool started() const { return phase_ != Phase::Idle; }
    // Whether the head is still arriving (its own, shorter deadline).
    bool reading_head() const { return phase_ == Phase::Head; }
    // Bytes of the body decoded so far (for the server's memory budget).
    size_t body_size() const { return request_.body.size(); }

  private:
    enum class Phase { Idle, Head, Body, ChunkSize, ChunkData, ChunkEnd, Trailers, Done, Error };
    Status fail(int status, std::string message);
    Status parse_head(std::string_view head);
    Status parse_chunks(std::string& buffer, size_t& pos);

    RequestLimits limits_;
    Phase phase_ = Phase::Idle;
    Request request_;
    size_t scanned_ = 0;  // head bytes already searched for the blank line
    size_t content_length_ = 0;
    size_t chunk_left_ = 0;
    size_t trailer_bytes_ = 0;
    int header_lines_ = 0;
    bool expect_continue_ = false;
    int error_status_ = 0;
    std::string error_message_;
};

// What a streamed response writes to (a socket, or a string in-process).
class StreamSink {
  public:
    virtual ~StreamSink() = default;
    // Sends bytes as one chunk; false once the client can no longer be written to.
    virtual bool write(std::string_view data) = 0;
    // Whether the client closed its end (checked between events, without reading).
    virtual bool client_gone() = 0;
};

struct Response {
    int status = 200;
    std::vector<Header> headers;  // besides Content-Length, Transfer-Encoding and Connection
    std::string body;
    // Set: the body is streamed (chunked on HTTP/1.1) by this function, on the thread that
    // writes the response, after the head went out. It returns true when the body is whole,
    // false to cut it short (the connection closes, so the client sees it incomplete).
    std::function<bool(StreamSink&)> stream;
    bool close = false;  // close the connection after this response

    void set_header(std::string name, std::string value);
    void set_content(std::string content, std::string_view content_type);
    void set_stream(std::string_view content_type, std::function<bool(StreamSink&)> writer);
};

// "OK", "Not Found", ... for the statuses ember sends.
const char* status_text(int status);

// The status line and headers of `response` for a request of HTTP/1.`minor_version`.
// body_length: the Content-Length (ignored when streaming: chunked on 1.1, close-delimited on
// 1.0).
std::string response_head(const Response& response, int minor_version, bool keep_alive);

// Chunked framing of one piece of a streamed body, and the last chunk.
std::string chunk(std::string_view data);
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";

// Case-insensitive ASCII comparison (header names, tokens).
bool iequals(std::string_view a, std::string_view b);

}  // namespace ember::serve::http
