#include "engine/grammar/json_schema.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "engine/grammar/grammar.h"
#include "engine/text/json.h"
#include "engine/text/utf8.h"
#include "formats/error.h"

namespace ember {

namespace {

// Digits of an integer part on a side the schema leaves unbounded (as llama.cpp's converter
// caps them): 16 keeps a model from writing digits forever and covers every double-exact
// integer.
constexpr size_t kMaxDigits = 16;

// Groups nested in one rule before the rest goes into a rule of its own: the grammar engine
// takes up to 256.
constexpr int kMaxKeyNesting = 64;
constexpr size_t kMaxItemNesting = 64;

// Schemas nested inside each other, counting each $ref followed: far more than any real schema
// has, and little enough stack (about 2 KB a level) for any thread.
constexpr int kMaxSchemaDepth = 128;

// Rules every converted schema may share. Each value rule ends in `space`, so the grammar
// allows white space after every token and after the whole document.
struct Primitive {
    const char* name;
    const char* body;
    std::vector<const char*> needs;
};

const std::vector<Primitive>& primitives() {
    static const std::vector<Primitive> table = {
        {"value",
         "object | array | string | number | boolean | null",
         {"object", "array", "string", "number", "boolean", "null"}},
        {"object",
         R"("{" space (string ":" space value ("," space string ":" space value)*)? "}" space)",
         {"string", "value"}},
        {"array", R"("[" space (value ("," space value)*)? "]" space)", {"value"}},
        {"string", R"("\"" char* "\"" space)", {"char"}},
        {"number",
         R"("-"? ("0" | [1-9] [0-9]{0,15}) ("." [0-9]+)? ([eE] ("-" | "+")? [0-9]{1,2})? space)",
         {}},
        {"integer", R"(("0" | "-"? [1-9] [0-9]{0,15}) space)", {}},
        {"boolean", R"(("true" | "false") space)", {}},
        {"null", R"("null" space)", {}},
        {"date-time", R"(date "T" time)", {"date", "time"}},
        {"date",
         R"([0-9]{4} "-" ("0" [1-9] | "1" [0-2]) "-" ("0" [1-9] | [12] [0-9] | "3" [01]))",
         {}},
        {"time",
         R"(([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9] ":" [0-5] [0-9] ("." [0-9]+)? ("Z" | ("-" | "+") ([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9])?)",
         {}},
        {"uuid",
         R"([0-9a-fA-F]{8} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{12})",
         {}},
        {"char", R"([^"\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4}))", {}},
        {"space", R"(| " " | "\n" [ \t]{0,20})", {}},
    };
    return table;
}

// Appends the shared rules in `used` and those they need, in the table's order.
void render_primitives(std::set<std::string> used, std::string& out, bool python = false) {
    used.insert("space");
    const auto& table = primitives();
    for (bool grew = true; grew;) {
        grew = false;
        for (const Primitive& p : table) {
            if (!used.count(p.name)) continue;
            for (const char* need : p.needs) grew |= used.insert(need).second;
        }
    }
    for (const Primitive& p : table) {
        if (!used.count(p.name)) continue;
        std::string_view body = p.body;
        if (python && body == R"(("true" | "false") space)") body = R"(("True" | "False") space)";
        if (python && body == R"("null" space)") body = R"("None" space)";
        out += std::string(p.name) + " ::= " + std::string(body) + "\n";
    }
}

// A value as a Python literal: JSON's text but for True, False and None.
std::string python_literal(const JsonValue& v) {
    switch (v.kind) {
        case JsonValue::Kind::Null:
            return "None";
        case JsonValue::Kind::Bool:
            return v.boolean ? "True" : "False";
        case JsonValue::Kind::Array: {
            std::string out = "[";
            for (size_t i = 0; i < v.items.size(); ++i)
                out += (i > 0 ? "," : "") + python_literal(v.items[i]);
            return out + "]";
        }
        case JsonValue::Kind::Object: {
            std::string out = "{";
            for (size_t i = 0; i < v.members.size(); ++i) {
                if (i > 0) out += ",";
                append_json_string(out, v.members[i].first);
                out += ":" + python_literal(v.members[i].second);
            }
            return out + "}";
        }
        default:
            return v.dump();
    }
}

// ---- GBNF text

std::string hex(uint32_t value, int digits) {
    static const char* h = "0123456789ABCDEF";
    std::string out(static_cast<size_t>(digits), '0');
    for (int i = digits - 1; i >= 0; --i, value >>= 4) out[static_cast<size_t>(i)] = h[value & 15];
    return out;
}

void append_escaped_code_point(std::string& out, char32_t cp) {
    if (cp < 0x20 || cp == 0x7F) {
        out += "\\x" + hex(cp, 2);
    } else if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp <= 0xFFFF) {
        out += "\\u" + hex(cp, 4);  // escapes keep the grammar text ASCII
    } else {
        out += "\\U" + hex(cp, 8);
    }
}

std::string literal(std::string_view utf8) {
    std::string out = "\"";
    for (char32_t cp : decode_utf8(utf8)) {
        switch (cp) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
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
                append_escaped_code_point(out, cp);
        }
    }
    return out + "\"";
}

void append_class_char(std::string& out, char32_t cp) {
    if (cp == ']' || cp == '\\' || cp == '-') {
        out += '\\';
        out += static_cast<char>(cp);
    } else if (cp == '[' || cp == '^') {
        out += "\\x" + hex(cp, 2);
    } else {
        append_escaped_code_point(out, cp);
    }
}

const std::string kQuote = R"("\"")";  // the literal for a JSON string's quote
const std::string kComma = R"("," space)";

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
    std::string out;
    for (size_t i = 0; i < parts.size(); ++i) {
        if (i) out += separator;
        out += parts[i];
    }
    return out;
}

bool is_digit_literal(std::string_view token) {
    if (token.size() < 3 || token.front() != '"' || token.back() != '"') return false;
    return std::all_of(token.begin() + 1, token.end() - 1,
                       [](char c) { return c >= '0' && c <= '9'; });
}

// A sequence of the non-empty pieces. Neighbouring literals of digits merge ("1" "2" -> "12")
// so that digit ranges read as numbers.
std::string seq(const std::vector<std::string>& pieces) {
    std::string out;
    for (const std::string& piece : pieces) {
        if (piece.empty()) continue;
        if (out.empty()) {
            out = piece;
            continue;
        }
        size_t last = out.rfind(' ');
        std::string_view tail =
            std::string_view(out).substr(last == std::string::npos ? 0 : last + 1);
        std::string_view head = std::string_view(piece).substr(0, piece.find(' '));
        if (is_digit_literal(tail) && is_digit_literal(head)) {
            out.pop_back();
            out += piece.substr(1);
        } else {
            out += ' ' + piece;
        }
    }
    return out;
}

// Alternatives as one element of a sequence.
std::string group(const std::vector<std::string>& alternatives) {
    if (alternatives.size() == 1) return alternatives[0];
    return "(" + join(alternatives, " | ") + ")";
}

// The grammar engine takes repetition counts up to 1000 (it unrolls them).
constexpr uint64_t kMaxRepeat = 1000;

