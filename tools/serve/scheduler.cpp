#include "tools/serve/scheduler.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace ember::serve {

const char* finish_reason(StopReason reason) {
    switch (reason) {
        case StopReason::EndOfSequence:
        case StopReason::StopString:
            return "stop";
        case StopReason::Limit:
        case StopReason::ContextFull:
            return "length";
        case StopReason::Callback:
        case StopReason::Cancelled:
            return "cancelled";
        case StopReason::Timeout:
            return "timeout";
        case StopReason::Error:
            return "error";
    }
    return "error";
}

bool ended_whole(StopReason reason) {
    return reason == StopReason::EndOfSequence || reason == StopReason::StopString ||
           reason == StopReason::Limit || reason == StopReason::ContextFull;
}

std::optional<GenerationEvent> Generation::next(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    if (!ready_.wait_for(lock, timeout, [&] { return !events_.empty(); })) return std::nullopt;
    GenerationEvent event = std::move(events_.front());
    events_.pop_front();
    return event;
}

void Generation::push(GenerationEvent event) {
    {
        std::lock_guard lock(mutex_);
        events_.push_back(std::move(event));
    }
    ready_.notify_one();
}

namespace {

ContextParams with_sequences(ContextParams params, int n_slots) {
    params.n_seq = n_slots;
    return params;
}

size_t common_prefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
    const size_t n = std::min(a.size(), b.size());
    size_t i = 0;
    while (i < n && a[i] == b[i]) ++i;
    return i;
}

}  // namespace

Scheduler::Scheduler(const Model& model, const Tokenizer& tokenizer, const SchedulerParams& params)
    : tokenizer_(tokenizer),
      context_(model, with_sequences(params.context, params.n_slots)),
      slots_(params.n_slots),
      max_queue_(params.max_queue),
      n_batch_(context_.n_batch()),
      context_shift_(params.context_shift),
      recurrent_(model.config().recurrent()) {
    ContextParams draft_context = with_sequences(params.context, params.n_slots);
    draft_context.n_ctx = context_.n_ctx();  // the slots', resolved
    draft_context.pool = context_.thread_pool();
    drafter_ = make_drafter(params.speculation, model, draft_context);
    draft_ = params.speculation.draft;
    thread_ = std::thread([this] { run(); });
}

Scheduler::~Scheduler() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        exit_ = true;
    }
    wake_.notify_all();
    thread_.join();
}

std::shared_ptr<Generation> Scheduler::submit(GenerationRequest request) {
    if (request.prompt.empty()) throw Error("the prompt is empty");
    if (static_cast<int>(request.prompt.size()) >= context_.n_ctx()) {
        throw Error("the prompt has " + std::to_string(request.prompt.size()) +
                    " tokens; a slot's context holds " + std::to_string(context_.n_ctx()) +
                    " (ember serve -c)");
    }
    auto generation = std::make_shared<Generation>();
    generation->request_ = std::move(request);
    generation->submitted_ = std::chrono::steady_clock::now();
    {
        std::lock_guard lock(mutex_);
        if (stopping_) throw QueueFullError("the server is shutting down");
        // Waiting room: max_queue beyond the free slots (the engine thread admits from the
        // queue, so a request bound for a free slot passes through it too).
        const int free_slots = static_cast<int>(slots_.size()) - busy_.load();
        if (static_cast<int>(queue_.size()) >= max_queue_ + free_slots) {
            throw QueueFullError("all " + std::to_string(slots_.size()) + " slots are busy and " +
                                 std::to_string(queue_.size()) + " requests wait");
        }
        queue_.push_back(generation);
    }
    wake_.notify_all();
    return generation;
}

