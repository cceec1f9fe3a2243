#include "tools/serve/scheduler.h"

#include <algorithm>

#include "engine/generate/session.h"

namespace ember::serve {

const char* finish_reason(Finish f) {
    switch (f) {
        case Finish::Stop:
            return "stop";
        case Finish::Length:
            return "length";
        case Finish::Cancelled:
            return "cancelled";
        case Finish::Timeout:
            return "timeout";
        case Finish::Error:
            return "error";
    }
    return "error";
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
      context_shift_(params.context_shift) {
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
            e.finish = Finish::Cancelled;
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
                if (slots_[s].generation) finish(static_cast<int>(s), Finish::Error, e.what());
            }
        }
    }
    for (size_t s = 0; s < slots_.size(); ++s) {
        if (slots_[s].generation) finish(static_cast<int>(s), Finish::Cancelled);
    }
    std::lock_guard lock(mutex_);
    for (auto& g : queue_) {
        GenerationEvent e;
        e.done = true;
        e.finish = Finish::Cancelled;
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
            e.finish = late ? Finish::Timeout : Finish::Cancelled;
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
        Slot& slot = slots_[best];
        const GenerationRequest& request = g->request_;
        // At least the prompt's last token is evaluated again: its logits start the reply.
        const size_t keep = std::min(best_prefix, request.prompt.size() - 1);
        // What the slot held past the shared prefix is dropped, memory included: the KV pages
        // of a slot are resident only while its conversation needs them.
        context_.truncate(best, static_cast<int>(keep), /*release_memory=*/true);
        kv_used_ -= static_cast<int64_t>(slot.tokens.size() - keep);
        slot.tokens.resize(keep);
        try {
            slot.generation = g;
            slot.n_evaluated = keep;
            slot.n_cached = static_cast<int>(keep);
            slot.pending = -1;
            slot.n_generated = 0;
            slot.sampler = std::make_unique<Sampler>(request.sampling);
            // The penalties look at the prompt too, as in a Session.
            for (int32_t t : request.prompt) slot.sampler->accept(t);
            slot.grammar.reset();
            if (request.grammar) {
                if (!grammar_vocabulary_) grammar_vocabulary_ = make_grammar_vocabulary(tokenizer_);
                std::vector<int32_t> ends = request.stop_tokens;
                if (!request.ignore_eos) ends.push_back(tokenizer_.vocab().eos);
                slot.grammar.emplace(request.grammar, grammar_vocabulary_, std::move(ends));
                slot.grammar->set_limits(request.deadline, &g->cancelled_);
            }
            slot.stops.emplace(request.stop);
        } catch (const std::exception& e) {
            // This request cannot start (its grammar's start state, memory): it ends with its
            // error, the slot stays free.
            slot.generation = nullptr;
            slot.sampler.reset();
            slot.grammar.reset();
            GenerationEvent event;
            event.done = true;
            event.finish = Finish::Error;
            event.error = e.what();
            g->push(std::move(event));
            queue_.pop_front();
            continue;
        }
        slot.utf8 = Utf8Stream();
        slot.admitted = std::chrono::steady_clock::now();
        slot.first_token = slot.admitted;
        cached_tokens_ += static_cast<int64_t>(keep);
        ++busy_;
        queue_.pop_front();
    }
}

void Scheduler::finish(int s, Finish why, const std::string& error) {
    Slot& slot = slots_[s];
    GenerationEvent e;
    if (why != Finish::Cancelled && why != Finish::Error) {
        bool stopped = false;
        e.text = slot.stops->push(slot.utf8.flush(), &stopped);
        if (!stopped) e.text += slot.stops->flush();
    }
    e.done = true;
    e.finish = why;
    e.error = error;
    e.n_prompt = static_cast<int>(slot.generation->request_.prompt.size());
    e.n_cached = slot.n_cached;
    e.n_generated = slot.n_generated;
    const auto ms = [](auto a, auto b) {
        return std::chrono::duration<double, std::milli>(b - a).count();
    };
    const auto now = std::chrono::steady_clock::now();
    e.queue_ms = ms(slot.generation->submitted_, slot.admitted);
    e.prompt_ms = ms(slot.admitted, slot.n_generated > 0 ? slot.first_token : now);
    e.generate_ms = slot.n_generated > 0 ? ms(slot.first_token, now) : 0;
    // The slot is free before the last event goes out: whoever reads it sees the slot free.
    std::shared_ptr<Generation> generation;
    {
        std::lock_guard lock(mutex_);
        generation = std::move(slot.generation);
    }
    slot.sampler.reset();
    slot.grammar.reset();
    slot.last_used = steps_;
    --busy_;
    generation->push(std::move(e));
}