// `atom` (a name or a parenthesized group) repeated lo to hi times (no hi: unbounded).
std::string repeat(const std::string& atom, uint64_t lo, std::optional<uint64_t> hi) {
    if (hi && *hi == 0) return "";
    if (lo > kMaxRepeat || (hi && *hi > kMaxRepeat)) {
        // Larger counts go in blocks of 1000, split so that each length has one parse:
        // x{0,n} for n = 1000q + r is (x{1000}){0,q-1} x{0,999} | (x{1000}){q} x{0,r}.
        const std::string block = "(" + repeat(atom, kMaxRepeat, kMaxRepeat) + ")";
        if (lo > 0) {
            const uint64_t q = lo / kMaxRepeat, r = lo % kMaxRepeat;
            std::string exact = seq({repeat(block, q, q), repeat(atom, r, r)});
            if (!hi) return seq({exact, atom + "*"});
            return seq({exact, repeat(atom, 0, *hi - lo)});
        }
        const uint64_t q = *hi / kMaxRepeat, r = *hi % kMaxRepeat;
        return "(" + seq({repeat(block, 0, q - 1), repeat(atom, 0, kMaxRepeat - 1)}) + " | " +
               seq({repeat(block, q, q), repeat(atom, 0, r)}) + ")";
    }
    if (!hi) {
        if (lo == 0) return atom + "*";
        if (lo == 1) return atom + "+";
        return atom + "{" + std::to_string(lo) + ",}";
    }
    if (lo == 0 && *hi == 1) return atom + "?";
    if (lo == *hi) return lo == 1 ? atom : atom + "{" + std::to_string(lo) + "}";
    return atom + "{" + std::to_string(lo) + "," + std::to_string(*hi) + "}";
}

bool is_rule_name(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '-';
    });
}

// Rule names allow [a-zA-Z0-9-]: anything else becomes a dash.
std::string sanitize(std::string_view s) {
    std::string out;
    for (char c : s) {
        bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (keep) {
            out += c;
        } else if (!out.empty() && out.back() != '-') {
            out += '-';
        }
    }
    while (!out.empty() && out.back() == '-') out.pop_back();
    return out.empty() ? "x" : out;
}

// ---- Integer and number ranges

std::string quoted(const std::string& digits) {
    return "\"" + digits + "\"";
}

std::string digit_class(char lo, char hi) {
    if (lo == hi) return quoted(std::string(1, lo));
    return std::string("[") + lo + "-" + hi + "]";
}

std::string any_digits(size_t n) {
    if (n == 0) return "";
    if (n == 1) return "[0-9]";
    return "[0-9]{" + std::to_string(n) + "}";
}

// Alternatives matching exactly the digit strings s of x's length with x <= s <= y (x and y
// of equal length, x <= y; leading zeros are plain digits here).
std::vector<std::string> digit_range(std::string_view x, std::string_view y) {
    size_t p = 0;
    while (p < x.size() && x[p] == y[p]) ++p;
    std::string prefix = p ? quoted(std::string(x.substr(0, p))) : "";
    if (p == x.size()) return {prefix};
    size_t n = x.size() - p - 1;
    std::string_view lo_tail = x.substr(p + 1), hi_tail = y.substr(p + 1);
    bool lo_all_zero = lo_tail.find_first_not_of('0') == std::string_view::npos;
    bool hi_all_nine = hi_tail.find_first_not_of('9') == std::string_view::npos;
    char a = x[p], b = y[p];
    // Digits strictly between a and b take any tail; a and b themselves join them when their
    // tail bound is no bound at all.
    char mid_lo = lo_all_zero ? a : static_cast<char>(a + 1);
    char mid_hi = hi_all_nine ? b : static_cast<char>(b - 1);
    std::vector<std::string> alternatives;
    if (!lo_all_zero) {
        alternatives.push_back(
            seq({quoted(std::string(1, a)), group(digit_range(lo_tail, std::string(n, '9')))}));
    }
    if (mid_lo <= mid_hi) alternatives.push_back(seq({digit_class(mid_lo, mid_hi), any_digits(n)}));
    if (!hi_all_nine) {
        alternatives.push_back(
            seq({quoted(std::string(1, b)), group(digit_range(std::string(n, '0'), hi_tail))}));
    }
    if (prefix.empty()) return alternatives;
    return {seq({prefix, group(alternatives)})};
}

// Alternatives for the decimal forms (no leading zeros) of the integers lo..hi; no hi: no
// upper bound but the digit cap.
std::vector<std::string> natural_range(uint64_t lo, std::optional<uint64_t> hi) {
    std::string lo_text = std::to_string(lo);
    size_t lo_digits = lo_text.size();
    std::vector<std::string> alternatives;
    auto add = [&](std::string_view x, std::string_view y) {
        for (std::string& a : digit_range(x, y)) alternatives.push_back(std::move(a));
    };
    if (hi) {
        std::string hi_text = std::to_string(*hi);
        for (size_t d = lo_digits; d <= hi_text.size(); ++d) {
            std::string x = d == lo_digits ? lo_text : "1" + std::string(d - 1, '0');
            std::string y = d == hi_text.size() ? hi_text : std::string(d, '9');
            add(x, y);
        }
        return alternatives;
    }
    add(lo_text, std::string(lo_digits, '9'));
    size_t cap = std::max(kMaxDigits, lo_digits);
    if (cap > lo_digits) {
        std::string more = lo_digits == cap - 1 ? "[0-9]{" + std::to_string(lo_digits) + "}"
                                                : "[0-9]{" + std::to_string(lo_digits) + "," +
                                                      std::to_string(cap - 1) + "}";
        alternatives.push_back("[1-9] " + more);
    }
    return alternatives;
}

struct Bound {
    bool set = false;
    int64_t value = 0;
    bool exclusive = false;
};

// |v| for a negative v, without overflow at INT64_MIN.
uint64_t magnitude(int64_t v) {
    return static_cast<uint64_t>(-(v + 1)) + 1;
}

// Integers in [lo, hi] (inclusive; an unset bound is open): "-0" is never written.
std::vector<std::string> integer_range(Bound lo, Bound hi) {
    std::vector<std::string> alternatives;
    if (!lo.set || lo.value < 0) {
        uint64_t min_magnitude = hi.set && hi.value < 0 ? magnitude(hi.value) : 1;
        std::optional<uint64_t> max_magnitude;
        if (lo.set) max_magnitude = magnitude(lo.value);
        alternatives.push_back(seq({R"("-")", group(natural_range(min_magnitude, max_magnitude))}));
    }
    if (!hi.set || hi.value >= 0) {
        uint64_t from = lo.set && lo.value > 0 ? static_cast<uint64_t>(lo.value) : 0;
        std::optional<uint64_t> to;
        if (hi.set) to = static_cast<uint64_t>(hi.value);
        for (std::string& a : natural_range(from, to)) alternatives.push_back(std::move(a));
    }
    return alternatives;
}

// What may follow an integer part I so that I(.F)? stays within a bound.
enum class Fraction { Any, Zero, NonZero, None };

std::string fraction_text(Fraction f) {
    switch (f) {
        case Fraction::Any:
            return R"(("." [0-9]+)?)";
        case Fraction::Zero:
            return R"(("." "0"+)?)";
        case Fraction::NonZero:
            return R"("." "0"* [1-9] [0-9]*)";
        case Fraction::None:
            break;
    }
    return "";
}

