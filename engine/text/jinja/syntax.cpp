// The lexer follows jinja2's (jinja2/lexer.py, BSD-3-Clause): text runs up to the next "{{",
// "{%" or "{#"; a "-" beside a delimiter strips all white space on that side; lstrip_blocks
// removes the spaces and tabs before a block or comment tag that starts its line, trim_blocks
// the first newline after one ("+" keeps both). The parser follows jinja2/parser.py's grammar
// and precedence (or < and < not < comparisons < + - < ~ < * / // % < ** < unary, postfix,
// filters and tests).
#include "engine/text/jinja/syntax.h"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "engine/text/jinja/builtins.h"
#include "engine/text/utf8.h"

namespace ember::jinja {

TemplateError::TemplateError(Kind kind, std::string message, Location where)
    : kind_(kind), message_(std::move(message)), where_(where) {
    locate(where);
}

void TemplateError::locate(Location where) {
    if (where_.line == 0 || where.line != 0) where_ = where_.line == 0 ? where : where_;
    full_ = where_.line > 0 ? "template line " + std::to_string(where_.line) + ", column " +
                                  std::to_string(where_.column) + ": " + message_
                            : message_;
}

namespace {

struct Token {
    enum class Type : uint8_t {
        Text,
        VarBegin,
        VarEnd,
        BlockBegin,
        BlockEnd,
        Name,
        String,
        Int,
        Float,
        Op,
        End
    };
    Type type;
    std::string value;
    Location where;
};

bool ascii_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

[[noreturn]] void syntax_error(const std::string& message, Location where) {
    throw TemplateError(TemplateError::Kind::Syntax, message, where);
}

class Lexer {
  public:
    explicit Lexer(std::string_view source) {
        // Line endings read as "\n"; one newline at the very end dropped.
        src_.reserve(source.size());
        for (size_t i = 0; i < source.size(); ++i) {
            if (source[i] == '\r') {
                src_ += '\n';
                if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
            } else {
                src_ += source[i];
            }
        }
        if (!src_.empty() && src_.back() == '\n') src_.pop_back();
    }

    std::vector<Token> run() {
        bool line_starting = true;
        while (pos_ < src_.size()) {
            const size_t tag = find_tag(pos_);
            std::string text =
                src_.substr(pos_, (tag == std::string::npos ? src_.size() : tag) - pos_);
            if (tag == std::string::npos) {
                emit_text(text, pos_);
                pos_ = src_.size();
                break;
            }
            const char kind = src_[tag + 1];  // '{', '%' or '#'
            const char sign = tag + 2 < src_.size() ? src_[tag + 2] : '\0';
            if (sign == '-') {
                size_t keep = text.size();
                while (keep > 0 && ascii_space(text[keep - 1])) --keep;
                text.resize(keep);
            } else if (sign != '+' && kind != '{') {
                // lstrip_blocks: only spaces and tabs between the line's start and the tag.
                const size_t line_start =
                    text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
                if (line_start > 0 || line_starting) {
                    bool blank = line_start < text.size();
                    for (size_t i = line_start; i < text.size(); ++i)
                        blank = blank && ascii_space(text[i]);
                    if (blank) text.resize(line_start);
                }
            }
            emit_text(text, pos_);
            pos_ = tag + 2 + ((sign == '-' || sign == '+') ? 1 : 0);
            if (kind == '#') {
                const size_t close = src_.find("#}", pos_);
                if (close == std::string::npos) syntax_error("unclosed comment", where(tag));
                pos_ = close + 2;
                line_starting = after_tag(close > 0 ? src_[close - 1] : '\0', true);
                continue;
            }
            const bool block = kind == '%';
            tokens_.push_back(
                {block ? Token::Type::BlockBegin : Token::Type::VarBegin, "", where(tag)});
            line_starting = lex_tag(block);
        }
        tokens_.push_back({Token::Type::End, "", where(src_.size())});
        return std::move(tokens_);
    }

