// The engine's own JSON reader, and JSON Schemas turned into GBNF: each grammar is compiled
// with the grammar engine and must accept exactly the documents the schema allows.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "engine/grammar/grammar.h"
#include "engine/grammar/json_schema.h"
#include "engine/text/json.h"
#include "formats/error.h"
#include "tests/error_of.h"

namespace ember {
namespace {

using test::error_of;

// ---- The JSON reader

TEST(JsonReader, ReadsEveryKindInDocumentOrder) {
    JsonValue v = parse_json(R"( {"z": [1, 2.5, -3e2, true, false, null, "x"], "a": {}} )");
    ASSERT_TRUE(v.is_object());
    ASSERT_EQ(v.members.size(), 2u);
    EXPECT_EQ(v.members[0].first, "z");  // not sorted
    EXPECT_EQ(v.members[1].first, "a");
    const JsonValue& z = *v.find("z");
    ASSERT_EQ(z.as_array().size(), 7u);
    EXPECT_TRUE(z.items[0].is_integer());
    EXPECT_FALSE(z.items[1].is_integer());
    EXPECT_FALSE(z.items[2].is_integer());
    EXPECT_EQ(z.items[1].as_number(), 2.5);
    EXPECT_EQ(z.items[2].as_number(), -300.0);
    EXPECT_EQ(z.items[2].text, "-3e2");
    EXPECT_TRUE(z.items[3].as_bool());
    EXPECT_FALSE(z.items[4].as_bool());
    EXPECT_TRUE(z.items[5].is_null());
    EXPECT_EQ(z.items[6].as_string(), "x");
    EXPECT_TRUE(v.find("a")->as_object().empty());
    EXPECT_EQ(v.find("missing"), nullptr);
    EXPECT_EQ(z.find("z"), nullptr);  // not an object
    EXPECT_THROW(z.as_string(), Error);
    EXPECT_THROW(v.as_array(), Error);
}

TEST(JsonReader, NumbersKeepTheirText) {
    JsonValue big = parse_json("123456789012345678901234567890");
    EXPECT_TRUE(big.is_integer());
    EXPECT_EQ(big.dump(), "123456789012345678901234567890");
    EXPECT_EQ(parse_json("1.0").dump(), "1.0");
    EXPECT_EQ(parse_json("-0").dump(), "-0");
    EXPECT_EQ(parse_json("1E+2").as_number(), 100.0);
    EXPECT_EQ(parse_json("1e999").as_number(), HUGE_VAL);
    EXPECT_EQ(parse_json("-1e999").as_number(), -HUGE_VAL);
    EXPECT_EQ(parse_json("1e-999").as_number(), 0.0);
}

TEST(JsonReader, EscapesAndSurrogatePairsDecodeToUtf8) {
    JsonValue v = parse_json(R"("a\"b\\c\/d\b\f\n\r\t\u00e9\u20AC\ud83d\ude00\u0001")");
    EXPECT_EQ(v.as_string(), "a\"b\\c/d\b\f\n\r\t\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\x01");
    EXPECT_EQ(v.dump(),
              "\"a\\\"b\\\\c/d\\b\\f\\n\\r\\t\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\\u0001\"");
    EXPECT_EQ(parse_json("\"\xF0\x9F\x98\x80\"").as_string(), "\xF0\x9F\x98\x80");
}

TEST(JsonReader, DumpIsCompactAndRoundTrips) {
    for (const char* doc : {
             R"({"b":[1,{"c":null,"a":[true,false]}],"a":"x\u001fy","e":{}, "f":[]})",
             R"([ -12 , 0 , 7 , "\u00e9\ud83d\ude00" ])",
             R"("\u007f\"\\")",
             "null",
         }) {
        std::string dumped = parse_json(doc).dump();
        // Integers, strings and literals only: nlohmann writes them the same way.
        EXPECT_EQ(dumped, nlohmann::ordered_json::parse(doc).dump()) << doc;
        EXPECT_EQ(parse_json(dumped).dump(), dumped);
    }
}

TEST(JsonReader, RejectsWhatRfc8259Rejects) {
    const std::vector<std::string> bad = {"",
                                          " ",
                                          "01",
                                          "-01",
                                          "-",
                                          "1.",
                                          ".5",
                                          "1e",
                                          "1e+",
                                          "+1",
                                          "0x10",
                                          "NaN",
                                          "Infinity",
                                          "[1,]",
                                          "[,1]",
                                          "[1 2]",
                                          "{\"a\" 1}",
                                          "{a:1}",
                                          "{\"a\":1,}",
                                          "{\"a\":1 \"b\":2}",
                                          "{\"a\"}",
                                          "'x'",
                                          "\"\\x\"",
                                          "\"\\u12\"",
                                          "\"\t\"",
                                          "\"a\nb\"",
                                          "[1] 2",
                                          "tru",
                                          "nul",
                                          "truex",
                                          "\"abc",
                                          "[",
                                          "{",
                                          "/*c*/1",
                                          "1 //c",
                                          "\"\\ud800\"",
                                          "\"\\udc00\"",
                                          "\"\\ud800\\u0041\"",
                                          "\"\\ud800x\"",
                                          "\"\xC0\xAF\"",
                                          "\"\xED\xA0\x80\"",
                                          "\"\xF4\x90\x80\x80\"",
                                          "\"\xE2\x82\"",
                                          "\"\xFF\"",
                                          "\"\x80\"",
                                          std::string("\"a\0b\"", 5)};
    for (const std::string& doc : bad) {
        EXPECT_FALSE(nlohmann::json::accept(doc)) << "the list is wrong about " << doc;
        EXPECT_THROW(parse_json(doc), Error) << doc;
    }
    const std::vector<std::string> good = {
        "0",      "-0",         "-0.0e-0", "1E5", "[]", "{}", " \t\r\n1 ", "\"\xF4\x8F\xBF\xBF\"",
        "[[[]]]", "\"\\u0000\""};
    for (const std::string& doc : good) {
        EXPECT_TRUE(nlohmann::json::accept(doc)) << doc;
        EXPECT_NO_THROW(parse_json(doc)) << doc;
    }
}

TEST(JsonReader, ErrorsSayLineAndColumn) {
    EXPECT_EQ(error_of([] { parse_json("{\"a\":1,}"); }),
              "json: line 1, column 8: trailing comma before '}'");
    EXPECT_EQ(error_of([] { parse_json("[1,\n 2,\n x]"); }),
              "json: line 3, column 2: unexpected 'x', expected a value");
    // Columns count characters, not bytes.
    EXPECT_EQ(error_of([] { parse_json("[\"\xC3\xA9\xC3\xA9\", 01]"); }),
              "json: line 1, column 8: leading zero in a number");
    EXPECT_EQ(error_of([] { parse_json("{\"k\":1,\n\"k\":2}"); }),
              "json: line 2, column 1: duplicate key \"k\"");
    EXPECT_NE(error_of([] { parse_json("\"\\ud83d\""); }).find("surrogate"), std::string::npos);
    EXPECT_NE(error_of([] { parse_json("\"a\x01\""); }).find("control character"),
              std::string::npos);
    EXPECT_NE(error_of([] { parse_json("\"\xC0\xAF\""); }).find("invalid UTF-8"),
              std::string::npos);
    EXPECT_NE(error_of([] { parse_json("1 2"); }).find("after the value"), std::string::npos);
}

TEST(JsonReader, NestingIsLimitedTo256) {
    auto nested = [](int depth) { return std::string(depth, '[') + std::string(depth, ']'); };
    EXPECT_NO_THROW(parse_json(nested(256)));
    EXPECT_NE(error_of([&] { parse_json(nested(257)); }).find("nesting deeper than 256"),
              std::string::npos);
    // Deep enough to overflow the stack if recursion were not cut off.
    EXPECT_THROW(parse_json(nested(1000000)), Error);
    std::string objects;
    for (int i = 0; i < 300; ++i) objects += "{\"a\":";
    EXPECT_THROW(parse_json(objects + "1" + std::string(300, '}')), Error);
}

// ---- JSON Schema to GBNF

std::shared_ptr<const Grammar> compile(const std::string& schema) {
    std::string gbnf = json_schema_to_gbnf(schema);
    try {
        return Grammar::parse(gbnf);
    } catch (const Error& e) {
        ADD_FAILURE() << "the grammar does not compile: " << e.what() << "\n" << gbnf;
        throw;
    }
}

struct Case {
    const char* schema;
    std::vector<std::string> match;
    std::vector<std::string> reject;
};

void check(const Case& c) {
    SCOPED_TRACE(c.schema);
    std::shared_ptr<const Grammar> grammar;
    ASSERT_NO_THROW(grammar = compile(c.schema));
    std::string gbnf = json_schema_to_gbnf(c.schema);
    for (const std::string& doc : c.match) {
        EXPECT_TRUE(nlohmann::json::accept(doc)) << "not even JSON: " << doc;
        EXPECT_TRUE(grammar->matches(doc)) << "should match: " << doc << "\n" << gbnf;
    }
    for (const std::string& doc : c.reject) {
        EXPECT_FALSE(grammar->matches(doc)) << "should not match: " << doc << "\n" << gbnf;
    }
}

class SchemaLanguages : public ::testing::TestWithParam<Case> {};

TEST_P(SchemaLanguages, MatchExactlyTheValidDocuments) {
    check(GetParam());
}

INSTANTIATE_TEST_SUITE_P(
    Table, SchemaLanguages,
    ::testing::Values(
        Case{R"({})",
             {"1", "-2.5e3", "\"s\"", "null", "true", R"({"a":[1,{"b":null}]})", "[]", "{}"},
             {"", "tru", "01", "[1,]", "{\"a\"}", "'x'"}},
        Case{"true", {"1", "[1, 2]", "{\"x\": {}}"}, {"", "[1 2]"}},
        Case{R"({"type":"string"})",
             {R"("")", R"("abc")", R"("\"\\\/\b\f\n\r\t\u00e9")", "\"\xC3\xA9\xF0\x9F\x98\x80\""},
             {"abc", R"("a)", "\"a\nb\"", R"("\x")", R"("\u12")", "1", "null"}},
        Case{R"({"type":"string","minLength":2,"maxLength":3})",
             {R"("ab")", R"("abc")", "\"\xC3\xA9\xC3\xA9\"", R"("\n\u0041")"},
             {R"("a")", R"("abcd")", "\"\xC3\xA9\"", R"("")"}},
        Case{R"({"type":"string","minLength":1})", {R"("a")", R"("abcdefgh")"}, {R"("")"}},
        Case{R"({"type":"integer"})",
             {"0", "-1", "123", "1234567890123456"},
             {"-0", "01", "1.0", "1e2", "+1", "\"1\"", "12345678901234567"}},
        Case{R"({"type":"number"})",
             {"0", "-0", "1.5", "-2.25e-3", "1E+10", "123", "9.5e99"},
             // an exponent of three digits could overflow a double (1e999)
             {"01", ".5", "1.", "+1", "1e", "NaN", "1e100", "2e131154"}},
        Case{R"({"type":"boolean"})", {"true", "false"}, {"1", "True", "null"}},
        Case{R"({"type":"null"})", {"null"}, {"0", "\"null\""}},
        Case{R"({"type":["string","null"],"maxLength":1})",
             {R"("a")", "null", R"("")"},
             {R"("ab")", "1"}},
        Case{R"({"type":["integer","number"]})", {"1", "1.5"}, {"\"1\""}},
        Case{R"({"enum":["red","green",1,null,{"a":[1,2]},"a\"b"]})",
             {R"("red")", R"("green")", "1", "null", R"({"a":[1,2]})", R"("a\"b")"},
             {R"("blue")", "1.0", R"({"a": [1,2]})", R"("Red")"}},
        Case{R"({"type":"string","enum":["x",1,"y"]})", {R"("x")", R"("y")"}, {"1"}},
        Case{R"({"const":{"k":"v"}})", {R"({"k":"v"})"}, {R"({"k":"w"})", "{}"}},
        Case{R"({"type":"string","format":"date"})",
             {R"("2024-02-29")", R"("1999-12-31")", R"("0001-01-01")"},
             {R"("2024-13-01")", R"("2024-00-10")", R"("2024-01-32")", R"("2024-1-01")",
              R"("24-01-01")", R"("2024-01-00")"}},
        Case{R"({"type":"string","format":"time"})",
             {R"("23:59:59")", R"("00:00:00.123")", R"("12:30:00Z")", R"("12:30:00+05:30")",
              R"("12:30:00.5-08:00")"},
             {R"("24:00:00")", R"("12:60:00")", R"("12:30")", R"("12:30:00+5:30")",
              R"("12:30:00.")"}},
        Case{R"({"type":"string","format":"date-time"})",
             {R"("2024-05-06T07:08:09Z")", R"("2024-05-06T07:08:09.123+01:00")"},
             {R"("2024-05-06 07:08:09")", R"("2024-05-06")"}},
        Case{R"({"type":"string","format":"uuid"})",
             {R"("123e4567-e89b-12d3-a456-426614174000")",
              R"("123E4567-E89B-12D3-A456-426614174000")"},
             {R"("123e4567e89b12d3a456426614174000")", R"("123e4567-e89b-12d3-a456-42661417400")",
              R"("g23e4567-e89b-12d3-a456-426614174000")"}},
        Case{R"({"type":"integer","format":"int64","maximum":3})", {"3", "-7"}, {"4"}},
        Case{R"({"type":"array"})", {"[]", "[1,\"a\",null]", "[[]]"}, {"[1,]", "["}},
        Case{R"({"type":"array","items":{"type":"integer"},"minItems":2,"maxItems":3})",
             {"[1,2]", "[1,2,3]", "[ 1 , 2 ]"},
             {"[]", "[1]", "[1,2,3,4]", "[1,\"2\"]"}},
        Case{R"({"type":"array","items":{"type":"integer"},"maxItems":1})",
             {"[]", "[5]"},
             {"[5,6]"}},
        Case{R"({"type":"array","items":{"type":"integer"},"minItems":1})",
             {"[5]", "[5,6,7,8,9]"},
             {"[]"}},
        Case{R"({"type":"array","items":false})", {"[]"}, {"[1]"}},
        Case{R"({"type":"array","prefixItems":[{"type":"integer"},{"type":"string"}]})",
             {"[]", "[1]", "[1,\"a\"]", "[1,\"a\",null,{}]"},
             {"[\"a\"]", "[1,2]"}},
        Case{R"({"type":"array","prefixItems":[{"type":"integer"},{"type":"string"}],
                 "items":{"type":"boolean"},"minItems":3,"maxItems":4})",
             {"[1,\"a\",true]", "[1,\"a\",true,false]"},
             {"[1,\"a\"]", "[1,\"a\",true,false,true]", "[1,\"a\",1]"}},
        Case{R"({"type":"array","items":[{"const":1}],"additionalItems":false,"minItems":1})",
             {"[1]"},
             {"[]", "[1,1]", "[2]"}},
        Case{R"({"anyOf":[{"type":"integer","minimum":5},{"type":"string","maxLength":1}]})",
             {"5", "9", R"("a")"},
             {"4", R"("ab")", "null"}},
        Case{R"({"oneOf":[{"type":"boolean"},{"type":"null"}],"description":"x"})",
             {"true", "null"},
             {"0"}},
        Case{R"({"allOf":[{"$ref":"#/$defs/p"}],"title":"t","$defs":{"p":{"type":"integer"}}})",
             {"1"},
             {"\"1\""}},
        // Objects: order as in properties, white space where a model would put it.
        Case{R"({"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"}},
                 "required":["name","age"],"additionalProperties":false})",
             {R"({"name":"Al","age":3})", "{ \"name\" : \"Al\" , \"age\" : 3 } ",
              "{\n  \"name\": \"Al\",\n  \"age\": 3\n}\n"},
             {R"({"age":3,"name":"Al"})", R"({"name":"Al"})", R"({"name":"Al","age":3,"x":1})",
              R"({"name":"Al","age":"3"})", R"({"name":"Al",,"age":3})",
              "{\n" + std::string(21, ' ') + "\"name\":\"Al\",\"age\":3}", "  {}"}},
        Case{
            R"({"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"}},
                 "required":["b"]})",
            {R"({"b":1})", R"({"a":1,"b":2})", R"({"b":1,"c":[]})", R"({"a":1,"b":2,"c":3,"d":4})"},
            {R"({"a":1})", "{}", R"({"b":1,"a":2})", R"({"b":1,"b":2})"}},
        Case{R"({"type":"object","additionalProperties":{"type":"integer"}})",
             {"{}", R"({"x":1})", R"({"x":1,"y":2})"},
             {R"({"x":"1"})", R"({"x":1,})"}},
        Case{R"({"type":"object","additionalProperties":false})", {"{}"}, {R"({"x":1})"}},
        Case{R"({"properties":{"a":{"type":"integer"},"b":false}})",
             {"{}", R"({"a":1})", R"({"a":1,"c":2})"},
             {R"({"b":1})", R"({"a":1,"b":1})"}},
        Case{R"({"type":"object","required":["id"],"additionalProperties":{"type":"integer"}})",
             {R"({"id":1})", R"({"id":1,"x":2})"},
             {"{}", R"({"id":"1"})", R"({"x":2})"}}));

