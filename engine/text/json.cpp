#include "engine/text/json.h"

#include <cmath>
#include <limits>
#include <locale>
#include <set>
#include <sstream>

#include "engine/text/utf8.h"
#include "formats/error.h"

namespace ember {

JsonValue::JsonValue() = default;
JsonValue::JsonValue(const JsonValue&) = default;
JsonValue::JsonValue(JsonValue&&) noexcept = default;
JsonValue& JsonValue::operator=(const JsonValue&) = default;
JsonValue& JsonValue::operator=(JsonValue&&) noexcept = default;
JsonValue::~JsonValue() = default;

namespace {

// Deep enough for any real document; recursion this deep stays far from a stack overflow.
constexpr int kMaxDepth = 256;

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// strtod follows the C locale of the process, which a host application may have changed; a
// stream imbued with the classic locale always reads '.' as the decimal point.
double number_value(const std::string& text) {
    std::istringstream in(text);
    in.imbue(std::locale::classic());
    double value = 0.0;
    in >> value;
    if (in.fail()) {
        // Out of a double's range: tell the huge from the tiny by the exponent's sign.
        size_t e = text.find_first_of("eE");
        bool tiny = e != std::string::npos && e + 1 < text.size() && text[e + 1] == '-';
        value = tiny ? 0.0 : std::numeric_limits<double>::infinity();
        if (text[0] == '-') value = -value;
    }
    return value;
}

class Parser {
  public:
    explicit Parser(std::string_view text) : text_(text) {}

    JsonValue document() {
        skip_space();
        JsonValue value = parse_value(0);
        skip_space();
        if (pos_ != text_.size()) fail("unexpected text after the value");
        return value;
    }

  private:
    [[noreturn]] void fail(const std::string& what) const { fail_at(pos_, what); }

    [[noreturn]] void fail_at(size_t pos, const std::string& what) const {
        size_t line = 1, column = 1;
        for (size_t i = 0; i < pos && i < text_.size(); ++i) {
            auto c = static_cast<unsigned char>(text_[i]);
            if (c == '\n') {
                ++line;
                column = 1;
            } else if ((c & 0xC0) != 0x80) {
                ++column;  // columns count characters, not bytes
            }
        }
        throw Error("json: line " + std::to_string(line) + ", column " + std::to_string(column) +
                    ": " + what);
    }

    bool at_end() const { return pos_ >= text_.size(); }
    char peek() const { return text_[pos_]; }

    std::string describe_here() const {
        if (at_end()) return "end of text";
        auto c = static_cast<unsigned char>(peek());
        if (c >= 0x20 && c < 0x7F) return std::string("'") + static_cast<char>(c) + "'";
        static const char* hex = "0123456789ABCDEF";
        return std::string("byte 0x") + hex[c >> 4] + hex[c & 15];
    }

    void skip_space() {
        while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r'))
            ++pos_;
    }

    void expect(char c, const char* what) {
        if (at_end() || peek() != c)
            fail(std::string("expected ") + what + ", found " + describe_here());
        ++pos_;
    }

    JsonValue parse_value(int depth) {
        if (at_end()) fail("unexpected end of text, expected a value");
        switch (peek()) {
            case '{':
                return parse_object(depth);
            case '[':
                return parse_array(depth);
            case '"': {
                JsonValue v;
                v.kind = JsonValue::Kind::String;
                v.text = parse_string();
                return v;
            }
            case 't':
                return parse_literal("true", JsonValue::Kind::Bool, true);
            case 'f':
                return parse_literal("false", JsonValue::Kind::Bool, false);
            case 'n':
                return parse_literal("null", JsonValue::Kind::Null, false);
            default:
                if (peek() == '-' || is_digit(peek())) return parse_number();
                fail("unexpected " + describe_here() + ", expected a value");
        }
    }

    JsonValue parse_literal(std::string_view word, JsonValue::Kind kind, bool boolean) {
        if (text_.substr(pos_, word.size()) != word)
            fail("invalid literal (expected " + std::string(word) + ")");
        pos_ += word.size();
        JsonValue v;
        v.kind = kind;
        v.boolean = boolean;
        return v;
    }

    void enter(int depth) const {
        if (depth >= kMaxDepth) {
            fail("nesting deeper than " + std::to_string(kMaxDepth) + " arrays and objects");
        }
    }