  private:
    std::string src_;
    size_t pos_ = 0;
    std::vector<Token> tokens_;
    mutable std::vector<size_t> line_starts_;

    Location where(size_t offset) const {
        // Line starts, found once; a column counts characters, not bytes.
        if (line_starts_.empty()) {
            line_starts_.push_back(0);
            for (size_t i = 0; i < src_.size(); ++i) {
                if (src_[i] == '\n') line_starts_.push_back(i + 1);
            }
        }
        offset = std::min(offset, src_.size());
        const auto line = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset) - 1;
        Location loc{static_cast<int>(line - line_starts_.begin()) + 1, 1};
        for (size_t i = *line; i < offset; ++i) {
            if ((static_cast<unsigned char>(src_[i]) & 0xc0) != 0x80) ++loc.column;
        }
        return loc;
    }

    size_t find_tag(size_t from) const {
        for (size_t i = src_.find('{', from); i != std::string::npos; i = src_.find('{', i + 1)) {
            if (i + 1 < src_.size() &&
                (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) {
                return i;
            }
        }
        return std::string::npos;
    }

    void emit_text(const std::string& text, size_t at) {
        if (!text.empty()) tokens_.push_back({Token::Type::Text, text, where(at)});
    }

    // After a closing delimiter: "-" strips the white space that follows, a block or comment
    // end without "+" drops one newline. Returns whether the consumed text ends a line.
    bool after_tag(char sign, bool block) {
        if (sign == '-') {
            const size_t start = pos_;
            while (pos_ < src_.size() && ascii_space(src_[pos_])) ++pos_;
            return pos_ > start && src_[pos_ - 1] == '\n';
        }
        if (block && sign != '+' && pos_ < src_.size() && src_[pos_] == '\n') {
            ++pos_;
            return true;
        }
        return false;
    }

    // The tokens of one {{ ... }} or {% ... %}, up to and including its end.
    bool lex_tag(bool block) {
        std::vector<char> brackets;
        while (true) {
            while (pos_ < src_.size() && ascii_space(src_[pos_])) ++pos_;
            if (pos_ >= src_.size())
                syntax_error(block ? "unclosed block tag" : "unclosed variable tag", where(pos_));
            const std::string_view rest(src_.data() + pos_, src_.size() - pos_);
            if (brackets.empty()) {
                const char* ends[] = {"-%}", "+%}", "%}", "-}}", "}}"};
                for (const char* end : ends) {
                    const bool for_block = std::strchr(end, '%') != nullptr;
                    if (for_block != block || rest.substr(0, std::strlen(end)) != end) continue;
                    const char sign = end[0] == '-' || end[0] == '+' ? end[0] : '\0';
                    tokens_.push_back(
                        {block ? Token::Type::BlockEnd : Token::Type::VarEnd, "", where(pos_)});
                    pos_ += std::strlen(end);
                    return after_tag(sign, block);
                }
            }
            const Location at = where(pos_);
            const char c = src_[pos_];
            if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
                size_t end = pos_;
                while (end < src_.size() &&
                       (std::isalnum(static_cast<unsigned char>(src_[end])) || src_[end] == '_'))
                    ++end;
                tokens_.push_back({Token::Type::Name, src_.substr(pos_, end - pos_), at});
                pos_ = end;
            } else if (std::isdigit(static_cast<unsigned char>(c))) {
                lex_number(at);
            } else if (c == '\'' || c == '"') {
                lex_string(at);
            } else {
                static const char* ops[] = {"//", "**", "==", "!=", "<=", ">=", "+", "-", "*",
                                            "/",  "%",  "~",  "<",  ">",  "=",  ".", ":", "|",
                                            ",",  "(",  ")",  "[",  "]",  "{",  "}", ";"};
                const char* found = nullptr;
                for (const char* op : ops) {
                    if (rest.substr(0, std::strlen(op)) == op) {
                        found = op;
                        break;
                    }
                }
                if (found == nullptr)
                    syntax_error(std::string("unexpected character '") + c + "'", at);
                if (std::strchr("([{", found[0]) != nullptr && found[1] == '\0')
                    brackets.push_back(found[0]);
                if (std::strchr(")]}", found[0]) != nullptr && found[1] == '\0') {
                    const char open = found[0] == ')' ? '(' : found[0] == ']' ? '[' : '{';
                    if (brackets.empty() || brackets.back() != open) {
                        syntax_error(std::string("unexpected '") + found[0] + "'", at);
                    }
                    brackets.pop_back();
                }
                tokens_.push_back({Token::Type::Op, found, at});
                pos_ += std::strlen(found);
            }
        }
    }