void Scheduler::drain(std::chrono::steady_clock::time_point deadline) {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;  // no new generations; the waiting ones still get slots in the grace
    }
    const auto idle = [&] {
        std::lock_guard lock(mutex_);
        return busy_.load() == 0 && queue_.empty();
    };
    while (!idle() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    // Past the deadline: the waiting generations end now, the running ones at the next step.
    {
        std::lock_guard lock(mutex_);
        for (auto& g : queue_) {
            GenerationEvent e;
            e.done = true;
            e.finish = StopReason::Cancelled;
            e.error = "the server is shutting down";
            g->push(std::move(e));
        }
        queue_.clear();
    }
    for (Slot& slot : slots_) {
        // Reading slot.generation here races with the engine thread only benignly: cancel()
        // is an atomic store on a generation kept alive by the shared_ptr copy.
        std::shared_ptr<Generation> g;
        {
            std::lock_guard guard(mutex_);
            g = slot.generation;
        }
        if (g) g->cancel();
    }
    wake_.notify_all();
    while (busy_.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

SchedulerStats Scheduler::stats() const {
    SchedulerStats s;
    s.busy_slots = busy_.load();
    {
        std::lock_guard lock(mutex_);
        s.queued = static_cast<int>(queue_.size());
    }
    s.kv_positions_used = kv_used_.load();
    s.kv_positions = static_cast<int64_t>(context_.n_ctx()) * context_.n_seq();
    s.prompt_tokens = prompt_tokens_.load();
    s.cached_tokens = cached_tokens_.load();
    s.generated_tokens = generated_tokens_.load();
    s.shared_prompts = shared_prompts_.load();
    s.drafted_tokens = drafted_.load();
    s.accepted_tokens = accepted_.load();
    return s;
}

void Scheduler::run() {
    for (;;) {
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [&] { return exit_ || !queue_.empty() || busy_.load() > 0; });
            if (exit_) break;
            admit();
        }
        try {
            step();
        } catch (const std::exception& e) {
            // Nothing may end the engine thread (every model's client would hang): a failure
            // the step did not pin on one slot ends every generation in flight.
            for (size_t s = 0; s < slots_.size(); ++s) {
                if (slots_[s].generation) finish(static_cast<int>(s), StopReason::Error, e.what());
            }
        }
    }
    for (size_t s = 0; s < slots_.size(); ++s) {
        if (slots_[s].generation) finish(static_cast<int>(s), StopReason::Cancelled);
    }
    std::lock_guard lock(mutex_);
    for (auto& g : queue_) {
        GenerationEvent e;
        e.done = true;
        e.finish = StopReason::Cancelled;
        g->push(std::move(e));
    }
    queue_.clear();
}