// Every subset of optional members, in order, with commas only between members.
TEST(JsonSchema, OptionalPropertiesTakeEveryCombination) {
    for (bool extras : {false, true}) {
        std::string schema = R"({"type":"object","properties":{"a":{"const":1},"b":{"const":2},
                                 "c":{"const":3}},"additionalProperties":)" +
                             std::string(extras ? "true}" : "false}");
        SCOPED_TRACE(schema);
        auto grammar = compile(schema);
        const char* members[] = {R"("a":1)", R"("b":2)", R"("c":3)"};
        for (int mask = 0; mask < 8; ++mask) {
            std::vector<std::string> present;
            for (int i = 0; i < 3; ++i) {
                if (mask & (1 << i)) present.push_back(members[i]);
            }
            std::string body;
            for (size_t i = 0; i < present.size(); ++i) body += (i ? "," : "") + present[i];
            EXPECT_TRUE(grammar->matches("{" + body + "}")) << body;
            if (!present.empty()) {
                EXPECT_FALSE(grammar->matches("{," + body + "}")) << body;
                EXPECT_FALSE(grammar->matches("{" + body + ",}")) << body;
                if (extras) {
                    EXPECT_TRUE(grammar->matches("{" + body + ",\"z\":0}")) << body;
                }
            }
            if (present.size() >= 2) {
                std::string doubled = body;
                doubled.insert(doubled.find(','), ",");
                EXPECT_FALSE(grammar->matches("{" + doubled + "}")) << doubled;
                std::string missing = body;
                missing.erase(missing.find(','), 1);
                EXPECT_FALSE(grammar->matches("{" + missing + "}")) << missing;
            }
        }
        EXPECT_FALSE(grammar->matches(R"({"b":2,"a":1})"));
        EXPECT_FALSE(grammar->matches(R"({"a":1,"a":1})"));
        EXPECT_EQ(grammar->matches(R"({"z":0})"), extras);
        EXPECT_EQ(grammar->matches(R"({"z":0,"y":[]})"), extras);
        EXPECT_FALSE(grammar->matches(R"({"z":0,"a":1})"));  // extras come last
    }
}

