// Filters follow jinja2/filters.py and tests jinja2/tests.py (jinja2 3.1, BSD-3-Clause); methods
// and operators follow CPython 3.11's str, list and dict; the sandbox's refusals follow
// jinja2/sandbox.py (ImmutableSandboxedEnvironment: no method that changes a list or a dict).
#include "engine/text/jinja/builtins.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>

#include "engine/text/unicode.h"
#include "engine/text/utf8.h"

namespace ember::jinja {

void fail(const std::string& message) {
    throw TemplateError(TemplateError::Kind::Runtime, message);
}

void check_size(size_t bytes, size_t max_text) {
    if (max_text != 0 && bytes > max_text) {
        throw TemplateError(TemplateError::Kind::Limit,
                            "the template made a string longer than the limit (" +
                                std::to_string(max_text) + " bytes)");
    }
}

Value Args::get(size_t index, std::string_view name, Value fallback) const {
    if (index < positional.size()) return positional[index];
    for (const auto& [key, value] : keyword) {
        if (key == name) return value;
    }
    return fallback;
}

bool Args::has(size_t index, std::string_view name) const {
    if (index < positional.size()) return true;
    for (const auto& [key, value] : keyword) {
        if (key == name) return true;
    }
    return false;
}

namespace {

// ---- strings, by code point ----

// One code point at s[i]: its length in bytes (an invalid byte counts as one character, as
// decode_utf8 reads it).
size_t char_at(std::string_view s, size_t i, char32_t* cp) {
    const auto lead = static_cast<uint8_t>(s[i]);
    const size_t len = utf8_sequence_length(lead);
    if (len == 1 || i + len > s.size()) {
        *cp = lead < 0x80 ? lead : 0xfffd;
        return 1;
    }
    char32_t c = lead & (0xff >> (len + 1));
    for (size_t k = 1; k < len; ++k) {
        const auto b = static_cast<uint8_t>(s[i + k]);
        if ((b & 0xc0) != 0x80) {
            *cp = 0xfffd;
            return 1;
        }
        c = (c << 6) | (b & 0x3f);
    }
    *cp = c;
    return len;
}

// Byte offsets where each character starts, and s.size() at the end.
std::vector<size_t> char_starts(std::string_view s) {
    std::vector<size_t> starts;
    starts.reserve(s.size() + 1);
    char32_t cp;
    for (size_t i = 0; i < s.size(); i += char_at(s, i, &cp)) starts.push_back(i);
    starts.push_back(s.size());
    return starts;
}

Value str_value(Text t) {
    return Value::string(std::move(t));
}

// strip/lstrip/rstrip: Python's white space, or the characters of `chars`.
Text strip(const Text& t, const Value& chars, bool left, bool right) {
    std::vector<char32_t> set;
    const bool custom = chars.is_string();
    if (custom) set = decode_utf8(chars.str());
    const auto strippable = [&](char32_t c) {
        return custom ? std::find(set.begin(), set.end(), c) != set.end() : is_python_space(c);
    };
    const std::string& s = t.s;
    size_t begin = 0, end = s.size();
    char32_t cp;
    if (left) {
        while (begin < end) {
            const size_t len = char_at(s, begin, &cp);
            if (!strippable(cp)) break;
            begin += len;
        }
    }
    if (right) {
        while (end > begin) {
            size_t start = end - 1;
            while (start > begin && (static_cast<uint8_t>(s[start]) & 0xc0) == 0x80) --start;
            char_at(s, start, &cp);
            if (start + char_at(s, start, &cp) != end) start = end - 1;  // an invalid tail byte
            char_at(s, start, &cp);
            if (!strippable(cp)) break;
            end = start;
        }
    }
    return t.substr(begin, end);
}

Value split(const Text& t, const Value& sep, int64_t maxsplit, bool from_right) {
    std::vector<Value> parts;
    const std::string& s = t.s;
    if (sep.is_none() || sep.is_undefined()) {
        // Runs of white space separate; none at the ends.
        std::vector<std::pair<size_t, size_t>> words;
        const std::vector<size_t> starts = char_starts(s);
        size_t i = 0;
        const auto space_at = [&](size_t k) {
            char32_t cp;
            char_at(s, starts[k], &cp);
            return is_python_space(cp);
        };
        const size_t n = starts.size() - 1;
        if (!from_right) {
            while (i < n) {
                while (i < n && space_at(i)) ++i;
                if (i == n) break;
                if (maxsplit >= 0 && static_cast<int64_t>(words.size()) == maxsplit) {
                    size_t end = n;
                    while (end > i && space_at(end - 1)) --end;
                    words.emplace_back(starts[i], starts[end]);
                    break;
                }
                const size_t begin = i;
                while (i < n && !space_at(i)) ++i;
                words.emplace_back(starts[begin], starts[i]);
            }
        } else {
            size_t j = n;
            while (j > 0) {
                while (j > 0 && space_at(j - 1)) --j;
                if (j == 0) break;
                if (maxsplit >= 0 && static_cast<int64_t>(words.size()) == maxsplit) {
                    size_t begin = 0;
                    while (begin < j && space_at(begin)) ++begin;
                    words.emplace_back(starts[begin], starts[j]);
                    break;
                }
                const size_t end = j;
                while (j > 0 && !space_at(j - 1)) --j;
                words.emplace_back(starts[j], starts[end]);
            }
            std::reverse(words.begin(), words.end());
        }
        for (const auto& [b, e] : words) parts.push_back(str_value(t.substr(b, e)));
        return Value::list(std::move(parts));
    }
    if (!sep.is_string()) fail(std::string("must be str or None, not ") + sep.type_name());
    const std::string& d = sep.str();
    if (d.empty()) fail("empty separator");
    std::vector<std::pair<size_t, size_t>> pieces;
    if (!from_right) {
        size_t begin = 0;
        while (true) {
            const size_t at = (maxsplit >= 0 && static_cast<int64_t>(pieces.size()) >= maxsplit)
                                  ? std::string::npos
                                  : s.find(d, begin);
            if (at == std::string::npos) {
                pieces.emplace_back(begin, s.size());
                break;
            }
            pieces.emplace_back(begin, at);
            begin = at + d.size();
        }
    } else {
        size_t end = s.size();
        while (true) {
            const size_t at =
                (maxsplit >= 0 && static_cast<int64_t>(pieces.size()) >= maxsplit) || end < d.size()
                    ? std::string::npos
                    : s.rfind(d, end - d.size());
            if (at == std::string::npos) {
                pieces.emplace_back(0, end);
                break;
            }
            pieces.emplace_back(at + d.size(), end);
            end = at;
        }
        std::reverse(pieces.begin(), pieces.end());
    }
    for (const auto& [b, e] : pieces) parts.push_back(str_value(t.substr(b, e)));
    return Value::list(std::move(parts));
}

Text replace(const Text& t, const std::string& old, const Text& with, int64_t count,
             size_t max_text) {
    Text out;
    const std::string& s = t.s;
    size_t begin = 0;
    int64_t done = 0;
    if (old.empty()) {
        // Python inserts `with` before every character and at the end.
        const std::vector<size_t> starts = char_starts(s);
        for (size_t k = 0; k + 1 < starts.size(); ++k) {
            if (count < 0 || done < count) {
                out.append(with);
                ++done;
            }
            out.append(t.substr(starts[k], starts[k + 1]));
            check_size(out.s.size(), max_text);
        }
        if (count < 0 || done < count) out.append(with);
        return out;
    }
    while (count < 0 || done < count) {
        const size_t at = s.find(old, begin);
        if (at == std::string::npos) break;
        out.append(t.substr(begin, at));
        out.append(with);
        check_size(out.s.size(), max_text);
        begin = at + old.size();
        ++done;
    }
    out.append(t.substr(begin, s.size()));
    return out;
}

char32_t upper(char32_t c) {
    // ASCII and Latin-1 letters; other scripts keep their case (no template upper-cases them).
    if ((c >= 'a' && c <= 'z') || (c >= 0xe0 && c <= 0xfe && c != 0xf7)) return c - 32;
    return c;
}

// Maps each character (upper/lower/title/capitalize); the result is data when t had any.
template <typename F>
Text map_chars(const Text& t, F f) {
    Text out;
    size_t index = 0;
    char32_t cp, prev = 0;
    for (size_t i = 0; i < t.s.size(); ++index) {
        const size_t len = char_at(t.s, i, &cp);
        append_utf8(out.s, f(cp, index, prev));
        prev = cp;
        i += len;
    }
    out.mark_data_if(t);
    return out;
}

bool cased(char32_t c) {
    return unicode::is_letter(c);
}

// markupsafe.escape: & < > " ' as entities.
Text html_escape(const Text& t) {
    Text out;
    for (const char c : t.s) {
        switch (c) {
            case '&':
                out.s += "&amp;";
                break;
            case '<':
                out.s += "&lt;";
                break;
            case '>':
                out.s += "&gt;";
                break;
            case '"':
                out.s += "&#34;";
                break;
            case '\'':
                out.s += "&#39;";
                break;
            default:
                out.s += c;
        }
    }
    out.mark_data_if(t);
    return out;
}

// ---- Python % formatting and str.format (the few forms templates use) ----

Text percent_format(const Text& format, const Value& args, size_t max_text) {
    std::vector<Value> values = args.is_tuple() ? args.items() : std::vector<Value>{args};
    Text out;
    size_t next = 0;
    const std::string& f = format.s;
    size_t literal = 0;
    for (size_t i = 0; i < f.size(); ++i) {
        if (f[i] != '%') continue;
        out.append(format.substr(literal, i));
        size_t j = i + 1;
        int precision = -1;
        if (j < f.size() && f[j] == '.') {
            precision = 0;
            while (++j < f.size() && std::isdigit(static_cast<unsigned char>(f[j]))) {
                precision = precision * 10 + (f[j] - '0');
                if (precision > 100) fail("format precision too large");
            }
        }
        if (j >= f.size()) fail("incomplete format");
        const char conv = f[j];
        if (conv == '%') {
            out.append("%");
        } else {
            if (next >= values.size()) fail("not enough arguments for format string");
            const Value& v = values[next++];
            if (conv == 's') {
                out.append(to_str(v));
            } else if (conv == 'r') {
                out.append(repr(v));
            } else if (conv == 'd' || conv == 'i') {
                if (!v.is_number())
                    fail(std::string("%d format: a real number is required, not ") + v.type_name());
                if (v.is_float() && !(std::fabs(v.as_double()) < 9.2e18))
                    fail("%d format: number out of range");
                out.append(std::to_string(v.is_float() ? static_cast<int64_t>(v.as_double())
                                                       : v.as_int()));
            } else if (conv == 'f') {
                if (!v.is_number()) fail(std::string("must be real number, not ") + v.type_name());
                char buf[160];
                std::snprintf(buf, sizeof(buf), "%.*f", precision < 0 ? 6 : precision,
                              v.as_double());
                out.append(buf);
            } else {
                fail(std::string("unsupported format character '") + conv + "'");
            }
        }
        check_size(out.s.size(), max_text);
        i = j;
        literal = j + 1;
    }
    out.append(format.substr(literal, f.size()));
    if (next < values.size() && !(values.size() == 1 && values[0].is_dict())) {
        fail("not all arguments converted during string formatting");
    }
    return out;
}

Text str_format(const Text& format, const Args& args) {
    Text out;
    const std::string& f = format.s;
    size_t auto_index = 0, literal = 0;
    for (size_t i = 0; i < f.size(); ++i) {
        if (f[i] != '{' && f[i] != '}') continue;
        out.append(format.substr(literal, i));
        if (i + 1 < f.size() && f[i + 1] == f[i]) {
            out.append(std::string(1, f[i]));
            literal = ++i + 1;
            continue;
        }
        if (f[i] == '}') fail("Single '}' encountered in format string");
        const size_t close = f.find('}', i);
        if (close == std::string::npos) fail("Single '{' encountered in format string");
        const std::string field = f.substr(i + 1, close - i - 1);
        if (field.find_first_of(":!.[") != std::string::npos)
            fail("format specifications are not supported");
        Value v;
        if (field.empty()) {
            if (auto_index >= args.positional.size()) fail("Replacement index out of range");
            v = args.positional[auto_index++];
        } else if (std::isdigit(static_cast<unsigned char>(field[0]))) {
            if (field.size() > 9 || !std::all_of(field.begin(), field.end(),
                                                 [](char c) { return c >= '0' && c <= '9'; })) {
                fail("Replacement index out of range");
            }
            const size_t index = std::stoul(field);
            if (index >= args.positional.size()) fail("Replacement index out of range");
            v = args.positional[index];
        } else {
            if (!args.has(SIZE_MAX, field)) fail("KeyError: '" + field + "'");
            v = args.get(SIZE_MAX, field);
        }
        out.append(to_str(v));
        check_size(out.s.size(), args.max_text);
        i = close;
        literal = close + 1;
    }
    out.append(format.substr(literal, f.size()));
    return out;
}

// ---- methods ----

[[noreturn]] void unsafe(const std::string& name, const Value& obj) {
    throw TemplateError(TemplateError::Kind::Runtime, "access to attribute '" + name + "' of '" +
                                                          obj.type_name() + "' object is unsafe.");
}

Value bound(const std::string& name, std::function<Value(Args&)> f) {
    return Value::function(name, std::move(f));
}

bool starts_or_ends(const std::string& s, const Value& what, bool ends) {
    const auto one = [&](const Value& v) {
        if (!v.is_string())
            fail(std::string(ends ? "endswith" : "startswith") +
                 " first arg must be str or a tuple of str, not " + v.type_name());
        const std::string& p = v.str();
        return p.size() <= s.size() && (ends ? s.compare(s.size() - p.size(), p.size(), p) == 0
                                             : s.compare(0, p.size(), p) == 0);
    };
    if (what.is_tuple()) {
        return std::any_of(what.items().begin(), what.items().end(), one);
    }
    return one(what);
}

Value string_method(const Value& obj, const std::string& name) {
    const Text t = obj.text();
    if (name == "strip" || name == "lstrip" || name == "rstrip") {
        return bound(name, [t, name](Args& a) {
            return str_value(strip(t, a.get(0, "chars"), name != "rstrip", name != "lstrip"));
        });
    }
    if (name == "split" || name == "rsplit") {
        return bound(name, [t, name](Args& a) {
            const Value maxsplit = a.get(1, "maxsplit", Value::integer(-1));
            return split(t, a.get(0, "sep"), maxsplit.as_int(), name == "rsplit");
        });
    }
    if (name == "startswith" || name == "endswith") {
        return bound(name, [t, name](Args& a) {
            return Value::boolean(starts_or_ends(t.s, a.get(0, "prefix"), name == "endswith"));
        });
    }
    if (name == "replace") {
        return bound(name, [t](Args& a) {
            const Value old = a.get(0, "old"), with = a.get(1, "new");
            if (!old.is_string() || !with.is_string()) fail("replace() arguments must be str");
            return str_value(replace(t, old.str(), with.text(),
                                     a.get(2, "count", Value::integer(-1)).as_int(), a.max_text));
        });
    }
    if (name == "upper" || name == "lower" || name == "title" || name == "capitalize") {
        return bound(name, [t, name](Args&) {
            if (name == "upper")
                return str_value(
                    map_chars(t, [](char32_t c, size_t, char32_t) { return upper(c); }));
            if (name == "lower")
                return str_value(map_chars(
                    t, [](char32_t c, size_t, char32_t) { return unicode::to_lower(c); }));
            if (name == "capitalize") {
                return str_value(map_chars(t, [](char32_t c, size_t i, char32_t) {
                    return i == 0 ? upper(c) : unicode::to_lower(c);
                }));
            }
            return str_value(map_chars(t, [](char32_t c, size_t, char32_t prev) {
                return cased(prev) ? unicode::to_lower(c) : upper(c);
            }));
        });
    }
    if (name == "find" || name == "rfind" || name == "count" || name == "index") {
        return bound(name, [t, name](Args& a) {
            const Value sub = a.get(0, "sub");
            if (!sub.is_string()) fail("must be str, not " + std::string(sub.type_name()));
            const std::string& s = t.s;
            if (name == "count") {
                if (sub.str().empty())
                    return Value::integer(static_cast<int64_t>(char_count(s) + 1));
                int64_t n = 0;
                for (size_t at = s.find(sub.str()); at != std::string::npos;
                     at = s.find(sub.str(), at + sub.str().size()))
                    ++n;
                return Value::integer(n);
            }
            const size_t at = name == "rfind" ? s.rfind(sub.str()) : s.find(sub.str());
            if (at == std::string::npos) {
                if (name == "index") fail("substring not found");
                return Value::integer(-1);
            }
            return Value::integer(
                static_cast<int64_t>(char_count(std::string_view(s).substr(0, at))));
        });
    }
    if (name == "join") {
        return bound(name, [t](Args& a) {
            Text out;
            bool first = true;
            for (const Value& item : iterate(a.get(0, "iterable"))) {
                if (!item.is_string())
                    fail(std::string("sequence item: expected str instance, ") + item.type_name() +
                         " found");
                if (!first) out.append(t);
                first = false;
                out.append(item.text());
                check_size(out.s.size(), a.max_text);
            }
            return str_value(std::move(out));
        });
    }
    if (name == "format") {
        return bound(name, [t](Args& a) { return str_value(str_format(t, a)); });
    }
    if (name == "splitlines") {
        return bound(name, [t](Args&) {
            std::vector<Value> lines;
            size_t begin = 0;
            const std::string& s = t.s;
            for (size_t i = 0; i < s.size(); ++i) {
                if (s[i] == '\n' || s[i] == '\r') {
                    lines.push_back(str_value(t.substr(begin, i)));
                    if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
                    begin = i + 1;
                }
            }
            if (begin < s.size()) lines.push_back(str_value(t.substr(begin, s.size())));
            return Value::list(std::move(lines));
        });
    }
    if (name == "isdigit" || name == "isalpha" || name == "isalnum" || name == "isspace" ||
        name == "islower" || name == "isupper") {
        return bound(name, [t, name](Args&) {
            const std::vector<char32_t> cps = decode_utf8(t.s);
            if (cps.empty()) return Value::boolean(false);
            bool all = true, any_cased = false;
            for (const char32_t c : cps) {
                if (name == "isdigit") all = all && c >= '0' && c <= '9';
                if (name == "isalpha") all = all && unicode::is_letter(c);
                if (name == "isalnum")
                    all = all && (unicode::is_letter(c) || unicode::is_number(c));
                if (name == "isspace") all = all && is_python_space(c);
                if (name == "islower" || name == "isupper") {
                    const bool lower = unicode::to_lower(c) == c, is_upper = upper(c) == c;
                    if (lower != is_upper) any_cased = true;
                    if (name == "islower" && !lower) all = false;
                    if (name == "isupper" && lower && !is_upper) all = false;
                }
            }
            return Value::boolean(name == "islower" || name == "isupper" ? all && any_cased : all);
        });
    }
    return Value::undefined("'str object' has no attribute '" + name + "'");
}

Value dict_method(const Value& obj, const std::string& name) {
    if (name == "items" || name == "keys" || name == "values") {
        return bound(name, [obj, name](Args&) {
            std::vector<Value> out;
            for (const auto& [k, v] : obj.dict().items) {
                if (name == "items") out.push_back(Value::list({obj.dict().key(k), v}, true));
                if (name == "keys") out.push_back(obj.dict().key(k));
                if (name == "values") out.push_back(v);
            }
            return Value::list(std::move(out));
        });
    }
    if (name == "get") {
        return bound(name, [obj](Args& a) {
            const Value key = a.get(0, "key");
            if (key.is_string()) {
                if (const Value* v = obj.dict().find(key.str())) return *v;
            }
            return a.get(1, "default");
        });
    }
    if (name == "copy") return bound(name, [obj](Args&) { return Value::dict(obj.dict()); });
    if (name == "update" || name == "pop" || name == "popitem" || name == "clear" ||
        name == "setdefault") {
        return bound(name, [obj, name](Args&) -> Value { unsafe(name, obj); });
    }
    return Value();
}

Value list_method(const Value& obj, const std::string& name) {
    if (name == "index" || name == "count") {
        return bound(name, [obj, name](Args& a) {
            const Value x = a.get(0, "value");
            int64_t n = 0;
            for (size_t i = 0; i < obj.items().size(); ++i) {
                if (equal(obj.items()[i], x)) {
                    if (name == "index") return Value::integer(static_cast<int64_t>(i));
                    ++n;
                }
            }
            if (name == "index") fail(repr(x) + " is not in list");
            return Value::integer(n);
        });
    }
    if (name == "append" || name == "extend" || name == "insert" || name == "pop" ||
        name == "remove" || name == "clear" || name == "sort" || name == "reverse") {
        return bound(name, [obj, name](Args&) -> Value { unsafe(name, obj); });
    }
    return Value();
}

}  // namespace

size_t char_count(std::string_view s) {
    return char_starts(s).size() - 1;
}

Value get_attribute(const Value& obj, const std::string& name) {
    switch (obj.kind()) {
        case Value::Kind::Undefined:
            fail(obj.name().empty() ? "'" + name + "' of an undefined value" : obj.name());
        case Value::Kind::String:
            return string_method(obj, name);
        case Value::Kind::Dict: {
            Value method = dict_method(obj, name);
            if (!method.is_undefined()) return method;
            if (const Value* v = obj.dict().find(name)) return *v;
            return Value::undefined("'dict object' has no attribute '" + name + "'");
        }
        case Value::Kind::Namespace:
            if (const Value* v = obj.namespace_dict().find(name)) return *v;
            return Value::undefined("'Namespace object' has no attribute '" + name + "'");
        case Value::Kind::List: {
            Value method = list_method(obj, name);
            if (!method.is_undefined()) return method;
            break;
        }
        default:
            break;
    }
    return Value::undefined("'" + std::string(obj.type_name()) + " object' has no attribute '" +
                            name + "'");
}

namespace {

// A Python index into a sequence of n (negative from the end); false when out of range.
bool python_index(const Value& key, size_t n, size_t* index) {
    if (!key.is_int() && !key.is_bool()) return false;
    int64_t i = key.as_int();
    if (i < 0) i += static_cast<int64_t>(n);
    if (i < 0 || i >= static_cast<int64_t>(n)) return false;
    *index = static_cast<size_t>(i);
    return true;
}

}  // namespace

Value get_item(const Value& obj, const Value& key) {
    switch (obj.kind()) {
        case Value::Kind::Undefined:
            fail(obj.name().empty() ? "an undefined value has no item " + repr(key) : obj.name());
        case Value::Kind::Dict:
            if (key.is_string()) {
                if (const Value* v = obj.dict().find(key.str())) return *v;
                return get_attribute(obj, key.str());
            }
            return Value::undefined("'dict object' has no attribute " + repr(key));
        case Value::Kind::Namespace:
            if (key.is_string()) return get_attribute(obj, key.str());
            break;
        case Value::Kind::List: {
            if (obj.is_generator()) break;
            size_t i;
            if (python_index(key, obj.items().size(), &i)) return obj.items()[i];
            if (key.is_string()) return get_attribute(obj, key.str());
            return Value::undefined(std::string("'") + obj.type_name() +
                                    " object' has no element " + repr(key));
        }
        case Value::Kind::String: {
            const std::vector<size_t> starts = char_starts(obj.str());
            size_t i;
            if (python_index(key, starts.size() - 1, &i))
                return str_value(obj.text().substr(starts[i], starts[i + 1]));
            if (key.is_string()) return get_attribute(obj, key.str());
            return Value::undefined("'str object' has no element " + repr(key));
        }
        default:
            break;
    }
    if (key.is_string()) return get_attribute(obj, key.str());
    return Value::undefined(std::string("'") + obj.type_name() + " object' has no element " +
                            repr(key));
}

Value get_slice(const Value& obj, const Value& start_v, const Value& stop_v, const Value& step_v) {
    const auto bound_of = [](const Value& v, const char* what) -> std::optional<int64_t> {
        if (v.is_none() || v.is_undefined()) return std::nullopt;
        if (!v.is_int() && !v.is_bool())
            fail(std::string("slice ") + what + " must be an integer or None");
        return v.as_int();
    };
    const int64_t step = bound_of(step_v, "step").value_or(1);
    if (step == 0) fail("slice step cannot be zero");
    std::vector<size_t> starts;
    int64_t n;
    if (obj.is_string()) {
        starts = char_starts(obj.str());
        n = static_cast<int64_t>(starts.size()) - 1;
    } else if (obj.is_list() && !obj.is_generator()) {
        n = static_cast<int64_t>(obj.items().size());
    } else if (obj.is_undefined()) {
        fail(obj.name().empty() ? "an undefined value cannot be sliced" : obj.name());
    } else {
        fail(std::string("'") + obj.type_name() + "' object is not subscriptable");
    }
    // Python's slice.indices().
    const auto clamp = [&](std::optional<int64_t> v, int64_t fallback) {
        if (!v) return fallback;
        int64_t i = *v;
        if (i < 0)
            i = std::max<int64_t>(i + n, step < 0 ? -1 : 0);
        else
            i = std::min<int64_t>(i, step < 0 ? n - 1 : n);
        return i;
    };
    const int64_t start = clamp(bound_of(start_v, "start"), step < 0 ? n - 1 : 0);
    const int64_t stop = clamp(bound_of(stop_v, "stop"), step < 0 ? -1 : n);
    std::vector<int64_t> picks;
    for (int64_t i = start; step > 0 ? i < stop : i > stop;) {
        picks.push_back(i);
        if (__builtin_add_overflow(i, step, &i)) break;  // a step past the end of int64
    }
    if (obj.is_string()) {
        if (step == 1) {
            return str_value(obj.text().substr(starts[static_cast<size_t>(start)],
                                               starts[static_cast<size_t>(std::max(start, stop))]));
        }
        Text out;
        for (const int64_t i : picks)
            out.append(obj.text().substr(starts[static_cast<size_t>(i)],
                                         starts[static_cast<size_t>(i) + 1]));
        return str_value(std::move(out));
    }
    std::vector<Value> items;
    for (const int64_t i : picks) items.push_back(obj.items()[static_cast<size_t>(i)]);
    return Value::list(std::move(items), obj.is_tuple());
}

std::vector<Value> iterate(const Value& v) {
    switch (v.kind()) {
        case Value::Kind::Undefined:
            return {};
        case Value::Kind::List:
            return v.items();
        case Value::Kind::Dict: {
            std::vector<Value> keys;
            for (const auto& [k, value] : v.dict().items) keys.push_back(v.dict().key(k));
            return keys;
        }
        case Value::Kind::String: {
            std::vector<Value> chars;
            const std::vector<size_t> starts = char_starts(v.str());
            for (size_t i = 0; i + 1 < starts.size(); ++i)
                chars.push_back(str_value(v.text().substr(starts[i], starts[i + 1])));
            return chars;
        }
        default:
            fail(std::string("'") + v.type_name() + "' object is not iterable");
    }
}

bool less_than(const Value& a, const Value& b) {
    if (a.is_number() && b.is_number()) {
        if (a.is_float() || b.is_float()) return a.as_double() < b.as_double();
        return a.as_int() < b.as_int();
    }
    if (a.is_string() && b.is_string())
        return a.str() < b.str();  // UTF-8 bytes sort as code points
    if (a.is_list() && b.is_list() && !a.is_generator() && !b.is_generator() &&
        a.is_tuple() == b.is_tuple()) {
        const auto& x = a.items();
        const auto& y = b.items();
        for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
            if (!equal(x[i], y[i])) return less_than(x[i], y[i]);
        }
        return x.size() < y.size();
    }
    if (a.is_undefined() || b.is_undefined()) fail("an undefined value cannot be compared");
    fail(std::string("'<' not supported between instances of '") + a.type_name() + "' and '" +
         b.type_name() + "'");
}