    void lex_number(Location at) {
        size_t end = pos_;
        const auto digits = [&] {
            while (end < src_.size() &&
                   (std::isdigit(static_cast<unsigned char>(src_[end])) || src_[end] == '_'))
                ++end;
        };
        digits();
        bool is_float = false;
        if (end + 1 < src_.size() && src_[end] == '.' &&
            std::isdigit(static_cast<unsigned char>(src_[end + 1]))) {
            is_float = true;
            ++end;
            digits();
        }
        if (end < src_.size() && (src_[end] == 'e' || src_[end] == 'E')) {
            size_t e = end + 1;
            if (e < src_.size() && (src_[e] == '+' || src_[e] == '-')) ++e;
            if (e < src_.size() && std::isdigit(static_cast<unsigned char>(src_[e]))) {
                is_float = true;
                end = e;
                digits();
            }
        }
        std::string text;
        for (size_t i = pos_; i < end; ++i) {
            if (src_[i] != '_') text += src_[i];
        }
        tokens_.push_back({is_float ? Token::Type::Float : Token::Type::Int, text, at});
        pos_ = end;
    }

    // A string literal with Python's escapes (jinja2 decodes them with "unicode-escape").
    void lex_string(Location at) {
        const char quote = src_[pos_++];
        std::string out;
        while (true) {
            if (pos_ >= src_.size()) syntax_error("unterminated string", at);
            const char c = src_[pos_++];
            if (c == quote) break;
            if (c != '\\') {
                out += c;
                continue;
            }
            if (pos_ >= src_.size()) syntax_error("unterminated string", at);
            const char e = src_[pos_++];
            const auto hex = [&](int n) {
                if (pos_ + static_cast<size_t>(n) > src_.size())
                    syntax_error("bad escape in string", at);
                const std::string digits = src_.substr(pos_, static_cast<size_t>(n));
                for (const char d : digits) {
                    if (!std::isxdigit(static_cast<unsigned char>(d)))
                        syntax_error("bad escape in string", at);
                }
                pos_ += static_cast<size_t>(n);
                const unsigned long cp = std::stoul(digits, nullptr, 16);
                if (cp > 0x10ffff) syntax_error("bad escape in string", at);
                append_utf8(out, static_cast<char32_t>(cp));
            };
            switch (e) {
                case 'n':
                    out += '\n';
                    break;
                case 't':
                    out += '\t';
                    break;
                case 'r':
                    out += '\r';
                    break;
                case 'a':
                    out += '\a';
                    break;
                case 'b':
                    out += '\b';
                    break;
                case 'f':
                    out += '\f';
                    break;
                case 'v':
                    out += '\v';
                    break;
                case '\\':
                    out += '\\';
                    break;
                case '\'':
                    out += '\'';
                    break;
                case '"':
                    out += '"';
                    break;
                case '\n':
                    break;
                case 'x':
                    hex(2);
                    break;
                case 'u':
                    hex(4);
                    break;
                case 'U':
                    hex(8);
                    break;
                default:
                    if (e >= '0' && e <= '7') {
                        unsigned value = static_cast<unsigned>(e - '0');
                        for (int i = 0;
                             i < 2 && pos_ < src_.size() && src_[pos_] >= '0' && src_[pos_] <= '7';
                             ++i) {
                            value = value * 8 + static_cast<unsigned>(src_[pos_++] - '0');
                        }
                        append_utf8(out, static_cast<char32_t>(value));
                    } else {
                        out += '\\';
                        out += e;
                    }
            }
        }
        tokens_.push_back({Token::Type::String, out, at});
    }
};

class Parser {
  public:
    explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