TEST(JsonSchema, OptionalPropertiesAroundARequiredOne) {
    auto grammar = compile(R"({"properties":{"a":{"const":1},"b":{"const":2},"c":{"const":3},
                                "d":{"const":4}},"required":["c"],"additionalProperties":false})");
    const char* members[] = {R"("a":1)", R"("b":2)", R"("c":3)", R"("d":4)"};
    for (int mask = 0; mask < 16; ++mask) {
        std::string body;
        for (int i = 0; i < 4; ++i) {
            if (mask & (1 << i)) body += std::string(body.empty() ? "" : ",") + members[i];
        }
        EXPECT_EQ(grammar->matches("{" + body + "}"), (mask & 4) != 0) << body;
    }
}

// An extra member may have any key but a declared one, escaped or not. (Until a key has left
// every declared name it may not use \u escapes: not even "\u0062", which no name starts with.)
TEST(JsonSchema, AdditionalKeysNeverRepeatADeclaredName) {
    auto grammar = compile(R"({"type":"object","properties":{"ab":{"type":"integer"},
                                "abc":{"type":"integer"},"x/y":{"type":"integer"},
                                "q\"":{"type":"integer"}}})");
    const std::string declared = R"({"ab":1,"abc":1,"x/y":1,"q\"":1,")";
    for (const char* key : {"a", "abd", "abcd", "b", "", "x", "x/", "x/yz", "xy", "q", "q\\\"x",
                            "zz\\u0061b", "x\\/yz", "\\n"}) {
        EXPECT_TRUE(grammar->matches(std::string(R"({"ab":1,")") + key + "\":2}")) << key;
        EXPECT_TRUE(grammar->matches(declared + key + "\":2}")) << key;
        EXPECT_TRUE(grammar->matches(std::string("{\"") + key + "\":2}")) << key;
    }
    for (const char* key : {"ab", "abc", "x/y", "x\\/y", "q\\\"", "a\\u0062", "\\u0061b"}) {
        EXPECT_FALSE(grammar->matches(declared + key + "\":2}")) << key;
    }
    EXPECT_TRUE(grammar->matches(R"({"abc":1,"x/y":2})"));
}