namespace {

// a op b on 64-bit integers; Python's are unbounded, so an overflow is an error here.
template <typename Op>
int64_t checked(int64_t a, int64_t b, Op op) {
    int64_t r = 0;
    if (op(a, b, &r)) fail("integer overflow");
    return r;
}
bool add(int64_t a, int64_t b, int64_t* r) {
    return __builtin_add_overflow(a, b, r);
}
bool sub(int64_t a, int64_t b, int64_t* r) {
    return __builtin_sub_overflow(a, b, r);
}
bool mul(int64_t a, int64_t b, int64_t* r) {
    return __builtin_mul_overflow(a, b, r);
}

double python_mod(double a, double b) {
    double r = std::fmod(a, b);
    if (r != 0 && ((r < 0) != (b < 0))) r += b;
    return r;
}

}  // namespace

Value binary_op(const std::string& op, const Value& a, const Value& b, size_t max_text) {
    if (op == "==") return Value::boolean(equal(a, b));
    if (op == "!=") return Value::boolean(!equal(a, b));
    if (op == "<") return Value::boolean(less_than(a, b));
    if (op == ">") return Value::boolean(less_than(b, a));
    if (op == "<=") return Value::boolean(less_than(a, b) || (equal(a, b) && !a.is_undefined()));
    if (op == ">=") return Value::boolean(less_than(b, a) || (equal(a, b) && !a.is_undefined()));
    if (op == "in" || op == "not in") {
        bool found = false;
        if (b.is_string()) {
            if (!a.is_string())
                fail(std::string("'in <string>' requires string as left operand, not ") +
                     a.type_name());
            found = b.str().find(a.str()) != std::string::npos;
        } else if (b.is_dict()) {
            found = a.is_string() && b.dict().find(a.str()) != nullptr;
        } else if (b.is_list()) {
            found = std::any_of(b.items().begin(), b.items().end(),
                                [&](const Value& x) { return equal(x, a); });
        } else if (!b.is_undefined()) {
            fail(std::string("argument of type '") + b.type_name() + "' is not iterable");
        }
        return Value::boolean(op == "in" ? found : !found);
    }
    if (op == "~") {
        Text t = to_str(a);
        t.append(to_str(b));
        check_size(t.s.size(), max_text);
        return str_value(std::move(t));
    }
    if (a.is_undefined() || b.is_undefined()) {
        const Value& u = a.is_undefined() ? a : b;
        fail(u.name().empty() ? "an undefined value cannot be used with '" + op + "'" : u.name());
    }
    const auto type_error = [&]() -> Value {
        fail(std::string("unsupported operand type(s) for ") + op + ": '" + a.type_name() +
             "' and '" + b.type_name() + "'");
    };
    if (op == "+") {
        if (a.is_string() && b.is_string()) {
            const bool markup = a.is_markup() || b.is_markup();
            Text t = markup && !a.is_markup() ? html_escape(a.text()) : a.text();
            t.append(markup && !b.is_markup() ? html_escape(b.text()) : b.text());
            check_size(t.s.size(), max_text);
            return markup ? Value::markup(std::move(t)) : str_value(std::move(t));
        }
        if (a.is_list() && b.is_list() && !a.is_generator() && !b.is_generator() &&
            a.is_tuple() == b.is_tuple()) {
            std::vector<Value> items = a.items();
            items.insert(items.end(), b.items().begin(), b.items().end());
            return Value::list(std::move(items), a.is_tuple());
        }
    }
    if (op == "*" && ((a.is_string() || a.is_list()) && (b.is_int() || b.is_bool())))
        return binary_op(op, b, a, max_text);
    if (op == "*" && (a.is_int() || a.is_bool()) &&
        (b.is_string() || (b.is_list() && !b.is_generator()))) {
        const int64_t n = std::max<int64_t>(a.as_int(), 0);
        // n x the length, checked before it is computed (it could wrap around).
        const size_t unit = b.is_string() ? b.str().size() : b.items().size();
        if (unit != 0 && static_cast<uint64_t>(n) > (max_text == 0 ? SIZE_MAX : max_text) / unit) {
            throw TemplateError(TemplateError::Kind::Limit,
                                "the template made a string or list longer than the limit");
        }
        if (b.is_string()) {
            check_size(static_cast<size_t>(n) * b.str().size(), max_text);
            Text t;
            for (int64_t i = 0; i < n; ++i) t.append(b.text());
            return str_value(std::move(t));
        }
        check_size(static_cast<size_t>(n) * b.items().size(), max_text);
        std::vector<Value> items;
        for (int64_t i = 0; i < n; ++i)
            items.insert(items.end(), b.items().begin(), b.items().end());
        return Value::list(std::move(items), b.is_tuple());
    }
    if (op == "%" && a.is_string()) return str_value(percent_format(a.text(), b, max_text));
    if (!a.is_number() || !b.is_number()) return type_error();
    const bool integers = !a.is_float() && !b.is_float();
    const int64_t x = a.as_int(), y = b.as_int();
    const double p = a.as_double(), q = b.as_double();
    if (op == "+") return integers ? Value::integer(checked(x, y, add)) : Value::number(p + q);
    if (op == "-") return integers ? Value::integer(checked(x, y, sub)) : Value::number(p - q);
    if (op == "*") return integers ? Value::integer(checked(x, y, mul)) : Value::number(p * q);
    if (op == "/") {
        if (q == 0) fail("division by zero");
        return Value::number(p / q);
    }
    if (op == "//" || op == "%") {
        if (q == 0)
            fail(op == "%" ? "integer modulo by zero" : "integer division or modulo by zero");
        if (integers) {
            if (x == INT64_MIN && y == -1) fail("integer overflow");
            int64_t quotient = x / y, rest = x % y;
            if (rest != 0 && ((rest < 0) != (y < 0))) {
                --quotient;
                rest += y;
            }
            return Value::integer(op == "//" ? quotient : rest);
        }
        return Value::number(op == "//" ? std::floor(p / q) : python_mod(p, q));
    }
    if (op == "**") {
        if (integers && y >= 0) {
            if (x == 0 || x == 1) return Value::integer(y == 0 ? 1 : x);
            if (x == -1) return Value::integer(y % 2 == 0 ? 1 : -1);
            int64_t result = 1;  // |x| >= 2: at most 63 steps before an overflow
            for (int64_t i = 0; i < y; ++i) result = checked(result, x, mul);
            return Value::integer(result);
        }
        return Value::number(std::pow(p, q));
    }
    return type_error();
}