void Scheduler::sample(int s, const float* logits) {
    Slot& slot = slots_[s];
    const GenerationRequest& request = slot.generation->request_;
    TokenGrammar* grammar = slot.grammar ? &*slot.grammar : nullptr;
    if (request.max_tokens == 0) {  // the prompt only (its cache stays for the next request)
        finish(s, Finish::Length);
        return;
    }
    if (grammar && grammar->finished()) {  // a grammar whose only sentence is empty
        finish(s, Finish::Stop);
        return;
    }
    const auto ends_text = [&](int32_t token) {
        return (!request.ignore_eos && token == tokenizer_.vocab().eos) ||
               std::find(request.stop_tokens.begin(), request.stop_tokens.end(), token) !=
                   request.stop_tokens.end();
    };
    int32_t token = -1;
    try {
        token = slot.sampler->sample(logits, context_.n_vocab(), grammar);
        if (token >= 0 && grammar && !ends_text(token)) grammar->accept(token);
    } catch (const GrammarLimitError& e) {
        // The grammar's work ran into the request's deadline, or its client left: the request
        // ends as it would between steps.
        finish(s,
               e.why == GrammarLimitError::Why::Deadline    ? Finish::Timeout
               : e.why == GrammarLimitError::Why::Cancelled ? Finish::Cancelled
                                                            : Finish::Error,
               e.what());
        return;
    } catch (const std::exception& e) {
        finish(s, Finish::Error, e.what());
        return;
    }
    if (token < 0) {
        finish(s, Finish::Error, "grammar: no token of the vocabulary can continue the text");
        return;
    }
    if (ends_text(token)) {
        finish(s, Finish::Stop);
        return;
    }
    slot.sampler->accept(token);
    if (slot.n_generated == 0) slot.first_token = std::chrono::steady_clock::now();
    ++slot.n_generated;
    ++generated_tokens_;
    bool stopped = false;
    GenerationEvent e;
    e.text = slot.stops->push(slot.utf8.push(tokenizer_.piece(token)), &stopped);
    e.n_generated = slot.n_generated;
    if (!e.text.empty()) slot.generation->push(std::move(e));
    if (stopped || (grammar && grammar->finished())) {  // a whole reply: nothing may follow
        finish(s, Finish::Stop);
    } else if (request.max_tokens >= 0 && slot.n_generated >= request.max_tokens) {
        finish(s, Finish::Length);
    } else if (static_cast<int>(slot.tokens.size()) >= context_.n_ctx() &&
               !(context_shift_ && request.max_tokens >= 0 && shift(s))) {
        // (Without max_tokens a reply runs to the full context, never past it: a model that
        // never ends its text would otherwise hold the slot until --timeout.)
        finish(s, Finish::Length);  // no room to evaluate the token
    } else {
        slot.pending = token;
    }
}

bool Scheduler::shift(int s) {
    Slot& slot = slots_[s];
    const int discard = shift_context(context_, s, slot.tokens, slot.generation->request_.n_keep,
                                      tokenizer_.vocab().bos);
    kv_used_ -= discard;
    return discard > 0;
}

void Scheduler::step() {
    ++steps_;
    const auto now = std::chrono::steady_clock::now();
    for (size_t s = 0; s < slots_.size(); ++s) {
        Slot& slot = slots_[s];
        if (!slot.generation) continue;
        if (slot.generation->cancelled()) {
            finish(static_cast<int>(s), Finish::Cancelled);
        } else if (now >= slot.generation->request_.deadline) {
            finish(static_cast<int>(s), Finish::Timeout);
        }
    }
    // The batch: first every generating slot's next token, then prompt chunks in slot order
    // while room is left (a long prompt takes several steps, sharing each with the others).
    std::vector<SequenceTokens> inputs;
    std::vector<int> input_slot;
    std::vector<bool> prompt_done;  // per input: this input ends its slot's prompt
    int room = n_batch_;
    std::vector<int32_t> pending(slots_.size());
    for (size_t s = 0; s < slots_.size(); ++s) {
        Slot& slot = slots_[s];
        if (!slot.generation || slot.pending < 0) continue;
        pending[s] = slot.pending;
        inputs.push_back({static_cast<int>(s), std::span<const int32_t>(&pending[s], 1)});
        input_slot.push_back(static_cast<int>(s));
        prompt_done.push_back(true);
        --room;
    }
    for (size_t s = 0; s < slots_.size() && room > 0; ++s) {
        Slot& slot = slots_[s];
        if (!slot.generation || slot.pending >= 0) continue;
        const std::vector<int32_t>& prompt = slot.generation->request_.prompt;
        const size_t n = std::min(prompt.size() - slot.n_evaluated, static_cast<size_t>(room));
        inputs.push_back(
            {static_cast<int>(s), std::span<const int32_t>(prompt).subspan(slot.n_evaluated, n)});
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
            finish(s, Finish::Error, e.what());
        }
        return;
    }
    for (size_t i = 0; i < inputs.size(); ++i) {
        const int s = input_slot[i];
        Slot& slot = slots_[s];
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
