#include "engine/generate/session.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <thread>

#include "engine/generate/stop_strings.h"
#include "engine/grammar/token_grammar.h"
#include "engine/text/utf8.h"
#include "platform/thermal.h"

namespace ember {
namespace {

double ms_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
        .count();
}

}  // namespace

Session::Session(const Model& model, const Tokenizer& tokenizer, const SessionParams& params)
    : tokenizer_(tokenizer), context_(model, params.context), sampler_(params.sampling) {
    if (model.config().arch->encoder) {
        throw Error(model.file().name() + ": a " + std::string(model.config().arch->name) +
                    " model is an encoder: it makes embeddings (ember embed, ember_embed), not "
                    "text");
    }
    context_.set_cancel_flag(&cancel_);
}

void Session::reset() {
    context_.truncate(0);
    sampler_.reset();
    tokens_.clear();
    pending_ = -1;
}

void Session::rewind(int n) {
    n = std::clamp(n, 0, n_tokens());
    if (n == n_tokens()) return;
    pending_ = -1;  // the last generated token lies past n: it must not come back on append
    context_.truncate(n);
    tokens_.resize(n);
}

int shift_context(Context& context, int seq, std::vector<int32_t>& tokens, int n_keep,
                  int32_t bos) {
    const int n = static_cast<int>(tokens.size());  // what the sequence holds
    const int keep = std::min(std::max(n_keep, !tokens.empty() && tokens[0] == bos ? 1 : 0),
                              n - 2);  // something must go
    if (keep < 0) return 0;
    const int discard = (n - keep) / 2;
    context.shift(seq, keep, discard);
    tokens.erase(tokens.begin() + keep, tokens.begin() + keep + discard);
    return discard;
}

int Session::shift(int n_keep) {
    return shift_context(context_, 0, tokens_, n_keep, tokenizer_.vocab().bos);
}

void Session::evaluate(std::span<const int32_t> tokens) {
    if (tokens.empty()) return;
    try {
        context_.decode(tokens);
    } catch (const Error&) {
        // A long input is evaluated in chunks: forget any chunk that made it into the cache,
        // so the cache holds exactly tokens_.
        context_.truncate(static_cast<int>(tokens_.size()));
        if (cancel_.exchange(false)) throw CancelledError();
        throw;
    }
    tokens_.insert(tokens_.end(), tokens.begin(), tokens.end());
    for (int32_t t : tokens) sampler_.accept(t);
}

void Session::append_tokens(std::span<const int32_t> tokens) {
    std::vector<int32_t> all;
    if (pending_ >= 0) all.push_back(pending_);
    all.insert(all.end(), tokens.begin(), tokens.end());
    evaluate(all);
    pending_ = -1;
}

void Session::append(std::string_view text) {
    const bool first = tokens_.empty() && pending_ < 0;
    append_tokens(tokenizer_.encode(text, /*add_special=*/first, /*parse_special=*/true));
}

