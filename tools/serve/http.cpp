#include "tools/serve/http.h"

#include <algorithm>

namespace ember::serve::http {
namespace {

// RFC 9110 5.6.2: the characters of a token (method, header name, transfer coding).
bool is_tchar(unsigned char c) {
    if (c >= '0' && c <= '9') return true;
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool is_token(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return is_tchar(static_cast<unsigned char>(c));
    });
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    }
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Splits a comma-separated header list ("keep-alive, Upgrade") into trimmed items.
std::vector<std::string_view> list_items(std::string_view value) {
    std::vector<std::string_view> items;
    size_t start = 0;
    for (;;) {
        const size_t comma = value.find(',', start);
        const std::string_view item =
            trim(value.substr(start, comma == std::string_view::npos ? value.npos : comma - start));
        if (!item.empty()) items.push_back(item);
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    return items;
}

constexpr size_t kMaxChunkLine = 1024;  // a chunk's size line, extensions included

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        const char x = (a[i] >= 'A' && a[i] <= 'Z') ? static_cast<char>(a[i] + 32) : a[i];
        const char y = (b[i] >= 'A' && b[i] <= 'Z') ? static_cast<char>(b[i] + 32) : b[i];
        if (x != y) return false;
    }
    return true;
}

const std::string* Request::header(std::string_view name) const {
    for (const Header& h : headers) {
        if (h.name == name) return &h.value;
    }
    return nullptr;
}

std::string Request::header_value(std::string_view name) const {
    const std::string* value = header(name);
    return value ? *value : std::string();
}

bool Request::keep_alive() const {
    bool close = false, keep = false;
    for (const Header& h : headers) {
        if (h.name != "connection") continue;
        for (std::string_view item : list_items(h.value)) {
            if (iequals(item, "close")) close = true;
            if (iequals(item, "keep-alive")) keep = true;
        }
    }
    if (close) return false;
    return minor_version >= 1 || keep;
}

RequestParser::Status RequestParser::fail(int status, std::string message) {
    phase_ = Phase::Error;
    error_status_ = status;
    error_message_ = std::move(message);
    return Status::Error;
}

bool RequestParser::wants_continue() const {
    return expect_continue_ && (phase_ == Phase::Body || phase_ == Phase::ChunkSize) &&
           request_.body.empty();
}

Request RequestParser::take() {
    Request request = std::move(request_);
    request_ = Request();
    phase_ = Phase::Idle;
    scanned_ = 0;
    content_length_ = 0;
    chunk_left_ = 0;
    trailer_bytes_ = 0;
    header_lines_ = 0;
    expect_continue_ = false;
    return request;
}

RequestParser::Status RequestParser::parse(std::string& buffer) {
    if (phase_ == Phase::Error) return Status::Error;
    if (phase_ == Phase::Done) return Status::Done;
    if (phase_ == Phase::Idle) {
        // RFC 9112 2.2: empty lines before a request line are ignored (a client's stray CRLF
        // after a body).
        size_t skip = 0;
        while (skip < buffer.size() && (buffer[skip] == '\r' || buffer[skip] == '\n')) ++skip;
        buffer.erase(0, skip);
        if (buffer.empty()) return Status::NeedMore;
        phase_ = Phase::Head;
        scanned_ = 0;
    }
    size_t pos = 0;  // bytes of `buffer` consumed by this call
    if (phase_ == Phase::Head) {
        // The head ends at an empty line: "\n\n" or "\n\r\n" (a bare LF ends a line too).
        size_t end = std::string::npos;
        size_t i = scanned_;
        for (; i < buffer.size(); ++i) {
            if (buffer[i] != '\n') continue;
            if (i + 1 >= buffer.size()) break;
            if (buffer[i + 1] == '\n') {
                end = i + 2;
                break;
            }
            if (buffer[i + 1] == '\r') {
                if (i + 2 >= buffer.size()) break;
                if (buffer[i + 2] == '\n') {
                    end = i + 3;
                    break;
                }
            }
        }
        if (end == std::string::npos) {
            scanned_ = std::min(i, buffer.size());
            const size_t first_line = buffer.find('\n');
            if ((first_line == std::string::npos ? buffer.size() : first_line) >
                limits_.max_request_line) {
                return fail(414, "the request line is longer than " +
                                     std::to_string(limits_.max_request_line) + " bytes");
            }
            if (buffer.size() > limits_.max_head) {
                return fail(431, "the request's headers are larger than " +
                                     std::to_string(limits_.max_head) + " bytes");
            }
            return Status::NeedMore;
        }
        if (end > limits_.max_head) {
            return fail(431, "the request's headers are larger than " +
                                 std::to_string(limits_.max_head) + " bytes");
        }
        const Status head = parse_head(std::string_view(buffer).substr(0, end));
        if (head == Status::Error) return head;
        pos = end;
    }
    if (phase_ == Phase::Body) {
        const size_t take = std::min(buffer.size() - pos, content_length_ - request_.body.size());
        request_.body.append(buffer, pos, take);
        pos += take;
        if (request_.body.size() == content_length_) phase_ = Phase::Done;
    } else if (phase_ >= Phase::ChunkSize && phase_ <= Phase::Trailers) {
        if (parse_chunks(buffer, pos) == Status::Error) return Status::Error;
    }
    buffer.erase(0, pos);
    scanned_ = 0;
    return phase_ == Phase::Done ? Status::Done : Status::NeedMore;
}