// ---- filters ----

namespace {

using FilterFn = Value (*)(const Value&, Args&);
using TestFn = bool (*)(const Value&, Args&);

// jinja2's make_attrgetter: "a.b.0" looks up a, then b, then item 0.
Value lookup_path(const Value& item, const Value& path) {
    if (path.is_int()) return get_item(item, path);
    if (!path.is_string()) fail("attribute must be a string or an integer");
    Value v = item;
    const std::string& p = path.str();
    size_t begin = 0;
    while (true) {
        const size_t dot = p.find('.', begin);
        const std::string part =
            p.substr(begin, dot == std::string::npos ? std::string::npos : dot - begin);
        const bool digits =
            !part.empty() && part.size() <= 18 && std::all_of(part.begin(), part.end(), [](char c) {
                return std::isdigit(static_cast<unsigned char>(c)) != 0;
            });
        v = digits ? get_item(v, Value::integer(std::stoll(part)))
                   : get_item(v, Value::string(part));
        if (dot == std::string::npos) return v;
        begin = dot + 1;
    }
}

// Case-insensitive keys for sort, unique, min, max and dictsort (strings lowered).
Value sort_key(const Value& v, bool case_sensitive) {
    if (case_sensitive || !v.is_string()) return v;
    return str_value(
        map_chars(v.text(), [](char32_t c, size_t, char32_t) { return unicode::to_lower(c); }));
}

Args rest_args(const Args& a, size_t from) {
    Args rest;
    rest.max_text = a.max_text;
    for (size_t i = from; i < a.positional.size(); ++i) rest.positional.push_back(a.positional[i]);
    rest.keyword = a.keyword;
    return rest;
}

Value f_tojson(const Value& v, Args& a) {
    JsonStyle style;
    const Value indent = a.get(SIZE_MAX, "indent");
    if (indent.is_int())
        style.indent = static_cast<int>(std::clamp<int64_t>(indent.as_int(), 0, 64));
    const Value separators = a.get(SIZE_MAX, "separators");
    if (separators.is_list() && separators.items().size() == 2 &&
        separators.items()[0].is_string() && separators.items()[1].is_string()) {
        style.custom_separators = true;
        style.item_separator = separators.items()[0].str();
        style.key_separator = separators.items()[1].str();
    }
    style.sort_keys = a.get(SIZE_MAX, "sort_keys", Value::boolean(false)).truthy();
    if (a.get(SIZE_MAX, "ensure_ascii", Value::boolean(false)).truthy())
        fail("tojson: ensure_ascii is not supported");
    Text out = to_json(v, style);
    check_size(out.s.size(), a.max_text);
    return str_value(std::move(out));
}

Value f_length(const Value& v, Args&) {
    switch (v.kind()) {
        case Value::Kind::Undefined:
            return Value::integer(0);
        case Value::Kind::String:
            return Value::integer(static_cast<int64_t>(char_count(v.str())));
        case Value::Kind::List:
            if (v.is_generator()) fail("object of type 'generator' has no len()");
            return Value::integer(static_cast<int64_t>(v.items().size()));
        case Value::Kind::Dict:
            return Value::integer(static_cast<int64_t>(v.dict().items.size()));
        default:
            fail(std::string("object of type '") + v.type_name() + "' has no len()");
    }
}

Value f_trim(const Value& v, Args& a) {
    Text t = strip(to_str(v), a.get(0, "chars"), true, true);
    return v.is_markup() ? Value::markup(std::move(t)) : str_value(std::move(t));
}

Value f_items(const Value& v, Args&) {
    if (v.is_undefined()) return Value::list({});
    if (!v.is_dict()) fail("Can only get item pairs from a mapping.");
    std::vector<Value> out;
    for (const auto& [k, value] : v.dict().items)
        out.push_back(Value::list({v.dict().key(k), value}, true));
    return Value::list(std::move(out));
}

Value f_string(const Value& v, Args&) {
    return v.is_string() ? v : str_value(to_str(v));
}

Value f_default(const Value& v, Args& a) {
    const bool boolean = a.get(1, "boolean", Value::boolean(false)).truthy();
    if (v.is_undefined() || (boolean && !v.truthy()))
        return a.get(0, "default_value", Value::string(""));
    return v;
}

Value f_join(const Value& v, Args& a) {
    const Value sep = a.get(0, "d", Value::string(""));
    const Value attribute = a.get(1, "attribute");
    const Text sep_text = to_str(sep);
    Text out;
    bool first = true;
    for (const Value& item : iterate(v)) {
        if (!first) out.append(sep_text);
        first = false;
        out.append(to_str(attribute.is_none() ? item : lookup_path(item, attribute)));
        check_size(out.s.size(), a.max_text);
    }
    return str_value(std::move(out));
}

Value f_list(const Value& v, Args&) {
    return Value::list(iterate(v));
}

Value f_safe(const Value& v, Args&) {
    return v.is_markup() ? v : Value::markup(to_str(v));
}

Value select_impl(const Value& v, Args& a, bool by_attribute, bool keep) {
    std::vector<Value> out;
    if (!v.truthy()) return Value::generator({});  // jinja2: `if value:` before iterating
    const size_t test_at = by_attribute ? 1 : 0;
    const Value attribute = by_attribute ? a.get(0, "attribute") : Value::none();
    const bool with_test = a.positional.size() > test_at;
    const std::string test = with_test ? to_str(a.positional[test_at]).s : "";
    if (with_test && !has_test(test)) fail("No test named '" + test + "'.");
    Args test_args = rest_args(a, test_at + 1);
    for (const Value& item : iterate(v)) {
        const Value x = by_attribute ? lookup_path(item, attribute) : item;
        const bool pass = with_test ? apply_test(test, x, test_args) : x.truthy();
        if (pass == keep) out.push_back(item);
    }
    return Value::generator(std::move(out));
}

Value f_select(const Value& v, Args& a) {
    return select_impl(v, a, false, true);
}
Value f_reject(const Value& v, Args& a) {
    return select_impl(v, a, false, false);
}
Value f_selectattr(const Value& v, Args& a) {
    return select_impl(v, a, true, true);
}
Value f_rejectattr(const Value& v, Args& a) {
    return select_impl(v, a, true, false);
}

Value f_map(const Value& v, Args& a) {
    std::vector<Value> out;
    if (!v.truthy()) return Value::generator({});  // jinja2: `if value:` before iterating
    if (a.positional.empty()) {
        const Value attribute = a.get(SIZE_MAX, "attribute");
        if (attribute.is_none()) fail("map requires a filter name or attribute=");
        const Value fallback = a.get(SIZE_MAX, "default", Value());
        const bool has_default = a.has(SIZE_MAX, "default");
        for (const Value& item : iterate(v)) {
            Value x = lookup_path(item, attribute);
            if (x.is_undefined() && has_default) x = fallback;
            out.push_back(x);
        }
    } else {
        const std::string filter = to_str(a.positional[0]).s;
        if (!has_filter(filter)) fail("No filter named '" + filter + "'.");
        Args filter_args = rest_args(a, 1);
        for (const Value& item : iterate(v)) {
            Args copy = filter_args;
            out.push_back(apply_filter(filter, item, copy));
        }
    }
    return Value::generator(std::move(out));
}

Value f_lower(const Value& v, Args&) {
    return str_value(
        map_chars(to_str(v), [](char32_t c, size_t, char32_t) { return unicode::to_lower(c); }));
}
Value f_upper(const Value& v, Args&) {
    return str_value(map_chars(to_str(v), [](char32_t c, size_t, char32_t) { return upper(c); }));
}
Value f_capitalize(const Value& v, Args&) {
    return str_value(map_chars(to_str(v), [](char32_t c, size_t i, char32_t) {
        return i == 0 ? upper(c) : unicode::to_lower(c);
    }));
}
Value f_title(const Value& v, Args&) {
    return str_value(map_chars(to_str(v), [](char32_t c, size_t, char32_t prev) {
        return cased(prev) ? unicode::to_lower(c) : upper(c);
    }));
}

Value f_replace(const Value& v, Args& a) {
    const Text t = to_str(v);
    return str_value(replace(t, to_str(a.get(0, "old")).s, to_str(a.get(1, "new")),
                             a.get(2, "count", Value::integer(-1)).as_int(), a.max_text));
}

std::vector<Value> sorted(std::vector<Value> items, bool reverse, bool case_sensitive,
                          const Value& attribute) {
    std::vector<std::pair<Value, Value>> keyed;
    for (Value& item : items) {
        const Value key =
            sort_key(attribute.is_none() ? item : lookup_path(item, attribute), case_sensitive);
        keyed.emplace_back(key, std::move(item));
    }
    std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
        return reverse ? less_than(y.first, x.first) : less_than(x.first, y.first);
    });
    std::vector<Value> out;
    for (auto& [key, item] : keyed) out.push_back(std::move(item));
    return out;
}