TEST(JsonSchema, AdditionalPropertiesSchemaConstrainsExtraValues) {
    auto grammar = compile(R"({"type":"object","properties":{"n":{"type":"integer"}},
                                "additionalProperties":{"type":"string"}})");
    EXPECT_TRUE(grammar->matches(R"({"n":1,"m":"x"})"));
    EXPECT_TRUE(grammar->matches(R"({"m":"x","o":"y"})"));
    EXPECT_FALSE(grammar->matches(R"({"n":1,"m":2})"));
    EXPECT_FALSE(grammar->matches(R"({"n":1,"n":"x"})"));
}

void check_integer_range(const std::string& schema, long long lo, long long hi, long long from,
                         long long to) {
    SCOPED_TRACE(schema);
    auto grammar = compile(schema);
    for (long long i = from; i <= to; ++i) {
        EXPECT_EQ(grammar->matches(std::to_string(i)), i >= lo && i <= hi) << i;
    }
    for (const char* never : {"01", "-0", "00", "-01", "+1", "1.0", "1e1", " 1"}) {
        EXPECT_FALSE(grammar->matches(never)) << never;
    }
}

TEST(JsonSchema, IntegerRangesAreExact) {
    const long long kMin = std::numeric_limits<long long>::min() / 2;
    const long long kMax = std::numeric_limits<long long>::max() / 2;
    check_integer_range(R"({"type":"integer","minimum":-15,"maximum":123})", -15, 123, -200, 300);
    check_integer_range(R"({"type":"integer","minimum":0,"maximum":9})", 0, 9, -30, 120);
    check_integer_range(R"({"type":"integer","minimum":7,"maximum":7})", 7, 7, -30, 120);
    check_integer_range(R"({"type":"integer","minimum":-1000,"maximum":-3})", -1000, -3, -1200, 50);
    check_integer_range(R"({"type":"integer","minimum":10})", 10, kMax, -50, 1200);
    check_integer_range(R"({"type":"integer","maximum":-5})", kMin, -5, -1200, 50);
    check_integer_range(R"({"type":"integer","exclusiveMinimum":-3,"exclusiveMaximum":1000})", -2,
                        999, -100, 1100);
    check_integer_range(R"({"type":"integer","minimum":1.5,"maximum":99.9})", 2, 99, -10, 120);
    check_integer_range(R"({"type":"integer","minimum":5,"exclusiveMinimum":true,
                            "maximum":20,"exclusiveMaximum":true})",
                        6, 19, -10, 40);  // draft 4
    check_integer_range(R"({"type":"integer","minimum":999,"maximum":1001})", 999, 1001, 900, 1100);
    check_integer_range(R"({"type":"integer","minimum":-99,"maximum":-10})", -99, -10, -150, 20);
    check_integer_range(R"({"type":"integer","minimum":190,"maximum":2010})", 190, 2010, 0, 2500);

    // Open sides stop at 16 digits; explicit bounds may go to the ends of 64 bits.
    auto open = compile(R"({"type":"integer","minimum":10})");
    EXPECT_TRUE(open->matches("9999999999999999"));
    EXPECT_FALSE(open->matches("10000000000000000"));
    auto wide = compile(
        R"({"type":"integer","minimum":-9223372036854775808,"maximum":9223372036854775807})");
    EXPECT_TRUE(wide->matches("-9223372036854775808"));
    EXPECT_TRUE(wide->matches("9223372036854775807"));
    EXPECT_TRUE(wide->matches("0"));
    EXPECT_FALSE(wide->matches("9223372036854775808"));
    EXPECT_FALSE(wide->matches("-9223372036854775809"));
}

