// The regular expressions BPE pre-tokenizers are written in (the splitting patterns of
// Hugging Face tokenizers, which llama.cpp lists per tokenizer.ggml.pre), matched over code
// points with Perl's rules: alternatives are tried in order, quantifiers are greedy and give
// back characters when the rest fails.
//
// Supported: literals, escapes (\r \n \t \f \v, \uXXXX, \x{...}, an escaped punctuation
// mark), \s \S (Unicode's White_Space), \d \D (Nd), \p{..} \P{..} with a general category (L,
// Lu, N, Nd, P, ...) or White_Space, classes [...] and [^...] with ranges, groups (...) and
// (?:...), lookahead (?=...) and (?!...), and the quantifiers ? * + {n} {n,} {n,m}. Anything
// else (backreferences, lazy quantifiers, anchors, flags) is refused when the pattern is
// compiled, so an expression is never silently misread.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace ember {

class Regex {
  public:
    // Throws ember::Error naming the position and the construct when the pattern is not in
    // the supported subset.
    explicit Regex(std::string_view pattern);
    ~Regex();
    Regex(Regex&&) noexcept;
    Regex& operator=(Regex&&) noexcept;

    // The leftmost match in text[from, end) that is not empty, as [begin, end) code point
    // indices. Lookahead does not see past `end` (the region's bounds are opaque, as ICU's
    // default). Safe to call from several threads at once.
    std::optional<std::pair<size_t, size_t>> find(const char32_t* text, size_t from,
                                                  size_t end) const;

    struct Node;

  private:
    std::unique_ptr<Node> root_;
};

}  // namespace ember
