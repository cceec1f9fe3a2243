#include "engine/grammar/grammar.h"

#include <algorithm>
#include <map>
#include <span>

#include "formats/error.h"

namespace ember {

using Element = GrammarElement;

namespace {

bool is_end(const Element* e) {
    return e->type == Element::End || e->type == Element::Alt;
}

bool is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

// Repetition counts above this would compile into an unreasonable number of rules; deeper
// parentheses would take the parser's recursion too deep; a compiled grammar above
// kMaxElements (x{1000} of a long string, nested) would take too much memory.
constexpr uint32_t kMaxRepeat = 1000;
constexpr int kMaxNesting = 256;
constexpr size_t kMaxElements = size_t{1} << 22;
constexpr int kMaxExpansion = 1024;

}  // namespace

// GBNF text -> rules. Recursive descent over the text; errors carry the line and column.
class GrammarParser {
  public:
    explicit GrammarParser(std::string_view text) : text_(text) {}

    std::shared_ptr<const Grammar> parse(std::string_view root_name) {
        skip_space(true);
        if (at_end()) fail(pos_, "the grammar has no rules");
        while (!at_end()) {
            const size_t start = pos_;
            const std::string name = parse_name();
            const uint32_t id = rule_id(name, start);
            if (defined_at_[id] != kUndefined) {
                fail(start, "rule '" + name + "' is defined twice (first at " +
                                where(defined_at_[id]) + ")");
            }
            defined_at_[id] = start;
            current_ = name;
            skip_space(false);
            if (text_.substr(pos_, 3) != "::=") fail(pos_, "expected '::=' after the rule name");
            pos_ += 3;
            skip_space(true);
            std::vector<Element> body;
            parse_alternatives(body, false);
            body.push_back({Element::End, 0});
            grammar_->rules_[id] = std::move(body);
            skip_space(false);
            if (!at_end() && peek() != '\n') fail(pos_, unexpected());
            skip_space(true);
        }
        for (uint32_t id = 0; id < grammar_->rules_.size(); ++id) {
            if (defined_at_[id] == kUndefined) {
                fail(first_use_[id], "rule '" + grammar_->names_[id] + "' is not defined");
            }
        }
        const auto root = ids_.find(std::string(root_name));
        if (root == ids_.end()) {
            throw Error("grammar: there is no rule '" + std::string(root_name) + "' to start from");
        }
        grammar_->root_ = root->second;
        check_left_recursion();
        return grammar_;
    }

  private:
    static constexpr size_t kUndefined = ~size_t{0};

    bool at_end() const { return pos_ >= text_.size(); }
    char peek() const { return at_end() ? '\0' : text_[pos_]; }

    std::string where(size_t offset) const {
        size_t line = 1, column = 1;
        for (size_t i = 0; i < offset && i < text_.size(); ++i) {
            if (text_[i] == '\n') {
                ++line;
                column = 1;
            } else if ((static_cast<uint8_t>(text_[i]) & 0xC0) != 0x80) {
                ++column;  // columns count characters, not UTF-8 bytes
            }
        }
        return "line " + std::to_string(line) + ", column " + std::to_string(column);
    }
    [[noreturn]] void fail(size_t offset, const std::string& what) const {
        throw Error("grammar: " + where(offset) + ": " + what);
    }
    std::string unexpected() const {
        if (at_end()) return "unexpected end of the grammar";
        const char c = peek();
        if (c == ')') return "')' without a matching '('";
        return std::string("unexpected '") + c + "'";
    }

    // White space and # comments; newlines only where a rule may go on (after ::= and |, and
    // inside parentheses): elsewhere a newline ends the rule.
    void skip_space(bool newlines) {
        while (!at_end()) {
            const char c = peek();
            if (c == ' ' || c == '\t' || c == '\r' || (c == '\n' && newlines)) {
                ++pos_;
            } else if (c == '#') {
                while (!at_end() && peek() != '\n') ++pos_;
            } else {
                break;
            }
        }
    }

    std::string parse_name() {
        const size_t start = pos_;
        while (!at_end() && is_name_char(peek())) ++pos_;
        if (pos_ == start) fail(pos_, "expected a rule name");
        return std::string(text_.substr(start, pos_ - start));
    }