std::string decimal(int quarters, bool trim) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.3f", quarters / 4.0);
    std::string s = buf;
    if (trim) {
        while (s.back() == '0') s.pop_back();
        if (s.back() == '.') s.pop_back();
    }
    return s;
}

TEST(JsonSchema, NumberRangesAreExact) {
    struct Range {
        const char* schema;
        double lo, hi;
        bool lo_exclusive, hi_exclusive;
    };
    const double inf = HUGE_VAL;
    for (const Range& r : {
             Range{R"({"type":"number","minimum":0,"maximum":1})", 0, 1, false, false},
             Range{R"({"type":"number","minimum":-3,"maximum":2})", -3, 2, false, false},
             Range{R"({"type":"number","exclusiveMinimum":-3,"exclusiveMaximum":2})", -3, 2, true,
                   true},
             Range{R"({"type":"number","minimum":-2,"maximum":-1})", -2, -1, false, false},
             Range{R"({"type":"number","exclusiveMinimum":0})", 0, inf, true, false},
             Range{R"({"type":"number","minimum":3})", 3, inf, false, false},
             Range{R"({"type":"number","maximum":-2})", -inf, -2, false, false},
             Range{R"({"type":"number","exclusiveMaximum":0})", -inf, 0, false, true},
             Range{R"({"type":"number","minimum":12,"maximum":12})", 12, 12, false, false},
             Range{R"({"type":"number","minimum":-1,"exclusiveMaximum":1})", -1, 1, false, true},
         }) {
        SCOPED_TRACE(r.schema);
        auto grammar = compile(r.schema);
        for (int q = -100; q <= 100; ++q) {
            double x = q / 4.0;
            bool in =
                (r.lo_exclusive ? x > r.lo : x >= r.lo) && (r.hi_exclusive ? x < r.hi : x <= r.hi);
            EXPECT_EQ(grammar->matches(decimal(q, true)), in) << decimal(q, true);
            EXPECT_EQ(grammar->matches(decimal(q, false)), in) << decimal(q, false);
        }
        for (const char* never : {"-0", "-0.0", "01", "1e0", ".5", "1.", "+1"}) {
            EXPECT_FALSE(grammar->matches(never)) << never;
        }
    }
    auto unit = compile(R"({"type":"number","minimum":0,"maximum":1})");
    for (const char* yes : {"0", "0.5", "1", "1.0", "1.000", "0.999999", "0.0"}) {
        EXPECT_TRUE(unit->matches(yes)) << yes;
    }
    for (const char* no : {"1.01", "-0.1", "1e0", "1.0001", "2", "-1"}) {
        EXPECT_FALSE(unit->matches(no)) << no;
    }
}

