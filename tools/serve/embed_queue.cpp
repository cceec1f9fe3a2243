#include "tools/serve/embed_queue.h"

#include <algorithm>

#include "tools/serve/scheduler.h"

namespace ember::serve {

struct EmbedQueue::Job {
    std::vector<std::vector<int32_t>> sequences;
    std::vector<Embedding> results;
    size_t next = 0;         // the first sequence not yet given to a pass
    size_t done = 0;         // results filled in
    bool abandoned = false;  // the request stopped waiting (late, or its client left)
    bool finished = false;
    std::string error;  // finished with this error
    std::condition_variable ready;
};

EmbedQueue::EmbedQueue(const Model& model, const Tokenizer& tokenizer, const EmbedParams& params,
                       int max_queue)
    : embedder_(model, tokenizer, params), max_queue_(max_queue) {
    thread_ = std::thread([this] { run(); });
}

EmbedQueue::~EmbedQueue() {
    {
        std::lock_guard lock(mutex_);
        exit_ = true;
        for (const auto& job : running_) job->abandoned = true;
    }
    embedder_.cancel();
    wake_.notify_all();
    thread_.join();
}

EmbedQueue::Outcome EmbedQueue::embed(std::vector<std::vector<int32_t>> sequences,
                                      std::chrono::steady_clock::time_point deadline,
                                      const std::function<bool()>& client_gone,
                                      std::vector<Embedding>* out) {
    auto job = std::make_shared<Job>();
    job->sequences = std::move(sequences);
    job->results.resize(job->sequences.size());
    for (size_t i = 0; i < job->sequences.size(); ++i) {
        if (job->sequences[i].empty()) throw Error("input " + std::to_string(i) + " is empty");
    }
    std::unique_lock lock(mutex_);
    if (exit_) return Outcome::Cancelled;
    if (static_cast<int>(queue_.size()) >= max_queue_) {
        throw QueueFullError(std::to_string(queue_.size()) + " embedding requests wait");
    }
    if (job->sequences.empty()) return Outcome::Done;
    queue_.push_back(job);
    wake_.notify_all();
    for (;;) {
        job->ready.wait_for(lock, std::chrono::milliseconds(50), [&] { return job->finished; });
        if (job->finished) {
            if (!job->error.empty()) throw Error(job->error);
            *out = std::move(job->results);
            return Outcome::Done;
        }
        const bool late = std::chrono::steady_clock::now() >= deadline;
        if (!late && !exit_) {
            lock.unlock();
            const bool gone = client_gone && client_gone();
            lock.lock();
            if (!gone || job->finished) continue;
        }
        // Abandon the job: out of the queue, and the pass it is in stopped if nobody else
        // needs that pass.
        job->abandoned = true;
        std::erase(queue_, job);
        if (std::find(running_.begin(), running_.end(), job) != running_.end() &&
            std::all_of(running_.begin(), running_.end(),
                        [](const auto& j) { return j->abandoned; })) {
            embedder_.cancel();
        }
        return late ? Outcome::Timeout : Outcome::Cancelled;
    }
}

void EmbedQueue::run() {
    for (;;) {
        try {
            if (!pass()) break;
        } catch (const std::exception& e) {
            // Nothing may end this thread: every request in flight ends with the error.
            std::lock_guard lock(mutex_);
            const auto fail = [&](const std::shared_ptr<Job>& job) {
                if (job->finished) return;
                job->error = e.what();
                job->finished = true;
                job->ready.notify_all();
            };
            for (const auto& job : running_) fail(job);
            for (const auto& job : queue_) fail(job);
            running_.clear();
            queue_.clear();
        }
    }
    for (const auto& job : queue_) {
        job->finished = true;
        job->error = "the server is shutting down";
        job->ready.notify_all();
    }
    queue_.clear();
}

bool EmbedQueue::pass() {
    const size_t n_ctx = static_cast<size_t>(embedder_.n_ctx());
    std::vector<std::vector<int32_t>> batch;
    std::vector<std::pair<std::shared_ptr<Job>, size_t>> owners;  // job, sequence index
    {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return exit_ || !queue_.empty(); });
        if (exit_) return false;
        // One forward pass: the waiting jobs' next sequences, one job after another in turn
        // (a small request shares the next pass with a large one instead of waiting for all
        // of it), as long as they fit; a sequence longer than the context is cut to it by the
        // embedder, a pass of its own.
        size_t tokens = 0;
        running_.clear();
        for (bool added = true; added;) {
            added = false;
            for (const auto& job : queue_) {
                if (job->finished || job->abandoned || job->next == job->sequences.size()) {
                    continue;
                }
                const size_t n = std::min(job->sequences[job->next].size(), n_ctx);
                if (!batch.empty() && tokens + n > n_ctx) continue;
                batch.push_back(job->sequences[job->next]);
                owners.emplace_back(job, job->next);
                tokens += n;
                ++job->next;
                if (std::find(running_.begin(), running_.end(), job) == running_.end()) {
                    running_.push_back(job);
                }
                added = true;
            }
        }
        std::erase_if(queue_,
                      [](const auto& j) { return j->finished || j->next == j->sequences.size(); });
    }
    std::vector<Embedding> results;
    std::string error;
    try {
        results = embedder_.embed_tokens(batch);
    } catch (const CancelledError&) {
        // Every job of this pass was abandoned.
    } catch (const std::exception& e) {
        error = e.what();
    }
    std::lock_guard lock(mutex_);
    for (size_t k = 0; k < owners.size(); ++k) {
        Job& job = *owners[k].first;
        if (job.finished) continue;
        if (!error.empty()) {
            job.error = error;
            job.finished = true;
        } else if (k < results.size()) {
            job.results[owners[k].second] = std::move(results[k]);
            if (++job.done == job.sequences.size()) job.finished = true;
        }
        if (job.finished) job.ready.notify_all();
    }
    for (const auto& job : running_) {
        if (!job->finished && !error.empty()) job->finished = true;
    }
    running_.clear();
    return true;
}

}  // namespace ember::serve