    uint32_t rule_id(const std::string& name, size_t used_at) {
        const auto [it, added] = ids_.try_emplace(name, static_cast<uint32_t>(ids_.size()));
        if (added) {
            it->second = new_rule(name, used_at);
        }
        return it->second;
    }
    uint32_t new_rule(const std::string& name, size_t used_at) {
        grammar_->rules_.emplace_back();
        grammar_->names_.push_back(name);
        defined_at_.push_back(kUndefined);
        first_use_.push_back(used_at);
        return static_cast<uint32_t>(grammar_->rules_.size() - 1);
    }
    // A rule the parser makes (a group, a repetition): defined where it is made.
    uint32_t helper_rule(std::vector<Element> body) {
        // Named after the rule being defined: "number#3".
        const uint32_t id =
            new_rule(current_ + "#" + std::to_string(grammar_->rules_.size()), pos_);
        defined_at_[id] = pos_;
        grammar_->rules_[id] = std::move(body);
        return id;
    }

    // One UTF-8 character of the text, or an escape (\n \r \t \\ \" \[ \] \- \^ \/ \xHH
    // \uHHHH \UHHHHHHHH).
    uint32_t parse_char() {
        if (at_end()) fail(pos_, "unexpected end of the grammar");
        const size_t start = pos_;
        const uint8_t c = static_cast<uint8_t>(text_[pos_]);
        if (c == '\\') {
            ++pos_;
            if (at_end()) fail(start, "an escape at the end of the grammar");
            const char e = text_[pos_++];
            switch (e) {
                case 'n':
                    return '\n';
                case 'r':
                    return '\r';
                case 't':
                    return '\t';
                case '\\':
                case '"':
                case '[':
                case ']':
                case '-':
                case '^':
                case '/':
                case '\'':
                    return static_cast<uint8_t>(e);
                case 'x':
                    return parse_hex(2, start);
                case 'u':
                    return parse_hex(4, start);
                case 'U':
                    return parse_hex(8, start);
                default:
                    fail(start, std::string("unknown escape '\\") + e + "'");
            }
        }
        int extra = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
        if (extra < 0) fail(start, "the grammar is not valid UTF-8");
        uint32_t cp = extra == 0 ? c : c & (0x3F >> extra);
        ++pos_;
        for (int i = 0; i < extra; ++i, ++pos_) {
            if (at_end() || (static_cast<uint8_t>(text_[pos_]) & 0xC0) != 0x80) {
                fail(start, "the grammar is not valid UTF-8");
            }
            cp = (cp << 6) | (static_cast<uint8_t>(text_[pos_]) & 0x3F);
        }
        return cp;
    }
    uint32_t parse_hex(int digits, size_t start) {
        uint32_t v = 0;
        for (int i = 0; i < digits; ++i, ++pos_) {
            const char h = peek();
            const int d = h >= '0' && h <= '9'   ? h - '0'
                          : h >= 'a' && h <= 'f' ? h - 'a' + 10
                          : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                                 : -1;
            if (d < 0) fail(start, "expected " + std::to_string(digits) + " hex digits");
            v = v * 16 + static_cast<uint32_t>(d);
        }
        if (v > 0x10FFFF) fail(start, "not a Unicode code point");
        return v;
    }

    void parse_alternatives(std::vector<Element>& out, bool nested) {
        parse_sequence(out, nested);
        while (peek() == '|') {
            ++pos_;
            skip_space(true);
            out.push_back({Element::Alt, 0});
            parse_sequence(out, nested);
        }
    }

