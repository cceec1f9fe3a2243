#include "engine/text/jinja/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "engine/text/jinja/syntax.h"
#include "engine/text/json.h"
#include "engine/text/unicode.h"
#include "engine/text/utf8.h"

namespace ember::jinja {

void Text::append(const Text& other) {
    const size_t offset = s.size();
    s += other.s;
    for (const TextRange& r : other.data) {
        TextRange shifted{r.begin + offset, r.end + offset};
        if (!data.empty() && data.back().end == shifted.begin) {
            data.back().end = shifted.end;  // adjacent data stays one range
        } else {
            data.push_back(shifted);
        }
    }
}

Text Text::substr(size_t begin, size_t end) const {
    Text out;
    end = std::min(end, s.size());
    if (begin >= end) return out;
    out.s = s.substr(begin, end - begin);
    for (const TextRange& r : data) {
        const size_t b = std::max(r.begin, begin), e = std::min(r.end, end);
        if (b < e) out.data.push_back({b - begin, e - begin});
    }
    return out;
}

void Text::mark_data_if(const Text& from) {
    if (from.has_data() && !s.empty()) data = {{0, s.size()}};
}

const Value* Dict::find(std::string_view key) const {
    for (const auto& [k, v] : items) {
        if (k == key) return &v;
    }
    return nullptr;
}

void Dict::set(const std::string& key, Value value) {
    for (auto& [k, v] : items) {
        if (k == key) {
            v = std::move(value);
            return;
        }
    }
    items.emplace_back(key, std::move(value));
}

Value Dict::key(const std::string& k) const {
    Text t{k, {}};
    if (data_keys && !k.empty()) t.data.push_back({0, k.size()});
    return Value::string(std::move(t));
}

Value Value::undefined(std::string hint) {
    Value v;
    v.name_ = std::move(hint);
    return v;
}
Value Value::none() {
    Value v;
    v.kind_ = Kind::None;
    return v;
}
Value Value::boolean(bool b) {
    Value v;
    v.kind_ = Kind::Bool;
    v.int_ = b ? 1 : 0;
    return v;
}
Value Value::integer(int64_t i) {
    Value v;
    v.kind_ = Kind::Int;
    v.int_ = i;
    return v;
}
Value Value::number(double f) {
    Value v;
    v.kind_ = Kind::Float;
    v.float_ = f;
    return v;
}
Value Value::string(std::string s) {
    return string(Text{std::move(s), {}});
}
Value Value::string(Text t) {
    Value v;
    v.kind_ = Kind::String;
    v.text_ = std::make_shared<const Text>(std::move(t));
    return v;
}
Value Value::markup(Text t) {
    Value v = string(std::move(t));
    v.markup_ = true;
    return v;
}
Value Value::list(std::vector<Value> items, bool tuple) {
    Value v;
    v.kind_ = Kind::List;
    v.tuple_ = tuple;
    v.list_ = std::make_shared<const std::vector<Value>>(std::move(items));
    return v;
}
Value Value::generator(std::vector<Value> items) {
    Value v = list(std::move(items));
    v.generator_ = true;
    return v;
}
Value Value::dict(Dict d) {
    Value v;
    v.kind_ = Kind::Dict;
    v.dict_ = std::make_shared<Dict>(std::move(d));
    return v;
}
Value Value::namespace_object(Dict d) {
    Value v = dict(std::move(d));
    v.kind_ = Kind::Namespace;
    return v;
}
Value Value::function(std::string name, Callable f) {
    Value v;
    v.kind_ = Kind::Function;
    v.name_ = std::move(name);
    v.function_ = std::make_shared<const Callable>(std::move(f));
    return v;
}

Value Value::from_json(const JsonValue& json, bool as_data) {
    switch (json.kind) {
        case JsonValue::Kind::Null:
            return none();
        case JsonValue::Kind::Bool:
            return boolean(json.boolean);
        case JsonValue::Kind::Number:
            if (json.is_integer()) {
                int64_t i = 0;
                const char* end = json.text.data() + json.text.size();
                const auto [ptr, ec] = std::from_chars(json.text.data(), end, i);
                if (ec == std::errc() && ptr == end) return integer(i);
            }
            return number(json.number);  // an integer beyond 64 bits becomes a float
        case JsonValue::Kind::String: {
            Text t{json.text, {}};
            if (as_data && !t.s.empty()) t.data.push_back({0, t.s.size()});
            return string(std::move(t));
        }
        case JsonValue::Kind::Array: {
            std::vector<Value> items;
            items.reserve(json.items.size());
            for (const JsonValue& item : json.items) items.push_back(from_json(item, as_data));
            return list(std::move(items));
        }
        case JsonValue::Kind::Object: {
            Dict d;
            d.data_keys = as_data;
            d.items.reserve(json.members.size());
            for (const auto& [key, value] : json.members) {
                d.items.emplace_back(key, from_json(value, as_data));
            }
            return dict(std::move(d));
        }
    }
    return none();
}

bool Value::truthy() const {
    switch (kind_) {
        case Kind::Undefined:
        case Kind::None:
            return false;
        case Kind::Bool:
        case Kind::Int:
            return int_ != 0;
        case Kind::Float:
            return float_ != 0.0;
        case Kind::String:
            return !text_->s.empty();
        case Kind::List:
            return generator_ || !list_->empty();
        case Kind::Dict:
            return !dict_->items.empty();
        case Kind::Namespace:
        case Kind::Function:
            return true;
    }
    return false;
}

const char* Value::type_name() const {
    switch (kind_) {
        case Kind::Undefined:
            return "Undefined";
        case Kind::None:
            return "NoneType";
        case Kind::Bool:
            return "bool";
        case Kind::Int:
            return "int";
        case Kind::Float:
            return "float";
        case Kind::String:
            return "str";
        case Kind::List:
            return generator_ ? "generator" : tuple_ ? "tuple" : "list";
        case Kind::Dict:
            return "dict";
        case Kind::Namespace:
            return "Namespace";
        case Kind::Function:
            return "function";
    }
    return "object";
}

bool equal(const Value& a, const Value& b) {
    if (a.is_number() && b.is_number()) {
        if (a.is_float() || b.is_float()) return a.as_double() == b.as_double();
        return a.as_int() == b.as_int();
    }
    if (a.kind() != b.kind()) return false;
    switch (a.kind()) {
        case Value::Kind::Undefined:
        case Value::Kind::None:
            return true;
        case Value::Kind::String:
            return a.str() == b.str();
        case Value::Kind::List: {
            if (a.is_generator() || b.is_generator() || a.is_tuple() != b.is_tuple()) {
                return &a.items() == &b.items();
            }
            if (a.items().size() != b.items().size()) return false;
            for (size_t i = 0; i < a.items().size(); ++i) {
                if (!equal(a.items()[i], b.items()[i])) return false;
            }
            return true;
        }
        case Value::Kind::Dict: {
            if (a.dict().items.size() != b.dict().items.size()) return false;
            for (const auto& [key, value] : a.dict().items) {
                const Value* other = b.dict().find(key);
                if (other == nullptr || !equal(value, *other)) return false;
            }
            return true;
        }
        case Value::Kind::Namespace:
            return &a.namespace_dict() == &b.namespace_dict();
        case Value::Kind::Function:
            return &a.call() == &b.call();
        default:
            return false;
    }
}

bool is_python_space(char32_t c) {
    // str.isspace: the White_Space property plus the information separators U+001C..U+001F.
    return (c >= 0x1c && c <= 0x1f) || unicode::is_white_space(c);
}

std::string float_repr(double f) {
    if (std::isnan(f)) return "nan";
    if (std::isinf(f)) return f < 0 ? "-inf" : "inf";
    if (f == 0.0) return std::signbit(f) ? "-0.0" : "0.0";
    // The shortest digits that read back as f, from to_chars' scientific form "d.ddde+XX".
    char buf[64];
    const auto result = std::to_chars(buf, buf + sizeof(buf), f, std::chars_format::scientific);
    const std::string sci(buf, result.ptr);
    const bool negative = sci[0] == '-';
    const size_t e_at = sci.find('e');
    std::string digits;
    for (size_t i = negative ? 1 : 0; i < e_at; ++i) {
        if (sci[i] != '.') digits += sci[i];
    }
    const int exponent = std::stoi(sci.substr(e_at + 1));
    std::string out = negative ? "-" : "";
    // CPython's repr: positional when -4 <= exponent < 16, else scientific.
    if (exponent >= -4 && exponent < 16) {
        const int point = exponent + 1;  // digits before the decimal point
        const int n = static_cast<int>(digits.size());
        if (point <= 0) {
            out += "0." + std::string(static_cast<size_t>(-point), '0') + digits;
        } else if (point >= n) {
            out += digits + std::string(static_cast<size_t>(point - n), '0') + ".0";
        } else {
            out += digits.substr(0, static_cast<size_t>(point)) + "." +
                   digits.substr(static_cast<size_t>(point));
        }
        return out;
    }
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char exp[16];
    std::snprintf(exp, sizeof(exp), "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    return out + exp;
}

namespace {

// Python's str.isprintable for one code point: not a control, format, surrogate, private,
// unassigned or separator character (the ASCII space excepted).
bool printable(char32_t c) {
    if (c == ' ') return true;
    using unicode::Category;
    switch (unicode::category(c)) {
        case Category::Cc:
        case Category::Cf:
        case Category::Cs:
        case Category::Co:
        case Category::Cn:
        case Category::Zs:
        case Category::Zl:
        case Category::Zp:
            return false;
        default:
            return true;
    }
}

std::string string_repr(std::string_view s) {
    const bool has_single = s.find('\'') != std::string_view::npos;
    const bool has_double = s.find('"') != std::string_view::npos;
    const char quote = has_single && !has_double ? '"' : '\'';
    std::string out(1, quote);
    for (const char32_t c : decode_utf8(s)) {
        if (c == static_cast<char32_t>(quote) || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c == '\t') {
            out += "\\t";
        } else if (!printable(c)) {
            char buf[16];
            if (c < 0x100) {
                std::snprintf(buf, sizeof(buf), "\\x%02x", static_cast<unsigned>(c));
            } else if (c < 0x10000) {
                std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(c));
            } else {
                std::snprintf(buf, sizeof(buf), "\\U%08x", static_cast<unsigned>(c));
            }
            out += buf;
        } else {
            append_utf8(out, c);
        }
    }
    return out + quote;
}

bool contains_data(const Value& v) {
    switch (v.kind()) {
        case Value::Kind::String:
            return v.text().has_data();
        case Value::Kind::List:
            return std::any_of(v.items().begin(), v.items().end(), contains_data);
        case Value::Kind::Dict:
        case Value::Kind::Namespace:
            for (const auto& [key, value] :
                 v.is_dict() ? v.dict().items : v.namespace_dict().items) {
                if (contains_data(value)) return true;
            }
            return false;
        default:
            return false;
    }
}

void append_repr(std::string& out, const Value& v) {
    switch (v.kind()) {
        case Value::Kind::Undefined:
            out += "Undefined";
            return;
        case Value::Kind::None:
            out += "None";
            return;
        case Value::Kind::Bool:
            out += v.as_bool() ? "True" : "False";
            return;
        case Value::Kind::Int:
            out += std::to_string(v.as_int());
            return;
        case Value::Kind::Float:
            out += float_repr(v.as_double());
            return;
        case Value::Kind::String:
            out += string_repr(v.str());
            return;
        case Value::Kind::List: {
            if (v.is_generator()) {
                out += "<generator object>";
                return;
            }
            out += v.is_tuple() ? '(' : '[';
            for (size_t i = 0; i < v.items().size(); ++i) {
                if (i > 0) out += ", ";
                append_repr(out, v.items()[i]);
            }
            if (v.is_tuple() && v.items().size() == 1) out += ',';
            out += v.is_tuple() ? ')' : ']';
            return;
        }
        case Value::Kind::Dict:
        case Value::Kind::Namespace: {
            const Dict& d = v.is_dict() ? v.dict() : v.namespace_dict();
            if (v.is_namespace()) out += "<Namespace ";
            out += '{';
            for (size_t i = 0; i < d.items.size(); ++i) {
                if (i > 0) out += ", ";
                out += string_repr(d.items[i].first) + ": ";
                append_repr(out, d.items[i].second);
            }
            out += '}';
            if (v.is_namespace()) out += '>';
            return;
        }
        case Value::Kind::Function:
            out += "<function " + v.name() + ">";
            return;
    }
}

}  // namespace

std::string repr(const Value& v) {
    std::string out;
    append_repr(out, v);
    return out;
}

Text to_str(const Value& v) {
    switch (v.kind()) {
        case Value::Kind::Undefined:
            return {};
        case Value::Kind::String:
            return v.text();
        default: {
            Text out{repr(v), {}};
            if (contains_data(v) && !out.s.empty()) out.data = {{0, out.s.size()}};
            return out;
        }
    }
}

namespace {

void append_json(std::string& out, const Value& v, const JsonStyle& style, int depth) {
    const auto newline = [&](int level) {
        if (style.indent < 0) return;
        out += '\n';
        out.append(static_cast<size_t>(style.indent * level), ' ');
    };
    const std::string item_sep = style.custom_separators ? style.item_separator
                                 : style.indent < 0      ? ", "
                                                         : ",";
    const std::string key_sep = style.custom_separators ? style.key_separator : ": ";
    if (depth > 512) throw TemplateError(TemplateError::Kind::Runtime, "tojson: nesting too deep");
    switch (v.kind()) {
        case Value::Kind::None:
            out += "null";
            return;
        case Value::Kind::Bool:
            out += v.as_bool() ? "true" : "false";
            return;
        case Value::Kind::Int:
            out += std::to_string(v.as_int());
            return;
        case Value::Kind::Float: {
            const double f = v.as_double();
            if (std::isnan(f)) {
                out += "NaN";
            } else if (std::isinf(f)) {
                out += f < 0 ? "-Infinity" : "Infinity";
            } else {
                out += float_repr(f);
            }
            return;
        }
        case Value::Kind::String:
            append_json_string(out, v.str());
            return;
        case Value::Kind::List: {
            if (v.is_generator()) break;
            if (v.items().empty()) {
                out += "[]";
                return;
            }
            out += '[';
            for (size_t i = 0; i < v.items().size(); ++i) {
                if (i > 0) out += item_sep;
                newline(depth + 1);
                append_json(out, v.items()[i], style, depth + 1);
            }
            newline(depth);
            out += ']';
            return;
        }
        case Value::Kind::Dict: {
            std::vector<const std::pair<std::string, Value>*> members;
            for (const auto& member : v.dict().items) members.push_back(&member);
            if (style.sort_keys) {
                std::stable_sort(members.begin(), members.end(),
                                 [](const auto* a, const auto* b) { return a->first < b->first; });
            }
            if (members.empty()) {
                out += "{}";
                return;
            }
            out += '{';
            for (size_t i = 0; i < members.size(); ++i) {
                if (i > 0) out += item_sep;
                newline(depth + 1);
                append_json_string(out, members[i]->first);
                out += key_sep;
                append_json(out, members[i]->second, style, depth + 1);
            }
            newline(depth);
            out += '}';
            return;
        }
        default:
            break;
    }
    throw TemplateError(
        TemplateError::Kind::Runtime,
        std::string("Object of type ") + v.type_name() + " is not JSON serializable");
}

}  // namespace

Text to_json(const Value& v, const JsonStyle& style) {
    Text out;
    append_json(out.s, v, style, 0);
    if (contains_data(v) && !out.s.empty()) out.data = {{0, out.s.size()}};
    return out;
}

}  // namespace ember::jinja