void Scheduler::admit() {
    while (!queue_.empty()) {
        const std::shared_ptr<Generation>& g = queue_.front();
        const bool late = std::chrono::steady_clock::now() >= g->request_.deadline;
        if (g->cancelled() || late) {  // ended while waiting
            GenerationEvent e;
            e.done = true;
            e.finish = late ? StopReason::Timeout : StopReason::Cancelled;
            g->push(std::move(e));
            queue_.pop_front();
            continue;
        }
        // The free slot sharing the longest prefix with the prompt, if that prefix is at least
        // half the prompt (the next turn of its conversation: llama-server's rule); else the
        // least recently used free slot, so that a cache worth keeping is not overwritten for
        // a prompt that shares little more than its first token.
        const std::vector<int32_t>& prompt = g->request_.prompt;
        int best = -1, oldest = -1;
        size_t best_prefix = 0;
        for (size_t s = 0; s < slots_.size(); ++s) {
            const Slot& slot = slots_[s];
            if (slot.generation) continue;
            const size_t prefix = common_prefix(slot.tokens, prompt);
            if (2 * prefix >= prompt.size() && prefix > best_prefix) {
                best = static_cast<int>(s);
                best_prefix = prefix;
            }
            if (oldest < 0 || slot.last_used < slots_[oldest].last_used) {
                oldest = static_cast<int>(s);
            }
        }
        if (best < 0 && oldest >= 0) {
            best = oldest;
            best_prefix = common_prefix(slots_[oldest].tokens, prompt);
        }
        if (best < 0) return;  // every slot is busy
        // Another slot may hold more of the prompt: a busy one (the other choices of a request
        // with n > 1, requests that open with one long system prompt) or another free one. Its
        // rows are copied rather than evaluated again; and while such a slot is still
        // evaluating the shared part, this generation waits for it. (A recurrent model's state
        // is of a sequence's last position and cannot be cut at the prompt's last token: its
        // prompts are not shared this way.)
        const size_t usable = g->request_.prompt.size() - 1;  // the last token is evaluated
        int source = -1;
        size_t source_prefix = std::min(best_prefix, usable);
        bool wait = false;
        for (size_t s = 0; s < slots_.size() && !recurrent_; ++s) {
            if (static_cast<int>(s) == best) continue;
            const Slot& other = slots_[s];
            const size_t shared = std::min(common_prefix(other.tokens, prompt), usable);
            if (2 * shared >= prompt.size() && shared > source_prefix) {
                source = static_cast<int>(s);
                source_prefix = shared;
            }
            if (other.generation && other.pending < 0) {
                // Still evaluating its prompt: wait if that prompt would give more.
                const std::vector<int32_t>& theirs = other.generation->request_.prompt;
                const size_t coming = std::min(common_prefix(theirs, prompt), usable);
                if (2 * coming >= prompt.size() && coming > source_prefix &&
                    other.n_evaluated < coming) {
                    wait = true;
                }
            }
        }
        if (wait) return;  // admitted at a later step, once the shared part is in the cache
        Slot& slot = slots_[best];
        const GenerationRequest& request = g->request_;
        // At least the prompt's last token is evaluated again: its logits start the reply.
        size_t keep = std::min(best_prefix, usable);
        // What the slot held past the shared prefix is dropped, memory included: the KV pages
        // of a slot are resident only while its conversation needs them.
        context_.truncate(best, static_cast<int>(keep), /*release_memory=*/true);
        kv_used_ -= static_cast<int64_t>(slot.tokens.size() - keep);
        slot.tokens.resize(keep);
        if (source >= 0) {
            try {
                context_.copy_rows(source, best, static_cast<int>(source_prefix));
                kv_used_ += static_cast<int64_t>(source_prefix - keep);
                keep = source_prefix;
                slot.tokens.assign(prompt.begin(), prompt.begin() + static_cast<ptrdiff_t>(keep));
                ++shared_prompts_;
            } catch (const std::exception&) {
                // (memory for the copy: evaluate the prompt instead)
                context_.truncate(best, static_cast<int>(keep), /*release_memory=*/true);
            }
        }
        try {
            slot.generation = g;
            slot.n_evaluated = keep;
            slot.n_cached = static_cast<int>(keep);
            slot.pending = -1;
            slot.sampler = std::make_unique<Sampler>(request.sampling);
            // The penalties look at the prompt too, as in a Session.
            for (int32_t t : request.prompt) slot.sampler->accept(t);
            TurnRules rules = request.rules;
            rules.context_shift = context_shift_;
            slot.turn.emplace(tokenizer_, *slot.sampler, std::move(rules), grammar_vocabulary_);
            slot.turn->set_limits(request.deadline, &g->cancelled_);
        } catch (const std::exception& e) {
            // This request cannot start (its grammar's start state, memory): it ends with its
            // error, the slot stays free.
            slot.generation = nullptr;
            slot.turn.reset();
            slot.sampler.reset();
            GenerationEvent event;
            event.done = true;
            event.finish = StopReason::Error;
            event.error = e.what();
            g->push(std::move(event));
            queue_.pop_front();
            continue;
        }
        slot.admitted = std::chrono::steady_clock::now();
        slot.first_token = slot.admitted;
        cached_tokens_ += static_cast<int64_t>(keep);
        ++busy_;
        queue_.pop_front();
    }
}