Value f_sort(const Value& v, Args& a) {
    return Value::list(sorted(iterate(v), a.get(0, "reverse", Value::boolean(false)).truthy(),
                              a.get(1, "case_sensitive", Value::boolean(false)).truthy(),
                              a.get(2, "attribute")));
}

Value f_dictsort(const Value& v, Args& a) {
    if (!v.is_dict()) fail("dictsort: a mapping is required");
    const bool case_sensitive = a.get(0, "case_sensitive", Value::boolean(false)).truthy();
    const std::string by = to_str(a.get(1, "by", Value::string("key"))).s;
    const bool reverse = a.get(2, "reverse", Value::boolean(false)).truthy();
    if (by != "key" && by != "value") fail("You can only sort by either \"key\" or \"value\"");
    std::vector<Value> pairs = f_items(v, a).items();
    return Value::list(
        sorted(std::move(pairs), reverse, case_sensitive, Value::integer(by == "key" ? 0 : 1)));
}

Value f_unique(const Value& v, Args& a) {
    const bool case_sensitive = a.get(0, "case_sensitive", Value::boolean(false)).truthy();
    const Value attribute = a.get(1, "attribute");
    std::vector<Value> out, seen;
    for (const Value& item : iterate(v)) {
        const Value key =
            sort_key(attribute.is_none() ? item : lookup_path(item, attribute), case_sensitive);
        if (std::none_of(seen.begin(), seen.end(), [&](const Value& s) { return equal(s, key); })) {
            seen.push_back(key);
            out.push_back(item);
        }
    }
    return Value::generator(std::move(out));
}

