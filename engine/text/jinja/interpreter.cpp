// Runs a parsed template (syntax.h) the way jinja2 runs its compiled Python: a for loop's body
// is a scope of its own (a `set` inside it does not outlive the iteration, hence namespace()),
// `if` is not; a macro sees its parameters and the template's top-level names; `and`/`or`
// return an operand, as in Python.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <unordered_map>

#include "engine/text/jinja/builtins.h"
#include "engine/text/jinja/template.h"

namespace ember::jinja {
namespace {

enum class Flow : uint8_t { Normal, Break, Continue };

// strftime for the conversions templates use, in the C locale whatever the process's locale is.
std::string format_time(const std::string& format, const std::tm& t) {
    static const char* const days[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                       "Thursday", "Friday", "Saturday"};
    static const char* const months[] = {"January",   "February", "March",    "April",
                                         "May",       "June",     "July",     "August",
                                         "September", "October",  "November", "December"};
    const auto two = [](int v) {
        char buf[16];
        std::snprintf(buf, sizeof(buf), "%02d", v);
        return std::string(buf);
    };
    std::string out;
    for (size_t i = 0; i < format.size(); ++i) {
        if (format[i] != '%' || i + 1 == format.size()) {
            out += format[i];
            continue;
        }
        const char c = format[++i];
        const int wday = ((t.tm_wday % 7) + 7) % 7, mon = ((t.tm_mon % 12) + 12) % 12;
        switch (c) {
            case 'Y':
                out += std::to_string(t.tm_year + 1900);
                break;
            case 'y':
                out += two((t.tm_year + 1900) % 100);
                break;
            case 'm':
                out += two(t.tm_mon + 1);
                break;
            case 'd':
                out += two(t.tm_mday);
                break;
            case 'e': {
                char buf[16];
                std::snprintf(buf, sizeof(buf), "%2d", t.tm_mday);
                out += buf;
                break;
            }
            case 'H':
                out += two(t.tm_hour);
                break;
            case 'I':
                out += two(t.tm_hour % 12 == 0 ? 12 : t.tm_hour % 12);
                break;
            case 'M':
                out += two(t.tm_min);
                break;
            case 'S':
                out += two(t.tm_sec);
                break;
            case 'p':
                out += t.tm_hour < 12 ? "AM" : "PM";
                break;
            case 'B':
                out += months[mon];
                break;
            case 'b':
            case 'h':
                out += std::string(months[mon]).substr(0, 3);
                break;
            case 'A':
                out += days[wday];
                break;
            case 'a':
                out += std::string(days[wday]).substr(0, 3);
                break;
            case 'j': {
                char buf[16];
                std::snprintf(buf, sizeof(buf), "%03d", t.tm_yday + 1);
                out += buf;
                break;
            }
            case '%':
                out += '%';
                break;
            default:
                out += '%';
                out += c;
        }
    }
    return out;
}

class Interpreter {
  public:
    Interpreter(const RenderOptions& options,
                const std::vector<std::pair<std::string, Value>>& variables)
        : options_(options) {
        frames_.emplace_back();
        for (const auto& [name, value] : variables) frames_[0][name] = value;
        define_globals();
    }

    Text run(const Body& body) {
        Text out;
        exec(body, out);
        return out;
    }

  private:
    using Frame = std::unordered_map<std::string, Value>;

    const RenderOptions& options_;
    std::vector<Frame> frames_;  // [0]: the template's top level
    size_t base_ = 1;            // a macro sees frames_[0] and frames_[base_..]
    Frame globals_;
    uint64_t steps_ = 0;
    int depth_ = 0;

    void step() {
        if (++steps_ > options_.max_steps) {
            throw TemplateError(TemplateError::Kind::Limit,
                                "the template ran too long (more than " +
                                    std::to_string(options_.max_steps) +
                                    " loop iterations and calls)");
        }
    }