    JsonValue parse_object(int depth) {
        enter(depth);
        ++pos_;  // '{'
        JsonValue v;
        v.kind = JsonValue::Kind::Object;
        std::set<std::string, std::less<>> keys;
        skip_space();
        if (!at_end() && peek() == '}') {
            ++pos_;
            return v;
        }
        for (;;) {
            if (at_end() || peek() != '"') fail("expected a string key, found " + describe_here());
            size_t key_pos = pos_;
            std::string key = parse_string();
            if (!keys.insert(key).second) {
                std::string quoted;
                append_json_string(quoted, key);
                fail_at(key_pos, "duplicate key " + quoted);
            }
            skip_space();
            expect(':', "':' after a key");
            skip_space();
            JsonValue member = parse_value(depth + 1);
            v.members.emplace_back(std::move(key), std::move(member));
            skip_space();
            if (at_end()) fail("unexpected end of text, expected ',' or '}'");
            if (peek() == '}') {
                ++pos_;
                return v;
            }
            expect(',', "',' or '}'");
            skip_space();
            if (!at_end() && peek() == '}') fail("trailing comma before '}'");
        }
    }

    JsonValue parse_array(int depth) {
        enter(depth);
        ++pos_;  // '['
        JsonValue v;
        v.kind = JsonValue::Kind::Array;
        skip_space();
        if (!at_end() && peek() == ']') {
            ++pos_;
            return v;
        }
        for (;;) {
            v.items.push_back(parse_value(depth + 1));
            skip_space();
            if (at_end()) fail("unexpected end of text, expected ',' or ']'");
            if (peek() == ']') {
                ++pos_;
                return v;
            }
            expect(',', "',' or ']'");
            skip_space();
            if (!at_end() && peek() == ']') fail("trailing comma before ']'");
        }
    }

    JsonValue parse_number() {
        size_t start = pos_;
        if (peek() == '-') ++pos_;
        if (at_end() || !is_digit(peek())) fail("expected a digit, found " + describe_here());
        if (peek() == '0') {
            ++pos_;
            if (!at_end() && is_digit(peek())) fail_at(start, "leading zero in a number");
        } else {
            while (!at_end() && is_digit(peek())) ++pos_;
        }
        if (!at_end() && peek() == '.') {
            ++pos_;
            if (at_end() || !is_digit(peek())) fail("expected a digit after '.'");
            while (!at_end() && is_digit(peek())) ++pos_;
        }
        if (!at_end() && (peek() == 'e' || peek() == 'E')) {
            ++pos_;
            if (!at_end() && (peek() == '+' || peek() == '-')) ++pos_;
            if (at_end() || !is_digit(peek())) fail("expected a digit in the exponent");
            while (!at_end() && is_digit(peek())) ++pos_;
        }
        JsonValue v;
        v.kind = JsonValue::Kind::Number;
        v.text = std::string(text_.substr(start, pos_ - start));
        v.number = number_value(v.text);
        return v;
    }

    uint32_t parse_hex4() {
        uint32_t value = 0;
        for (int i = 0; i < 4; ++i) {
            int h = at_end() ? -1 : hex_value(peek());
            if (h < 0) fail("expected 4 hex digits after \\u");
            value = value * 16 + static_cast<uint32_t>(h);
            ++pos_;
        }
        return value;
    }

    void parse_escape(std::string& out) {
        size_t start = pos_;
        ++pos_;  // '\\'
        if (at_end()) fail("unterminated string");
        char c = peek();
        ++pos_;
        switch (c) {
            case '"':
                out += '"';
                return;
            case '\\':
                out += '\\';
                return;
            case '/':
                out += '/';
                return;
            case 'b':
                out += '\b';
                return;
            case 'f':
                out += '\f';
                return;
            case 'n':
                out += '\n';
                return;
            case 'r':
                out += '\r';
                return;
            case 't':
                out += '\t';
                return;
            case 'u':
                break;
            default:
                --pos_;
                fail("invalid escape \\" + describe_here());
        }
        uint32_t cp = parse_hex4();
        if (cp >= 0xDC00 && cp <= 0xDFFF) fail_at(start, "lone low surrogate in a \\u escape");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            // UTF-16 spells a character beyond the BMP as two escapes; half of one is not text.
            if (text_.substr(pos_, 2) != "\\u") {
                fail_at(start, "high surrogate not followed by a low one");
            }
            pos_ += 2;
            uint32_t low = parse_hex4();
            if (low < 0xDC00 || low > 0xDFFF) {
                fail_at(start, "high surrogate not followed by a low one");
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        }
        append_utf8(out, static_cast<char32_t>(cp));
    }