Value min_max(const Value& v, Args& a, bool want_max) {
    const bool case_sensitive = a.get(0, "case_sensitive", Value::boolean(false)).truthy();
    const Value attribute = a.get(1, "attribute");
    const std::vector<Value> items = iterate(v);
    if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
    size_t best = 0;
    Value best_key =
        sort_key(attribute.is_none() ? items[0] : lookup_path(items[0], attribute), case_sensitive);
    for (size_t i = 1; i < items.size(); ++i) {
        const Value key = sort_key(
            attribute.is_none() ? items[i] : lookup_path(items[i], attribute), case_sensitive);
        if (want_max ? less_than(best_key, key) : less_than(key, best_key)) {
            best = i;
            best_key = key;
        }
    }
    return items[best];
}

Value f_min(const Value& v, Args& a) {
    return min_max(v, a, false);
}
Value f_max(const Value& v, Args& a) {
    return min_max(v, a, true);
}

Value f_indent(const Value& v, Args& a) {
    const Value width = a.get(0, "width", Value::integer(4));
    const bool first = a.get(1, "first", Value::boolean(false)).truthy();
    const bool blank = a.get(2, "blank", Value::boolean(false)).truthy();
    const std::string pad =
        width.is_string()
            ? width.str()
            : std::string(static_cast<size_t>(std::clamp<int64_t>(width.as_int(), 0, 256)), ' ');
    Text s = to_str(v);
    s.append("\n");  // jinja2's own trick: splitlines then drops the last empty line
    std::vector<Text> lines;
    size_t begin = 0;
    for (size_t i = 0; i < s.s.size(); ++i) {
        if (s.s[i] == '\n' || s.s[i] == '\r') {
            lines.push_back(s.substr(begin, i));
            if (s.s[i] == '\r' && i + 1 < s.s.size() && s.s[i + 1] == '\n') ++i;
            begin = i + 1;
        }
    }
    if (begin < s.s.size()) lines.push_back(s.substr(begin, s.s.size()));
    Text out;
    for (size_t i = 0; i < lines.size(); ++i) {
        if (i > 0) out.append("\n");
        if ((i > 0 || first) && (blank || !lines[i].s.empty())) out.append(pad);
        out.append(lines[i]);
        check_size(out.s.size(), a.max_text);
    }
    return str_value(std::move(out));
}

