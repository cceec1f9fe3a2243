#include "engine/generate/session.h"

#include <algorithm>
#include <chrono>

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
    ContextParams draft_context = params.context;
    draft_context.n_ctx = context_.n_ctx();  // the target's, resolved
    draft_context.pool = context_.thread_pool();
    drafter_ = make_drafter(params.speculation, model, draft_context);
    draft_ = params.speculation.draft;
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

void Session::start_over(std::span<const int32_t> tokens, const SamplerParams* sampling) {
    if (tokens.empty()) throw Error("start_over: no tokens to start from");
    // Parameters outside their domain throw here, before anything changes.
    Sampler next = sampling != nullptr ? Sampler(*sampling) : sampler_;
    size_t shared = 0;
    while (shared < tokens_.size() && shared + 1 < tokens.size() &&
           tokens_[shared] == tokens[shared]) {
        ++shared;
    }
    rewind(static_cast<int>(shared));
    pending_ = -1;
    sampler_ = std::move(next);
    sampler_.reset();
    for (size_t i = 0; i < shared; ++i) sampler_.accept(tokens[i]);
    cancel_.clear_own();
    evaluate(tokens.subspan(shared), 0);
}

int Session::shift(int n_keep) {
    return shift_context(context_, 0, tokens_, n_keep, tokenizer_.vocab().bos);
}

void Session::evaluate(std::span<const int32_t> tokens, size_t first_new) {
    if (tokens.empty()) return;
    try {
        context_.decode(tokens);
    } catch (const Error&) {
        // A long input is evaluated in chunks: forget any chunk that made it into the cache,
        // so the cache holds exactly tokens_.
        context_.truncate(static_cast<int>(tokens_.size()));
        if (cancel_.take()) throw CancelledError();
        throw;
    }
    tokens_.insert(tokens_.end(), tokens.begin(), tokens.end());
    for (size_t i = first_new; i < tokens.size(); ++i) sampler_.accept(tokens[i]);
}

void Session::evaluate_generated(std::span<const int32_t> tokens) {
    try {
        context_.decode(tokens, /*all_logits=*/true);
    } catch (const Error&) {
        context_.truncate(static_cast<int>(tokens_.size()));
        if (cancel_.take()) throw CancelledError();
        throw;
    }
    tokens_.insert(tokens_.end(), tokens.begin(), tokens.end());
}

std::vector<int32_t> Session::guess(const Turn& turn, int max_tokens) {
    // Room in the cache for pending_ and the guesses, and in the turn for the tokens they may
    // give (the guesses taken and one more).
    int room = context_.n_ctx() - context_.n_past() - 1;
    if (max_tokens >= 0) room = std::min(room, max_tokens - turn.n_generated() - 1);
    const int max = std::min(draft_.max, room);
    if (max < std::max(1, draft_.min)) return {};
    tokens_.push_back(pending_);  // the sequence as the drafter sees it
    std::vector<int32_t> draft;
    try {
        draft = drafter_->draft(0, tokens_, max);
    } catch (...) {
        tokens_.pop_back();
        throw;
    }
    tokens_.pop_back();
    if (static_cast<int>(draft.size()) < draft_.min) draft.clear();
    return draft;
}

void Session::append_tokens(std::span<const int32_t> tokens) {
    std::vector<int32_t> all;
    if (pending_ >= 0) all.push_back(pending_);  // sampled last turn, seen by the sampler then
    all.insert(all.end(), tokens.begin(), tokens.end());
    evaluate(all, pending_ >= 0 ? 1 : 0);
    pending_ = -1;
}

void Session::append(std::string_view text) {
    const bool first = tokens_.empty() && pending_ < 0;
    append_tokens(tokenizer_.encode(text, /*add_special=*/first, /*parse_special=*/true));
}

