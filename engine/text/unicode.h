// Unicode character properties the tokenizers need: general category, white space, simple
// lower case and the first code point of the canonical (NFD) decomposition. The data is
// generated from the Unicode Character Database (unicode_tables.inc, by
// scripts/gen-unicode-tables.sh), so ember needs no ICU.
#pragma once

#include <cstdint>

namespace ember::unicode {

// Unicode's general categories (UAX #44, table 12); Cn is every unassigned code point.
enum class Category : uint8_t {
    Lu,
    Ll,
    Lt,
    Lm,
    Lo,  // letters
    Mn,
    Mc,
    Me,  // marks
    Nd,
    Nl,
    No,  // numbers
    Pc,
    Pd,
    Ps,
    Pe,
    Pi,
    Pf,
    Po,  // punctuation
    Sm,
    Sc,
    Sk,
    So,  // symbols
    Zs,
    Zl,
    Zp,  // separators
    Cc,
    Cf,
    Cs,
    Co,
    Cn,  // other
};

Category category(char32_t c);

// The major class, the first letter of the category's name ('L', 'M', 'N', 'P', 'S', 'Z', 'C').
char major_class(Category category);

inline bool is_letter(char32_t c) {
    return major_class(category(c)) == 'L';
}
inline bool is_number(char32_t c) {
    return major_class(category(c)) == 'N';
}
inline bool is_punctuation(char32_t c) {
    return major_class(category(c)) == 'P';
}
inline bool is_symbol(char32_t c) {
    return major_class(category(c)) == 'S';
}

// The White_Space property (PropList.txt): what \s means in the pre-tokenizers' expressions.
bool is_white_space(char32_t c);

// Simple (one code point) lower-case mapping; c itself when it has none.
char32_t to_lower(char32_t c);

// The first code point of c's full canonical decomposition (c itself when it has none):
// "é" -> "e", a Hangul syllable -> its leading consonant.
char32_t nfd_first(char32_t c);

}  // namespace ember::unicode