    Body parse() {
        std::string ended;
        Body body = parse_body({}, ended);
        return body;
    }

  private:
    std::vector<Token> tokens_;
    size_t at_ = 0;
    int depth_ = 0;

    const Token& peek(size_t ahead = 0) const {
        return tokens_[std::min(at_ + ahead, tokens_.size() - 1)];
    }
    const Token& next() {
        const Token& t = peek();
        if (at_ < tokens_.size() - 1) ++at_;
        return t;
    }
    bool is_op(std::string_view op, size_t ahead = 0) const {
        return peek(ahead).type == Token::Type::Op && peek(ahead).value == op;
    }
    bool is_name(std::string_view name, size_t ahead = 0) const {
        return peek(ahead).type == Token::Type::Name && peek(ahead).value == name;
    }
    bool skip_op(std::string_view op) {
        if (!is_op(op)) return false;
        next();
        return true;
    }
    bool skip_name(std::string_view name) {
        if (!is_name(name)) return false;
        next();
        return true;
    }
    [[noreturn]] void fail_here(const std::string& message) const {
        syntax_error(message, peek().where);
    }
    std::string describe(const Token& t) const {
        switch (t.type) {
            case Token::Type::End:
                return "end of template";
            case Token::Type::BlockEnd:
                return "end of statement block";
            case Token::Type::VarEnd:
                return "end of print statement";
            case Token::Type::Text:
                return "template text";
            default:
                return "'" + t.value + "'";
        }
    }
    void expect_op(std::string_view op) {
        if (!skip_op(op)) fail_here("expected '" + std::string(op) + "', got " + describe(peek()));
    }
    std::string expect_name() {
        if (peek().type != Token::Type::Name) fail_here("expected a name, got " + describe(peek()));
        return next().value;
    }
    void expect_block_end() {
        if (peek().type != Token::Type::BlockEnd)
            fail_here("expected end of statement block, got " + describe(peek()));
        next();
    }

    // Guards the recursion of nested expressions and statements (a hostile file could nest
    // parentheses a million deep).
    struct Nest {
        explicit Nest(Parser& p) : parser(p) {
            if (++parser.depth_ > 200) parser.fail_here("template nested too deeply");
        }
        ~Nest() { --parser.depth_; }
        Parser& parser;
    };

    // Statements up to a {% name %} with a name in `ends` (consumed up to the name; `ended`
    // says which), or to the end of the template when ends is empty.
    Body parse_body(const std::vector<std::string_view>& ends, std::string& ended) {
        Nest nest(*this);
        Body body;
        while (true) {
            const Token& t = peek();
            if (t.type == Token::Type::End) {
                if (!ends.empty()) {
                    std::string list;
                    for (const auto e : ends)
                        list += (list.empty() ? "'" : " or '") + std::string(e) + "'";
                    fail_here("unexpected end of template, expected " + list);
                }
                return body;
            }
            if (t.type == Token::Type::Text) {
                auto s = std::make_unique<Stmt>();
                s->kind = Stmt::Kind::Text;
                s->where = t.where;
                s->text = next().value;
                body.push_back(std::move(s));
            } else if (t.type == Token::Type::VarBegin) {
                auto s = std::make_unique<Stmt>();
                s->kind = Stmt::Kind::Print;
                s->where = next().where;
                s->expr = parse_tuple(true);
                if (peek().type != Token::Type::VarEnd)
                    fail_here("expected end of print statement, got " + describe(peek()));
                next();
                body.push_back(std::move(s));
            } else if (t.type == Token::Type::BlockBegin) {
                const Location where = next().where;
                if (peek().type != Token::Type::Name) fail_here("expected a statement name");
                const std::string name = peek().value;
                for (const auto e : ends) {
                    if (name == e) {
                        next();
                        ended = name;
                        return body;
                    }
                }
                body.push_back(parse_statement(where));
            } else {
                fail_here("unexpected " + describe(t));
            }
        }
    }