Value f_first(const Value& v, Args&) {
    const std::vector<Value> items = iterate(v);
    return items.empty() ? Value::undefined("No first item, sequence was empty.") : items.front();
}
Value f_last(const Value& v, Args&) {
    const std::vector<Value> items = iterate(v);
    return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();
}
Value f_reverse(const Value& v, Args&) {
    if (v.is_string()) {
        Text out;
        const std::vector<size_t> starts = char_starts(v.str());
        for (size_t i = starts.size() - 1; i > 0; --i)
            out.append(v.text().substr(starts[i - 1], starts[i]));
        return str_value(std::move(out));
    }
    std::vector<Value> items = iterate(v);
    std::reverse(items.begin(), items.end());
    return Value::generator(std::move(items));
}

Value f_int(const Value& v, Args& a) {
    if (v.is_int() || v.is_bool()) return Value::integer(v.as_int());
    if (v.is_float() && std::isfinite(v.as_double()) && std::fabs(v.as_double()) < 9.2e18)
        return Value::integer(static_cast<int64_t>(v.as_double()));
    if (v.is_string()) {
        const std::string s = strip(v.text(), Value::none(), true, true).s;
        char* end = nullptr;
        const long long i = std::strtoll(s.c_str(), &end, 10);
        if (!s.empty() && end == s.c_str() + s.size()) return Value::integer(i);
        const double f = std::strtod(s.c_str(), &end);
        if (!s.empty() && end == s.c_str() + s.size() && std::isfinite(f) && std::fabs(f) < 9.2e18)
            return Value::integer(static_cast<int64_t>(f));
    }
    return a.get(0, "default", Value::integer(0));
}

