// GBNF grammars: the parser's errors, strings accepted and rejected (a table of cases in the
// spirit of llama.cpp's grammar integration tests, written here), characters split across
// tokens, and the vocabulary trie agreeing with token-by-token checks.
#include <gtest/gtest.h>

#include <random>

#include "engine/grammar/grammar.h"
#include "formats/error.h"

namespace ember {
namespace {

std::string parse_error(const std::string& gbnf) {
    try {
        Grammar::parse(gbnf);
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

TEST(GrammarParser, ErrorsSayWhereAndWhat) {
    struct Case {
        const char* gbnf;
        const char* message;
    };
    const Case cases[] = {
        {"", "grammar: line 1, column 1: the grammar has no rules"},
        {"root ::= \"a\"\nroot ::= \"b\"",
         "grammar: line 2, column 1: rule 'root' is defined twice (first at line 1, column 1)"},
        {"root ::= item", "grammar: line 1, column 10: rule 'item' is not defined"},
        {"start ::= \"a\"", "grammar: there is no rule 'root' to start from"},
        {"root = \"a\"", "grammar: line 1, column 6: expected '::=' after the rule name"},
        {"root ::= \"abc", "grammar: line 1, column 10: a string without its end quote"},
        {"root ::= [a-z", "grammar: line 1, column 10: a character class without its ']'"},
        {"root ::= []", "grammar: line 1, column 10: an empty character class"},
        {"root ::= [z-a]", "grammar: line 1, column 13: a range whose end comes before its start"},
        {"root ::= (\"a\" | \"b\"", "grammar: line 1, column 20: a '(' without its ')'"},
        {"root ::= \"a\")", "grammar: line 1, column 13: ')' without a matching '('"},
        {"root ::= * \"a\"", "grammar: line 1, column 10: '*' has nothing to repeat"},
        {"root ::= \"a\"{3,2}",
         "grammar: line 1, column 13: a repetition whose maximum is below its minimum"},
        {"root ::= \"a\"{2000}", "grammar: line 1, column 14: a repetition count above 1000"},
        {"root ::= \"a\"{2", "grammar: line 1, column 15: expected '}' after the repetition count"},
        {"root ::= \"\\q\"", "grammar: line 1, column 11: unknown escape '\\q'"},
        {"root ::= \"\\x4\"", "grammar: line 1, column 11: expected 2 hex digits"},
        {"root ::= \"a\" @", "grammar: line 1, column 14: unexpected '@'"},
        {"# a comment\nroot ::= expr\nexpr ::= expr \"+\" term | term\nterm ::= [0-9]",
         "grammar: line 3, column 1: rule 'expr' is left-recursive: expr -> expr"},
        {"root ::= a\na ::= b? c\nb ::= \"x\"\nc ::= a \"y\" | \"z\"",
         "grammar: line 2, column 1: rule 'a' is left-recursive: a -> c -> a"},
        {"root ::= (root \"x\")? \"y\"",
         "grammar: line 1, column 1: rule 'root' is left-recursive: root -> root"},
    };
    for (const Case& c : cases) EXPECT_EQ(parse_error(c.gbnf), c.message) << c.gbnf;
}

TEST(GrammarParser, AcceptsTheNotation) {
    // Comments, rules over several lines after | and inside parentheses, CRLF line ends,
    // every escape, names with digits, dashes and underscores.
    const char* gbnf =
        "# leading comment\r\n"
        "root ::= greeting-1 (\r\n"
        "    \" \" name_x   # trailing comment\n"
        "  )? |\n"
        "  [\\x41-\\x43\\u00e9\\U0001F600\\]\\-] \"\\t\\n\\r\\\\\\\"\"\n"
        "greeting-1 ::= \"hi\" | \"hello\"\n"
        "name_x ::= [A-Z] [a-z]{1,5}\n";
    const auto g = Grammar::parse(gbnf);
    EXPECT_TRUE(g->matches("hi"));
    EXPECT_TRUE(g->matches("hello Bob"));
    EXPECT_TRUE(g->matches("\xC3\xA9\t\n\r\\\""));          // é
    EXPECT_TRUE(g->matches("\xF0\x9F\x98\x80\t\n\r\\\""));  // U+1F600
    EXPECT_TRUE(g->matches("]\t\n\r\\\""));
    EXPECT_TRUE(g->matches("-\t\n\r\\\""));
    EXPECT_FALSE(g->matches("hello bob"));
    EXPECT_FALSE(g->matches("hello Bobbyyy"));
    EXPECT_FALSE(g->matches("D\t\n\r\\\""));
}

struct MatchCase {
    const char* gbnf;
    std::vector<const char*> accepted;
    std::vector<const char*> rejected;
};

TEST(GrammarMatcher, AcceptsExactlyTheSentences) {
    const MatchCase cases[] = {
        {R"(root ::= "abc")", {"abc"}, {"", "ab", "abcd", "abd", "ABC"}},
        {R"(root ::= "a" | "b" | "")", {"a", "b", ""}, {"ab", "c"}},
        {R"(root ::= [a-c]+)", {"a", "abcabc", "ccc"}, {"", "abd", "d"}},
        {R"(root ::= [^a-c]*)", {"", "xyz", "\xC3\xA9\xE2\x82\xAC"}, {"a", "xa", "xyzc"}},
        {R"(root ::= "x"? "y"*)", {"", "x", "xy", "yyy", "y"}, {"xx", "yx"}},
        {R"(root ::= ("ab" | "c"){2})", {"abab", "abc", "cc", "cab"}, {"ab", "c", "ccc", "abcab"}},
        {R"(root ::= [0-9]{2,})", {"12", "123456"}, {"", "1", "12a"}},
        {R"(root ::= [0-9]{0,2})", {"", "1", "12"}, {"123"}},
        {R"(root ::= [0-9]{1,3} "." [0-9]{3})", {"1.000", "123.456"}, {"1234.000", ".000", "1.00"}},
        {R"(root ::= "a" .* "z")", {"az", "a z", "azzz", "a\xE2\x82\xACz"}, {"a", "z", "za"}},
        {R"(root ::= [a-zA-Z_] [a-zA-Z0-9_]*)", {"x", "_a1", "Name_2"}, {"1a", "a-b", ""}},
        // A grammar whose alternatives overlap: the matcher follows both.
        {R"(root ::= "a"+ "b" | "a" "a"* "c")", {"ab", "aaab", "ac", "aaac"}, {"a", "abc", "b"}},
        // Nested and recursive rules (not left-recursive).
        {"root ::= list\nlist ::= \"[\" (item (\",\" item)*)? \"]\"\nitem ::= [0-9]+ | list",
         {"[]", "[1]", "[1,[2,[]],33]", "[[[[]]]]"},
         {"[", "[1,]", "[,1]", "[1]]", "[1,[2]"}},
        // Escapes, Unicode ranges, and a negated class with a range and single characters.
        {R"(root ::= [\u0400-\u04FF]+ [^\n"\\]?)",
         {"\xD0\x96", "\xD0\x96\xD0\x96!"},
         {"a", "\xD0\x96\n", "\xD0\x96\""}},
    };
    for (const MatchCase& c : cases) {
        const auto g = Grammar::parse(c.gbnf);
        for (const char* s : c.accepted) EXPECT_TRUE(g->matches(s)) << c.gbnf << " / " << s;
        for (const char* s : c.rejected) EXPECT_FALSE(g->matches(s)) << c.gbnf << " / " << s;
    }
}

TEST(GrammarMatcher, TracksPrefixesEndingAndFinishing) {
    const auto g = Grammar::parse(R"(root ::= "{" [a-z]{1,3} "}")");
    GrammarMatcher m(g);
    EXPECT_FALSE(m.can_end());
    EXPECT_TRUE(m.accepts("{ab"));
    EXPECT_FALSE(m.accepts("{ab1"));
    EXPECT_FALSE(m.advance("x"));  // refused: the state is unchanged
    EXPECT_TRUE(m.advance("{a"));
    EXPECT_TRUE(m.advance("bc"));
    EXPECT_FALSE(m.accepts("d"));
    EXPECT_TRUE(m.advance("}"));
    EXPECT_TRUE(m.can_end());
    EXPECT_FALSE(m.can_continue());
    m.reset();
    EXPECT_FALSE(m.can_end());
    EXPECT_TRUE(m.can_continue());
}

// Byte-level tokens may split a character: the matcher keeps the partial character, refuses
// a prefix no allowed character starts with, and counts it as one character when it completes.
TEST(GrammarMatcher, CharactersSplitAcrossTokens) {
    const auto g = Grammar::parse(R"(root ::= [\u00e0-\u00ff] "\u20ac" "!")");
    GrammarMatcher m(g);
    EXPECT_TRUE(m.accepts("\xC3"));   // the first byte of U+00C0..U+00FF
    EXPECT_FALSE(m.accepts("\xC2"));  // U+0080..U+00BF: none allowed
    EXPECT_FALSE(m.accepts("\xE2"));  // a three-byte character cannot come first
    EXPECT_TRUE(m.advance("\xC3"));
    EXPECT_FALSE(m.can_end());
    EXPECT_FALSE(m.accepts("\xC3"));     // not a continuation byte
    EXPECT_TRUE(m.advance("\xA9\xE2"));  // é completes; the euro sign begins
    EXPECT_TRUE(m.advance("\x82"));
    EXPECT_TRUE(m.advance("\xAC!"));
    EXPECT_TRUE(m.can_end());
    // Invalid UTF-8 is never accepted, even by "any character".
    const auto any = Grammar::parse("root ::= .*");
    EXPECT_FALSE(any->matches("\x80"));
    EXPECT_FALSE(any->matches("\xFF"));
    EXPECT_FALSE(any->matches("\xC3"));  // ends inside a character
    EXPECT_TRUE(any->matches("\xC3\xA9"));
    // Overlong encodings and surrogates are not the characters they would hide (a byte-level
    // model can write F0 80 81 9D, "]" in four bytes).
    EXPECT_FALSE(any->matches("\xC1\x9D"));
    EXPECT_FALSE(any->matches("\xE0\x81\x9D"));
    EXPECT_FALSE(any->matches("\xF0\x80\x81\x9D"));
    EXPECT_FALSE(any->matches("\xED\xA0\x80"));
    EXPECT_FALSE(any->matches("\xF4\x90\x80\x80"));  // above U+10FFFF
    EXPECT_TRUE(any->matches("\xF4\x8F\xBF\xBF"));
    GrammarMatcher bracket(Grammar::parse(R"(root ::= "]")"));
    EXPECT_FALSE(bracket.accepts("\xF0"));
    EXPECT_FALSE(bracket.accepts("\xC1"));
}

// The trie answers what checking every token one by one answers, on a vocabulary of random
// short strings (ASCII, multi-byte characters and their fragments).
TEST(GrammarVocabulary, AllowsWhatTheMatcherAccepts) {
    std::mt19937 rng(7);
    const std::vector<std::string> alphabet = {
        "a", "b",        "{",    "}",    "\"",           ",", ":", " ",
        "1", "\xC3\xA9", "\xC3", "\xA9", "\xE2\x82\xAC", "\n"};
    std::vector<std::string> texts = {""};  // a control token
    for (int i = 0; i < 3000; ++i) {
        std::string t;
        const int n = 1 + static_cast<int>(rng() % 4);
        for (int k = 0; k < n; ++k) t += alphabet[rng() % alphabet.size()];
        texts.push_back(t);
    }
    const GrammarVocabulary vocab(texts);
    const auto g = Grammar::parse(
        "root ::= \"{\" space (pair (\",\" space pair)*)? \"}\"\n"
        "pair ::= str \":\" space (str | [0-9]+) space\n"
        "str ::= \"\\\"\" [^\"\\n]* \"\\\"\"\n"
        "space ::= \" \"?\n");
    GrammarMatcher m(g);
    std::vector<uint8_t> allowed;
    for (const char* step : {"", "{", " \"a", "\xC3", "\xA9\"", ": ", "1", "1 ,"}) {
        ASSERT_TRUE(m.advance(step)) << step;
        vocab.allowed(m, allowed);
        int n_allowed = 0;
        for (int32_t t = 0; t < vocab.size(); ++t) {
            const bool expected = !texts[t].empty() && m.accepts(texts[t]);
            EXPECT_EQ(allowed[t] != 0, expected) << "after '" << step << "', token '" << texts[t];
            n_allowed += allowed[t];
        }
        EXPECT_GT(n_allowed, 0) << step;
    }
}

}  // namespace
}  // namespace ember