// Non-negative decimals I(.F)? (no exponent) between lo and hi. Such a number lies in [I, I+1),
// so only the integer parts equal to a bound need a closer look at the fraction: x > lo needs
// a non-zero fraction when I == lo, x <= hi only zeros when I == hi, x < hi none at all.
std::vector<std::string> decimal_range(uint64_t lo, bool lo_exclusive, std::optional<uint64_t> hi,
                                       bool hi_exclusive) {
    std::vector<std::string> alternatives;
    auto point = [&](uint64_t v, Fraction f) {
        alternatives.push_back(seq({quoted(std::to_string(v)), fraction_text(f)}));
    };
    auto range = [&](uint64_t a, std::optional<uint64_t> b) {
        alternatives.push_back(seq({group(natural_range(a, b)), fraction_text(Fraction::Any)}));
    };
    Fraction at_lo = lo_exclusive ? Fraction::NonZero : Fraction::Any;
    if (!hi) {
        if (at_lo == Fraction::Any) {
            range(lo, std::nullopt);
        } else {
            point(lo, at_lo);
            range(lo + 1, std::nullopt);
        }
        return alternatives;
    }
    Fraction at_hi = hi_exclusive ? Fraction::None : Fraction::Zero;
    if (lo == *hi) {
        if (at_lo == Fraction::Any && at_hi != Fraction::None) point(lo, at_hi);
        return alternatives;
    }
    uint64_t from = lo;
    if (at_lo == Fraction::NonZero) {
        point(lo, Fraction::NonZero);
        from = lo + 1;
    }
    if (from + 1 <= *hi) range(from, *hi - 1);
    if (at_hi != Fraction::None) point(*hi, Fraction::Zero);
    return alternatives;
}

// Numbers between two integer bounds, split at zero: a negative number is "-" and a magnitude
// that is never zero (no "-0", no "-0.0").
std::vector<std::string> number_range(Bound lo, Bound hi) {
    std::vector<std::string> alternatives;
    if (!lo.set || lo.value < 0) {
        uint64_t min_magnitude = 0;
        bool min_exclusive = true;
        if (hi.set && hi.value < 0) {
            min_magnitude = magnitude(hi.value);
            min_exclusive = hi.exclusive;
        }
        std::optional<uint64_t> max_magnitude;
        if (lo.set) max_magnitude = magnitude(lo.value);
        std::vector<std::string> m =
            decimal_range(min_magnitude, min_exclusive, max_magnitude, lo.exclusive);
        if (!m.empty()) alternatives.push_back(seq({R"("-")", group(m)}));
    }
    if (!hi.set || hi.value > 0 || (hi.value == 0 && !hi.exclusive)) {
        uint64_t from = 0;
        bool from_exclusive = false;
        if (lo.set && lo.value >= 0) {
            from = static_cast<uint64_t>(lo.value);
            from_exclusive = lo.exclusive;
        }
        std::optional<uint64_t> to;
        if (hi.set) to = static_cast<uint64_t>(hi.value);
        for (std::string& a : decimal_range(from, from_exclusive, to, hi.exclusive)) {
            alternatives.push_back(std::move(a));
        }
    }
    return alternatives;
}

// ---- Schemas

[[noreturn]] void fail(const std::string& pointer, const std::string& what) {
    throw Error("json schema: at #" + pointer + ": " + what);
}

std::string pointer_token(std::string_view key) {
    std::string out;
    for (char c : key) {
        if (c == '~') {
            out += "~0";
        } else if (c == '/') {
            out += "~1";
        } else {
            out += c;
        }
    }
    return out;
}

std::string json_string(std::string_view s) {
    std::string out;
    append_json_string(out, s);
    return out;
}

bool is_annotation(std::string_view k) {
    static const std::set<std::string_view> names = {
        "$schema",  "$id",        "$comment", "title",     "description", "default",
        "examples", "deprecated", "readOnly", "writeOnly", "$defs",       "definitions"};
    return names.count(k) > 0;
}

const std::set<std::string_view> kStringKeywords = {"minLength", "maxLength", "format"};
const std::set<std::string_view> kNumberKeywords = {"minimum", "maximum", "exclusiveMinimum",
                                                    "exclusiveMaximum"};
const std::set<std::string_view> kObjectKeywords = {"properties", "required",
                                                    "additionalProperties"};
const std::set<std::string_view> kArrayKeywords = {"items", "prefixItems", "additionalItems",
                                                   "minItems", "maxItems"};
const std::set<std::string_view> kCoreKeywords = {"type",  "enum",  "const", "anyOf",
                                                  "oneOf", "allOf", "$ref"};

const JsonValue& true_schema() {
    static const JsonValue value = [] {
        JsonValue v;
        v.kind = JsonValue::Kind::Bool;
        v.boolean = true;
        return v;
    }();
    return value;
}

bool is_true_schema(const JsonValue& s) {
    return s.is_bool() && s.boolean;
}
bool is_false_schema(const JsonValue& s) {
    return s.is_bool() && !s.boolean;
}

bool integral(const JsonValue& v) {
    return v.is_number() &&
           (v.is_integer() || (std::isfinite(v.number) && std::floor(v.number) == v.number));
}

class Converter {
  public:
    // python: Python literals; the objects at kwargs (JSON pointers) as keyword arguments
    // (json_schema_python_arguments).
    Converter(const JsonValue& document, std::string root, bool python = false,
              std::set<std::string> kwargs = {})
        : document_(document), python_(python), kwargs_(std::move(kwargs)), root_(std::move(root)) {
        for (const Primitive& p : primitives()) taken_.insert(p.name);
        taken_.insert(root_);
        refs_[""] = root_;
    }

    std::string convert() {
        std::string body = body_of(document_, root_, "");
        rules_.insert(rules_.begin(), {root_, body});
        std::string out;
        for (const auto& [name, rule_body] : rules_) out += name + " ::= " + rule_body + "\n";
        render_primitives(used_, out, python_);
        return out;
    }

    // The rule a JSON pointer's schema became (empty: none).
    std::string rule_of(const std::string& pointer) const {
        const auto it = refs_.find(pointer);
        return it == refs_.end() ? std::string() : it->second;
    }

  private:
    std::string use(const std::string& primitive) {
        used_.insert(primitive);
        return primitive;
    }

    std::string unique_name(const std::string& hint) {
        std::string base = sanitize(hint);
        std::string name = base;
        int& suffix = next_suffix_[base];  // (not from 2 each time: many names may collide)
        if (suffix == 0) suffix = 2;
        while (taken_.count(name)) name = base + "-" + std::to_string(suffix++);
        taken_.insert(name);
        return name;
    }

    // Rules are placed where their schema was entered, so a rule comes before the rules it
    // uses and the grammar reads from the top down.
    std::string add_rule(const std::string& hint, const std::string& body, size_t slot) {
        std::string name = unique_name(hint);
        rules_.insert(rules_.begin() + static_cast<std::ptrdiff_t>(slot), {name, body});
        return name;
    }

