// A backtracking matcher for the pre-tokenizers' expressions (see regex.h).
//
// The pattern compiles to a tree of nodes. Matching walks it with explicit continuations: a
// node is matched at a position together with "what comes after it" (a Continuation chain
// on the C++ stack), so a greedy quantifier can try its longest run first and give back one
// character at a time until the rest of the expression matches, as Perl and ICU do. A
// quantified character class, the common case (\p{L}+, \s+), counts its run in a loop
// instead of recursing per character.
#include "engine/text/regex.h"

#include <cctype>
#include <cstdint>
#include <limits>
#include <string>

#include "engine/text/unicode.h"
#include "engine/text/utf8.h"
#include "formats/error.h"

namespace ember {

namespace {

// One member of a character class: a code point range, a set of general categories, or
// White_Space; `negated` for \P{..}, \S, \D.
struct ClassItem {
    enum class Kind { RANGE, CATEGORIES, WHITE_SPACE } kind;
    char32_t first = 0, last = 0;
    uint32_t categories = 0;  // bit i: unicode::Category(i)
    bool negated = false;

    bool matches(char32_t c) const {
        bool in = false;
        switch (kind) {
            case Kind::RANGE:
                in = c >= first && c <= last;
                break;
            case Kind::CATEGORIES:
                in = (categories >> static_cast<unsigned>(unicode::category(c))) & 1u;
                break;
            case Kind::WHITE_SPACE:
                in = unicode::is_white_space(c);
                break;
        }
        return in != negated;
    }
};

constexpr size_t kUnbounded = std::numeric_limits<size_t>::max();

}  // namespace

struct Regex::Node {
    enum class Kind { CLASS, SEQUENCE, ALTERNATION, REPEAT, LOOKAHEAD } kind;
    // CLASS: matches one code point. ASCII answers come from a bitmap made at compile time.
    std::vector<ClassItem> items;
    bool negated = false;
    uint64_t ascii[2] = {0, 0};
    // SEQUENCE, ALTERNATION: children in order; REPEAT, LOOKAHEAD: children[0].
    std::vector<std::unique_ptr<Node>> children;
    size_t min = 0, max = 0;  // REPEAT
    bool negative = false;    // LOOKAHEAD: (?!...)

    bool class_matches(char32_t c) const {
        if (c < 128) return (ascii[c >> 6] >> (c & 63)) & 1u;
        bool in = false;
        for (const ClassItem& item : items) {
            if (item.matches(c)) {
                in = true;
                break;
            }
        }
        return in != negated;
    }
    void finish_class() {
        for (char32_t c = 0; c < 128; ++c) {
            bool in = false;
            for (const ClassItem& item : items) in = in || item.matches(c);
            if (in != negated) ascii[c >> 6] |= uint64_t{1} << (c & 63);
        }
    }
};

namespace {

using Node = Regex::Node;

// ---- parsing ----

uint32_t category_bits(std::string_view name) {
    uint32_t bits = 0;
    for (int i = 0; i <= static_cast<int>(unicode::Category::Cn); ++i) {
        static constexpr const char* kNames[] = {"Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me",
                                                 "Nd", "Nl", "No", "Pc", "Pd", "Ps", "Pe", "Pi",
                                                 "Pf", "Po", "Sm", "Sc", "Sk", "So", "Zs", "Zl",
                                                 "Zp", "Cc", "Cf", "Cs", "Co", "Cn"};
        const std::string_view full = kNames[i];
        if (name == full || (name.size() == 1 && name[0] == full[0])) bits |= 1u << i;
    }
    return bits;
}

class Parser {
  public:
    explicit Parser(std::string_view pattern) : pattern_(pattern), cps_(decode_utf8(pattern)) {}

    std::unique_ptr<Node> parse() {
        auto node = alternation();
        if (at_ < cps_.size()) fail("unbalanced ')'");
        return node;
    }

  private:
    [[noreturn]] void fail(const std::string& what) const {
        throw Error("regular expression '" + std::string(pattern_) + "': " + what +
                    " at character " + std::to_string(at_ + 1));
    }
    bool done() const { return at_ >= cps_.size(); }
    char32_t peek() const { return done() ? 0 : cps_[at_]; }
    bool accept(char32_t c) {
        if (done() || cps_[at_] != c) return false;
        ++at_;
        return true;
    }

    std::unique_ptr<Node> alternation() {
        auto first = sequence();
        if (peek() != '|') return first;
        auto node = std::make_unique<Node>();
        node->kind = Node::Kind::ALTERNATION;
        node->children.push_back(std::move(first));
        while (accept('|')) node->children.push_back(sequence());
        return node;
    }

    std::unique_ptr<Node> sequence() {
        auto node = std::make_unique<Node>();
        node->kind = Node::Kind::SEQUENCE;
        while (!done() && peek() != '|' && peek() != ')') node->children.push_back(quantified());
        return node;
    }