    std::unique_ptr<Stmt> parse_statement(Location where) {
        auto s = std::make_unique<Stmt>();
        s->where = where;
        const std::string name = next().value;
        std::string ended;
        if (name == "if") {
            s->kind = Stmt::Kind::If;
            ExprPtr condition = parse_tuple(true);
            expect_block_end();
            while (true) {
                Body body = parse_body({"elif", "else", "endif"}, ended);
                s->branches.emplace_back(std::move(condition), std::move(body));
                if (ended == "elif") {
                    condition = parse_tuple(true);
                    expect_block_end();
                    continue;
                }
                if (ended == "else") {
                    expect_block_end();
                    s->else_body = parse_body({"endif"}, ended);
                }
                break;
            }
        } else if (name == "for") {
            s->kind = Stmt::Kind::For;
            s->targets = parse_targets();
            if (!skip_name("in")) fail_here("expected 'in', got " + describe(peek()));
            s->expr = parse_tuple(false);
            if (skip_name("if")) s->condition = parse_expression(true);
            if (is_name("recursive")) fail_here("recursive loops are not supported");
            expect_block_end();
            s->body = parse_body({"endfor", "else"}, ended);
            if (ended == "else") {
                expect_block_end();
                s->else_body = parse_body({"endfor"}, ended);
            }
        } else if (name == "set") {
            const std::string first = expect_name();
            if (skip_op(".")) {
                s->kind = Stmt::Kind::Set;
                s->targets = {first};
                s->attribute = expect_name();
                expect_op("=");
                s->expr = parse_tuple(true);
            } else if (is_op("=") || is_op(",")) {
                s->kind = Stmt::Kind::Set;
                s->targets = {first};
                while (skip_op(",")) s->targets.push_back(expect_name());
                expect_op("=");
                s->expr = parse_tuple(true);
            } else {
                s->kind = Stmt::Kind::SetBlock;
                s->targets = {first};
                while (skip_op("|")) s->filters.push_back(parse_filter(nullptr));
                expect_block_end();
                s->body = parse_body({"endset"}, ended);
            }
        } else if (name == "macro") {
            s->kind = Stmt::Kind::Macro;
            s->targets = {expect_name()};
            expect_op("(");
            while (!is_op(")")) {
                std::string param = expect_name();
                ExprPtr fallback;
                if (skip_op("=")) fallback = parse_expression(true);
                s->params.emplace_back(std::move(param), std::move(fallback));
                if (!skip_op(",")) break;
            }
            expect_op(")");
            expect_block_end();
            s->body = parse_body({"endmacro"}, ended);
        } else if (name == "filter") {
            s->kind = Stmt::Kind::FilterBlock;
            do {
                s->filters.push_back(parse_filter(nullptr));
            } while (skip_op("|"));
            expect_block_end();
            s->body = parse_body({"endfilter"}, ended);
        } else if (name == "break" || name == "continue") {
            s->kind = name == "break" ? Stmt::Kind::Break : Stmt::Kind::Continue;
        } else if (name == "generation") {
            // transformers' AssistantTracker tag: marks the assistant's text for training
            // masks; a plain rendering prints its body unchanged.
            s->kind = Stmt::Kind::Scope;
            expect_block_end();
            s->body = parse_body({"endgeneration"}, ended);
        } else if (name == "include" || name == "import" || name == "from" || name == "extends" ||
                   name == "block") {
            syntax_error(
                "{% " + name + " %} is not supported: a chat template cannot read other files",
                where);
        } else {
            syntax_error("unknown or unsupported tag '" + name + "'", where);
        }
        expect_block_end();
        return s;
    }