    // A name for the schema's values: a shared rule, or a new one named after hint.
    std::string visit(const JsonValue& schema, const std::string& hint,
                      const std::string& pointer) {
        size_t slot = rules_.size();
        std::string body = body_of(schema, hint, pointer);
        if (is_rule_name(body)) return body;
        return add_rule(hint, body, slot);
    }

    std::string child_hint(const std::string& parent, std::string_view part) const {
        return parent == root_ ? sanitize(part) : parent + "-" + sanitize(part);
    }

    void check_keywords(const JsonValue& schema, const std::string& pointer) {
        for (const auto& [key, value] : schema.members) {
            if (is_annotation(key) || kCoreKeywords.count(key) || kStringKeywords.count(key) ||
                kNumberKeywords.count(key) || kObjectKeywords.count(key) ||
                kArrayKeywords.count(key)) {
                continue;
            }
            if (key == "pattern") {
                fail(pointer, "keyword \"pattern\" (a regular expression) is not supported");
            }
            fail(pointer, "keyword " + json_string(key) + " is not supported");
        }
    }

    // Keywords that combine with the rest by intersection are supported only alone.
    void reject_siblings(const JsonValue& schema, const std::string& pointer,
                         const std::string& keyword, const std::set<std::string_view>& allowed) {
        for (const auto& [key, value] : schema.members) {
            if (is_annotation(key) || allowed.count(key)) continue;
            fail(pointer,
                 "keyword " + json_string(key) + " beside \"" + keyword + "\" is not supported");
        }
    }

    std::string body_of(const JsonValue& schema, const std::string& hint,
                        const std::string& pointer) {
        // The reader bounds nesting, but not a chain of $refs: keep the recursion far from the
        // end of the stack.
        if (depth_ >= kMaxSchemaDepth) {
            fail(pointer, "schemas nested more than " + std::to_string(kMaxSchemaDepth) +
                              " deep (counting each $ref followed)");
        }
        ++depth_;
        struct Leave {
            int& depth;
            ~Leave() { --depth; }
        } leave{depth_};
        if (schema.is_bool()) {
            if (schema.boolean) return use("value");
            fail(pointer, "the schema false matches nothing");
        }
        if (!schema.is_object()) {
            fail(pointer, std::string("a schema must be an object or a boolean, not ") +
                              JsonValue::kind_name(schema.kind));
        }
        check_keywords(schema, pointer);
        if (const JsonValue* ref = schema.find("$ref")) {
            reject_siblings(schema, pointer, "$ref", {"$ref"});
            return ref_rule(*ref, pointer + "/$ref");
        }
        if (const JsonValue* all = schema.find("allOf")) {
            // allOf is an intersection of schemas, which a grammar cannot take in general;
            // one schema alone (as generators write to hang a description on a $ref) is easy.
            reject_siblings(schema, pointer, "allOf", {"allOf"});
            if (!all->is_array() || all->items.size() != 1) {
                fail(pointer + "/allOf", "allOf is supported only with a single schema");
            }
            return body_of(all->items[0], hint, pointer + "/allOf/0");
        }
        if (schema.find("anyOf") || schema.find("oneOf")) return any_of(schema, hint, pointer);
        if (schema.find("enum") || schema.find("const")) return enum_body(schema, pointer);

        std::vector<std::string> types = type_set(schema, pointer);
        if (types.empty()) return use("value");
        if (types.size() == 1) return type_body(types[0], schema, hint, pointer);
        std::vector<std::string> alternatives;
        for (const std::string& type : types) {
            size_t slot = rules_.size();
            std::string hint_for_type = hint + "-" + type;
            std::string body = type_body(type, schema, hint_for_type, pointer);
            alternatives.push_back(is_rule_name(body) ? body : add_rule(hint_for_type, body, slot));
        }
        return join(alternatives, " | ");
    }

    // oneOf is taken as anyOf: a grammar cannot demand that exactly one alternative match, and
    // the documents that match several are (for the schemas models are given) the rare case.
    std::string any_of(const JsonValue& schema, const std::string& hint,
                       const std::string& pointer) {
        if (schema.find("anyOf") && schema.find("oneOf")) {
            fail(pointer, "anyOf beside oneOf is not supported");
        }
        std::string keyword = schema.find("anyOf") ? "anyOf" : "oneOf";
        reject_siblings(schema, pointer, keyword, {keyword});
        const JsonValue& list = *schema.find(keyword);
        if (!list.is_array() || list.items.empty()) {
            fail(pointer + "/" + keyword, keyword + " must be a non-empty array of schemas");
        }
        std::vector<std::string> alternatives;
        for (size_t i = 0; i < list.items.size(); ++i) {
            if (is_false_schema(list.items[i])) continue;
            std::string name = visit(list.items[i], hint + "-" + std::to_string(i),
                                     pointer + "/" + keyword + "/" + std::to_string(i));
            if (std::find(alternatives.begin(), alternatives.end(), name) == alternatives.end()) {
                alternatives.push_back(name);
            }
        }
        if (alternatives.empty()) fail(pointer + "/" + keyword, "no alternative can match");
        return join(alternatives, " | ");
    }

    std::vector<std::string> type_set(const JsonValue& schema, const std::string& pointer) {
        static const std::vector<std::string> known = {"object",  "array",   "string", "number",
                                                       "integer", "boolean", "null"};
        std::vector<std::string> types;
        if (const JsonValue* type = schema.find("type")) {
            std::vector<const JsonValue*> names;
            if (type->is_array()) {
                for (const JsonValue& t : type->items) names.push_back(&t);
                if (names.empty()) {
                    fail(pointer + "/type", "an empty list of types matches nothing");
                }
            } else {
                names.push_back(type);
            }
            for (const JsonValue* t : names) {
                if (!t->is_string()) fail(pointer + "/type", "a type must be a string");
                if (std::find(known.begin(), known.end(), t->text) == known.end()) {
                    fail(pointer + "/type", "unknown type " + json_string(t->text));
                }
                if (std::find(types.begin(), types.end(), t->text) == types.end()) {
                    types.push_back(t->text);
                }
            }
            // Every integer is a number: both would make the grammar ambiguous.
            if (std::find(types.begin(), types.end(), "number") != types.end()) {
                types.erase(std::remove(types.begin(), types.end(), "integer"), types.end());
            }
            return types;
        }
        // Without "type" JSON Schema would also let any other kind of value through; whoever
        // writes "properties" or "minLength" means an object or a string, so the keywords tell
        // the types (a narrower grammar whose every sentence is still valid).
        auto has_any = [&](const std::set<std::string_view>& keywords) {
            return std::any_of(schema.members.begin(), schema.members.end(),
                               [&](const JsonValue::Member& m) { return keywords.count(m.first); });
        };
        if (has_any(kObjectKeywords)) types.push_back("object");
        if (has_any(kArrayKeywords)) types.push_back("array");
        if (has_any(kStringKeywords)) types.push_back("string");
        if (has_any(kNumberKeywords)) types.push_back("number");
        return types;
    }

    std::string type_body(const std::string& type, const JsonValue& schema, const std::string& hint,
                          const std::string& pointer) {
        if (type == "null") return use("null");
        if (type == "boolean") return use("boolean");
        if (type == "string") return string_body(schema, pointer);
        if (type == "integer") return integer_body(schema, pointer);
        if (type == "number") return number_body(schema, pointer);
        if (type == "object") return object_body(schema, hint, pointer);
        return array_body(schema, hint, pointer);
    }