    std::unique_ptr<Node> quantified() {
        auto atom_node = atom();
        size_t min = 0, max = 0;
        if (accept('?')) {
            min = 0, max = 1;
        } else if (accept('*')) {
            min = 0, max = kUnbounded;
        } else if (accept('+')) {
            min = 1, max = kUnbounded;
        } else if (accept('{')) {
            min = number();
            max = min;
            if (accept(',')) max = peek() == '}' ? kUnbounded : number();
            if (!accept('}')) fail("expected '}' in a {m,n} quantifier");
            if (max < min) fail("{m,n} with n < m");
        } else {
            return atom_node;
        }
        if (peek() == '?' || peek() == '+')
            fail("lazy and possessive quantifiers are not supported");
        if (atom_node->kind == Node::Kind::LOOKAHEAD) fail("a quantified lookahead");
        auto node = std::make_unique<Node>();
        node->kind = Node::Kind::REPEAT;
        node->min = min;
        node->max = max;
        node->children.push_back(std::move(atom_node));
        return node;
    }

    size_t number() {
        if (peek() < '0' || peek() > '9') fail("expected a number");
        size_t value = 0;
        while (peek() >= '0' && peek() <= '9') {
            value = value * 10 + (cps_[at_++] - '0');
            if (value > 100000) fail("repetition count too large");
        }
        return value;
    }

    std::unique_ptr<Node> atom() {
        const char32_t c = peek();
        if (c == '(') {
            ++at_;
            bool look = false, negative = false;
            if (accept('?')) {
                if (accept(':')) {
                } else if (accept('!')) {
                    look = negative = true;
                } else if (accept('=')) {
                    look = true;
                } else {
                    fail("unsupported group kind (only (?:, (?= and (?!)");
                }
            }
            auto inner = alternation();
            if (!accept(')')) fail("missing ')'");
            if (!look) return inner;
            auto node = std::make_unique<Node>();
            node->kind = Node::Kind::LOOKAHEAD;
            node->negative = negative;
            node->children.push_back(std::move(inner));
            return node;
        }
        auto node = std::make_unique<Node>();
        node->kind = Node::Kind::CLASS;
        if (c == '[') {
            ++at_;
            bracket_class(*node);
        } else if (c == '\\') {
            ++at_;
            node->items.push_back(escape());
        } else if (c == '*' || c == '+' || c == '?' || c == '{') {
            fail("a quantifier without anything to repeat");
        } else if (c == '.' || c == '^' || c == '$') {
            fail(std::string("'") + static_cast<char>(c) + "' is not supported");
        } else {
            ++at_;
            node->items.push_back({ClassItem::Kind::RANGE, c, c});
        }
        node->finish_class();
        return node;
    }

    void bracket_class(Node& node) {
        node.negated = accept('^');
        bool first = true;
        while (!done() && (peek() != ']' || first)) {
            first = false;
            ClassItem item;
            if (accept('\\')) {
                item = escape();
            } else {
                if (peek() == '[') fail("nested classes are not supported");
                item = {ClassItem::Kind::RANGE, cps_[at_], cps_[at_]};
                ++at_;
            }
            // A range a-b (a '-' before ']' is a literal).
            if (item.kind == ClassItem::Kind::RANGE && !item.negated && peek() == '-' &&
                at_ + 1 < cps_.size() && cps_[at_ + 1] != ']') {
                ++at_;
                ClassItem last;
                if (accept('\\')) {
                    last = escape();
                } else {
                    last = {ClassItem::Kind::RANGE, cps_[at_], cps_[at_]};
                    ++at_;
                }
                if (last.kind != ClassItem::Kind::RANGE || last.negated)
                    fail("a class range must end in a character");
                if (last.first < item.first) fail("a class range out of order");
                item.last = last.first;
            }
            node.items.push_back(item);
        }
        if (!accept(']')) fail("missing ']'");
    }

    // After a backslash.
    ClassItem escape() {
        if (done()) {
            --at_;
            fail("a pattern ending in '\\'");
        }
        const char32_t c = cps_[at_++];
        const auto literal = [](char32_t v) { return ClassItem{ClassItem::Kind::RANGE, v, v}; };
        switch (c) {
            case 'r':
                return literal('\r');
            case 'n':
                return literal('\n');
            case 't':
                return literal('\t');
            case 'f':
                return literal('\f');
            case 'v':
                return literal('\v');
            case 's':
            case 'S': {
                ClassItem item{ClassItem::Kind::WHITE_SPACE};
                item.negated = c == 'S';
                return item;
            }
            case 'd':
            case 'D': {
                ClassItem item{ClassItem::Kind::CATEGORIES};
                item.categories = category_bits("Nd");
                item.negated = c == 'D';
                return item;
            }
            case 'p':
            case 'P': {
                if (!accept('{')) fail("expected '{' after \\p");
                std::string name;
                while (!done() && peek() != '}') name += static_cast<char>(cps_[at_++]);
                if (!accept('}')) fail("missing '}' after \\p{");
                ClassItem item{ClassItem::Kind::CATEGORIES};
                if (name == "White_Space") {
                    item.kind = ClassItem::Kind::WHITE_SPACE;
                } else {
                    item.categories = category_bits(name);
                    if (name.empty() || name.size() > 2 || item.categories == 0)
                        fail("unknown property \\p{" + name + "}");
                }
                item.negated = c == 'P';
                return item;
            }
            case 'u':
                return literal(hex(4, 4));
            case 'x':
                if (accept('{')) {
                    const char32_t v = hex(1, 6);
                    if (!accept('}')) fail("missing '}' after \\x{");
                    return literal(v);
                }
                return literal(hex(2, 2));
            default:
                if (c < 128 && !std::isalnum(static_cast<int>(c))) return literal(c);
                --at_;
                fail(std::string("unsupported escape '\\") + static_cast<char>(c & 0x7f) + "'");
        }
    }

