#include "engine/text/unicode.h"

#include <algorithm>
#include <iterator>

namespace ember::unicode {
namespace {

struct CategoryRange {
    char32_t first, last;
    Category category;
};
struct CodePointRange {
    char32_t first, last;
};
struct CodePointPair {
    char32_t from, to;
};

#include "engine/text/unicode_tables.inc"

template <typename Range, size_t N>
const Range* find_range(const Range (&table)[N], char32_t c) {
    // The first range whose last code point is >= c; it holds c if it starts at or before c.
    const Range* it = std::lower_bound(std::begin(table), std::end(table), c,
                                       [](const Range& r, char32_t v) { return r.last < v; });
    return it != std::end(table) && it->first <= c ? it : nullptr;
}

template <size_t N>
char32_t map_or_self(const CodePointPair (&table)[N], char32_t c) {
    const CodePointPair* it =
        std::lower_bound(std::begin(table), std::end(table), c,
                         [](const CodePointPair& p, char32_t v) { return p.from < v; });
    return it != std::end(table) && it->from == c ? it->to : c;
}

}  // namespace

Category category(char32_t c) {
    const CategoryRange* range = find_range(kCategoryRanges, c);
    return range ? range->category : Category::Cn;
}

char major_class(Category category) {
    switch (category) {
        case Category::Lu:
        case Category::Ll:
        case Category::Lt:
        case Category::Lm:
        case Category::Lo:
            return 'L';
        case Category::Mn:
        case Category::Mc:
        case Category::Me:
            return 'M';
        case Category::Nd:
        case Category::Nl:
        case Category::No:
            return 'N';
        case Category::Pc:
        case Category::Pd:
        case Category::Ps:
        case Category::Pe:
        case Category::Pi:
        case Category::Pf:
        case Category::Po:
            return 'P';
        case Category::Sm:
        case Category::Sc:
        case Category::Sk:
        case Category::So:
            return 'S';
        case Category::Zs:
        case Category::Zl:
        case Category::Zp:
            return 'Z';
        default:
            return 'C';
    }
}

bool is_white_space(char32_t c) {
    return find_range(kWhiteSpace, c) != nullptr;
}

char32_t to_lower(char32_t c) {
    return map_or_self(kLowercase, c);
}

char32_t nfd_first(char32_t c) {
    // Hangul syllables decompose by arithmetic (Unicode 15, section 3.12): the leading
    // consonant is L_base + SIndex / (V_count * T_count).
    constexpr char32_t kSBase = 0xac00, kLBase = 0x1100, kSCount = 11172, kNCount = 21 * 28;
    if (c >= kSBase && c < kSBase + kSCount) return kLBase + (c - kSBase) / kNCount;
    return map_or_self(kNfdFirst, c);
}

}  // namespace ember::unicode