TurnResult Session::generate(std::string_view prompt, const TurnOptions& options,
                             const TextCallback& on_text) {
    TurnResult result;
    cancel_.clear_own();
    auto start = std::chrono::steady_clock::now();
    const int before = n_past();
    append(prompt);
    result.n_prompt = n_past() - before;
    result.prompt_ms = ms_since(start);
    if (tokens_.empty()) throw Error("nothing to generate from: the session is empty");

    start = std::chrono::steady_clock::now();
    Turn turn(tokenizer_, sampler_, options, grammar_vocabulary_);
    Pacer pacer(options);
    bool listening = true;  // the caller still wants text
    const auto emit = [&](const std::string& text) {
        if (text.empty() || !listening) return;
        result.text += text;
        if (!on_text(text)) {
            listening = false;
            turn.end(StopReason::Callback);
        }
    };
    while (!turn.done()) {
        pacer.wait(turn.n_generated(), cancel_);
        if (cancel_.take()) {
            turn.end(StopReason::Cancelled);
            break;
        }
        if (pending_ >= 0) {  // the previous token is sampled but not yet in the cache
            std::string rest;
            if (!turn.make_room(context_, 0, tokens_, &rest)) {
                emit(rest);
                break;
            }
            const std::vector<int32_t> draft =
                drafter_ ? guess(turn, options.max_tokens) : std::vector<int32_t>{};
            if (!draft.empty()) {
                // pending_ and the guesses in one batch, then the turn takes its own tokens
                // from their logits while they are the guessed ones (draft.h).
                const int base = static_cast<int>(tokens_.size());
                std::vector<int32_t> batch{pending_};
                batch.insert(batch.end(), draft.begin(), draft.end());
                try {
                    evaluate_generated(batch);
                } catch (const CancelledError&) {
                    turn.end(StopReason::Cancelled);
                    break;
                }
                pending_ = -1;
                bool stop = false;
                int rows = 0;  // steps handed on: each but the last took its guess
                Turn::Verified v;
                try {
                    v = turn.verify(
                        draft, [&](int row) { return context_.logits(row); }, context_.n_vocab(),
                        [&](const Turn::Step& step) {
                            ++rows;
                            if (step.token >= 0 && options.on_token &&
                                !options.on_token(step.token)) {
                                turn.end(StopReason::Callback);
                                stop = true;
                                return false;
                            }
                            emit(step.text);
                            return true;
                        });
                } catch (...) {
                    // (a grammar that allows nothing, its limits): the session keeps what the
                    // turn took, never a guess it did not
                    context_.truncate(base + 1 + rows);
                    tokens_.resize(base + 1 + rows);
                    throw;
                }
                result.n_drafted += static_cast<int>(draft.size());
                result.n_accepted += v.taken;
                context_.truncate(base + 1 + v.taken);  // pending_ and the guesses taken
                tokens_.resize(base + 1 + v.taken);
                pending_ = v.next;
                if (stop) break;
                continue;
            }
            try {
                append_tokens({});
            } catch (const CancelledError&) {
                turn.end(StopReason::Cancelled);
                break;
            }
        }
        const Turn::Step step = turn.next(context_.logits(), context_.n_vocab());
        if (step.token >= 0) {
            pending_ = step.token;  // evaluated before the next step (or the next append)
            if (options.on_token && !options.on_token(step.token)) {
                turn.end(StopReason::Callback);
                break;
            }
        }
        emit(step.text);
    }
    result.reason = turn.reason();
    result.n_generated = turn.n_generated();
    result.thermal_slowdowns = pacer.slowdowns();
    if (turn.n_kept() < turn.n_generated()) {
        // After a stop string the session keeps only the tokens whose text was handed on: the
        // next turn continues from exactly the text the caller saw. (Counted from the end: a
        // context shift may have moved where generation started.)
        rewind(n_tokens() - (turn.n_generated() - turn.n_kept()));
    }
    result.generate_ms = ms_since(start);
    return result;
}

}  // namespace ember