    static bool has_type(const JsonValue& v, const std::string& type) {
        if (type == "null") return v.is_null();
        if (type == "boolean") return v.is_bool();
        if (type == "string") return v.is_string();
        if (type == "number") return v.is_number();
        if (type == "integer") return integral(v);
        if (type == "object") return v.is_object();
        return v.is_array();
    }

    std::string enum_body(const JsonValue& schema, const std::string& pointer) {
        const JsonValue* enum_values = schema.find("enum");
        const JsonValue* const_value = schema.find("const");
        std::string keyword = enum_values ? "enum" : "const";
        reject_siblings(schema, pointer, keyword, {"enum", "const", "type"});
        if (enum_values && !enum_values->is_array())
            fail(pointer + "/enum", "enum must be an array");
        std::vector<std::string> dumps;
        auto add = [&](const JsonValue& v) {
            std::string d = python_ ? python_literal(v) : v.dump();
            if (std::find(dumps.begin(), dumps.end(), d) == dumps.end()) dumps.push_back(d);
        };
        std::vector<std::string> types =
            schema.find("type") ? type_set(schema, pointer) : std::vector<std::string>{};
        auto typed = [&](const JsonValue& v) {
            return types.empty() || std::any_of(types.begin(), types.end(),
                                                [&](const auto& t) { return has_type(v, t); });
        };
        if (const_value) {
            bool in_enum = !enum_values;
            if (enum_values) {
                for (const JsonValue& v : enum_values->items)
                    in_enum |= v.dump() == const_value->dump();
            }
            if (in_enum && typed(*const_value)) add(*const_value);
        } else {
            for (const JsonValue& v : enum_values->items) {
                if (typed(v)) add(v);
            }
        }
        if (dumps.empty()) fail(pointer, "no value of " + keyword + " can match");
        std::vector<std::string> literals;
        for (const std::string& d : dumps) literals.push_back(literal(d));
        return group(literals) + " space";
    }

    // A count keyword (minLength, maxItems...): a non-negative integer, or nothing.
    static std::optional<uint64_t> count(const JsonValue& schema, const std::string& keyword,
                                         const std::string& pointer) {
        const JsonValue* v = schema.find(keyword);
        if (!v) return std::nullopt;
        if (!integral(*v) || v->number < 0 || v->number > 1e15) {
            fail(pointer + "/" + keyword, keyword + " must be a non-negative integer");
        }
        return static_cast<uint64_t>(v->number);
    }

    std::string string_body(const JsonValue& schema, const std::string& pointer) {
        std::optional<uint64_t> min = count(schema, "minLength", pointer);
        std::optional<uint64_t> max = count(schema, "maxLength", pointer);
        if (const JsonValue* format = schema.find("format")) {
            if (!format->is_string()) fail(pointer + "/format", "format must be a string");
            if (min || max) fail(pointer, "minLength or maxLength beside format is not supported");
            const std::string& f = format->text;
            if (f != "date" && f != "time" && f != "date-time" && f != "uuid") {
                fail(pointer + "/format",
                     "format " + json_string(f) +
                         " is not supported (date, time, date-time, uuid are)");
            }
            return seq({kQuote, use(f), kQuote, "space"});
        }
        if (!min && !max) return use("string");
        if (min && max && *min > *max) fail(pointer, "minLength is more than maxLength");
        return seq({kQuote, repeat(use("char"), min.value_or(0), max), kQuote, "space"});
    }

    // A bound's value when it is an integer that fits 64 bits; nothing for a fraction.
    static std::optional<int64_t> exact_integer(const JsonValue& v, const std::string& pointer) {
        if (v.is_integer()) {
            // The text, not the double: bounds near 2^63 must not round.
            bool negative = v.text[0] == '-';
            uint64_t limit = negative ? uint64_t{1} << 63 : (uint64_t{1} << 63) - 1;
            uint64_t m = 0;
            for (char c : std::string_view(v.text).substr(negative ? 1 : 0)) {
                uint64_t digit = static_cast<uint64_t>(c - '0');
                if (m > (limit - digit) / 10) fail(pointer, "a bound beyond 64-bit integers");
                m = m * 10 + digit;
            }
            return negative ? static_cast<int64_t>(~m + 1) : static_cast<int64_t>(m);
        }
        if (!std::isfinite(v.number) || std::fabs(v.number) >= 9.2e18) {
            fail(pointer, "a bound beyond 64-bit integers");
        }
        if (std::floor(v.number) != v.number) return std::nullopt;
        return static_cast<int64_t>(v.number);
    }

    // The bound one keyword sets, for integers (made inclusive) or numbers.
    static std::optional<Bound> bound(const JsonValue& schema, const std::string& keyword,
                                      const std::string& pointer, bool integer, bool lower) {
        const JsonValue* v = schema.find(keyword);
        if (!v) return std::nullopt;
        std::string at = pointer + "/" + keyword;
        bool exclusive = keyword.rfind("exclusive", 0) == 0;
        if (exclusive && v->is_bool()) return std::nullopt;  // draft 4: read with minimum
        if (!v->is_number()) fail(at, keyword + " must be a number");
        if (!exclusive) {
            // Draft 4 wrote x > 5 as minimum 5 with exclusiveMinimum true.
            const JsonValue* flag = schema.find(lower ? "exclusiveMinimum" : "exclusiveMaximum");
            exclusive = flag && flag->is_bool() && flag->boolean;
        }
        std::optional<int64_t> i = exact_integer(*v, at);
        if (!i) {
            if (!integer) fail(at, "a bound that is not an integer is not supported for numbers");
            // For integers a fraction rounds inwards, and then exclusive or not is the same.
            return Bound{true,
                         static_cast<int64_t>(lower ? std::ceil(v->number) : std::floor(v->number)),
                         false};
        }
        if (integer && exclusive) {
            if (*i == (lower ? std::numeric_limits<int64_t>::max()
                             : std::numeric_limits<int64_t>::min())) {
                fail(pointer, "no integer lies within the bounds");
            }
            return Bound{true, lower ? *i + 1 : *i - 1, false};
        }
        return Bound{true, *i, exclusive};
    }

    static void bounds(const JsonValue& schema, const std::string& pointer, bool integer, Bound& lo,
                       Bound& hi) {
        for (const char* keyword : {"minimum", "exclusiveMinimum"}) {
            if (auto b = bound(schema, keyword, pointer, integer, true)) {
                if (!lo.set || b->value > lo.value || (b->value == lo.value && b->exclusive)) {
                    lo = *b;
                }
            }
        }
        for (const char* keyword : {"maximum", "exclusiveMaximum"}) {
            if (auto b = bound(schema, keyword, pointer, integer, false)) {
                if (!hi.set || b->value < hi.value || (b->value == hi.value && b->exclusive)) {
                    hi = *b;
                }
            }
        }
        if (lo.set && hi.set &&
            (lo.value > hi.value || (lo.value == hi.value && (lo.exclusive || hi.exclusive)))) {
            fail(pointer, integer ? "no integer lies within the bounds"
                                  : "no number lies within the bounds");
        }
    }