    void define_globals() {
        globals_["raise_exception"] = Value::function("raise_exception", [](Args& a) -> Value {
            throw TemplateError(TemplateError::Kind::Raised,
                                to_str(a.get(0, "message", Value::string(""))).s);
        });
        const std::time_t now = options_.now != 0 ? options_.now : std::time(nullptr);
        globals_["strftime_now"] = Value::function("strftime_now", [now](Args& a) {
            std::tm t{};
#ifdef _WIN32
            localtime_s(&t, &now);
#else
            localtime_r(&now, &t);
#endif
            return Value::string(format_time(to_str(a.get(0, "format")).s, t));
        });
        globals_["namespace"] = Value::function("namespace", [](Args& a) {
            Dict d;
            for (const Value& p : a.positional) {
                if (!p.is_dict()) fail("namespace() takes a mapping and keyword arguments");
                for (const auto& [k, v] : p.dict().items) d.set(k, v);
            }
            for (const auto& [k, v] : a.keyword) d.set(k, v);
            return Value::namespace_object(std::move(d));
        });
        globals_["dict"] = Value::function("dict", [](Args& a) {
            Dict d;
            for (const auto& [k, v] : a.keyword) d.set(k, v);
            return Value::dict(std::move(d));
        });
        globals_["range"] = Value::function("range", [](Args& a) {
            for (const Value& v : a.positional) {
                if (!v.is_int() && !v.is_bool())
                    fail(std::string("'") + v.type_name() +
                         "' object cannot be interpreted as an integer");
            }
            int64_t start = 0, stop = 0, stride = 1;
            if (a.positional.size() == 1) {
                stop = a.positional[0].as_int();
            } else if (a.positional.size() == 2 || a.positional.size() == 3) {
                start = a.positional[0].as_int();
                stop = a.positional[1].as_int();
                if (a.positional.size() == 3) stride = a.positional[2].as_int();
            } else {
                fail("range expected 1 to 3 arguments");
            }
            if (stride == 0) fail("range() arg 3 must not be zero");
            const double count =
                std::ceil((static_cast<double>(stop) - static_cast<double>(start)) /
                          static_cast<double>(stride));
            // jinja2's sandbox refuses ranges longer than MAX_RANGE (100000).
            if (count > 100000)
                fail("Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
            std::vector<Value> items;
            for (int64_t i = start; stride > 0 ? i < stop : i > stop;) {
                items.push_back(Value::integer(i));
                if (__builtin_add_overflow(i, stride, &i)) break;  // past the end of int64
            }
            return Value::list(std::move(items));
        });
    }

    Value lookup(const std::string& name) const {
        for (size_t i = frames_.size(); i-- > base_;) {
            const auto it = frames_[i].find(name);
            if (it != frames_[i].end()) return it->second;
        }
        if (const auto it = frames_[0].find(name); it != frames_[0].end()) return it->second;
        if (const auto it = globals_.find(name); it != globals_.end()) return it->second;
        return Value::undefined("'" + name + "' is undefined");
    }

    void assign(const std::string& name, Value value) {
        frames_[frames_.size() == base_ ? 0 : frames_.size() - 1][name] = std::move(value);
    }

    void append(Text& out, const Text& text) const {
        out.append(text);
        check_size(out.s.size(), options_.max_output);
    }

    // Binds a for loop's or a set's targets: one name takes the value, several unpack it.
    void bind(const std::vector<std::string>& targets, const Value& value) {
        if (targets.size() == 1) {
            assign(targets[0], value);
            return;
        }
        const std::vector<Value> items = iterate(value);
        if (items.size() != targets.size()) {
            fail(items.size() > targets.size()
                     ? "too many values to unpack (expected " + std::to_string(targets.size()) + ")"
                     : "not enough values to unpack (expected " + std::to_string(targets.size()) +
                           ", got " + std::to_string(items.size()) + ")");
        }
        for (size_t i = 0; i < targets.size(); ++i) assign(targets[i], items[i]);
    }

    Flow exec(const Body& body, Text& out) {
        for (const auto& stmt : body) {
            try {
                const Flow flow = exec(*stmt, out);
                if (flow != Flow::Normal) return flow;
            } catch (TemplateError& e) {
                e.locate(stmt->where);
                throw;
            }
        }
        return Flow::Normal;
    }

    Flow exec(const Stmt& s, Text& out) {
        switch (s.kind) {
            case Stmt::Kind::Text:
                append(out, Text{s.text, {}});
                return Flow::Normal;
            case Stmt::Kind::Print:
                append(out, to_str(eval(*s.expr)));
                return Flow::Normal;
            case Stmt::Kind::If:
                for (const auto& [condition, body] : s.branches) {
                    if (eval(*condition).truthy()) return exec(body, out);
                }
                return exec(s.else_body, out);
            case Stmt::Kind::For:
                return exec_for(s, out);
            case Stmt::Kind::Set: {
                Value value = eval(*s.expr);
                if (!s.attribute.empty()) {
                    const Value target = lookup(s.targets[0]);
                    if (!target.is_namespace())
                        fail("cannot assign attribute on non-namespace object");
                    target.namespace_dict().set(s.attribute, std::move(value));
                } else {
                    bind(s.targets, value);
                }
                return Flow::Normal;
            }
            case Stmt::Kind::SetBlock: {
                Text captured;
                exec(s.body, captured);
                assign(s.targets[0], apply_filters(s.filters, Value::string(std::move(captured))));
                return Flow::Normal;
            }
            case Stmt::Kind::FilterBlock: {
                Text captured;
                exec(s.body, captured);
                append(out, to_str(apply_filters(s.filters, Value::string(std::move(captured)))));
                return Flow::Normal;
            }
            case Stmt::Kind::Macro:
                define_macro(s);
                return Flow::Normal;
            case Stmt::Kind::Break:
                return Flow::Break;
            case Stmt::Kind::Continue:
                return Flow::Continue;
            case Stmt::Kind::Scope:
                return exec(s.body, out);
        }
        return Flow::Normal;
    }

    Flow exec_for(const Stmt& s, Text& out) {
        std::vector<Value> items = iterate(eval(*s.expr));
        if (s.condition) {
            std::vector<Value> kept;
            for (Value& item : items) {
                step();
                frames_.emplace_back();
                bind(s.targets, item);
                const bool keep = eval(*s.condition).truthy();
                frames_.pop_back();
                if (keep) kept.push_back(std::move(item));
            }
            items = std::move(kept);
        }
        const size_t n = items.size();
        for (size_t i = 0; i < n; ++i) {
            step();
            frames_.emplace_back();
            bind(s.targets, items[i]);
            Dict loop;
            loop.set("index", Value::integer(static_cast<int64_t>(i + 1)));
            loop.set("index0", Value::integer(static_cast<int64_t>(i)));
            loop.set("revindex", Value::integer(static_cast<int64_t>(n - i)));
            loop.set("revindex0", Value::integer(static_cast<int64_t>(n - i - 1)));
            loop.set("first", Value::boolean(i == 0));
            loop.set("last", Value::boolean(i + 1 == n));
            loop.set("length", Value::integer(static_cast<int64_t>(n)));
            loop.set("depth", Value::integer(1));
            loop.set("depth0", Value::integer(0));
            if (i > 0) loop.set("previtem", items[i - 1]);
            if (i + 1 < n) loop.set("nextitem", items[i + 1]);
            loop.set("cycle", Value::function("cycle", [i](Args& a) {
                         if (a.positional.empty()) fail("no items for cycling given");
                         return a.positional[i % a.positional.size()];
                     }));
            frames_.back()["loop"] = Value::dict(std::move(loop));
            Flow flow;
            try {
                flow = exec(s.body, out);
            } catch (...) {
                frames_.pop_back();
                throw;
            }
            frames_.pop_back();
            if (flow == Flow::Break) break;
        }
        if (n == 0) return exec(s.else_body, out);
        return Flow::Normal;
    }

    void define_macro(const Stmt& s) {
        const Stmt* macro = &s;
        assign(s.targets[0], Value::function(s.targets[0], [this, macro](Args& a) {
                   return call_macro(*macro, a);
               }));
    }

    Value call_macro(const Stmt& m, Args& a) {
        step();
        if (++depth_ > options_.max_depth) {
            --depth_;
            throw TemplateError(TemplateError::Kind::Limit,
                                "macros nested deeper than " + std::to_string(options_.max_depth));
        }
        if (a.positional.size() > m.params.size()) {
            --depth_;
            fail("macro '" + m.targets[0] + "' takes not more than " +
                 std::to_string(m.params.size()) + " argument(s)");
        }
        const size_t saved_base = base_, saved_frames = frames_.size();
        frames_.emplace_back();
        base_ = frames_.size() - 1;
        Text out;
        try {
            for (const auto& keyword : a.keyword) {
                const std::string& key = keyword.first;
                const bool known = std::any_of(m.params.begin(), m.params.end(),
                                               [&](const auto& p) { return p.first == key; });
                if (!known)
                    fail("macro '" + m.targets[0] + "' takes no keyword argument '" + key + "'");
            }
            for (size_t i = 0; i < m.params.size(); ++i) {
                const auto& [name, fallback] = m.params[i];
                Value v;
                if (a.has(i, name)) {
                    v = a.get(i, name);
                } else if (fallback) {
                    v = eval(*fallback);
                } else {
                    v = Value::undefined("parameter '" + name + "' was not provided");
                }
                frames_.back()[name] = std::move(v);
            }
            exec(m.body, out);
        } catch (...) {
            frames_.resize(saved_frames);
            base_ = saved_base;
            --depth_;
            throw;
        }
        frames_.resize(saved_frames);
        base_ = saved_base;
        --depth_;
        return Value::string(std::move(out));
    }

    Value apply_filters(const std::vector<ExprPtr>& chain, Value value) {
        for (const ExprPtr& f : chain) value = filter(*f, value);
        return value;
    }

    Args arguments(const Expr& e, size_t first) {
        Args a;
        a.max_text = options_.max_output;
        for (size_t i = first; i < e.args.size(); ++i) a.positional.push_back(eval(*e.args[i]));
        for (const auto& [key, value] : e.keyword_args) a.keyword.emplace_back(key, eval(*value));
        return a;
    }

    Value filter(const Expr& e, const Value& subject) {
        step();
        Args a = arguments(e, 1);
        return apply_filter(e.name, subject, a);
    }

    Value eval(const Expr& e) {
        try {
            return evaluate(e);
        } catch (TemplateError& error) {
            error.locate(e.where);
            throw;
        }
    }

    Value evaluate(const Expr& e) {
        switch (e.kind) {
            case Expr::Kind::Literal:
                return e.value;
            case Expr::Kind::Name:
                return lookup(e.name);
            case Expr::Kind::List:
            case Expr::Kind::Tuple: {
                std::vector<Value> items;
                for (const ExprPtr& item : e.args) items.push_back(eval(*item));
                return Value::list(std::move(items), e.kind == Expr::Kind::Tuple);
            }
            case Expr::Kind::Dict: {
                Dict d;
                for (size_t i = 0; i < e.args.size(); ++i) {
                    const Value key = eval(*e.args[i]);
                    if (!key.is_string()) fail("only strings are supported as dict keys");
                    d.set(key.str(), eval(*e.keyword_args[i].second));
                }
                return Value::dict(std::move(d));
            }
            case Expr::Kind::Attribute:
                return get_attribute(eval(*e.args[0]), e.name);
            case Expr::Kind::Subscript:
                return get_item(eval(*e.args[0]), eval(*e.args[1]));
            case Expr::Kind::Slice: {
                const auto part = [&](size_t i) {
                    return e.args[i] ? eval(*e.args[i]) : Value::none();
                };
                return get_slice(eval(*e.args[0]), part(1), part(2), part(3));
            }
            case Expr::Kind::Call: {
                const Value callee = eval(*e.args[0]);
                Args a = arguments(e, 1);
                if (callee.is_undefined()) {
                    fail(callee.name().empty() ? "an undefined value is not callable"
                                               : callee.name());
                }
                if (!callee.is_function())
                    fail(std::string("'") + callee.type_name() + "' object is not callable");
                step();
                return callee.call()(a);
            }
            case Expr::Kind::Filter:
                return filter(e, eval(*e.args[0]));
            case Expr::Kind::Test: {
                const Value subject = eval(*e.args[0]);
                Args a = arguments(e, 1);
                step();
                const bool result = apply_test(e.name, subject, a);
                return Value::boolean(e.negate ? !result : result);
            }
            case Expr::Kind::Unary: {
                const Value x = eval(*e.args[0]);
                if (e.name == "not") return Value::boolean(!x.truthy());
                if (x.is_undefined())
                    fail(x.name().empty() ? "an undefined value cannot be negated" : x.name());
                if (!x.is_number())
                    fail(std::string("bad operand type for unary ") + e.name + ": '" +
                         x.type_name() + "'");
                if (e.name == "+") return x.is_float() ? x : Value::integer(x.as_int());
                if (x.is_float()) return Value::number(-x.as_double());
                if (x.as_int() == INT64_MIN) fail("integer overflow");
                return Value::integer(-x.as_int());
            }
            case Expr::Kind::Binary: {
                if (e.name == "and") {
                    Value left = eval(*e.args[0]);
                    return left.truthy() ? eval(*e.args[1]) : left;
                }
                if (e.name == "or") {
                    Value left = eval(*e.args[0]);
                    return left.truthy() ? left : eval(*e.args[1]);
                }
                const Value left = eval(*e.args[0]);
                const Value right = eval(*e.args[1]);
                return binary_op(e.name, left, right, options_.max_output);
            }
            case Expr::Kind::Condition:
                if (eval(*e.args[0]).truthy()) return eval(*e.args[1]);
                return e.args[2] ? eval(*e.args[2])
                                 : Value::undefined("the condition was false and there is no else");
        }
        return Value();
    }
};

}  // namespace

Template::Template(std::string_view source) : body_(parse_template(source)) {}

Text Template::render(const std::vector<std::pair<std::string, Value>>& variables,
                      const RenderOptions& options) const {
    Interpreter interpreter(options, variables);
    return interpreter.run(body_);
}

}  // namespace ember::jinja