void Scheduler::finish(int s, StopReason why, const std::string& error, std::string text) {
    Slot& slot = slots_[s];
    GenerationEvent e;
    e.text = std::move(text) + slot.turn->end(why);  // and what was held back, if whole
    e.done = true;
    e.finish = slot.turn->reason();
    e.error = error;
    e.n_prompt = static_cast<int>(slot.generation->request_.prompt.size());
    e.n_cached = slot.n_cached;
    e.n_generated = slot.turn->n_generated();
    // After a stop string the slot keeps only the tokens whose text was sent, as a Session
    // does: the conversation's next request then shares the whole of it. (The last token
    // generated was never evaluated: a reply ends right after sampling or before evaluating.)
    const int evaluated = std::max(0, e.n_generated - 1);
    const int drop = std::max(0, evaluated - slot.turn->n_kept());
    if (drop > 0) {
        const int keep = static_cast<int>(slot.tokens.size()) - drop;
        context_.truncate(s, keep, /*release_memory=*/true);
        kv_used_ -= drop;
        slot.tokens.resize(keep);
    }
    const auto ms = [](auto a, auto b) {
        return std::chrono::duration<double, std::milli>(b - a).count();
    };
    const auto now = std::chrono::steady_clock::now();
    e.queue_ms = ms(slot.generation->submitted_, slot.admitted);
    e.prompt_ms = ms(slot.admitted, e.n_generated > 0 ? slot.first_token : now);
    e.generate_ms = e.n_generated > 0 ? ms(slot.first_token, now) : 0;
    // The slot is free before the last event goes out: whoever reads it sees the slot free.
    std::shared_ptr<Generation> generation;
    {
        std::lock_guard lock(mutex_);
        generation = std::move(slot.generation);
    }
    slot.turn.reset();
    slot.sampler.reset();
    slot.pending = -1;
    slot.last_used = steps_;
    --busy_;
    generation->push(std::move(e));
}

namespace {
// log-softmax of the logits at `token`, and the `top` likeliest tokens' (ties by id).
TokenLogprob token_logprob(std::span<const float> logits, int32_t token, int top) {
    const float max = *std::max_element(logits.begin(), logits.end());
    double sum = 0;
    for (const float l : logits) sum += std::exp(static_cast<double>(l - max));
    const auto logprob = [&](int32_t t) {
        return static_cast<float>(logits[t] - max - std::log(sum));
    };
    TokenLogprob out{token, logprob(token), {}};
    std::vector<int32_t> ids(logits.size());
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>(i);
    const size_t n = std::min(static_cast<size_t>(top), ids.size());
    std::partial_sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(n), ids.end(),
                      [&](int32_t a, int32_t b) {
                          return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
                      });
    for (size_t i = 0; i < n; ++i) out.top.emplace_back(ids[i], logprob(ids[i]));
    return out;
}
}  // namespace

void Scheduler::finish_on(int s, const std::exception& e) {
    // The grammar's work ran into the request's deadline, or its client left: the request
    // ends as it would between steps.
    if (const auto* limit = dynamic_cast<const GrammarLimitError*>(&e)) {
        finish(s,
               limit->why == GrammarLimitError::Why::Deadline    ? StopReason::Timeout
               : limit->why == GrammarLimitError::Why::Cancelled ? StopReason::Cancelled
                                                                 : StopReason::Error,
               e.what());
        return;
    }
    finish(s, StopReason::Error, e.what());
}

void Scheduler::sample(int s, const float* logits) {
    Turn::Step step;
    try {
        step = slots_[s].turn->next(logits, context_.n_vocab());
    } catch (const std::exception& e) {
        finish_on(s, e);
        return;
    }
    deliver(s, std::move(step), logits);
}