    std::string integer_body(const JsonValue& schema, const std::string& pointer) {
        Bound lo, hi;
        bounds(schema, pointer, true, lo, hi);
        if (!lo.set && !hi.set) return use("integer");
        return "(" + join(integer_range(lo, hi), " | ") + ") space";
    }

    std::string number_body(const JsonValue& schema, const std::string& pointer) {
        Bound lo, hi;
        bounds(schema, pointer, false, lo, hi);
        if (!lo.set && !hi.set) return use("number");
        std::vector<std::string> alternatives = number_range(lo, hi);
        if (alternatives.empty()) fail(pointer, "no number lies within the bounds");
        return "(" + join(alternatives, " | ") + ") space";
    }

    struct Property {
        std::string name;
        const JsonValue* schema;
        std::string pointer;
        bool required;
        std::string hint;
        std::string kv;  // the member's rule
    };

    std::string object_body(const JsonValue& schema, const std::string& hint,
                            const std::string& pointer) {
        const JsonValue* properties = schema.find("properties");
        const JsonValue* required = schema.find("required");
        const JsonValue* additional = schema.find("additionalProperties");
        if (properties && !properties->is_object()) {
            fail(pointer + "/properties", "properties must be an object");
        }
        if (additional && !additional->is_bool() && !additional->is_object()) {
            fail(pointer + "/additionalProperties", "additionalProperties must be a schema");
        }
        std::vector<std::string> required_names;
        if (required) {
            if (!required->is_array()) fail(pointer + "/required", "required must be an array");
            for (const JsonValue& r : required->items) {
                if (!r.is_string()) fail(pointer + "/required", "required must list strings");
                if (std::find(required_names.begin(), required_names.end(), r.text) ==
                    required_names.end()) {
                    required_names.push_back(r.text);
                }
            }
        }
        auto is_required = [&](const std::string& name) {
            return std::find(required_names.begin(), required_names.end(), name) !=
                   required_names.end();
        };
        // Keyword arguments take the declared properties only (no braces, no quoted keys).
        const bool kwargs = python_ && kwargs_.count(pointer) > 0;
        bool extras = !kwargs && !(additional && is_false_schema(*additional));
        const JsonValue& extra_schema = additional ? *additional : true_schema();

        std::vector<Property> list;
        std::vector<std::string> declared;  // names an extra member must not take
        if (properties) {
            for (const auto& [name, property] : properties->members) {
                declared.push_back(name);
                std::string at = pointer + "/properties/" + pointer_token(name);
                if (is_false_schema(property)) {
                    if (is_required(name)) fail(at, "required property with the schema false");
                    continue;  // may not appear at all
                }
                list.push_back({name, &property, at, is_required(name), "", ""});
            }
        }
        for (const std::string& name : required_names) {
            if (std::find(declared.begin(), declared.end(), name) != declared.end()) continue;
            if (!extras) {
                fail(pointer, "required property " + json_string(name) +
                                  " is not in properties and additionalProperties is false");
            }
            // A required member the properties do not describe is an additional one that must
            // be there: it goes with the listed ones, under additionalProperties' schema.
            declared.push_back(name);
            list.push_back({name, &extra_schema, pointer + "/additionalProperties", true, "", ""});
        }
        if (list.empty() && declared.empty() && extras && is_true_schema(extra_schema)) {
            return use("object");
        }

        const std::string open = kwargs ? "" : R"("{" space)", close = kwargs ? "" : R"("}" space)";
        for (Property& p : list) {
            p.hint = child_hint(hint, p.name);
            size_t slot = rules_.size();
            std::string value = visit(*p.schema, p.hint, p.pointer);
            if (kwargs && !python_identifier(p.name)) {
                fail(p.pointer, "the property " + json_string(p.name) +
                                    " cannot be a keyword argument of a Python call");
            }
            p.kv = add_rule(
                p.hint + "-kv",
                kwargs ? seq({literal(p.name + "="), value})
                       : seq({literal(json_string(p.name)), "space", R"(":" space)", value}),
                slot);
        }
        std::string extra_kv;
        if (extras) {
            size_t slot = rules_.size();
            std::string value =
                is_true_schema(extra_schema)
                    ? use("value")
                    : visit(extra_schema, hint + "-additional", pointer + "/additionalProperties");
            std::string key =
                declared.empty()
                    ? use("string")
                    : add_rule(hint + "-additional-key",
                               key_except(declared, hint + "-additional-key"), rules_.size());
            extra_kv = add_rule(hint + "-additional-kv", seq({key, R"(":" space)", value}), slot);
        }
        std::string extra_tail = extras ? "(" + kComma + " " + extra_kv + ")*" : "";
        std::string extras_alone = extras ? extra_kv + " " + extra_tail : "";

        size_t n = list.size();
        if (n == 0 && kwargs) return R"("")";  // a call without arguments
        if (n == 0) {
            return extras ? seq({open, "(" + extras_alone + ")?", close}) : seq({open, close});
        }
        auto piece = [&](size_t j) {
            std::string member = kComma + " " + list[j].kv;
            return list[j].required ? member : "(" + member + ")?";
        };
        size_t first_required = 0;
        while (first_required < n && !list[first_required].required) ++first_required;
        if (first_required == 0) {
            std::vector<std::string> parts = {open, list[0].kv};
            for (size_t j = 1; j < n; ++j) parts.push_back(piece(j));
            parts.push_back(extra_tail);
            parts.push_back(close);
            return seq(parts);
        }
        // Optional members lead: the first member written may be any of them (or the first
        // required one), and a rule per member says what may follow it, so that commas only
        // ever stand between two members.
        size_t last = std::min(first_required, n - 1);
        std::vector<std::string> rest_body(last + 1), rest_name(last + 1);
        for (size_t j = last + 1; j < n; ++j) rest_body[last] = seq({rest_body[last], piece(j)});
        rest_body[last] = seq({rest_body[last], extra_tail});
        for (size_t i = 0; i <= last; ++i) {
            if (i < last || !rest_body[last].empty())
                rest_name[i] = unique_name(list[i].hint + "-rest");
        }
        for (size_t i = last; i-- > 0;) rest_body[i] = seq({piece(i + 1), rest_name[i + 1]});
        std::vector<std::string> alternatives;
        for (size_t i = 0; i <= last; ++i) {
            if (!rest_name[i].empty()) rules_.push_back({rest_name[i], rest_body[i]});
            alternatives.push_back(seq({list[i].kv, rest_name[i]}));
        }
        if (first_required == n) {
            if (extras) alternatives.push_back(extras_alone);
            return seq({open, "(" + join(alternatives, " | ") + ")?", close});
        }
        return seq({open, "(" + join(alternatives, " | ") + ")", close});
    }

    // The key of an additional member: a JSON string that decodes to none of the declared
    // names, so that no document repeats a key. It walks a trie of the names; a key that
    // leaves the trie (a character no name has there) or stops where no name ends is free.
    // While a key still follows the trie, every character must be written one way (as itself
    // or its short escape), never as \uXXXX: the grammar would otherwise have to know each
    // character's hex spellings. Keys free of the names may use any escape.
    std::string key_except(const std::vector<std::string>& names, const std::string& hint) {
        use("char");
        std::vector<std::u32string> decoded;
        for (const std::string& name : names) {
            std::vector<char32_t> cps = decode_utf8(name);
            decoded.emplace_back(cps.begin(), cps.end());
        }
        std::sort(decoded.begin(), decoded.end());
        decoded.erase(std::unique(decoded.begin(), decoded.end()), decoded.end());
        return seq({kQuote, key_node(decoded, 0, decoded.size(), 0, 0, hint)});
    }