TEST(JsonSchema, EnumAndConstValuesRoundTrip) {
    const char* values = R"([
        "plain", "caf\u00e9", "tab\there", "quote\"back\\slash", "\u0001", "\ud83d\ude00",
        0, -1, 2.50, 1e3, true, false, null, [], {}, [1, [2, {"a": null}]],
        {"k": "v", "n": {"m": [true]}}
    ])";
    JsonValue list = parse_json(values);
    std::string schema = std::string(R"({"enum":)") + values + "}";
    auto grammar = compile(schema);
    for (const JsonValue& v : list.items) {
        EXPECT_TRUE(grammar->matches(v.dump())) << v.dump();
        auto single = compile(R"({"const":)" + v.dump() + "}");
        EXPECT_TRUE(single->matches(v.dump())) << v.dump();
        EXPECT_FALSE(single->matches("\"other\"")) << v.dump();
    }
    EXPECT_FALSE(grammar->matches("2.5"));  // written as in the schema: 2.50
    EXPECT_FALSE(grammar->matches("\"cafe\""));
}

// The grammar engine unrolls repetitions of at most 1000: larger counts go in blocks.
TEST(JsonSchema, CountsAboveTheEnginesRepetitionLimit) {
    auto text = [](size_t n) { return "\"" + std::string(n, 'a') + "\""; };
    auto ranged = compile(R"({"type":"string","minLength":1500,"maxLength":2500})");
    auto upto = compile(R"({"type":"string","maxLength":3000})");
    auto exact = compile(R"({"type":"string","minLength":2345,"maxLength":2345})");
    for (size_t n : {0,    1,    999,  1000, 1001, 1499, 1500, 1501, 1999, 2000,
                     2001, 2344, 2345, 2346, 2499, 2500, 2501, 2999, 3000, 3001}) {
        EXPECT_EQ(ranged->matches(text(n)), n >= 1500 && n <= 2500) << n;
        EXPECT_EQ(upto->matches(text(n)), n <= 3000) << n;
        EXPECT_EQ(exact->matches(text(n)), n == 2345) << n;
    }
    auto items = compile(R"({"type":"array","items":{"const":7},"minItems":1001,"maxItems":1200})");
    for (size_t n : {0, 1, 1000, 1001, 1100, 1200, 1201}) {
        std::string doc = "[";
        for (size_t i = 0; i < n; ++i) doc += i ? ",7" : "7";
        EXPECT_EQ(items->matches(doc + "]"), n >= 1001 && n <= 1200) << n;
    }
}

// Each character of a name, and each item of a tuple, nests a group; the engine allows 256.
TEST(JsonSchema, LongNamesAndLongTuples) {
    std::string name(300, 'k');
    auto grammar =
        compile(R"({"type":"object","properties":{")" + name + R"(":{"type":"integer"}}})");
    EXPECT_TRUE(grammar->matches("{\"" + name + "\":1}"));
    EXPECT_TRUE(grammar->matches("{\"" + name + "\":1,\"" + name + "k\":2}"));
    EXPECT_TRUE(grammar->matches("{\"" + name + "\":1,\"" + name.substr(1) + "\":2}"));
    EXPECT_FALSE(grammar->matches("{\"" + name + "\":1,\"" + name + "\":2}"));

    std::string prefix, doc;
    for (int i = 0; i < 150; ++i) {
        prefix += std::string(i ? "," : "") + R"({"const":)" + std::to_string(i) + "}";
        doc += std::string(i ? "," : "") + std::to_string(i);
    }
    auto tuple = compile(R"({"type":"array","items":false,"prefixItems":[)" + prefix + "]}");
    EXPECT_TRUE(tuple->matches("[" + doc + "]"));
    EXPECT_TRUE(tuple->matches("[0,1,2]"));
    EXPECT_FALSE(tuple->matches("[" + doc + ",150]"));
    EXPECT_FALSE(tuple->matches("[1]"));
}

