// JSON Schema to GBNF, for constrained generation of JSON (OpenAI's response_format
// json_schema, ollama's format, tool-call arguments).
//
// The grammar writes JSON the way a model would: compact, one optional space or a newline with
// up to 20 tabs and spaces after each token (bounded, so a model cannot spin on white space),
// object members in the schema's property order, numbers without superfluous digits. Every
// sentence of the grammar is a document valid under the schema; not every valid document is a
// sentence (other member orders, white space, escapes, numbers of more than 16 integer digits,
// exponents of more than two digits: so that every number is a finite double).
//
// Supported: type (also a list of types), properties, required, additionalProperties, enum,
// const, minLength, maxLength, format (date, time, date-time, uuid), minimum, maximum,
// exclusiveMinimum, exclusiveMaximum (numbers: integer bounds only), items, prefixItems,
// additionalItems, minItems, maxItems, $ref to "#..." pointers (recursion included), anyOf,
// oneOf (as anyOf), allOf with one schema, and the annotations. Any other keyword is an error
// naming it and where it is: a constraint is never silently dropped.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ember {

// GBNF (llama.cpp's grammar notation) whose sentences are exactly the JSON documents valid
// under the schema (text of a JSON Schema), within the limits above. Throws ember::Error
// "json schema: at <pointer>: ..." for a schema it cannot convert or that nothing can match.
std::string json_schema_to_gbnf(std::string_view schema);

// The same as rules of a larger grammar: the document's values are the rule `rule` (every other
// rule's name differs from it), and `root` (GBNF text naming its own root rule, e.g.
// `root ::= "<tool_call>" call "</tool_call>"`) goes before them. The whole must compile, as
// above.
std::string json_schema_to_gbnf_rules(std::string_view schema, std::string_view rule,
                                      std::string_view root);

// Rules for several schemas at once: those at the schema's `$defs/<name>` for each of `defs`
// (the arguments of each tool, so that a grammar ties each function's name to its own
// arguments). rules: no root rule; the caller's refers to def_rules, the rule of each of defs
// in order. Throws as json_schema_to_gbnf_rules.
struct DefRules {
    std::string rules;
    std::vector<std::string> def_rules;
};
DefRules json_schema_def_rules(std::string_view schema, const std::vector<std::string>& defs);

// The same for the arguments of Python calls (LFM2's tool calls: name(key="value", n=1)):
// each def an object schema written as keyword arguments (key=value, ..., without the
// parentheses; no keys beyond the properties), every value a Python literal (True, False,
// None; strings, numbers, lists and dicts as JSON writes them). Throws also for a def that is
// not an object schema or refers to itself.
DefRules json_schema_python_arguments(std::string_view schema,
                                      const std::vector<std::string>& defs);

// GBNF for any JSON object (OpenAI's response_format json_object, ollama's format "json").
std::string json_object_gbnf();

}  // namespace ember