    std::vector<std::string> parse_targets() {
        std::vector<std::string> names;
        const bool paren = skip_op("(");
        do {
            names.push_back(expect_name());
        } while (skip_op(","));
        if (paren) expect_op(")");
        return names;
    }

    ExprPtr make(Expr::Kind kind, Location where) {
        auto e = std::make_unique<Expr>();
        e->kind = kind;
        e->where = where;
        return e;
    }

    // Comma-separated expressions make a tuple (`{{ a, b }}`, `set x = 1, 2`).
    ExprPtr parse_tuple(bool with_condition) {
        const Location where = peek().where;
        ExprPtr first = parse_expression(with_condition);
        if (!is_op(",")) return first;
        auto tuple = make(Expr::Kind::Tuple, where);
        tuple->args.push_back(std::move(first));
        while (skip_op(",")) {
            if (peek().type == Token::Type::BlockEnd || peek().type == Token::Type::VarEnd) break;
            tuple->args.push_back(parse_expression(with_condition));
        }
        return tuple;
    }

    ExprPtr parse_expression(bool with_condition) {
        Nest nest(*this);
        return with_condition ? parse_condition() : parse_or();
    }

    ExprPtr parse_condition() {
        ExprPtr expr = parse_or();
        while (is_name("if")) {
            const Location where = next().where;
            auto cond = make(Expr::Kind::Condition, where);
            cond->args.push_back(parse_or());
            cond->args.push_back(std::move(expr));
            cond->args.push_back(skip_name("else") ? parse_condition() : nullptr);
            expr = std::move(cond);
        }
        return expr;
    }

    ExprPtr binary(std::string op, ExprPtr left, ExprPtr right, Location where) {
        auto e = make(Expr::Kind::Binary, where);
        e->name = std::move(op);
        e->args.push_back(std::move(left));
        e->args.push_back(std::move(right));
        return e;
    }

    ExprPtr parse_or() {
        ExprPtr left = parse_and();
        while (is_name("or")) {
            const Location where = next().where;
            left = binary("or", std::move(left), parse_and(), where);
        }
        return left;
    }

    ExprPtr parse_and() {
        ExprPtr left = parse_not();
        while (is_name("and")) {
            const Location where = next().where;
            left = binary("and", std::move(left), parse_not(), where);
        }
        return left;
    }

    ExprPtr parse_not() {
        if (is_name("not")) {
            Nest nest(*this);
            auto e = make(Expr::Kind::Unary, next().where);
            e->name = "not";
            e->args.push_back(parse_not());
            return e;
        }
        return parse_compare();
    }

    ExprPtr parse_compare() {
        ExprPtr left = parse_math1();
        while (true) {
            const Location where = peek().where;
            std::string op;
            if (peek().type == Token::Type::Op &&
                (peek().value == "==" || peek().value == "!=" || peek().value == "<" ||
                 peek().value == "<=" || peek().value == ">" || peek().value == ">=")) {
                op = next().value;
            } else if (is_name("in")) {
                next();
                op = "in";
            } else if (is_name("not") && is_name("in", 1)) {
                next();
                next();
                op = "not in";
            } else {
                return left;
            }
            left = binary(op, std::move(left), parse_math1(), where);
        }
    }

    ExprPtr parse_math1() {
        ExprPtr left = parse_concat();
        while (is_op("+") || is_op("-")) {
            const Token& t = next();
            left = binary(t.value, std::move(left), parse_concat(), t.where);
        }
        return left;
    }

    ExprPtr parse_concat() {
        ExprPtr left = parse_math2();
        while (is_op("~")) {
            const Location where = next().where;
            left = binary("~", std::move(left), parse_math2(), where);
        }
        return left;
    }

    ExprPtr parse_math2() {
        ExprPtr left = parse_pow();
        while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
            const Token& t = next();
            left = binary(t.value, std::move(left), parse_pow(), t.where);
        }
        return left;
    }