// A tree through a recursive $ref, and refs to the whole document.
TEST(JsonSchema, RecursiveRefs) {
    auto tree = compile(R"({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": "#/$defs/node",
        "$defs": {"node": {"type": "object", "properties": {
            "value": {"type": "integer"},
            "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
            "required": ["value"], "additionalProperties": false}}})");
    EXPECT_TRUE(tree->matches(R"({"value":1})"));
    EXPECT_TRUE(tree->matches(
        R"({"value":1,"children":[{"value":2,"children":[{"value":3}]},{"value":4,"children":[]}]})"));
    EXPECT_FALSE(tree->matches(R"({"value":1,"children":[{"children":[]}]})"));
    EXPECT_FALSE(tree->matches(R"({"value":1,"children":[{"value":"x"}]})"));

    auto list = compile(R"({"type":"object","properties":{"head":{"type":"integer"},
                             "tail":{"anyOf":[{"$ref":"#"},{"type":"null"}]}},
                             "required":["head","tail"],"additionalProperties":false})");
    EXPECT_TRUE(list->matches(R"({"head":1,"tail":{"head":2,"tail":null}})"));
    EXPECT_FALSE(list->matches(R"({"head":1,"tail":{"head":2}})"));

    auto escaped = compile(R"({"definitions":{"a/b":{"type":"integer"},"c~d":{"type":"string"}},
                                "type":"array","prefixItems":[{"$ref":"#/definitions/a~1b"},
                                {"$ref":"#/definitions/c~0d"}],"items":false,"minItems":2})");
    EXPECT_TRUE(escaped->matches(R"([1,"x"])"));
    EXPECT_FALSE(escaped->matches(R"(["x",1])"));
}

// A schema whose first step is itself matches by recursion that never reads a character: the
// grammar engine cannot run it, and the converter says so instead of handing out a grammar
// that does not compile (found by fuzz_grammar).
TEST(JsonSchema, SelfReferenceBeforeAnyTextIsAnError) {
    for (const char* schema : {
             R"({"$ref":"#"})",
             R"({"$defs":{"t":{"type":"array","items":{"$ref":"#/$defs/t"}}},"$ref":"#"})",
             R"({"$defs":{"a":{"$ref":"#/$defs/b"},"b":{"$ref":"#/$defs/a"}},"$ref":"#/$defs/a"})",
             R"({"anyOf":[{"$ref":"#"},{"type":"string"}]})",
         }) {
        std::string error = error_of([&] { json_schema_to_gbnf(schema); });
        EXPECT_NE(error.find("refers to itself before matching any text"), std::string::npos)
            << schema << ": " << error;
    }
}

TEST(JsonSchema, DeepSchemasAndRefChainsAreErrorsNotCrashes) {
    std::string nested = R"({"type":"integer"})";
    for (int i = 0; i < 100; ++i) nested = R"({"type":"array","items":)" + nested + "}";
    EXPECT_TRUE(compile(nested)->matches(std::string(100, '[') + "1" + std::string(100, ']')));
    for (int i = 0; i < 100; ++i) nested = R"({"type":"array","items":)" + nested + "}";
    EXPECT_NE(error_of([&] { json_schema_to_gbnf(nested); }).find("nested more than"),
              std::string::npos);

    std::string chain = R"({"$ref":"#/$defs/d0","$defs":{)";
    for (int i = 0; i < 1000; ++i) {
        chain +=
            "\"d" + std::to_string(i) + R"(":{"$ref":"#/$defs/d)" + std::to_string(i + 1) + "\"},";
    }
    chain += R"("d1000":{"type":"integer"}}})";
    EXPECT_NE(error_of([&] { json_schema_to_gbnf(chain); }).find("nested more than"),
              std::string::npos);
}

TEST(JsonSchema, RulesAreNamedAfterTheirPath) {
    std::string gbnf = json_schema_to_gbnf(R"({"type":"object","properties":{"person":
        {"type":"object","properties":{"age":{"type":"integer","minimum":0},
                                       "first_name":{"type":"string","maxLength":5}}}}})");
    EXPECT_NE(gbnf.find("\nperson-age ::= "), std::string::npos) << gbnf;
    EXPECT_NE(gbnf.find("\nperson-first-name ::= "), std::string::npos) << gbnf;
    EXPECT_EQ(gbnf.rfind("root ::= ", 0), 0u) << gbnf;
    for (size_t at = 0; at < gbnf.size(); at = gbnf.find('\n', at) + 1) {
        std::string name = gbnf.substr(at, gbnf.find(" ::= ", at) - at);
        EXPECT_EQ(name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-"),
                  std::string::npos)
            << name;
    }
    EXPECT_NO_THROW(Grammar::parse(gbnf));
}

TEST(JsonSchema, JsonObjectGrammarTakesAnyObject) {
    auto grammar = Grammar::parse(json_object_gbnf());
    for (const char* yes : {"{}", R"({"a":1})", R"({ "a" : [1, {"b": null}], "c": "d" })",
                            "{\n  \"x\": -1.5e3\n}\n"}) {
        EXPECT_TRUE(grammar->matches(yes)) << yes;
    }
    for (const char* no : {"[]", "1", "\"x\"", "{\"a\"}", "{\"a\":1,}", "{a:1}"}) {
        EXPECT_FALSE(grammar->matches(no)) << no;
    }
}