RequestParser::Status RequestParser::parse_head(std::string_view head) {
    // Lines end in LF, optionally preceded by CR; a CR anywhere else, a NUL or another control
    // character is refused (a request smuggled past a proxy that reads them differently).
    std::vector<std::string_view> lines;
    size_t start = 0;
    while (start < head.size()) {
        const size_t lf = head.find('\n', start);
        if (lf == std::string_view::npos) break;
        std::string_view line = head.substr(start, lf - start);
        start = lf + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty()) break;  // the blank line that ends the head
        for (char c : line) {
            const auto u = static_cast<unsigned char>(c);
            if ((u < 0x20 && c != '\t') || u == 0x7F) {
                return fail(400, "the request's head holds a control character");
            }
        }
        lines.push_back(line);
    }
    if (lines.empty()) return fail(400, "an empty request line");
    if (lines[0].size() > limits_.max_request_line) {
        return fail(414, "the request line is longer than " +
                             std::to_string(limits_.max_request_line) + " bytes");
    }

    // request-line = method SP request-target SP HTTP-version
    const std::string_view line = lines[0];
    const size_t sp1 = line.find(' ');
    const size_t sp2 = sp1 == line.npos ? line.npos : line.find(' ', sp1 + 1);
    if (sp2 == line.npos || line.find(' ', sp2 + 1) != line.npos) {
        return fail(400, "a malformed request line");
    }
    const std::string_view method = line.substr(0, sp1);
    const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    const std::string_view version = line.substr(sp2 + 1);
    if (!is_token(method)) return fail(400, "a malformed request method");
    if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
        version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9') {
        return fail(400, "a malformed HTTP version");
    }
    if (version[5] != '1' || (version[7] != '0' && version[7] != '1')) {
        return fail(505, "HTTP version " + std::string(version.substr(5)) +
                             " is not supported (HTTP/1.0 and HTTP/1.1 are)");
    }
    request_.method = std::string(method);
    request_.minor_version = version[7] - '0';
    request_.target = std::string(target);

    // request-target: origin-form "/path?query", absolute-form "http://host/path", or "*"
    // (OPTIONS only).
    std::string_view path = target;
    if (target.empty()) return fail(400, "an empty request target");
    if (target == "*") {
        if (method != "OPTIONS") return fail(400, "the request target '*' is for OPTIONS only");
    } else if (target[0] != '/') {
        const size_t scheme = target.find("://");
        if (scheme == target.npos || !(iequals(target.substr(0, scheme), "http") ||
                                       iequals(target.substr(0, scheme), "https"))) {
            return fail(400, "a malformed request target");
        }
        const size_t slash = target.find('/', scheme + 3);
        path = slash == target.npos ? std::string_view("/") : target.substr(slash);
    }
    const size_t question = path.find('?');
    if (question != path.npos) {
        request_.query = std::string(path.substr(question + 1));
        path = path.substr(0, question);
    }
    const size_t hash = path.find('#');
    if (hash != path.npos) path = path.substr(0, hash);
    std::string decoded;
    decoded.reserve(path.size());
    for (size_t i = 0; i < path.size(); ++i) {
        if (path[i] != '%') {
            decoded += path[i];
            continue;
        }
        const int hi = i + 2 < path.size() ? hex_value(path[i + 1]) : -1;
        const int lo = hi >= 0 ? hex_value(path[i + 2]) : -1;
        if (lo < 0) return fail(400, "a malformed percent escape in the request path");
        if (hi == 0 && lo == 0) return fail(400, "a NUL byte in the request path");
        decoded += static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    request_.path = std::move(decoded);

    // header-field = field-name ":" OWS field-value OWS
    bool chunked = false;
    bool has_length = false;
    int hosts = 0;
    for (size_t i = 1; i < lines.size(); ++i) {
        if (++header_lines_ > limits_.max_headers) {
            return fail(431, "the request has more than " + std::to_string(limits_.max_headers) +
                                 " header lines");
        }
        const std::string_view h = lines[i];
        if (h[0] == ' ' || h[0] == '\t') {
            return fail(400, "a folded header line (obsolete line folding is not accepted)");
        }
        const size_t colon = h.find(':');
        if (colon == h.npos || !is_token(h.substr(0, colon))) {
            return fail(400, "a malformed header line");
        }
        Header header{lower(h.substr(0, colon)), std::string(trim(h.substr(colon + 1)))};
        if (header.name == "content-length") {
            // One length, possibly repeated identically ("5, 5"); anything else could frame
            // the body two ways.
            for (std::string_view item : list_items(header.value)) {
                if (item.empty() || item.size() > 18 ||
                    !std::all_of(item.begin(), item.end(),
                                 [](char c) { return c >= '0' && c <= '9'; })) {
                    return fail(400, "a malformed Content-Length");
                }
                const size_t n = std::stoull(std::string(item));
                if (has_length && n != content_length_) {
                    return fail(400, "conflicting Content-Length headers");
                }
                has_length = true;
                content_length_ = n;
            }
            if (list_items(header.value).empty()) return fail(400, "a malformed Content-Length");
        } else if (header.name == "transfer-encoding") {
            for (std::string_view item : list_items(header.value)) {
                if (!iequals(item, "chunked") || chunked) {
                    return fail(501, "Transfer-Encoding '" + std::string(item) +
                                         "' is not supported (only chunked)");
                }
                chunked = true;
            }
        } else if (header.name == "host") {
            ++hosts;
        } else if (header.name == "expect") {
            if (!iequals(header.value, "100-continue")) {
                return fail(417, "Expect '" + header.value + "' is not supported");
            }
            expect_continue_ = true;
        }
        request_.headers.push_back(std::move(header));
    }
    if (request_.minor_version == 1 && hosts != 1) {
        return fail(400, hosts == 0 ? "an HTTP/1.1 request without a Host header"
                                    : "more than one Host header");
    }
    if (chunked && has_length) {
        return fail(400,
                    "both Transfer-Encoding and Content-Length (a request could be framed "
                    "two ways)");
    }
    if (chunked && request_.minor_version == 0) {
        return fail(400, "Transfer-Encoding in an HTTP/1.0 request");
    }
    if (content_length_ > limits_.max_body) {
        return fail(413, "the request body is larger than the server's limit of " +
                             std::to_string(limits_.max_body) + " bytes (--max-body)");
    }
    if (chunked) {
        phase_ = Phase::ChunkSize;
    } else if (content_length_ > 0) {
        phase_ = Phase::Body;
    } else {
        phase_ = Phase::Done;
    }
    return Status::NeedMore;
}