    ExprPtr parse_pow() {
        ExprPtr left = parse_unary(true);
        while (is_op("**")) {
            const Location where = next().where;
            left = binary("**", std::move(left), parse_unary(true), where);
        }
        return left;
    }

    ExprPtr parse_unary(bool with_filter) {
        Nest nest(*this);
        ExprPtr node;
        if (is_op("-") || is_op("+")) {
            const Token& t = next();
            node = make(Expr::Kind::Unary, t.where);
            node->name = t.value;
            node->args.push_back(parse_unary(false));
        } else {
            node = parse_primary();
        }
        node = parse_postfix(std::move(node));
        return with_filter ? parse_filter_expr(std::move(node)) : std::move(node);
    }

    ExprPtr parse_primary() {
        const Token& t = peek();
        switch (t.type) {
            case Token::Type::Name: {
                next();
                auto e = make(Expr::Kind::Literal, t.where);
                if (t.value == "true" || t.value == "True") {
                    e->value = Value::boolean(true);
                } else if (t.value == "false" || t.value == "False") {
                    e->value = Value::boolean(false);
                } else if (t.value == "none" || t.value == "None") {
                    e->value = Value::none();
                } else {
                    e->kind = Expr::Kind::Name;
                    e->name = t.value;
                }
                return e;
            }
            case Token::Type::String: {
                auto e = make(Expr::Kind::Literal, t.where);
                std::string s;
                while (peek().type == Token::Type::String) s += next().value;  // "a" "b" joins
                e->value = Value::string(std::move(s));
                return e;
            }
            case Token::Type::Int: {
                next();
                auto e = make(Expr::Kind::Literal, t.where);
                int64_t value = 0;
                for (const char c : t.value) {
                    if (__builtin_mul_overflow(value, 10, &value) ||
                        __builtin_add_overflow(value, c - '0', &value)) {
                        syntax_error("integer literal too large", t.where);
                    }
                }
                e->value = Value::integer(value);
                return e;
            }
            case Token::Type::Float: {
                next();
                auto e = make(Expr::Kind::Literal, t.where);
                e->value = Value::number(std::strtod(t.value.c_str(), nullptr));
                return e;
            }
            case Token::Type::Op:
                if (t.value == "(") {
                    next();
                    if (skip_op(")")) return make(Expr::Kind::Tuple, t.where);
                    ExprPtr first = parse_expression(true);
                    if (skip_op(")")) return first;
                    auto tuple = make(Expr::Kind::Tuple, t.where);
                    tuple->args.push_back(std::move(first));
                    while (skip_op(",")) {
                        if (is_op(")")) break;
                        tuple->args.push_back(parse_expression(true));
                    }
                    expect_op(")");
                    return tuple;
                }
                if (t.value == "[") {
                    next();
                    auto list = make(Expr::Kind::List, t.where);
                    while (!is_op("]")) {
                        list->args.push_back(parse_expression(true));
                        if (!skip_op(",")) break;
                    }
                    expect_op("]");
                    return list;
                }
                if (t.value == "{") {
                    next();
                    auto dict = make(Expr::Kind::Dict, t.where);
                    while (!is_op("}")) {
                        dict->args.push_back(parse_expression(true));
                        expect_op(":");
                        dict->keyword_args.emplace_back("", parse_expression(true));
                        if (!skip_op(",")) break;
                    }
                    expect_op("}");
                    return dict;
                }
                break;
            default:
                break;
        }
        fail_here("unexpected " + describe(t));
    }

    ExprPtr parse_postfix(ExprPtr node) {
        while (true) {
            if (is_op(".")) {
                const Location where = next().where;
                if (peek().type == Token::Type::Int) {
                    auto e = make(Expr::Kind::Subscript, where);
                    e->args.push_back(std::move(node));
                    auto index = make(Expr::Kind::Literal, peek().where);
                    if (peek().value.size() > 18) fail_here("index too large");
                    index->value = Value::integer(std::stoll(next().value));
                    e->args.push_back(std::move(index));
                    node = std::move(e);
                    continue;
                }
                auto e = make(Expr::Kind::Attribute, where);
                e->name = expect_name();
                e->args.push_back(std::move(node));
                node = std::move(e);
            } else if (is_op("[")) {
                node = parse_subscript(std::move(node));
            } else if (is_op("(")) {
                node = parse_call(std::move(node));
            } else {
                return node;
            }
        }
    }