bool Scheduler::deliver(int s, Turn::Step step, const float* logits) {
    Slot& slot = slots_[s];
    Turn& turn = *slot.turn;
    if (step.token >= 0) {
        if (turn.n_generated() == 1) slot.first_token = std::chrono::steady_clock::now();
        ++generated_tokens_;
    }
    // The model's own distribution (the sampler leaves the logits as they are).
    const int top_logprobs = slot.generation->request_.top_logprobs;
    if (!step.text.empty() || (top_logprobs >= 0 && step.token >= 0)) {
        GenerationEvent e;
        e.text = std::move(step.text);
        e.n_generated = turn.n_generated();
        if (top_logprobs >= 0 && step.token >= 0) {
            e.logprobs.push_back(token_logprob({logits, static_cast<size_t>(context_.n_vocab())},
                                               step.token, top_logprobs));
        }
        slot.generation->push(std::move(e));
    }
    if (step.stop) {
        finish(s, *step.stop);
        return false;
    }
    const size_t held = slot.tokens.size();
    std::string rest;
    const bool room = turn.make_room(context_, s, slot.tokens, &rest);  // perhaps a shift
    kv_used_ -= static_cast<int64_t>(held - slot.tokens.size());
    if (!room) {
        finish(s, turn.reason(), "", std::move(rest));  // ContextFull (or a stop string in rest)
        return false;
    }
    slot.pending = step.token;
    return true;
}

void Scheduler::guess(std::vector<std::vector<int32_t>>& guesses) {
    guesses.assign(slots_.size(), {});
    if (!drafter_) return;
    int generating = 0;
    for (const Slot& slot : slots_) generating += slot.generation && slot.pending >= 0;
    if (generating == 0) return;
    std::vector<std::vector<int32_t>> sequences(slots_.size());
    std::vector<DraftRequest> requests;
    for (size_t s = 0; s < slots_.size(); ++s) {
        const Slot& slot = slots_[s];
        if (!slot.generation || slot.pending < 0) continue;
        // Room: a share of the batch; the slot's context with a position to spare, so that
        // no context shift comes while its guesses are checked; the reply's token limit.
        int max = std::min({draft_.max, n_batch_ / generating - 1,
                            context_.n_ctx() - static_cast<int>(slot.tokens.size()) - 2});
        const int limit = slot.generation->request_.rules.max_tokens;
        if (limit >= 0) max = std::min(max, limit - slot.turn->n_generated() - 1);
        if (max < std::max(1, draft_.min)) continue;
        sequences[s] = slot.tokens;
        sequences[s].push_back(slot.pending);
        requests.push_back({static_cast<int>(s), sequences[s], max, {}});
    }
    if (requests.empty()) return;
    drafter_->draft(requests);
    for (DraftRequest& r : requests) {
        if (static_cast<int>(r.guesses.size()) >= draft_.min) guesses[r.seq] = std::move(r.guesses);
    }
}

void Scheduler::verify(int s, int i, const std::vector<int32_t>& guesses) {
    Slot& slot = slots_[s];
    drafted_ += static_cast<int64_t>(guesses.size());
    // The cache holds the pending token (in slot.tokens) and the guesses after it. A guess
    // the turn takes joins slot.tokens before the step from its row is handed on, so that the
    // slot's tokens are always what its turn evaluated (finish() relies on it).
    int row = 0;
    try {
        slot.turn->verify(
            guesses, [&](int r) { return context_.sequence_logits(i, r); }, context_.n_vocab(),
            [&](const Turn::Step& step) {
                if (row > 0) {
                    slot.tokens.push_back(guesses[row - 1]);
                    ++kv_used_;
                    ++accepted_;
                }
                return deliver(s, step, context_.sequence_logits(i, row++));
            });
    } catch (const std::exception& e) {
        finish_on(s, e);
    }
    context_.truncate(s, static_cast<int>(slot.tokens.size()));  // the guesses not taken
}