Value f_float(const Value& v, Args& a) {
    if (v.is_number()) return Value::number(v.as_double());
    if (v.is_string()) {
        const std::string s = strip(v.text(), Value::none(), true, true).s;
        char* end = nullptr;
        const double f = std::strtod(s.c_str(), &end);
        if (!s.empty() && end == s.c_str() + s.size()) return Value::number(f);
    }
    return a.get(0, "default", Value::number(0.0));
}

Value f_abs(const Value& v, Args&) {
    if (v.is_float()) return Value::number(std::fabs(v.as_double()));
    if (v.is_int() || v.is_bool()) {
        if (v.as_int() == INT64_MIN) fail("integer overflow");
        return Value::integer(std::abs(v.as_int()));
    }
    fail(std::string("bad operand type for abs(): '") + v.type_name() + "'");
}

Value f_round(const Value& v, Args& a) {
    if (!v.is_number()) fail("round: a number is required");
    const int64_t precision =
        std::clamp<int64_t>(a.get(0, "precision", Value::integer(0)).as_int(), -20, 20);
    const std::string method = to_str(a.get(1, "method", Value::string("common"))).s;
    const double scale = std::pow(10.0, static_cast<double>(precision));
    double x = v.as_double() * scale;
    x = method == "ceil" ? std::ceil(x) : method == "floor" ? std::floor(x) : std::round(x);
    return Value::number(x / scale);
}