    ExprPtr parse_subscript(ExprPtr node) {
        const Location where = next().where;  // '['
        ExprPtr parts[3];
        bool slice = false;
        if (!is_op(":")) parts[0] = parse_expression(true);
        if (skip_op(":")) {
            slice = true;
            if (!is_op("]") && !is_op(":")) parts[1] = parse_expression(true);
            if (skip_op(":") && !is_op("]")) parts[2] = parse_expression(true);
        }
        expect_op("]");
        auto e = make(slice ? Expr::Kind::Slice : Expr::Kind::Subscript, where);
        e->args.push_back(std::move(node));
        e->args.push_back(std::move(parts[0]));
        if (slice) {
            e->args.push_back(std::move(parts[1]));
            e->args.push_back(std::move(parts[2]));
        }
        return e;
    }

    // "(" args ")" into e->args (after what is already there) and e->keyword_args.
    void parse_arguments(Expr& e) {
        expect_op("(");
        while (!is_op(")")) {
            if (is_op("*") || is_op("**")) fail_here("*args and **kwargs are not supported");
            if (peek().type == Token::Type::Name && is_op("=", 1)) {
                std::string key = next().value;
                next();
                e.keyword_args.emplace_back(std::move(key), parse_expression(true));
            } else {
                if (!e.keyword_args.empty())
                    fail_here("positional argument after keyword argument");
                e.args.push_back(parse_expression(true));
            }
            if (!skip_op(",")) break;
        }
        expect_op(")");
    }

    ExprPtr parse_call(ExprPtr node) {
        auto e = make(Expr::Kind::Call, node->where);
        e->args.push_back(std::move(node));
        parse_arguments(*e);
        return e;
    }

    // "name" or "name(args)" after a "|"; subject may be null (filter blocks).
    ExprPtr parse_filter(ExprPtr subject) {
        auto e = make(Expr::Kind::Filter, peek().where);
        e->name = expect_name();
        while (skip_op(".")) e->name += "." + expect_name();
        // As jinja2, an unknown filter fails when the template is compiled.
        if (!has_filter(e->name)) syntax_error("no filter named '" + e->name + "'", e->where);
        e->args.push_back(std::move(subject));
        if (is_op("(")) parse_arguments(*e);
        return e;
    }

    ExprPtr parse_filter_expr(ExprPtr node) {
        while (true) {
            if (skip_op("|")) {
                node = parse_filter(std::move(node));
            } else if (is_name("is")) {
                auto e = make(Expr::Kind::Test, next().where);
                e->negate = skip_name("not");
                e->name = expect_name();
                while (skip_op(".")) e->name += "." + expect_name();
                if (!has_test(e->name)) syntax_error("no test named '" + e->name + "'", e->where);
                e->args.push_back(std::move(node));
                const Token& t = peek();
                if (is_op("(")) {
                    parse_arguments(*e);
                } else if ((t.type == Token::Type::Name || t.type == Token::Type::String ||
                            t.type == Token::Type::Int || t.type == Token::Type::Float ||
                            is_op("[") || is_op("{")) &&
                           !is_name("else") && !is_name("or") && !is_name("and")) {
                    if (is_name("is")) fail_here("you cannot chain multiple tests with is");
                    e->args.push_back(parse_postfix(parse_primary()));
                }
                node = std::move(e);
            } else if (is_op("(")) {
                node = parse_call(std::move(node));
            } else {
                return node;
            }
        }
    }
};

}  // namespace

Body parse_template(std::string_view source) {
    return Parser(Lexer(source).run()).parse();
}

}  // namespace ember::jinja