RequestParser::Status RequestParser::parse_chunks(std::string& buffer, size_t& pos) {
    // chunked-body = *chunk last-chunk trailer-section CRLF (RFC 9112 7.1)
    for (;;) {
        if (phase_ == Phase::ChunkData) {
            const size_t take = std::min(buffer.size() - pos, chunk_left_);
            request_.body.append(buffer, pos, take);
            pos += take;
            chunk_left_ -= take;
            if (chunk_left_ > 0) return Status::NeedMore;
            phase_ = Phase::ChunkEnd;
        }
        if (phase_ == Phase::ChunkEnd) {
            if (pos < buffer.size() && buffer[pos] == '\n') {
                pos += 1;
            } else if (pos + 1 < buffer.size() && buffer[pos] == '\r' && buffer[pos + 1] == '\n') {
                pos += 2;
            } else if (pos + 1 >= buffer.size() && (pos == buffer.size() || buffer[pos] == '\r')) {
                return Status::NeedMore;
            } else {
                return fail(400, "a chunk of the body does not end with CRLF");
            }
            phase_ = Phase::ChunkSize;
        }
        // A line: the chunk size (ChunkSize) or a trailer field (Trailers).
        const size_t lf = buffer.find('\n', pos);
        const size_t limit = phase_ == Phase::ChunkSize ? kMaxChunkLine : limits_.max_head;
        if (lf == std::string::npos) {
            if (buffer.size() - pos > limit) return fail(400, "a chunk size line is too long");
            return Status::NeedMore;
        }
        std::string_view line(buffer.data() + pos, lf - pos);
        if (line.size() > limit) return fail(400, "a chunk size line is too long");
        pos = lf + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (phase_ == Phase::Trailers) {
            if (line.empty()) {
                phase_ = Phase::Done;
                return Status::Done;
            }
            trailer_bytes_ += line.size();
            if (++header_lines_ > limits_.max_headers || trailer_bytes_ > limits_.max_head) {
                return fail(431, "the request's trailer fields exceed the header limits");
            }
            continue;  // trailers are read and ignored
        }
        const std::string_view size = line.substr(0, line.find(';'));
        const std::string_view digits = trim(size);
        if (digits.empty() || digits.size() > 15) return fail(400, "a malformed chunk size");
        size_t n = 0;
        for (char c : digits) {
            const int v = hex_value(c);
            if (v < 0) return fail(400, "a malformed chunk size");
            n = n * 16 + static_cast<size_t>(v);
        }
        if (n == 0) {
            phase_ = Phase::Trailers;
            continue;
        }
        if (request_.body.size() + n > limits_.max_body) {
            return fail(413, "the request body is larger than the server's limit of " +
                                 std::to_string(limits_.max_body) + " bytes (--max-body)");
        }
        chunk_left_ = n;
        phase_ = Phase::ChunkData;
    }
}

