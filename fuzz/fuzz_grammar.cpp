// libFuzzer target: structured output on arbitrary input. The bytes before the first \x01 are
// a grammar: compiled as GBNF, and read as a JSON Schema (whose GBNF must then compile: the
// converter never writes a grammar the parser refuses). The bytes after it are text for the
// matcher: fed byte by byte, accepts() must agree with advance(), and the vocabulary trie
// (tokens cut from the same text) must allow exactly the tokens accepts() allows.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/grammar/grammar.h"
#include "engine/grammar/json_schema.h"
#include "formats/error.h"

namespace {

void check(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "fuzz_grammar: %s\n", what);
        std::abort();
    }
}

void exercise(const std::shared_ptr<const ember::Grammar>& grammar, std::string_view text) {
    ember::GrammarMatcher matcher(grammar);
    // Tokens: every 1-3 byte slice of the text, plus a few fixed ones.
    std::vector<std::string> tokens = {"", "{", "\"", " ", "a", "1", "\xC3", "\xA9"};
    for (size_t i = 0; i < text.size() && tokens.size() < 64; i += 2) {
        tokens.emplace_back(text.substr(i, 1 + i % 3));
    }
    const ember::GrammarVocabulary vocabulary(tokens);
    std::vector<uint8_t> allowed;
    for (size_t i = 0; i < text.size() && i < 256; ++i) {
        if (i % 16 == 0) {
            vocabulary.allowed(matcher, allowed);
            for (int32_t t = 0; t < vocabulary.size(); ++t) {
                const bool expected = !tokens[t].empty() && matcher.accepts(tokens[t]);
                check((allowed[t] != 0) == expected, "the trie disagrees with accepts()");
            }
        }
        const std::string_view byte = text.substr(i, 1);
        const bool accepted = matcher.accepts(byte);
        check(matcher.advance(byte) == accepted, "advance() disagrees with accepts()");
        if (!accepted) break;
    }
    (void)matcher.can_end();
    (void)matcher.can_continue();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const size_t split = input.find('\x01');
    const std::string_view source = input.substr(0, split);
    const std::string_view text =
        split == std::string_view::npos ? std::string_view() : input.substr(split + 1);
    try {
        exercise(ember::Grammar::parse(source), text);
    } catch (const ember::Error&) {
    }
    std::string gbnf;
    try {
        gbnf = ember::json_schema_to_gbnf(source);
    } catch (const ember::Error&) {
        return 0;  // not a schema ember can use: refused with a reason, which is the point
    }
    std::shared_ptr<const ember::Grammar> grammar;
    try {
        grammar = ember::Grammar::parse(gbnf);
    } catch (const ember::Error& e) {
        std::fprintf(stderr, "fuzz_grammar: the schema's GBNF does not compile: %s\n%s\n", e.what(),
                     gbnf.c_str());
        std::abort();
    }
    try {
        exercise(grammar, text);
    } catch (const ember::Error&) {  // a text nesting deeper than the matcher allows
    }
    return 0;
}