    char32_t hex(int min_digits, int max_digits) {
        char32_t value = 0;
        int digits = 0;
        for (; digits < max_digits && !done(); ++digits) {
            const char32_t c = peek();
            int v = -1;
            if (c >= '0' && c <= '9') v = static_cast<int>(c - '0');
            if (c >= 'a' && c <= 'f') v = static_cast<int>(c - 'a' + 10);
            if (c >= 'A' && c <= 'F') v = static_cast<int>(c - 'A' + 10);
            if (v < 0) break;
            value = value * 16 + static_cast<char32_t>(v);
            ++at_;
        }
        if (digits < min_digits) fail("expected hexadecimal digits");
        if (value > 0x10ffff) fail("code point out of range");
        return value;
    }

    std::string_view pattern_;
    std::vector<char32_t> cps_;
    size_t at_ = 0;
};

// ---- matching ----

// What comes after the node being matched: a position in a sequence, or the next round of
// a repetition; the chain ends in nullptr, the end of the whole expression (or lookahead).
struct Continuation {
    const Node* node;
    size_t index;  // SEQUENCE: the next child; REPEAT: rounds matched so far
    size_t mark;   // REPEAT: where the current round started (an empty round ends the loop)
    const Continuation* next;
};

class Matcher {
  public:
    Matcher(const char32_t* text, size_t end) : text_(text), end_(end) {}

    // Matches `node` at `at`, then the continuation; on success match_end() is where the
    // whole expression ended.
    bool match(const Node* node, size_t at, const Continuation* next) {
        switch (node->kind) {
            case Node::Kind::CLASS:
                return at < end_ && node->class_matches(text_[at]) && resume(next, at + 1);
            case Node::Kind::SEQUENCE: {
                const Continuation rest{node, 0, 0, next};
                return resume(&rest, at);
            }
            case Node::Kind::ALTERNATION:
                for (const auto& child : node->children) {
                    if (match(child.get(), at, next)) return true;
                }
                return false;
            case Node::Kind::REPEAT: {
                const Node* child = node->children[0].get();
                if (child->kind == Node::Kind::CLASS) {
                    // Count the longest run, then give back one code point at a time.
                    size_t run = 0;
                    while (run < node->max && at + run < end_ &&
                           child->class_matches(text_[at + run]))
                        ++run;
                    for (size_t n = run + 1; n-- > node->min;) {
                        if (resume(next, at + n)) return true;
                    }
                    return false;
                }
                return round(node, 0, at, next);
            }
            case Node::Kind::LOOKAHEAD: {
                const size_t saved = match_end_;
                const bool found = match(node->children[0].get(), at, nullptr);
                match_end_ = saved;
                return found != node->negative && resume(next, at);
            }
        }
        return false;
    }

    size_t match_end() const { return match_end_; }

  private:
    bool resume(const Continuation* next, size_t at) {
        if (!next) {
            match_end_ = at;
            return true;
        }
        const Node* node = next->node;
        if (node->kind == Node::Kind::SEQUENCE) {
            if (next->index == node->children.size()) return resume(next->next, at);
            const Continuation rest{node, next->index + 1, 0, next->next};
            return match(node->children[next->index].get(), at, &rest);
        }
        // REPEAT: one more round matched, from next->mark to at.
        if (at == next->mark) return next->index + 1 >= node->min && resume(next->next, at);
        return round(node, next->index + 1, at, next->next);
    }

    // A general repetition after `done` rounds: greedily try another round, else go on.
    bool round(const Node* node, size_t done, size_t at, const Continuation* next) {
        if (done < node->max) {
            const Continuation again{node, done, at, next};
            if (match(node->children[0].get(), at, &again)) return true;
        }
        return done >= node->min && resume(next, at);
    }

    const char32_t* text_;
    size_t end_;
    size_t match_end_ = 0;
};

}  // namespace

Regex::Regex(std::string_view pattern) : root_(Parser(pattern).parse()) {}
Regex::~Regex() = default;
Regex::Regex(Regex&&) noexcept = default;
Regex& Regex::operator=(Regex&&) noexcept = default;

std::optional<std::pair<size_t, size_t>> Regex::find(const char32_t* text, size_t from,
                                                     size_t end) const {
    Matcher matcher(text, end);
    for (size_t at = from; at < end; ++at) {
        if (matcher.match(root_.get(), at, nullptr) && matcher.match_end() > at)
            return std::make_pair(at, matcher.match_end());
    }
    return std::nullopt;
}

}  // namespace ember