void Response::set_header(std::string name, std::string value) {
    headers.push_back({std::move(name), std::move(value)});
}

void Response::set_content(std::string content, std::string_view content_type) {
    body = std::move(content);
    set_header("Content-Type", std::string(content_type));
}

void Response::set_stream(std::string_view content_type, std::function<bool(StreamSink&)> writer) {
    stream = std::move(writer);
    set_header("Content-Type", std::string(content_type));
}

const char* status_text(int status) {
    switch (status) {
        case 100:
            return "Continue";
        case 200:
            return "OK";
        case 204:
            return "No Content";
        case 400:
            return "Bad Request";
        case 401:
            return "Unauthorized";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 408:
            return "Request Timeout";
        case 413:
            return "Content Too Large";
        case 414:
            return "URI Too Long";
        case 415:
            return "Unsupported Media Type";
        case 417:
            return "Expectation Failed";
        case 431:
            return "Request Header Fields Too Large";
        case 500:
            return "Internal Server Error";
        case 501:
            return "Not Implemented";
        case 503:
            return "Service Unavailable";
        case 504:
            return "Gateway Timeout";
        case 505:
            return "HTTP Version Not Supported";
        default:
            return status < 400 ? "OK" : status < 500 ? "Bad Request" : "Server Error";
    }
}

std::string response_head(const Response& response, int minor_version, bool keep_alive) {
    std::string head =
        "HTTP/1.1 " + std::to_string(response.status) + " " + status_text(response.status) + "\r\n";
    for (const Header& h : response.headers) head += h.name + ": " + h.value + "\r\n";
    if (response.stream) {
        if (minor_version >= 1) head += "Transfer-Encoding: chunked\r\n";
    } else {
        head += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
    }
    if (!keep_alive) head += "Connection: close\r\n";
    head += "\r\n";
    return head;
}

std::string chunk(std::string_view data) {
    static const char digits[] = "0123456789abcdef";
    std::string size;
    for (size_t n = data.size(); n > 0; n /= 16) size.insert(size.begin(), digits[n % 16]);
    std::string out;
    out.reserve(size.size() + data.size() + 4);
    out += size;
    out += "\r\n";
    out += data;
    out += "\r\n";
    return out;
}

}  // namespace ember::serve::http
