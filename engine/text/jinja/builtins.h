// The filters, tests, methods and operators of jinja2 and Python that chat templates use
// (../shared/templates/features.json counts them), for the interpreter (interpreter.cpp).
// Internal to engine/text/jinja.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "engine/text/jinja/syntax.h"
#include "engine/text/jinja/value.h"

namespace ember::jinja {

// A call's arguments.
struct Args {
    std::vector<Value> positional;
    std::vector<std::pair<std::string, Value>> keyword;
    size_t max_text = 0;  // the longest string a call may make

    // The argument at `index` or named `name`; `fallback` when given neither way.
    Value get(size_t index, std::string_view name, Value fallback = Value::none()) const;
    bool has(size_t index, std::string_view name) const;
};

// Throws TemplateError (Runtime) without a place (the interpreter adds it).
[[noreturn]] void fail(const std::string& message);
// Throws unless a string of this many bytes is within the limit.
void check_size(size_t bytes, size_t max_text);

// jinja2's environment.getattr / getitem: obj.name (a Python attribute first: dict.items is
// the method) and obj[key] (the item first). Missing: an undefined value with a hint.
Value get_attribute(const Value& obj, const std::string& name);
Value get_item(const Value& obj, const Value& key);
Value get_slice(const Value& obj, const Value& start, const Value& stop, const Value& step);
// What a for loop iterates: a list's items, a dict's keys, a string's characters; undefined
// iterates as empty. Throws for anything else ("'NoneType' object is not iterable").
std::vector<Value> iterate(const Value& v);

// The operators: + - * / // % ** ~, comparisons and `in`.
Value binary_op(const std::string& op, const Value& a, const Value& b, size_t max_text);
// Python's <, for sort and min/max and the comparison operators.
bool less_than(const Value& a, const Value& b);

bool has_filter(const std::string& name);
bool has_test(const std::string& name);
Value apply_filter(const std::string& name, const Value& subject, Args& args);
bool apply_test(const std::string& name, const Value& subject, Args& args);

// Python's len() of a str: code points.
size_t char_count(std::string_view s);

}  // namespace ember::jinja
