// The values a Jinja chat template computes with, and how Python prints them. Templates are
// written against Python's jinja2, so `{{ none }}` prints "None", a dict prints as Python's repr
// and `tojson` is json.dumps: every rule here follows CPython 3.11 and jinja2 3.1, because the
// prompt a model sees must be the bytes transformers renders.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/text/tokenizer.h"

namespace ember {
struct JsonValue;
}

namespace ember::jinja {

class Value;
struct Args;

// A string and the byte ranges of it that came from the caller's data (the messages, the
// tools): the tokenizer reads those as plain text, so a user who types "<|im_end|>" gets those
// characters, not the control token. Ranges are sorted and do not overlap.
struct Text {
    std::string s;
    std::vector<TextRange> data;

    void append(const Text& other);
    void append(std::string_view plain) { s += plain; }
    // Bytes [begin, end) of s, with the data ranges inside them.
    Text substr(size_t begin, size_t end) const;
    // Marks the whole text as data when any part of `from` was (a string computed from the
    // caller's data by anything but cutting it: repr, tojson, replace, ...).
    void mark_data_if(const Text& from);
    bool has_data() const { return !data.empty(); }
};

struct Dict;
using Callable = std::function<Value(Args&)>;

class Value {
  public:
    enum class Kind : uint8_t {
        Undefined,  // jinja2.Undefined: prints empty, is false, iterates as empty
        None,
        Bool,
        Int,
        Float,
        String,
        List,  // also tuples and the generators of |map and |select (flags below)
        Dict,
        Namespace,  // namespace(): the one mutable object, `set ns.x = ...`
        Function,   // a macro, a global function or a bound method
    };

    Value() = default;  // Undefined
    static Value undefined(std::string hint = {});
    static Value none();
    static Value boolean(bool b);
    static Value integer(int64_t i);
    static Value number(double f);
    static Value string(std::string s);  // template text: not data
    static Value string(Text t);
    // markupsafe's Markup (from |safe, |escape): `+` with a plain string HTML-escapes the
    // plain side, as Python's str subclass does in jinja2 even with autoescape off.
    static Value markup(Text t);
    static Value list(std::vector<Value> items, bool tuple = false);
    static Value generator(std::vector<Value> items);
    static Value dict(Dict d);
    static Value namespace_object(Dict d);
    static Value function(std::string name, Callable f);
    // A JSON value; its strings are data when as_data (the caller's messages and tools).
    static Value from_json(const JsonValue& json, bool as_data);

    Kind kind() const { return kind_; }
    bool is_undefined() const { return kind_ == Kind::Undefined; }
    bool is_none() const { return kind_ == Kind::None; }
    bool is_bool() const { return kind_ == Kind::Bool; }
    bool is_int() const { return kind_ == Kind::Int; }
    bool is_float() const { return kind_ == Kind::Float; }
    bool is_number() const { return is_int() || is_float() || is_bool(); }
    bool is_string() const { return kind_ == Kind::String; }
    bool is_markup() const { return is_string() && markup_; }
    bool is_list() const { return kind_ == Kind::List; }
    bool is_tuple() const { return is_list() && tuple_; }
    bool is_generator() const { return is_list() && generator_; }
    bool is_dict() const { return kind_ == Kind::Dict; }
    bool is_namespace() const { return kind_ == Kind::Namespace; }
    bool is_function() const { return kind_ == Kind::Function; }

    bool as_bool() const { return int_ != 0; }
    int64_t as_int() const { return int_; }  // Int and Bool
    double as_double() const { return is_float() ? float_ : static_cast<double>(int_); }
    const Text& text() const { return *text_; }
    const std::string& str() const { return text_->s; }
    const std::vector<Value>& items() const { return *list_; }
    const Dict& dict() const { return *dict_; }
    Dict& namespace_dict() const { return *dict_; }
    const Callable& call() const { return *function_; }
    const std::string& name() const { return name_; }  // a function's, an undefined's hint

    // Python's truth value (a generator is always true, as in Python).
    bool truthy() const;
    // Python's type name, for error messages ("NoneType", "str", "dict", ...).
    const char* type_name() const;

  private:
    Kind kind_ = Kind::Undefined;
    bool tuple_ = false, generator_ = false, markup_ = false;
    int64_t int_ = 0;
    double float_ = 0.0;
    std::shared_ptr<const Text> text_;
    std::shared_ptr<const std::vector<Value>> list_;
    std::shared_ptr<Dict> dict_;  // shared: a namespace is changed in place
    std::shared_ptr<const Callable> function_;
    std::string name_;
};

// A dict keeps its keys in insertion order (Python 3.7+); keys are strings (JSON's objects and
// every template's dict literals).
struct Dict {
    std::vector<std::pair<std::string, Value>> items;
    bool data_keys = false;  // the keys came from the caller's data (a JSON object's)
    const Value* find(std::string_view key) const;
    void set(const std::string& key, Value value);
    // A key as a string value (data when the keys are).
    Value key(const std::string& k) const;
};

// Python's == (1 == 1.0 == True; containers element by element; different types unequal).
bool equal(const Value& a, const Value& b);

// str(x) and repr(x) as Python prints them (undefined: empty). Strings keep their data ranges
// through str(); anything printed from data is data as a whole.
Text to_str(const Value& v);
std::string repr(const Value& v);
// Python's float repr: the shortest text that reads back the same double ("0.1", "1e+16").
std::string float_repr(double f);

// json.dumps(v, ensure_ascii=False, indent, separators, sort_keys) as transformers' tojson
// filter calls it. indent < 0: none. Throws ember::Error for what JSON cannot hold.
struct JsonStyle {
    int indent = -1;
    bool custom_separators = false;  // else Python's defaults for the indent
    std::string item_separator, key_separator;
    bool sort_keys = false;
};
Text to_json(const Value& v, const JsonStyle& style);

// Python's str.isspace for one code point (what strip() and split() remove).
bool is_python_space(char32_t c);

}  // namespace ember::jinja