// A constraint the grammar cannot express must not be dropped without a word.
TEST(JsonSchema, UnsupportedKeywordsNameThemselvesAndTheirPlace) {
    for (const char* keyword : {"multipleOf",
                                "patternProperties",
                                "if",
                                "then",
                                "else",
                                "not",
                                "uniqueItems",
                                "dependentRequired",
                                "dependentSchemas",
                                "minProperties",
                                "maxProperties",
                                "contains",
                                "minContains",
                                "maxContains",
                                "propertyNames",
                                "unevaluatedProperties",
                                "unevaluatedItems",
                                "pattern",
                                "contentMediaType",
                                "nullable",
                                "$anchor",
                                "$dynamicRef",
                                "dependencies",
                                "x-custom"}) {
        std::string schema = std::string(R"({"type":"object","properties":{"a/b":{"type":)") +
                             R"("integer",")" + keyword + R"(":1}}})";
        std::string error = error_of([&] { json_schema_to_gbnf(schema); });
        EXPECT_NE(error.find("json schema: at #/properties/a~1b: "), std::string::npos) << error;
        EXPECT_NE(error.find(std::string("\"") + keyword + "\""), std::string::npos) << error;
        EXPECT_NE(error.find("not supported"), std::string::npos) << error;
    }
    std::string nested = error_of([] {
        json_schema_to_gbnf(R"({"$defs":{"x":{"type":"string","pattern":"^a"}},
                                "type":"array","items":{"$ref":"#/$defs/x"}})");
    });
    EXPECT_NE(nested.find("at #/$defs/x: keyword \"pattern\" (a regular expression) is not "
                          "supported"),
              std::string::npos)
        << nested;
}

TEST(JsonSchema, ImpossibleOrUnsupportedSchemasAreErrors) {
    const std::vector<std::pair<const char*, const char*>> cases = {
        {R"(false)", "at #: the schema false matches nothing"},
        {R"({"type":"string","minLength":3,"maxLength":2})", "minLength is more than maxLength"},
        {R"({"type":"integer","minimum":5,"maximum":4})", "no integer lies within the bounds"},
        {R"({"type":"integer","minimum":4.5,"maximum":4.9})", "no integer lies within the bounds"},
        {R"({"type":"number","exclusiveMinimum":1,"maximum":1})", "no number lies within"},
        {R"({"type":"number","minimum":0.5})", "not an integer is not supported for numbers"},
        {R"({"type":"integer","minimum":1e30})", "beyond 64-bit integers"},
        {R"({"type":"object","properties":{},"required":["a"],"additionalProperties":false})",
         "required property \"a\" is not in properties and additionalProperties is false"},
        {R"({"type":"object","properties":{"a":false},"required":["a"]})",
         "at #/properties/a: required property with the schema false"},
        {R"({"type":"string","format":"email"})", "at #/format: format \"email\" is not supported"},
        {R"({"$ref":"other.json#/a"})", "references to other documents are not supported"},
        {R"({"$ref":"#/$defs/missing"})", "points at nothing"},
        {R"({"$ref":"#anchor"})", "anchors are not supported"},
        {R"({"allOf":[{"type":"integer"},{"minimum":1}]})",
         "allOf is supported only with a single"},
        {R"({"type":"integer","anyOf":[{"minimum":1}]})", "keyword \"type\" beside \"anyOf\""},
        {R"({"$ref":"#/$defs/a","minimum":1,"$defs":{"a":{}}})",
         "keyword \"minimum\" beside \"$ref\""},
        {R"({"enum":["a"],"maxLength":3})", "keyword \"maxLength\" beside \"enum\""},
        {R"({"type":"integer","enum":["a"]})", "no value of enum can match"},
        {R"({"type":"array","items":false,"minItems":1})", "minItems is more than the array"},
        {R"({"type":"array","minItems":3,"maxItems":2})", "minItems is more than the array"},
        {R"({"type":"strin"})", "at #/type: unknown type \"strin\""},
        {R"({"type":"string","minLength":-1})", "minLength must be a non-negative integer"},
        {R"({"type":"string","minLength":1.5})", "minLength must be a non-negative integer"},
        {R"({"anyOf":[false]})", "no alternative can match"},
        {R"(3)", "a schema must be an object or a boolean"},
        {R"({"type":"object",})", "json schema: json: line 1, column 18"},
    };
    for (const auto& [schema, message] : cases) {
        std::string error = error_of([&, text = schema] { json_schema_to_gbnf(text); });
        EXPECT_EQ(error.rfind("json schema: ", 0), 0u) << schema << ": " << error;
        EXPECT_NE(error.find(message), std::string::npos) << schema << ": " << error;
    }
}

TEST(JsonSchema, AnnotationsChangeNothing) {
    std::string plain = json_schema_to_gbnf(R"({"type":"integer","minimum":1})");
    std::string annotated = json_schema_to_gbnf(R"({"$schema":"x","$id":"y","$comment":"c",
        "title":"t","description":"d","default":1,"examples":[1],"deprecated":false,
        "readOnly":true,"writeOnly":false,"$defs":{"u":{"not":{}}},"definitions":{},
        "type":"integer","minimum":1})");
    EXPECT_EQ(plain, annotated);
}

}  // namespace
}  // namespace ember
