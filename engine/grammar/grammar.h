// Grammars that constrain generation: GBNF, the notation llama.cpp defined, compiled into
// rules of elements and matched by a pushdown automaton over Unicode code points.
//
//   root   ::= "yes" | "no" | number        rules; alternatives with |
//   number ::= [0-9]+ ("." [0-9]{1,3})?     character classes, groups, * + ? {m} {m,} {m,n}
//   any    ::= [^"\\] . "\u00e9"            negation, any character, escapes, # comments
//
// A Grammar is the compiled text (immutable, shared by many generations). A GrammarMatcher is
// one generation's place in it: the set of parse stacks the text so far leaves alive (a
// grammar may be ambiguous), plus a partial UTF-8 character when a token ended inside one (a
// byte-level token can carry half of a character). A token is allowed when its bytes keep at
// least one stack alive; end-of-text only when some stack is empty (the grammar may end).
//
// GrammarVocabulary answers "which tokens may come next?" for a whole vocabulary at once by walking
// a trie of the token texts: a subtree whose prefix kills every stack is skipped whole, so a
// position that allows few tokens costs little. The sampler asks it only when the token it
// drew is rejected (as llama.cpp does), so most steps cost one token check.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "formats/error.h"

namespace ember {

// One element of a compiled rule. A rule is a sequence of alternatives, each a sequence of
// elements ending in End; alternatives are separated by Alt.
struct GrammarElement {
    enum Type : uint8_t {
        End,         // end of the rule (after its last alternative)
        Alt,         // start of the next alternative
        RuleRef,     // value: the rule's index
        Char,        // value: a code point; RangeUpper/CharAlt elements may follow (a class)
        CharNot,     // as Char, for a negated class [^...]
        RangeUpper,  // value: the upper end of a range whose lower end is the element before
        CharAlt,     // value: one more code point (or range start) of the class
        CharAny,     // . (any code point)
    };
    Type type;
    uint32_t value;
};

class Grammar {
  public:
    // Compiles GBNF text; throws ember::Error "grammar: line L, column C: ..." for text that is
    // not GBNF, a rule used but never defined, a missing root, or left recursion (which a
    // pushdown matcher cannot run).
    static std::shared_ptr<const Grammar> parse(std::string_view text,
                                                std::string_view root = "root");

    // Whether the whole of text is a sentence of the grammar (for tests and tools).
    bool matches(std::string_view text) const;

    const std::vector<std::vector<GrammarElement>>& rules() const { return rules_; }
    uint32_t root() const { return root_; }
    // The rule's name as written; a helper rule (a group, a repetition) is named after the
    // rule it was written in: "number#3".
    const std::string& rule_name(uint32_t rule) const { return names_[rule]; }

  private:
    friend class GrammarParser;
    std::vector<std::vector<GrammarElement>> rules_;
    std::vector<std::string> names_;
    uint32_t root_ = 0;
};

// Matching stopped by its limits: a grammar so ambiguous that more than kMaxParseStacks parse
// stacks are alive at once (`root ::= x "a"{40}; x ::= "a" x y | "a" x z | ""` doubles them
// with every character), or the work passed its deadline or was cancelled (a server's
// --timeout, a client that left), so no grammar can hold a thread for long.
class GrammarLimitError : public Error {
  public:
    enum class Why { TooAmbiguous, Deadline, Cancelled };
    GrammarLimitError(Why reason, const std::string& message) : Error(message), why(reason) {}
    Why why;
};
inline constexpr size_t kMaxParseStacks = 1024;

class GrammarMatcher {
  public:
    explicit GrammarMatcher(std::shared_ptr<const Grammar> grammar);

    // Stops matching (GrammarLimitError) once `deadline` passes or *cancelled is set, checked
    // every few hundred bytes of work. Default: no deadline.
    void set_limits(std::chrono::steady_clock::time_point deadline,
                    const std::atomic<bool>* cancelled);