    void parse_sequence(std::vector<Element>& out, bool nested) {
        size_t last_start = kUndefined;  // where the last item's elements begin in `out`
        for (;;) {
            const size_t item_pos = pos_;
            const char c = peek();
            if (c == '"') {
                ++pos_;
                last_start = out.size();
                while (peek() != '"') {
                    if (at_end() || peek() == '\n')
                        fail(item_pos, "a string without its end quote");
                    out.push_back({Element::Char, parse_char()});
                }
                ++pos_;
            } else if (c == '[') {
                ++pos_;
                last_start = out.size();
                Element::Type type = Element::Char;
                if (peek() == '^') {
                    ++pos_;
                    type = Element::CharNot;
                }
                if (peek() == ']') fail(item_pos, "an empty character class");
                while (peek() != ']') {
                    if (at_end() || peek() == '\n')
                        fail(item_pos, "a character class without its ']'");
                    const uint32_t lo = parse_char();
                    out.push_back({type, lo});
                    type = Element::CharAlt;
                    if (peek() == '-' && pos_ + 1 < text_.size() && text_[pos_ + 1] != ']') {
                        ++pos_;
                        const size_t hi_pos = pos_;
                        const uint32_t hi = parse_char();
                        if (hi < lo) fail(hi_pos, "a range whose end comes before its start");
                        out.push_back({Element::RangeUpper, hi});
                    }
                }
                ++pos_;
            } else if (c == '.') {
                ++pos_;
                last_start = out.size();
                out.push_back({Element::CharAny, 0});
            } else if (c == '(') {
                if (++depth_ > kMaxNesting) {
                    fail(pos_, "parentheses nested deeper than " + std::to_string(kMaxNesting));
                }
                ++pos_;
                skip_space(true);
                std::vector<Element> body;
                parse_alternatives(body, true);
                body.push_back({Element::End, 0});
                if (peek() != ')') fail(pos_, at_end() ? "a '(' without its ')'" : unexpected());
                ++pos_;
                last_start = out.size();
                out.push_back({Element::RuleRef, helper_rule(std::move(body))});
                --depth_;
            } else if (is_name_char(c)) {
                const std::string name = parse_name();
                last_start = out.size();
                out.push_back({Element::RuleRef, rule_id(name, item_pos)});
            } else if (c == '*' || c == '+' || c == '?' || c == '{') {
                if (last_start == kUndefined)
                    fail(pos_, std::string("'") + c + "' has nothing to repeat");
                uint32_t min = 0, max = kUnbounded;
                ++pos_;
                if (c == '+') min = 1;
                if (c == '?') max = 1;
                if (c == '{') parse_counts(item_pos, min, max);
                std::vector<Element> item(out.begin() + static_cast<ptrdiff_t>(last_start),
                                          out.end());
                out.resize(last_start);
                repeat(item, min, max, out);
                last_start = kUndefined;  // "x**" is an error, as in llama.cpp
            } else {
                return;
            }
            skip_space(nested);
        }
    }

    static constexpr uint32_t kUnbounded = ~uint32_t{0};

    uint32_t parse_count() {
        const size_t start = pos_;
        uint64_t v = 0;
        while (peek() >= '0' && peek() <= '9') {
            v = v * 10 + static_cast<uint64_t>(peek() - '0');
            if (v > kMaxRepeat)
                fail(start, "a repetition count above " + std::to_string(kMaxRepeat));
            ++pos_;
        }
        if (pos_ == start) fail(pos_, "expected a number");
        return static_cast<uint32_t>(v);
    }
    // {m}, {m,}, {m,n}; pos_ is after the '{'.
    void parse_counts(size_t start, uint32_t& min, uint32_t& max) {
        skip_space(false);
        min = parse_count();
        skip_space(false);
        max = min;
        if (peek() == ',') {
            ++pos_;
            skip_space(false);
            max = peek() == '}' ? kUnbounded : parse_count();
            skip_space(false);
        }
        if (peek() != '}') fail(pos_, "expected '}' after the repetition count");
        ++pos_;
        if (max < min) fail(start, "a repetition whose maximum is below its minimum");
    }

    // item{min,max} as elements: min copies, then either item* as a rule (x* ::= x x* | ) or
    // max - min nested optional copies (opt_k ::= x opt_(k-1) | ), so "x{2,4}" is x x opt_2.
    void repeat(const std::vector<Element>& item, uint32_t min, uint32_t max,
                std::vector<Element>& out) {
        const uint64_t copies = max == kUnbounded ? min + 1u : max;
        n_elements_ += static_cast<size_t>(copies * (item.size() + 3));
        if (n_elements_ > kMaxElements)
            fail(pos_, "the grammar is too large once repetitions are expanded");
        for (uint32_t i = 0; i < min; ++i) out.insert(out.end(), item.begin(), item.end());
        if (max == min) return;
        std::vector<Element> body = item;
        if (max == kUnbounded) {
            const uint32_t id = helper_rule({});
            body.push_back({Element::RuleRef, id});
            body.push_back({Element::Alt, 0});
            body.push_back({Element::End, 0});
            grammar_->rules_[id] = std::move(body);
            out.push_back({Element::RuleRef, id});
            return;
        }
        uint32_t previous = kUnbounded;
        for (uint32_t k = 0; k < max - min; ++k) {
            std::vector<Element> opt = item;
            if (previous != kUnbounded) opt.push_back({Element::RuleRef, previous});
            opt.push_back({Element::Alt, 0});
            opt.push_back({Element::End, 0});
            previous = helper_rule(std::move(opt));
        }
        out.push_back({Element::RuleRef, previous});
    }

