// The Unicode tables and the pre-tokenizer regular expressions that replaced ICU: properties
// spot-checked against the Unicode Character Database, and the matcher against Perl's rules
// (ordered alternatives, greedy quantifiers that give back, lookahead at the region's end).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/text/regex.h"
#include "engine/text/unicode.h"
#include "engine/text/utf8.h"
#include "formats/error.h"

namespace ember {
namespace {

using unicode::Category;

TEST(UnicodeProperties, CategoriesFromTheDatabase) {
    EXPECT_EQ(unicode::category(U'A'), Category::Lu);
    EXPECT_EQ(unicode::category(U'\u00e9'), Category::Ll);      // é
    EXPECT_EQ(unicode::category(U'\u01c5'), Category::Lt);      // ǅ
    EXPECT_EQ(unicode::category(U'\u4e2d'), Category::Lo);      // 中, inside a First/Last range
    EXPECT_EQ(unicode::category(U'\U0002a6d6'), Category::Lo);  // CJK extension B, its last
    EXPECT_EQ(unicode::category(U'\u0663'), Category::Nd);      // Arabic-Indic three
    EXPECT_EQ(unicode::category(U'\u2167'), Category::Nl);      // Roman numeral eight
    EXPECT_EQ(unicode::category(U'\u00bd'), Category::No);      // ½
    EXPECT_EQ(unicode::category(U'\u0301'), Category::Mn);      // combining acute
    EXPECT_EQ(unicode::category(U'_'), Category::Pc);
    EXPECT_EQ(unicode::category(U'\u00ab'), Category::Pi);  // «
    EXPECT_EQ(unicode::category(U'$'), Category::Sc);
    EXPECT_EQ(unicode::category(U'\U0001f600'), Category::So);  // 😀
    EXPECT_EQ(unicode::category(U'\u200b'), Category::Cf);
    EXPECT_EQ(unicode::category(0xd800), Category::Cs);
    EXPECT_EQ(unicode::category(0xe000), Category::Co);
    EXPECT_EQ(unicode::category(0x0378), Category::Cn);  // unassigned
    EXPECT_EQ(unicode::category(0x10ffff), Category::Cn);
    EXPECT_EQ(unicode::category(0x110000), Category::Cn);  // beyond Unicode
    EXPECT_TRUE(unicode::is_letter(U'\u05d0'));
    EXPECT_TRUE(unicode::is_number(U'\u00b2'));
    EXPECT_TRUE(unicode::is_punctuation(U'\u3001'));
    EXPECT_TRUE(unicode::is_symbol(U'+'));
}

TEST(UnicodeProperties, WhiteSpaceLowerCaseAndDecompositions) {
    for (char32_t c : {0x09, 0x0b, 0x20, 0x85, 0xa0, 0x1680, 0x2007, 0x2028, 0x202f, 0x3000})
        EXPECT_TRUE(unicode::is_white_space(c)) << std::hex << static_cast<uint32_t>(c);
    for (char32_t c : {0x08, 0x200b, 0x180e, 0xfeff, 0x41})
        EXPECT_FALSE(unicode::is_white_space(c)) << std::hex << static_cast<uint32_t>(c);
    EXPECT_EQ(unicode::to_lower(U'A'), U'a');
    EXPECT_EQ(unicode::to_lower(U'\u03a3'), U'\u03c3');  // Σ -> σ
    EXPECT_EQ(unicode::to_lower(U'\u0130'), U'i');       // İ -> i (simple mapping)
    EXPECT_EQ(unicode::to_lower(U'\u2126'), U'\u03c9');  // Ohm sign -> ω
    EXPECT_EQ(unicode::to_lower(U'a'), U'a');
    EXPECT_EQ(unicode::to_lower(U'7'), U'7');
    EXPECT_EQ(unicode::nfd_first(U'\u00e9'), U'e');
    EXPECT_EQ(unicode::nfd_first(U'\u1e9b'), U'\u017f');  // long s with dot: through U+017F
    EXPECT_EQ(unicode::nfd_first(U'\u1ec7'), U'e');       // ệ: two levels deep
    EXPECT_EQ(unicode::nfd_first(U'\u2126'), U'\u03a9');  // singleton decomposition
    EXPECT_EQ(unicode::nfd_first(U'\uac00'), U'\u1100');  // 가 -> ᄀ (Hangul arithmetic)
    EXPECT_EQ(unicode::nfd_first(U'\ud7a3'), U'\u1112');  // the last syllable
    EXPECT_EQ(unicode::nfd_first(U'\ufb01'), U'\ufb01');  // ﬁ: compatibility only, kept
    EXPECT_EQ(unicode::nfd_first(U'x'), U'x');
}

// Every match of `pattern` in `text`, as UTF-8 strings.
std::vector<std::string> matches(const char* pattern, const std::string& text) {
    const Regex regex(pattern);
    const std::vector<char32_t> cps = decode_utf8(text);
    std::vector<std::string> out;
    size_t at = 0;
    while (const auto m = regex.find(cps.data(), at, cps.size())) {
        std::string piece;
        for (size_t i = m->first; i < m->second; ++i) append_utf8(piece, cps[i]);
        out.push_back(piece);
        at = m->second;
    }
    return out;
}

using Pieces = std::vector<std::string>;

TEST(PreTokenizerRegex, FollowsPerlsRules) {
    // Alternatives in order, not the longest: "'s" wins over " ?\p{L}+".
    EXPECT_EQ(matches("'s|'\\p{L}+", "it's"), (Pieces{"'s"}));
    // Greedy with give-back: \s+(?!\S) leaves the last space to the word after it.
    EXPECT_EQ(matches(" ?\\p{L}+|\\s+(?!\\S)|\\s+", "a   b"), (Pieces{"a", "  ", " b"}));
    EXPECT_EQ(matches("\\s+(?!\\S)|\\s+| ?\\p{L}+", "a   b"), (Pieces{"a", "  ", " ", "b"}));
    // ... and at the end of the region the lookahead sees nothing, so it takes them all.
    EXPECT_EQ(matches("\\s+(?!\\S)", "a   "), (Pieces{"   "}));
    EXPECT_EQ(matches("\\p{N}{1,3}", "1234567"), (Pieces{"123", "456", "7"}));
    EXPECT_EQ(matches("[^\\s\\p{L}\\p{N}]+", "a+-b  ?!"), (Pieces{"+-", "?!"}));
    EXPECT_EQ(matches("[\\u4e00-\\u9fa5]+", "ab中文cd"), (Pieces{"中文"}));
    EXPECT_EQ(matches("[\\p{P}\\$\\+<=>\\^~\\|`]+", "a$+<b>!"), (Pieces{"$+<", ">!"}));
    EXPECT_EQ(matches("(?:'[sS]|'[tT])|x", "'S 'tx"), (Pieces{"'S", "'t", "x"}));
    EXPECT_EQ(matches("[0-9][0-9][0-9]", "12345"), (Pieces{"123"}));
    // A general group repeated, backtracking into it.
    EXPECT_EQ(matches("(?:ab)+b", "ababab"), (Pieces{}));
    EXPECT_EQ(matches("(?:ab)+abb", "abababb"), (Pieces{"abababb"}));
    EXPECT_EQ(matches("(?:ab)+a", "ababab"), (Pieces{"ababa"}));
    EXPECT_EQ(matches("a(?=b)", "aab"), (Pieces{"a"}));
    EXPECT_EQ(matches("\\p{L}", "é1"), (Pieces{"é"}));
    EXPECT_EQ(matches("[^\\r\\n\\p{L}\\p{N}]?\\p{L}+", "\nHello, world"),
              (Pieces{"Hello", " world"}));
    // Empty matches are skipped, not looped on.
    EXPECT_EQ(matches("x*", "aaxa"), (Pieces{"x"}));
}

TEST(PreTokenizerRegex, UnsupportedSyntaxIsRefusedWithItsPosition) {
    const auto error_of = [](const char* pattern) {
        try {
            Regex regex(pattern);
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string("(accepted)");
    };
    EXPECT_NE(error_of("a+?").find("lazy"), std::string::npos);
    EXPECT_NE(error_of("(a").find("missing ')'"), std::string::npos);
    EXPECT_NE(error_of("a)").find("unbalanced"), std::string::npos);
    EXPECT_NE(error_of("[ab").find("missing ']'"), std::string::npos);
    EXPECT_NE(error_of("\\p{Xx}").find("unknown property"), std::string::npos);
    EXPECT_NE(error_of("(?i:a)").find("group kind"), std::string::npos);
    EXPECT_NE(error_of("\\1").find("unsupported escape"), std::string::npos);
    EXPECT_NE(error_of("a{3,2}").find("n < m"), std::string::npos);
    EXPECT_NE(error_of("^a").find("not supported"), std::string::npos);
    EXPECT_NE(error_of("*").find("without anything to repeat"), std::string::npos);
    EXPECT_NE(error_of("ab\\").find("at character 3"), std::string::npos);
}

}  // namespace
}  // namespace ember