    static std::vector<std::string> spellings(char32_t c) {
        static const std::map<char32_t, char> short_escapes = {
            {'"', '"'},  {'\\', '\\'}, {'/', '/'},  {'\b', 'b'},
            {'\f', 'f'}, {'\n', 'n'},  {'\r', 'r'}, {'\t', 't'}};
        std::vector<std::string> out;
        if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7F) {
            std::string utf8;
            append_utf8(utf8, c);
            out.push_back(literal(utf8));
        }
        auto it = short_escapes.find(c);
        if (it != short_escapes.end()) out.push_back(literal(std::string("\\") + it->second));
        return out;
    }

    // Key texts after the prefix that names[begin, end) share (their first `depth` characters).
    // `nesting`: the groups open around this node in the rule being written.
    std::string key_node(const std::vector<std::u32string>& names, size_t begin, size_t end,
                         size_t depth, int nesting, const std::string& hint) {
        if (nesting >= kMaxKeyNesting) {
            // Each character nests a group, and the grammar engine allows 256: a long name
            // continues in a rule of its own.
            size_t slot = rules_.size();
            std::string body = key_node(names, begin, end, depth, 0, hint);
            return add_rule(hint + "-" + std::to_string(depth), body, slot);
        }
        const std::string free_tail = seq({"char*", kQuote, "space"});
        std::vector<std::string> alternatives;
        bool is_name = names[begin].size() == depth;  // sorted: the prefix itself comes first
        if (!is_name) alternatives.push_back(seq({kQuote, "space"}));
        size_t first_child = is_name ? begin + 1 : begin;
        if (first_child == end) {
            alternatives.push_back(seq({"char+", kQuote, "space"}));
            return group(alternatives);
        }
        std::set<char32_t> next;
        for (size_t i = first_child; i < end; ++i) next.insert(names[i][depth]);
        std::string raw = R"([^"\\\x7F\x00-\x1F)";
        for (char32_t c : next) {
            if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7F) append_class_char(raw, c);
        }
        raw += "]";
        std::string escapes;
        for (auto [decoded, letter] : {std::pair<char32_t, char>{'"', '"'},
                                       {'\\', '\\'},
                                       {'/', '/'},
                                       {'\b', 'b'},
                                       {'\f', 'f'},
                                       {'\n', 'n'},
                                       {'\r', 'r'},
                                       {'\t', 't'}}) {
            if (!next.count(decoded)) append_class_char(escapes, static_cast<char32_t>(letter));
        }
        std::string leave = escapes.empty() ? raw : "(" + raw + R"( | "\\" [)" + escapes + "])";
        alternatives.push_back(seq({leave, free_tail}));
        for (size_t i = first_child; i < end;) {
            char32_t c = names[i][depth];
            size_t j = i;
            while (j < end && names[j][depth] == c) ++j;
            std::vector<std::string> ways = spellings(c);
            if (!ways.empty()) {
                alternatives.push_back(
                    seq({group(ways), key_node(names, i, j, depth + 1, nesting + 1, hint)}));
            }
            i = j;
        }
        return group(alternatives);
    }

    std::string array_body(const JsonValue& schema, const std::string& hint,
                           const std::string& pointer) {
        const JsonValue* prefix_items = schema.find("prefixItems");
        const JsonValue* items = schema.find("items");
        const JsonValue* additional = schema.find("additionalItems");
        std::vector<const JsonValue*> prefix;
        std::string prefix_keyword, rest_keyword = "items";
        const JsonValue* rest = items;
        if (prefix_items) {
            if (!prefix_items->is_array()) fail(pointer + "/prefixItems", "must be an array");
            if (items && items->is_array()) {
                fail(pointer + "/items", "items as an array beside prefixItems is not supported");
            }
            if (additional) fail(pointer, "additionalItems beside prefixItems is not supported");
            prefix_keyword = "prefixItems";
        } else if (items && items->is_array()) {
            prefix_items = items;  // before 2020-12 an array of items meant prefixItems
            prefix_keyword = "items";
            rest = additional;
            rest_keyword = "additionalItems";
        }
        // (additionalItems beside a single items schema does nothing: JSON Schema ignores it.)
        std::optional<uint64_t> min = count(schema, "minItems", pointer);
        std::optional<uint64_t> max = count(schema, "maxItems", pointer);
        uint64_t lo = min.value_or(0);
        if (prefix_items) {
            for (const JsonValue& p : prefix_items->items) {
                if (is_false_schema(p)) {
                    max = std::min<uint64_t>(max.value_or(prefix.size()), prefix.size());
                    break;
                }
                prefix.push_back(&p);
            }
        }
        uint64_t k = prefix.size();
        bool rest_allowed = !(rest && is_false_schema(*rest));
        if (!rest_allowed) max = std::min<uint64_t>(max.value_or(k), k);
        if (max && lo > *max) {
            fail(pointer, "minItems is more than the array can hold (maxItems, or items false)");
        }
        const std::string open = R"("[" space)", close = R"("]" space)";
        if (max && *max == 0) return seq({open, close});

        size_t reach = static_cast<size_t>(max ? std::min(k, *max) : k);
        std::vector<std::string> element(reach);
        for (size_t i = 0; i < reach; ++i) {
            element[i] = visit(*prefix[i], hint + "-" + std::to_string(i),
                               pointer + "/" + prefix_keyword + "/" + std::to_string(i));
        }
        std::string item;
        if (rest_allowed) {
            item = !rest || is_true_schema(*rest)
                       ? use("value")
                       : visit(*rest, hint + "-item", pointer + "/" + rest_keyword);
        }
        // Items after the first `written` ones: as many as the counts still allow.
        auto tail = [&](uint64_t written) -> std::string {
            if (!rest_allowed) return "";
            std::optional<uint64_t> more;
            if (max) more = *max - written;
            return repeat("(" + kComma + " " + item + ")", lo > written ? lo - written : 0, more);
        };
        std::string elements;
        if (k == 0) {
            elements = seq({item, tail(1)});
        } else {
            for (size_t i = reach; i-- > 0;) {
                std::string after;
                if (i + 1 == k) {
                    after = tail(k);
                } else if (i + 1 < reach) {
                    std::string next = seq({kComma, elements});
                    after = i + 1 < lo ? next : "(" + next + ")?";
                }
                elements = seq({element[i], after});
                if (i > 0 && i % kMaxItemNesting == 0) {
                    elements =
                        add_rule(hint + "-from-" + std::to_string(i), elements, rules_.size());
                }
            }
        }
        return seq({open, lo == 0 ? "(" + elements + ")?" : elements, close});
    }

    // A rule for a "#..." reference, converted once however often it is used (and so
    // recursion ends: the name exists before the target's body is built).
    std::string ref_rule(const JsonValue& ref, const std::string& pointer) {
        if (!ref.is_string()) fail(pointer, "$ref must be a string");
        const std::string& text = ref.text;
        if (text.empty() || text[0] != '#') {
            fail(pointer,
                 "$ref " + json_string(text) + ": references to other documents are not supported");
        }
        std::string target_pointer;
        for (size_t i = 1; i < text.size(); ++i) {
            if (text[i] != '%') {
                target_pointer += text[i];
                continue;
            }
            auto hex_digit = [](char c) {
                if (c >= '0' && c <= '9') return c - '0';
                if (c >= 'a' && c <= 'f') return c - 'a' + 10;
                if (c >= 'A' && c <= 'F') return c - 'A' + 10;
                return -1;
            };
            int h = i + 2 < text.size() ? hex_digit(text[i + 1]) : -1;
            int l = i + 2 < text.size() ? hex_digit(text[i + 2]) : -1;
            if (h < 0 || l < 0) fail(pointer, "$ref " + json_string(text) + ": bad % escape");
            target_pointer += static_cast<char>(h * 16 + l);
            i += 2;
        }
        if (!target_pointer.empty() && target_pointer[0] != '/') {
            fail(pointer, "$ref " + json_string(text) +
                              ": anchors are not supported, only JSON pointers (#/...)");
        }
        auto known = refs_.find(target_pointer);
        if (known != refs_.end()) {
            if (kwargs_.count(target_pointer)) {
                fail(pointer,
                     "parameters that refer to themselves cannot be written as a Python "
                     "call's keyword arguments");
            }
            return known->second;
        }

        const JsonValue* target = &document_;
        std::string last = root_;
        for (size_t at = 1; at <= target_pointer.size() && !target_pointer.empty();) {
            size_t slash = target_pointer.find('/', at);
            if (slash == std::string::npos) slash = target_pointer.size();
            std::string token;
            for (size_t i = at; i < slash; ++i) {
                if (target_pointer[i] != '~') {
                    token += target_pointer[i];
                } else if (i + 1 < slash && target_pointer[i + 1] == '0') {
                    token += '~';
                    ++i;
                } else if (i + 1 < slash && target_pointer[i + 1] == '1') {
                    token += '/';
                    ++i;
                } else {
                    fail(pointer, "$ref " + json_string(text) + ": bad ~ escape");
                }
            }
            const JsonValue* next = nullptr;
            if (target->is_object()) {
                next = target->find(token);
            } else if (target->is_array() && !token.empty() &&
                       token.find_first_not_of("0123456789") == std::string::npos &&
                       token.size() < 10 && std::stoul(token) < target->items.size()) {
                next = &target->items[std::stoul(token)];
            }
            if (!next) fail(pointer, "$ref " + json_string(text) + " points at nothing");
            target = next;
            last = token;
            at = slash + 1;
        }
        std::string name = unique_name(last);
        refs_[target_pointer] = name;
        size_t slot = rules_.size();
        std::string body = body_of(*target, name, target_pointer);
        rules_.insert(rules_.begin() + static_cast<std::ptrdiff_t>(slot), {name, body});
        return name;
    }

    static bool python_identifier(const std::string& name) {
        if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
        return std::all_of(name.begin(), name.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
        });
    }

    const JsonValue& document_;
    bool python_ = false;
    std::set<std::string> kwargs_;
    std::string root_;                                        // the document's rule
    std::vector<std::pair<std::string, std::string>> rules_;  // name, body; in output order
    std::set<std::string> taken_;                             // rule names in use
    std::map<std::string, std::string> refs_;                 // JSON pointer -> its rule
    std::set<std::string> used_;                              // shared rules used
    std::map<std::string, int> next_suffix_;                  // name -> next "-N" to try
    int depth_ = 0;                                           // body_of calls under way
};

}  // namespace