    // A rule that can reach itself before matching any character would send the matcher into
    // endless expansion: refuse it, naming the cycle.
    void check_left_recursion() const {
        const auto& rules = grammar_->rules_;
        const size_t n = rules.size();
        std::vector<bool> nullable(n, false);
        for (bool changed = true; changed;) {
            changed = false;
            for (size_t r = 0; r < n; ++r) {
                if (nullable[r]) continue;
                bool alt_nullable = true;
                for (const Element& e : rules[r]) {
                    if (e.type == Element::Alt || e.type == Element::End) {
                        if (alt_nullable) {
                            nullable[r] = changed = true;
                            break;
                        }
                        alt_nullable = true;
                    } else if (e.type == Element::RuleRef) {
                        alt_nullable = alt_nullable && nullable[e.value];
                    } else if (e.type != Element::RangeUpper && e.type != Element::CharAlt) {
                        alt_nullable = false;
                    }
                }
            }
        }
        // Edges: rule -> the rules it may start with.
        std::vector<std::vector<uint32_t>> starts(n);
        for (size_t r = 0; r < n; ++r) {
            bool open = true;  // everything so far in this alternative may be empty
            for (const Element& e : rules[r]) {
                if (e.type == Element::Alt || e.type == Element::End) {
                    open = true;
                } else if (!open) {
                    continue;
                } else if (e.type == Element::RuleRef) {
                    starts[r].push_back(e.value);
                    open = nullable[e.value];
                } else {
                    open = false;
                }
            }
        }
        // Depth-first with an explicit stack (a grammar may chain thousands of rules).
        std::vector<int> mark(n, 0);                    // 0 new, 1 on the path, 2 done
        std::vector<std::pair<uint32_t, size_t>> path;  // (rule, next edge to follow)
        for (uint32_t root = 0; root < n; ++root) {
            if (mark[root] != 0) continue;
            mark[root] = 1;
            path.push_back({root, 0});
            while (!path.empty()) {
                auto& [r, edge] = path.back();
                if (edge == starts[r].size()) {
                    mark[r] = 2;
                    path.pop_back();
                    continue;
                }
                const uint32_t next = starts[r][edge++];
                if (mark[next] == 1) {
                    // Named by the rules as written: helper rules (groups, repetitions)
                    // stand for the rule they were written in.
                    std::string cycle;
                    auto it = std::find_if(path.begin(), path.end(),
                                           [&](const auto& p) { return p.first == next; });
                    for (; it != path.end(); ++it) {
                        if (!is_helper(it->first)) cycle += grammar_->names_[it->first] + " -> ";
                    }
                    fail(defined_at_[next], "rule '" + written_in(next) +
                                                "' is left-recursive: " + cycle + written_in(next));
                }
                if (mark[next] == 0) {
                    mark[next] = 1;
                    path.push_back({next, 0});
                }
            }
        }
    }
    bool is_helper(uint32_t r) const { return grammar_->names_[r].find('#') != std::string::npos; }
    std::string written_in(uint32_t r) const {
        const std::string& name = grammar_->names_[r];
        return name.substr(0, name.find('#'));
    }