void Scheduler::step() {
    ++steps_;
    const auto now = std::chrono::steady_clock::now();
    for (size_t s = 0; s < slots_.size(); ++s) {
        Slot& slot = slots_[s];
        if (!slot.generation) continue;
        if (slot.generation->cancelled()) {
            finish(static_cast<int>(s), StopReason::Cancelled);
        } else if (now >= slot.generation->request_.deadline) {
            finish(static_cast<int>(s), StopReason::Timeout);
        }
    }
    // The batch: first every generating slot's next token, then prompt chunks in slot order
    // while room is left (a long prompt takes several steps, sharing each with the others).
    // With speculation, each generating slot's guesses follow its next token.
    std::vector<std::vector<int32_t>> guesses;
    try {
        guess(guesses);
    } catch (const std::exception& e) {
        // (a draft model's failure costs only its guesses: this step generates plainly)
        std::fprintf(stderr, "ember serve: no guesses this step: %s\n", e.what());
        guesses.assign(slots_.size(), {});
    }
    std::vector<SequenceTokens> inputs;
    std::vector<int> input_slot;
    std::vector<bool> prompt_done;  // per input: this input ends its slot's prompt
    int room = n_batch_;
    std::vector<std::vector<int32_t>> next(slots_.size());  // pending, then any guesses
    for (size_t s = 0; s < slots_.size(); ++s) {
        Slot& slot = slots_[s];
        if (!slot.generation || slot.pending < 0) continue;
        next[s] = {slot.pending};
        next[s].insert(next[s].end(), guesses[s].begin(), guesses[s].end());
        inputs.push_back({static_cast<int>(s), next[s], !guesses[s].empty()});
        input_slot.push_back(static_cast<int>(s));
        prompt_done.push_back(true);
        room -= static_cast<int>(next[s].size());
    }
    for (size_t s = 0; s < slots_.size() && room > 0; ++s) {
        Slot& slot = slots_[s];
        if (!slot.generation || slot.pending >= 0) continue;
        const std::vector<int32_t>& prompt = slot.generation->request_.prompt;
        const size_t n = std::min(prompt.size() - slot.n_evaluated, static_cast<size_t>(room));
        inputs.push_back({static_cast<int>(s),
                          std::span<const int32_t>(prompt).subspan(slot.n_evaluated, n), false});
        input_slot.push_back(static_cast<int>(s));
        prompt_done.push_back(slot.n_evaluated + n == prompt.size());
        room -= static_cast<int>(n);
    }
    if (inputs.empty()) return;
    try {
        context_.decode_sequences(inputs);
    } catch (const std::exception& e) {
        // Nothing of the batch entered the cache in a usable state: end its generations and
        // forget what they added.
        for (size_t i = 0; i < inputs.size(); ++i) {
            const int s = input_slot[i];
            context_.truncate(s, static_cast<int>(slots_[s].tokens.size()));
            finish(s, StopReason::Error, e.what());
        }
        return;
    }
    for (size_t i = 0; i < inputs.size(); ++i) {
        const int s = input_slot[i];
        Slot& slot = slots_[s];
        if (slot.pending >= 0 && !guesses[s].empty()) {
            slot.tokens.push_back(slot.pending);  // the guesses join as they are taken
            ++kv_used_;
            slot.pending = -1;
            verify(s, static_cast<int>(i), guesses[s]);
            continue;
        }
        slot.tokens.insert(slot.tokens.end(), inputs[i].tokens.begin(), inputs[i].tokens.end());
        kv_used_ += static_cast<int64_t>(inputs[i].tokens.size());
        if (slot.pending >= 0) {
            slot.pending = -1;
        } else {
            slot.n_evaluated += inputs[i].tokens.size();
            prompt_tokens_ += static_cast<int64_t>(inputs[i].tokens.size());
        }
        if (prompt_done[i]) sample(s, context_.sequence_logits(static_cast<int>(i)));
    }
}

}  // namespace ember::serve