std::string json_schema_to_gbnf(std::string_view schema) {
    return json_schema_to_gbnf_rules(schema, "root", "");
}

std::string json_schema_to_gbnf_rules(std::string_view schema, std::string_view rule,
                                      std::string_view root) {
    JsonValue document;
    try {
        document = parse_json(schema);
    } catch (const Error& e) {
        throw Error(std::string("json schema: ") + e.what());
    }
    std::string gbnf = std::string(root) + Converter(document, std::string(rule)).convert();
    // A schema that is a $ref to itself before any text ({"$ref": "#"}, or anyOf with itself
    // first) converts to a left-recursive rule, which the grammar engine refuses: say so here,
    // as a schema error, so that every GBNF this returns compiles.
    try {
        (void)Grammar::parse(gbnf);
    } catch (const Error& e) {
        const std::string reason = e.what();
        if (reason.find("left-recursive") != std::string::npos) {
            throw Error(
                "json schema: a schema that refers to itself before matching any text "
                "(a $ref to itself, or anyOf with itself first) cannot be used: " +
                reason);
        }
        throw Error("json schema: converts to a grammar ember cannot use: " + reason);
    }
    return gbnf;
}

namespace {

DefRules def_rules(std::string_view schema, const std::vector<std::string>& defs, bool python) {
    JsonValue document;
    try {
        document = parse_json(schema);
    } catch (const Error& e) {
        throw Error(std::string("json schema: ") + e.what());
    }
    // The document's own rule: any of the defs, each reached once from it.
    std::set<std::string> kwargs;
    std::string any = "{\"anyOf\": [";
    for (size_t i = 0; i < defs.size(); ++i) {
        if (python) kwargs.insert("/$defs/" + defs[i]);
        any += (i > 0 ? ", " : "") + std::string("{\"$ref\": \"#/$defs/") + defs[i] + "\"}";
    }
    JsonValue root = parse_json(any + "]}");
    if (const JsonValue* found = document.find("$defs")) {
        JsonValue all = *found;
        // Each def an object schema (its type said, for one that only lists properties).
        for (const std::string& def : python ? defs : std::vector<std::string>{}) {
            for (auto& [name, params] : all.members) {
                if (name != def) continue;
                const JsonValue* type = params.find("type");
                const bool plain = params.is_object() && !params.find("$ref") &&
                                   !params.find("anyOf") && !params.find("oneOf") &&
                                   !params.find("allOf") && !params.find("enum") &&
                                   !params.find("const");
                if (!plain || (type && (!type->is_string() || type->text != "object"))) {
                    throw Error("json schema: at /$defs/" + def +
                                ": the parameters of a Python call must be an object schema "
                                "(\"type\": \"object\", \"properties\")");
                }
                if (!type) params.members.emplace_back("type", parse_json("\"object\""));
            }
        }
        root.members.emplace_back("$defs", std::move(all));
    }
    Converter converter(root, "def-arguments", python, kwargs);
    DefRules out;
    out.rules = converter.convert();
    for (const std::string& def : defs) out.def_rules.push_back(converter.rule_of("/$defs/" + def));
    return out;
}

}  // namespace

DefRules json_schema_def_rules(std::string_view schema, const std::vector<std::string>& defs) {
    return def_rules(schema, defs, false);
}

DefRules json_schema_python_arguments(std::string_view schema,
                                      const std::vector<std::string>& defs) {
    return def_rules(schema, defs, true);
}

std::string json_object_gbnf() {
    std::string out = "root ::= object\n";
    render_primitives({"object"}, out);
    return out;
}

}  // namespace ember