    std::string_view text_;
    size_t pos_ = 0;
    std::shared_ptr<Grammar> grammar_ = std::make_shared<Grammar>();
    std::map<std::string, uint32_t> ids_;
    std::vector<size_t> defined_at_;
    std::vector<size_t> first_use_;
    std::string current_;  // the rule being parsed
    int depth_ = 0;        // parentheses open
    size_t n_elements_ = 0;
};

std::shared_ptr<const Grammar> Grammar::parse(std::string_view text, std::string_view root) {
    return GrammarParser(text).parse(root);
}

bool Grammar::matches(std::string_view text) const {
    // A non-owning pointer: the matcher lives only inside this call.
    GrammarMatcher matcher(std::shared_ptr<const Grammar>(std::shared_ptr<const Grammar>(), this));
    return matcher.advance(text) && matcher.can_end();
}

// ---- the matcher ----

namespace {

// Whether the class starting at e matches cp; `next` is set to the element after the class.
bool class_matches(const Element* e, uint32_t cp, const Element** next) {
    if (e->type == Element::CharAny) {
        *next = e + 1;
        return true;
    }
    const bool negated = e->type == Element::CharNot;
    bool found = false;
    do {
        if (e[1].type == Element::RangeUpper) {
            found = found || (e->value <= cp && cp <= e[1].value);
            e += 2;
        } else {
            found = found || e->value == cp;
            e += 1;
        }
    } while (e->type == Element::CharAlt);
    *next = e;
    return found != negated;
}

// Whether the class starting at e may match some code point in [lo, hi] (a character whose
// first bytes are known): a negated class only fails when one excluded range covers it all.
bool class_may_match(const Element* e, uint32_t lo, uint32_t hi) {
    if (e->type == Element::CharAny) return true;
    const bool negated = e->type == Element::CharNot;
    do {
        const uint32_t a = e->value;
        const uint32_t b = e[1].type == Element::RangeUpper ? e[1].value : a;
        if (!negated && a <= hi && lo <= b) return true;
        if (negated && a <= lo && hi <= b) return false;
        e += e[1].type == Element::RangeUpper ? 2 : 1;
    } while (e->type == Element::CharAlt);
    return negated;
}

using State = GrammarMatcher::State;

// Appends a stack to the state unless it holds it already (an ambiguous grammar reaches one
// place by several paths; without this the stacks would multiply).
void add_unique(State& state, std::span<const Element* const> stack) {
    for (size_t i = 0; i < state.size(); ++i) {
        const auto s = state.stack(i);
        if (std::equal(s.begin(), s.end(), stack.begin(), stack.end())) return;
    }
    if (state.size() >= kMaxParseStacks) {
        throw GrammarLimitError(GrammarLimitError::Why::TooAmbiguous,
                                "grammar: more than " + std::to_string(kMaxParseStacks) +
                                    " parses of the text are alive at once (the grammar is too "
                                    "ambiguous to match; write it so that one parse fits)");
    }
    state.elements.insert(state.elements.end(), stack.begin(), stack.end());
    state.ends.push_back(static_cast<uint32_t>(state.elements.size()));
}

// Out of line, so that expand()'s frame holds no string (a sanitizer build's frames are large).
[[noreturn]] __attribute__((noinline)) void nested_too_deep() {
    throw GrammarLimitError(
        GrammarLimitError::Why::TooAmbiguous,
        "grammar: the text nests rules more than " + std::to_string(kMaxExpansion) + " deep");
}

// Expands rule references at the top of a stack until it shows a character class (or is
// empty: the text may end there), adding every resulting stack to `out`. Terminates because
// the parser refused left recursion; the depth grows only with rules that a text ends at once
// (a deeply nested text closing optional parts, a chain of rules), and is capped so as never
// to exhaust a thread's stack (8 MiB; a sanitizer build's frames take a few KiB each).
void expand(const Grammar& grammar, std::vector<const Element*>& stack, State& out, int depth = 0) {
    if (stack.empty() || stack.back()->type != Element::RuleRef) {
        add_unique(out, stack);
        return;
    }
    if (depth > kMaxExpansion) nested_too_deep();
    const Element* ref = stack.back();
    const Element* after = ref + 1;
    const std::vector<Element>& rule = grammar.rules()[ref->value];
    stack.pop_back();
    const size_t base = stack.size();
    for (const Element* alt = rule.data();;) {
        if (!is_end(after)) stack.push_back(after);
        if (!is_end(alt)) stack.push_back(alt);
        expand(grammar, stack, out, depth + 1);
        stack.resize(base);
        while (!is_end(alt)) ++alt;  // to this alternative's Alt or End
        if (alt->type == Element::End) break;
        ++alt;
    }
    stack.push_back(ref);
}

}  // namespace

void GrammarMatcher::State::clear() {
    elements.clear();
    ends.clear();
    partial = 0;
    partial_left = 0;
    partial_length = 0;
}

GrammarMatcher::GrammarMatcher(std::shared_ptr<const Grammar> grammar)
    : grammar_(std::move(grammar)) {
    reset();
}

void GrammarMatcher::reset() {
    state_.clear();
    // A stack holding a pointer to these locals is expanded at once, so no stack keeps it.
    const Element ref_then_end[2] = {{Element::RuleRef, grammar_->root()}, {Element::End, 0}};
    std::vector<const Element*> stack{&ref_then_end[0]};
    expand(*grammar_, stack, state_);
}

void GrammarMatcher::advance_code_point(const State& state, uint32_t cp, State& out) const {
    out.clear();
    std::vector<const Element*>& stack = stack_;
    for (size_t i = 0; i < state.size(); ++i) {
        const auto s = state.stack(i);
        if (s.empty()) continue;
        const Element* after = nullptr;
        if (!class_matches(s.back(), cp, &after)) continue;
        stack.assign(s.begin(), s.end() - 1);
        if (!is_end(after)) stack.push_back(after);
        expand(*grammar_, stack, out);
    }
}

namespace {

// The code points a UTF-8 character of `length` bytes may hold: fewer would be an overlong
// encoding (C0 9D for ']'), which a grammar must not take for the character it hides.
constexpr uint32_t kSmallest[4] = {0, 0x80, 0x800, 0x10000};

// The code points [lo, hi] a partial character may still become, given the bytes so far.
bool partial_range(const State& state, uint32_t& lo, uint32_t& hi) {
    const uint32_t bits = 6u * state.partial_left;
    lo = std::max(state.partial << bits, kSmallest[state.partial_length]);
    hi = std::min((state.partial << bits) | ((1u << bits) - 1), 0x10FFFFu);
    return lo <= hi;
}

bool valid_code_point(uint32_t cp, int length) {
    return cp >= kSmallest[length] && cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF);
}

}  // namespace