    // Whether these bytes (one token's text) keep the text inside the grammar.
    bool accepts(std::string_view bytes) const;
    // Moves past the bytes; returns false (and leaves the matcher as it was) if they are not
    // accepted.
    bool advance(std::string_view bytes);
    // Whether the text so far is a whole sentence (end-of-text may come now).
    bool can_end() const;
    // Whether anything at all can follow (false: the grammar is finished).
    bool can_continue() const;
    void reset();

    // The parse stacks the text so far leaves alive (each: the elements still to match, the
    // next one last, always a character class; an empty stack: the text may end here), stored
    // one after another so that a state is two flat arrays (cheap to copy and to reuse).
    // Public for GrammarVocabulary and for TokenGrammar's cache.
    struct State {
        std::vector<const GrammarElement*> elements;
        std::vector<uint32_t> ends;  // stack i is elements[ends[i - 1], ends[i])
        uint32_t partial = 0;        // a UTF-8 character's bits so far
        uint8_t partial_left = 0;    // its continuation bytes still to come (0: none)
        uint8_t partial_length = 0;  // all its continuation bytes (1-3)

        size_t size() const { return ends.size(); }
        bool empty() const { return ends.empty(); }  // no stack: the text left the grammar
        std::span<const GrammarElement* const> stack(size_t i) const {
            const uint32_t begin = i == 0 ? 0 : ends[i - 1];
            return {elements.data() + begin, ends[i] - begin};
        }
        void clear();
        bool operator==(const State&) const = default;
    };
    // The state after one more byte, into `out` (its storage reused); false, with `out` in
    // any state, if the byte is not allowed.
    bool step(const State& state, uint8_t byte, State& out) const;
    const State& state() const { return state_; }
    const Grammar& grammar() const { return *grammar_; }

  private:
    void advance_code_point(const State& state, uint32_t cp, State& out) const;
    bool partial_possible(const State& state) const;
    bool run(std::string_view bytes, State& result) const;  // the state after these bytes

    std::shared_ptr<const Grammar> grammar_;
    State state_;
    void check_limits() const;

    // Scratch space of step() (so a matcher is used by one thread at a time).
    mutable std::vector<const GrammarElement*> stack_;
    std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::time_point::max();
    const std::atomic<bool>* cancelled_ = nullptr;
    mutable uint32_t work_ = 0;  // steps since the limits were last checked
};

// A vocabulary seen by a grammar: every token's text as bytes, in a trie, so that the tokens a
// matcher's state allows can be found for the whole vocabulary at once. Built once per
// vocabulary and shared (immutable). Tokens given as "" (control tokens, end-of-text) are
// never allowed by allowed(); the caller decides about end-of-text.
class GrammarVocabulary {
  public:
    // shown: the control tokens given their text (TurnRules::shown_tokens), sorted.
    explicit GrammarVocabulary(std::vector<std::string> token_texts,
                               std::vector<int32_t> shown = {});

    const std::vector<int32_t>& shown() const { return shown_; }

    int32_t size() const { return static_cast<int32_t>(texts_.size()); }
    const std::string& text(int32_t token) const { return texts_[token]; }
    // allowed[t] = 1 if token t may come next, else 0 (resized to size()).
    void allowed(const GrammarMatcher& matcher, std::vector<uint8_t>& allowed) const;

  private:
    struct Node {
        uint32_t first_child = 0;  // children are contiguous: [first_child, first_child + n)
        uint32_t n_children = 0;
        uint32_t first_token = 0;  // tokens whose text ends here: ends_[first_token, + n)
        uint32_t n_tokens = 0;
        uint8_t byte = 0;
    };
    void walk(const GrammarMatcher& matcher, const Node& node, const GrammarMatcher::State& state,
              size_t depth, std::vector<GrammarMatcher::State>& scratch,
              std::vector<uint8_t>& allowed) const;

    std::vector<std::string> texts_;
    std::vector<int32_t> shown_;
    std::vector<Node> nodes_;    // nodes_[0] is the root (the empty prefix)
    std::vector<int32_t> ends_;  // token ids, grouped by the node their text ends at
    size_t max_length_ = 0;      // the longest token text, in bytes
};

}  // namespace ember
