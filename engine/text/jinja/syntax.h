// The syntax tree of a Jinja template, and the parser that builds it from the source text with
// the settings transformers renders chat templates with: trim_blocks, lstrip_blocks, the
// loop controls, one trailing newline of the source dropped (jinja2's keep_trailing_newline
// off), line endings read as "\n".
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/text/jinja/value.h"

namespace ember::jinja {

// Where something is in the template source (1-based).
struct Location {
    int line = 1, column = 1;
};

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
    enum class Kind : uint8_t {
        Literal,    // value
        Name,       // name
        List,       // args
        Tuple,      // args
        Dict,       // keyword_args (keys evaluated from args, values in keyword_args order)
        Attribute,  // args[0].name
        Subscript,  // args[0][args[1]]
        Slice,      // args[0][args[1]:args[2]:args[3]] (null entries are omitted bounds)
        Call,       // args[0](args[1..], keyword_args)
        Filter,     // args[0] | name(args[1..], keyword_args)
        Test,       // args[0] is [not] name(args[1..]); negate
        Unary,      // op args[0]: "-", "+", "not"
        Binary,     // args[0] op args[1]: + - * / // % ** ~ and or == != < <= > >= in "not in"
        Condition,  // args[1] if args[0] else args[2] (args[2] null: undefined)
    };
    Kind kind;
    Location where;
    Value value;
    std::string name;  // a Name's, an Attribute's, a Filter's or Test's name, a Unary/Binary op
    std::vector<ExprPtr> args;
    std::vector<std::pair<std::string, ExprPtr>> keyword_args;
    bool negate = false;
};

struct Stmt;
using Body = std::vector<std::unique_ptr<Stmt>>;

struct Stmt {
    enum class Kind : uint8_t {
        Text,         // text
        Print,        // {{ expr }}
        If,           // branches: (condition, body) ...; else_body
        For,          // for targets in expr [if condition]: body; else_body
        Set,          // set targets = expr; or set ns.attr = expr (attribute non-empty)
        SetBlock,     // {% set name %}body{% endset %} (filters applied to the captured text)
        Macro,        // {% macro name(params) %}body{% endmacro %}
        FilterBlock,  // {% filter f %}body{% endfilter %}
        Break,
        Continue,
        Scope,  // a body with no effect of its own ({% generation %})
    };
    Kind kind;
    Location where;
    std::string text;
    ExprPtr expr, condition;
    std::vector<std::string> targets;  // For / Set / SetBlock names; Macro: its name first
    std::string attribute;             // set ns.attribute
    std::vector<std::pair<ExprPtr, Body>> branches;
    Body body, else_body;
    std::vector<std::pair<std::string, ExprPtr>> params;  // Macro: name, default (may be null)
    std::vector<ExprPtr> filters;  // FilterBlock / SetBlock: Filter nodes with a null subject
};

// A template's source turned into statements. Throws TemplateError (syntax) with the line
// and column for anything jinja2 would not compile, and for what ember does not support
// ({% include %}, {% extends %}, {% call %}, ...: a chat template has no files to read).
Body parse_template(std::string_view source);

// What went wrong while parsing or rendering: the message alone (what a template passed to
// raise_exception, exactly), and where.
class TemplateError : public std::exception {
  public:
    enum class Kind : uint8_t { Syntax, Raised, Runtime, Limit };
    TemplateError(Kind kind, std::string message, Location where = {0, 0});
    const char* what() const noexcept override { return full_.c_str(); }
    Kind kind() const { return kind_; }
    const std::string& message() const { return message_; }
    Location where() const { return where_; }
    void locate(Location where);  // sets the place when none is known yet

  private:
    Kind kind_;
    std::string message_, full_;
    Location where_;
};

}  // namespace ember::jinja