bool GrammarMatcher::partial_possible(const State& state) const {
    uint32_t lo = 0, hi = 0;
    if (!partial_range(state, lo, hi)) return false;
    for (size_t i = 0; i < state.size(); ++i) {
        const auto s = state.stack(i);
        if (!s.empty() && class_may_match(s.back(), lo, hi)) return true;
    }
    return false;
}

void GrammarMatcher::set_limits(std::chrono::steady_clock::time_point deadline,
                                const std::atomic<bool>* cancelled) {
    deadline_ = deadline;
    cancelled_ = cancelled;
}

void GrammarMatcher::check_limits() const {
    if (cancelled_ != nullptr && cancelled_->load(std::memory_order_relaxed)) {
        throw GrammarLimitError(GrammarLimitError::Why::Cancelled, "grammar: cancelled");
    }
    if (deadline_ != std::chrono::steady_clock::time_point::max() &&
        std::chrono::steady_clock::now() >= deadline_) {
        throw GrammarLimitError(GrammarLimitError::Why::Deadline, "grammar: past the deadline");
    }
}

bool GrammarMatcher::step(const State& state, uint8_t byte, State& out) const {
    // The clock is read once per 256 steps, and at every step of a state holding many
    // stacks (where one step is itself long).
    if ((++work_ & 255) == 0 || state.size() > 64) check_limits();
    if (state.partial_left > 0) {
        if ((byte & 0xC0) != 0x80) return false;  // not a continuation byte: not UTF-8
        const uint32_t partial = (state.partial << 6) | (byte & 0x3Fu);
        if (state.partial_left == 1) {
            // Overlong forms and UTF-16 surrogates are not characters.
            if (!valid_code_point(partial, state.partial_length)) return false;
            advance_code_point(state, partial, out);
            return !out.empty();
        }
        out = state;
        out.partial = partial;
        out.partial_left = static_cast<uint8_t>(state.partial_left - 1);
        return partial_possible(out);
    }
    if (byte < 0x80) {
        advance_code_point(state, byte, out);
        return !out.empty();
    }
    const int extra = (byte >> 5) == 6 ? 1 : (byte >> 4) == 14 ? 2 : (byte >> 3) == 30 ? 3 : 0;
    if (extra == 0) return false;  // a stray continuation byte or 0xF8..0xFF
    out = state;
    out.partial = byte & (0x3Fu >> extra);
    out.partial_left = static_cast<uint8_t>(extra);
    out.partial_length = static_cast<uint8_t>(extra);
    return partial_possible(out);
}