TurnResult Session::generate(std::string_view prompt, const TurnOptions& options,
                             const TextCallback& on_text) {
    TurnResult result;
    cancel_.store(false);
    auto start = std::chrono::steady_clock::now();
    const int before = n_past();
    append(prompt);
    result.n_prompt = n_past() - before;
    result.prompt_ms = ms_since(start);
    if (tokens_.empty()) throw Error("nothing to generate from: the session is empty");

    start = std::chrono::steady_clock::now();
    std::vector<size_t> piece_end;  // bytes of generated text up to the end of each token
    const Vocab& vocab = tokenizer_.vocab();
    Utf8Stream utf8;
    StopStringFilter stops(options.stop_strings);
    const auto emit = [&](const std::string& text) {
        if (text.empty()) return true;
        result.text += text;
        return on_text(text);
    };
    const int limit = options.n_predict < 0 ? n_ctx() : options.n_predict;
    std::optional<TokenGrammar> grammar;
    if (options.grammar) {
        if (!grammar_vocabulary_) grammar_vocabulary_ = make_grammar_vocabulary(tokenizer_);
        std::vector<int32_t> ends;
        if (!options.ignore_eos && vocab.eos >= 0) ends.push_back(vocab.eos);
        grammar.emplace(options.grammar, grammar_vocabulary_, std::move(ends));
    }
    result.reason = StopReason::Limit;
    // The pace: with a rate, token i is due at base_time + (i - base_index) / rate (at most
    // 1e9 s on: beyond, the clock's nanoseconds would overflow). A new rate (the thermal
    // back-off) starts a new base: the next token is due one new interval from now.
    double rate = options.max_tokens_per_second;
    auto base_time = start;
    int base_index = 0;
    const auto set_rate = [&](double new_rate) {
        rate = new_rate;
        base_time = std::chrono::steady_clock::now();
        base_index = result.n_generated - 1;
    };
    const auto due = [&](int i) {
        return base_time +
               std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                   std::chrono::duration<double>(std::min((i - base_index) / rate, 1e9)));
    };
    auto last_thermal_check = start;
    bool hot = false;
    const auto thermal_check = [&] {
        const auto now = std::chrono::steady_clock::now();
        if (now - last_thermal_check < std::chrono::milliseconds(options.thermal_check_ms)) return;
        last_thermal_check = now;
        const std::optional<double> celsius = platform::hottest_temperature_celsius();
        if (!celsius) return;
        if (*celsius > options.thermal_limit_celsius && result.n_generated > 0) {
            // Half of the pace now: the cap, or the rate measured so far.
            const double seconds = std::chrono::duration<double>(now - start).count();
            const double pace = rate > 0 ? rate : result.n_generated / std::max(seconds, 1e-3);
            const double slower = std::max(1.0, pace / 2);
            if (rate <= 0 || slower < rate) {  // at 1 token/s it stays there
                set_rate(slower);
                ++result.thermal_slowdowns;
            }
            hot = true;
        } else if (hot && *celsius < options.thermal_limit_celsius - 5) {
            set_rate(options.max_tokens_per_second);
            hot = false;
        }
    };
    while (result.n_generated < limit) {
        if (options.thermal_limit_celsius > 0) thermal_check();
        if (rate > 0) {
            // Sleep in slices, so that cancel() is still heard soon.
            const auto when = due(result.n_generated);
            while (!cancel_.load() && std::chrono::steady_clock::now() < when) {
                std::this_thread::sleep_until(std::min(
                    when, std::chrono::steady_clock::now() + std::chrono::milliseconds(20)));
            }
        }
        if (cancel_.exchange(false)) {
            result.reason = StopReason::Cancelled;
            break;
        }
        if (pending_ >= 0) {  // the previous token is sampled but not yet in the cache
            // n_predict < 0 means "until the context is full": no shift then.
            const bool may_shift = options.context_shift && options.n_predict >= 0;
            if (n_past() >= n_ctx() && (!may_shift || shift(options.n_keep) == 0)) {
                result.reason = StopReason::ContextFull;
                break;
            }
            try {
                append_tokens({});
            } catch (const CancelledError&) {
                result.reason = StopReason::Cancelled;
                break;
            }
        }
        if (grammar && grammar->finished()) {  // the text is whole and nothing may follow
            result.reason = StopReason::EndOfSequence;
            break;
        }
        const int32_t token =
            sampler_.sample(context_.logits(), context_.n_vocab(), grammar ? &*grammar : nullptr);
        if (token < 0) throw Error("grammar: no token of the vocabulary can continue the text");
        if (!options.ignore_eos && token == vocab.eos) {
            result.reason = StopReason::EndOfSequence;
            break;
        }
        if (grammar) grammar->accept(token);
        pending_ = token;  // evaluated (and seen by the penalties) before the next sample
        ++result.n_generated;
        if (options.on_token && !options.on_token(token)) {
            result.reason = StopReason::Callback;
            break;
        }
        const std::string piece = tokenizer_.piece(token);
        piece_end.push_back((piece_end.empty() ? 0 : piece_end.back()) + piece.size());
        bool stopped = false;
        const std::string text = stops.push(utf8.push(piece), &stopped);
        if (!emit(text)) {
            result.reason = StopReason::Callback;
            break;
        }
        if (stopped) {
            result.reason = StopReason::StopString;
            break;
        }
        if (grammar && grammar->finished()) {  // nothing may follow: no need to ask the model
            result.reason = StopReason::EndOfSequence;
            break;
        }
    }
    if (result.reason == StopReason::StopString) {
        // Keep in the session only the tokens whose text was emitted: the next turn then
        // continues from exactly the text the caller saw.
        int keep = 0;
        while (keep < result.n_generated && piece_end[keep] <= result.text.size()) ++keep;
        if (keep < result.n_generated) {
            // Counted from the end: a context shift may have moved where generation started.
            const int target = n_tokens() - (result.n_generated - keep);
            pending_ = -1;
            rewind(target);
        }
    } else if (result.reason != StopReason::Callback) {
        bool stopped = false;
        emit(stops.push(utf8.flush(), &stopped) + (stopped ? "" : stops.flush()));
    }
    result.generate_ms = ms_since(start);
    return result;
}

}  // namespace ember