    // One UTF-8 character starting at pos_, checked the way RFC 3629 defines it: no overlong
    // forms, no surrogates, nothing above U+10FFFF.
    void copy_utf8(std::string& out) {
        auto lead = static_cast<unsigned char>(peek());
        size_t n;
        uint32_t min;
        if (lead >= 0xC2 && lead <= 0xDF) {
            n = 2;
            min = 0x80;
        } else if (lead >= 0xE0 && lead <= 0xEF) {
            n = 3;
            min = 0x800;
        } else if (lead >= 0xF0 && lead <= 0xF4) {
            n = 4;
            min = 0x10000;
        } else {
            fail("invalid UTF-8 in a string");
        }
        if (pos_ + n > text_.size()) fail("invalid UTF-8 in a string (truncated character)");
        uint32_t cp = lead & (0x7F >> n);
        for (size_t i = 1; i < n; ++i) {
            auto c = static_cast<unsigned char>(text_[pos_ + i]);
            if ((c & 0xC0) != 0x80) fail("invalid UTF-8 in a string");
            cp = (cp << 6) | (c & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            fail("invalid UTF-8 in a string");
        }
        out.append(text_.substr(pos_, n));
        pos_ += n;
    }

    std::string parse_string() {
        ++pos_;  // '"'
        std::string out;
        for (;;) {
            if (at_end()) fail("unterminated string");
            auto c = static_cast<unsigned char>(peek());
            if (c == '"') {
                ++pos_;
                return out;
            }
            if (c == '\\') {
                parse_escape(out);
            } else if (c < 0x20) {
                fail("control character " + describe_here() + " in a string (it must be escaped)");
            } else if (c < 0x80) {
                out += static_cast<char>(c);
                ++pos_;
            } else {
                copy_utf8(out);
            }
        }
    }

    std::string_view text_;
    size_t pos_ = 0;
};

void dump_to(const JsonValue& v, std::string& out) {
    switch (v.kind) {
        case JsonValue::Kind::Null:
            out += "null";
            break;
        case JsonValue::Kind::Bool:
            out += v.boolean ? "true" : "false";
            break;
        case JsonValue::Kind::Number:
            out += v.text;
            break;
        case JsonValue::Kind::String:
            append_json_string(out, v.text);
            break;
        case JsonValue::Kind::Array:
            out += '[';
            for (size_t i = 0; i < v.items.size(); ++i) {
                if (i) out += ',';
                dump_to(v.items[i], out);
            }
            out += ']';
            break;
        case JsonValue::Kind::Object:
            out += '{';
            for (size_t i = 0; i < v.members.size(); ++i) {
                if (i) out += ',';
                append_json_string(out, v.members[i].first);
                out += ':';
                dump_to(v.members[i].second, out);
            }
            out += '}';
            break;
    }
}

[[noreturn]] void wrong_kind(JsonValue::Kind want, JsonValue::Kind have) {
    throw Error(std::string("json: expected ") + JsonValue::kind_name(want) + ", found " +
                JsonValue::kind_name(have));
}

}  // namespace

bool JsonValue::is_integer() const {
    return kind == Kind::Number && text.find_first_of(".eE") == std::string::npos;
}

const JsonValue* JsonValue::find(std::string_view key) const {
    if (kind != Kind::Object) return nullptr;
    for (const Member& m : members) {
        if (m.first == key) return &m.second;
    }
    return nullptr;
}

bool JsonValue::as_bool() const {
    if (kind != Kind::Bool) wrong_kind(Kind::Bool, kind);
    return boolean;
}

double JsonValue::as_number() const {
    if (kind != Kind::Number) wrong_kind(Kind::Number, kind);
    return number;
}

const std::string& JsonValue::as_string() const {
    if (kind != Kind::String) wrong_kind(Kind::String, kind);
    return text;
}

const std::vector<JsonValue>& JsonValue::as_array() const {
    if (kind != Kind::Array) wrong_kind(Kind::Array, kind);
    return items;
}

const std::vector<JsonValue::Member>& JsonValue::as_object() const {
    if (kind != Kind::Object) wrong_kind(Kind::Object, kind);
    return members;
}

std::string JsonValue::dump() const {
    std::string out;
    dump_to(*this, out);
    return out;
}

const char* JsonValue::kind_name(Kind kind) {
    switch (kind) {
        case Kind::Null:
            return "null";
        case Kind::Bool:
            return "a boolean";
        case Kind::Number:
            return "a number";
        case Kind::String:
            return "a string";
        case Kind::Array:
            return "an array";
        case Kind::Object:
            return "an object";
    }
    return "?";
}

JsonValue parse_json(std::string_view text) {
    return Parser(text).document();
}

void append_json_string(std::string& out, std::string_view s) {
    static const char* hex = "0123456789abcdef";
    out += '"';
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\b':
                out += "\\b";
                break;
            case '\f':
                out += "\\f";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (c < 0x20) {
                    out += "\\u00";
                    out += hex[c >> 4];
                    out += hex[c & 15];
                } else {
                    out += ch;
                }
        }
    }
    out += '"';
}

}  // namespace ember