bool GrammarMatcher::run(std::string_view bytes, State& result) const {
    State other;
    const State* from = &state_;
    State* to = &result;
    for (char c : bytes) {
        if (!step(*from, static_cast<uint8_t>(c), *to)) return false;
        from = to;
        to = to == &result ? &other : &result;
    }
    if (from != &result) result = *from;  // also for no bytes at all
    return true;
}

bool GrammarMatcher::accepts(std::string_view bytes) const {
    State result;
    return run(bytes, result);
}

bool GrammarMatcher::advance(std::string_view bytes) {
    State result;
    if (!run(bytes, result)) return false;
    state_ = std::move(result);
    return true;
}

bool GrammarMatcher::can_end() const {
    if (state_.partial_left > 0) return false;
    for (size_t i = 0; i < state_.size(); ++i) {
        if (state_.stack(i).empty()) return true;
    }
    return false;
}

bool GrammarMatcher::can_continue() const {
    for (size_t i = 0; i < state_.size(); ++i) {
        if (!state_.stack(i).empty()) return true;
    }
    return false;
}

// ---- the vocabulary trie ----

GrammarVocabulary::GrammarVocabulary(std::vector<std::string> token_texts,
                                     std::vector<int32_t> shown)
    : texts_(std::move(token_texts)), shown_(std::move(shown)) {
    std::vector<int32_t> order;
    for (int32_t t = 0; t < size(); ++t) {
        if (!texts_[t].empty()) order.push_back(t);
        max_length_ = std::max(max_length_, texts_[t].size());
    }
    std::sort(order.begin(), order.end(),
              [&](int32_t a, int32_t b) { return texts_[a] < texts_[b]; });
    // Breadth by node: a node's tokens [begin, end) share its prefix of `depth` bytes; those
    // as long as the prefix end here, the rest split by their next byte into children, which
    // are appended together so that they are contiguous.
    struct Pending {
        uint32_t node;
        size_t begin, end, depth;
    };
    nodes_.push_back({});
    std::vector<Pending> todo{{0, 0, order.size(), 0}};
    while (!todo.empty()) {
        const Pending p = todo.back();
        todo.pop_back();
        size_t i = p.begin;
        nodes_[p.node].first_token = static_cast<uint32_t>(ends_.size());
        for (; i < p.end && texts_[order[i]].size() == p.depth; ++i) ends_.push_back(order[i]);
        nodes_[p.node].n_tokens = static_cast<uint32_t>(ends_.size()) - nodes_[p.node].first_token;
        nodes_[p.node].first_child = static_cast<uint32_t>(nodes_.size());
        while (i < p.end) {
            const uint8_t byte = static_cast<uint8_t>(texts_[order[i]][p.depth]);
            size_t j = i;
            while (j < p.end && static_cast<uint8_t>(texts_[order[j]][p.depth]) == byte) ++j;
            Node child;
            child.byte = byte;
            nodes_.push_back(child);
            todo.push_back({static_cast<uint32_t>(nodes_.size() - 1), i, j, p.depth + 1});
            ++nodes_[p.node].n_children;
            i = j;
        }
    }
}

void GrammarVocabulary::walk(const GrammarMatcher& matcher, const Node& node,
                             const GrammarMatcher::State& state, size_t depth,
                             std::vector<GrammarMatcher::State>& scratch,
                             std::vector<uint8_t>& allowed) const {
    GrammarMatcher::State& next = scratch[depth];  // reused: no allocation once warm
    for (uint32_t c = node.first_child; c < node.first_child + node.n_children; ++c) {
        const Node& child = nodes_[c];
        if (!matcher.step(state, child.byte, next)) continue;  // no token with this prefix fits
        for (uint32_t k = 0; k < child.n_tokens; ++k) allowed[ends_[child.first_token + k]] = 1;
        if (child.n_children > 0) walk(matcher, child, next, depth + 1, scratch, allowed);
    }
}

void GrammarVocabulary::allowed(const GrammarMatcher& matcher,
                                std::vector<uint8_t>& allowed) const {
    allowed.assign(texts_.size(), 0);
    // One state per depth, sized up front: `state` points into it during the walk.
    std::vector<GrammarMatcher::State> scratch(max_length_ + 1);
    walk(matcher, nodes_[0], matcher.state(), 0, scratch, allowed);
}

}  // namespace ember