Value f_sum(const Value& v, Args& a) {
    const Value attribute = a.get(0, "attribute");
    Value total = a.get(1, "start", Value::integer(0));
    for (const Value& item : iterate(v))
        total = binary_op("+", total, attribute.is_none() ? item : lookup_path(item, attribute),
                          a.max_text);
    return total;
}

Value f_wordcount(const Value& v, Args&) {
    return Value::integer(
        static_cast<int64_t>(split(to_str(v), Value::none(), -1, false).items().size()));
}

Value f_escape(const Value& v, Args&) {
    return v.is_markup() ? v : Value::markup(html_escape(to_str(v)));
}

const std::map<std::string, FilterFn, std::less<>>& filters() {
    static const std::map<std::string, FilterFn, std::less<>> table = {
        {"tojson", f_tojson},
        {"length", f_length},
        {"count", f_length},
        {"trim", f_trim},
        {"items", f_items},
        {"string", f_string},
        {"default", f_default},
        {"d", f_default},
        {"join", f_join},
        {"list", f_list},
        {"safe", f_safe},
        {"selectattr", f_selectattr},
        {"rejectattr", f_rejectattr},
        {"select", f_select},
        {"reject", f_reject},
        {"map", f_map},
        {"lower", f_lower},
        {"upper", f_upper},
        {"capitalize", f_capitalize},
        {"title", f_title},
        {"replace", f_replace},
        {"sort", f_sort},
        {"dictsort", f_dictsort},
        {"unique", f_unique},
        {"min", f_min},
        {"max", f_max},
        {"indent", f_indent},
        {"first", f_first},
        {"last", f_last},
        {"reverse", f_reverse},
        {"int", f_int},
        {"float", f_float},
        {"abs", f_abs},
        {"round", f_round},
        {"sum", f_sum},
        {"wordcount", f_wordcount},
        {"escape", f_escape},
        {"e", f_escape},
    };
    return table;
}

// ---- tests ----

bool t_defined(const Value& v, Args&) {
    return !v.is_undefined();
}
bool t_undefined(const Value& v, Args&) {
    return v.is_undefined();
}
bool t_none(const Value& v, Args&) {
    return v.is_none();
}
bool t_boolean(const Value& v, Args&) {
    return v.is_bool();
}
bool t_false(const Value& v, Args&) {
    return v.is_bool() && !v.as_bool();
}
bool t_true(const Value& v, Args&) {
    return v.is_bool() && v.as_bool();
}
bool t_integer(const Value& v, Args&) {
    return v.is_int();
}
bool t_float(const Value& v, Args&) {
    return v.is_float();
}
bool t_number(const Value& v, Args&) {
    return v.is_number();
}
bool t_string(const Value& v, Args&) {
    return v.is_string();
}
bool t_mapping(const Value& v, Args&) {
    return v.is_dict();
}
bool t_iterable(const Value& v, Args&) {
    return v.is_undefined() || v.is_list() || v.is_dict() || v.is_string();
}
bool t_sequence(const Value& v, Args&) {
    return v.is_undefined() || (v.is_list() && !v.is_generator()) || v.is_dict() || v.is_string();
}
bool t_callable(const Value& v, Args&) {
    return v.is_function();
}
bool t_sameas(const Value& v, Args& a) {
    const Value other = a.get(0, "other");
    if (v.is_none() || v.is_bool() || v.is_undefined())
        return v.kind() == other.kind() && equal(v, other);
    return false;
}
bool t_eq(const Value& v, Args& a) {
    return equal(v, a.get(0, "other"));
}
bool t_ne(const Value& v, Args& a) {
    return !equal(v, a.get(0, "other"));
}
bool t_lt(const Value& v, Args& a) {
    return less_than(v, a.get(0, "other"));
}
bool t_gt(const Value& v, Args& a) {
    return less_than(a.get(0, "other"), v);
}
bool t_le(const Value& v, Args& a) {
    return !less_than(a.get(0, "other"), v);
}
bool t_ge(const Value& v, Args& a) {
    return !less_than(v, a.get(0, "other"));
}
bool t_in(const Value& v, Args& a) {
    return binary_op("in", v, a.get(0, "seq"), 0).as_bool();
}
bool t_odd(const Value& v, Args&) {
    if (!v.is_int()) fail("odd: an integer is required");
    return (v.as_int() % 2) != 0;
}
bool t_even(const Value& v, Args&) {
    if (!v.is_int()) fail("even: an integer is required");
    return (v.as_int() % 2) == 0;
}
bool t_divisibleby(const Value& v, Args& a) {
    const Value n = a.get(0, "num");
    if (!v.is_int() || !n.is_int()) fail("divisibleby: integers are required");
    if (n.as_int() == 0) fail("integer division or modulo by zero");
    if (n.as_int() == -1) return true;  // (INT64_MIN % -1 would overflow)
    return v.as_int() % n.as_int() == 0;
}
bool t_lower(const Value& v, Args&) {
    if (!v.is_string()) return false;
    Args none;
    return to_str(f_lower(v, none)).s == v.str();
}
bool t_upper(const Value& v, Args&) {
    if (!v.is_string()) return false;
    Args none;
    return to_str(f_upper(v, none)).s == v.str();
}
bool t_escaped(const Value&, Args&) {
    return false;
}
bool t_filter(const Value& v, Args&) {
    return v.is_string() && has_filter(v.str());
}
bool t_test(const Value& v, Args&) {
    return v.is_string() && has_test(v.str());
}

const std::map<std::string, TestFn, std::less<>>& tests() {
    static const std::map<std::string, TestFn, std::less<>> table = {
        {"defined", t_defined},
        {"undefined", t_undefined},
        {"none", t_none},
        {"boolean", t_boolean},
        {"false", t_false},
        {"true", t_true},
        {"integer", t_integer},
        {"float", t_float},
        {"number", t_number},
        {"string", t_string},
        {"mapping", t_mapping},
        {"iterable", t_iterable},
        {"sequence", t_sequence},
        {"callable", t_callable},
        {"sameas", t_sameas},
        {"eq", t_eq},
        {"equalto", t_eq},
        {"==", t_eq},
        {"ne", t_ne},
        {"!=", t_ne},
        {"lt", t_lt},
        {"lessthan", t_lt},
        {"<", t_lt},
        {"gt", t_gt},
        {"greaterthan", t_gt},
        {">", t_gt},
        {"le", t_le},
        {"<=", t_le},
        {"ge", t_ge},
        {">=", t_ge},
        {"in", t_in},
        {"odd", t_odd},
        {"even", t_even},
        {"divisibleby", t_divisibleby},
        {"lower", t_lower},
        {"upper", t_upper},
        {"escaped", t_escaped},
        {"filter", t_filter},
        {"test", t_test},
    };
    return table;
}

}  // namespace

bool has_filter(const std::string& name) {
    return filters().count(name) != 0;
}

bool has_test(const std::string& name) {
    return tests().count(name) != 0;
}

Value apply_filter(const std::string& name, const Value& subject, Args& args) {
    const auto it = filters().find(name);
    if (it == filters().end()) fail("No filter named '" + name + "'.");
    return it->second(subject, args);
}

bool apply_test(const std::string& name, const Value& subject, Args& args) {
    const auto it = tests().find(name);
    if (it == tests().end()) fail("No test named '" + name + "'.");
    return it->second(subject, args);
}

}  // namespace ember::jinja
