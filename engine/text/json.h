// A small strict JSON reader (RFC 8259) for what the engine itself must read, such as the JSON
// Schemas behind constrained generation. The engine is cross-compiled for platforms where no
// third-party JSON header is installed, so it carries its own.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ember {

struct JsonValue {
    enum class Kind : uint8_t { Null, Bool, Number, String, Array, Object };
    using Member = std::pair<std::string, JsonValue>;

    Kind kind = Kind::Null;
    bool boolean = false;
    // A Number's value; +-inf when the text is beyond a double's range.
    double number = 0.0;
    // A String's value (UTF-8), or a Number's text exactly as written: 1 and 1.0 differ, and
    // an integer too big for a double keeps all its digits.
    std::string text;
    std::vector<JsonValue> items;  // Array
    std::vector<Member> members;   // Object, in document order (keys are unique)

    // Declared here, defined where JsonValue is complete: a vector of pairs holding the type
    // being defined cannot be destroyed or copied inside its own definition (clang refuses).
    JsonValue();
    JsonValue(const JsonValue&);
    JsonValue(JsonValue&&) noexcept;
    JsonValue& operator=(const JsonValue&);
    JsonValue& operator=(JsonValue&&) noexcept;
    ~JsonValue();

    bool is_null() const { return kind == Kind::Null; }
    bool is_bool() const { return kind == Kind::Bool; }
    bool is_number() const { return kind == Kind::Number; }
    bool is_string() const { return kind == Kind::String; }
    bool is_array() const { return kind == Kind::Array; }
    bool is_object() const { return kind == Kind::Object; }
    // A Number written without '.', 'e' or 'E'.
    bool is_integer() const;

    // The object's member with this key, or nullptr (also when this is not an object).
    const JsonValue* find(std::string_view key) const;

    // Each throws ember::Error when the value is of another kind.
    bool as_bool() const;
    double as_number() const;
    const std::string& as_string() const;
    const std::vector<JsonValue>& as_array() const;
    const std::vector<Member>& as_object() const;

    // Compact JSON: no white space, numbers as written, strings with the short escapes and
    // \u00XX for the other control characters (anything else, non-ASCII included, as is).
    std::string dump() const;

    static const char* kind_name(Kind kind);
};

// Parses one JSON document (white space around it allowed). Throws ember::Error
// "json: line L, column C: ..." for anything RFC 8259 does not allow, for a duplicate key in an
// object, and for nesting deeper than 256 arrays and objects.
JsonValue parse_json(std::string_view text);

// Appends s (UTF-8) as a JSON string, quotes included, escaped as JsonValue::dump does.
void append_json_string(std::string& out, std::string_view s);

}  // namespace ember
