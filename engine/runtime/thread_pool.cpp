#include "engine/runtime/thread_pool.h"

#include <chrono>
#include <cstdlib>
#include <string>
#include <utility>

#include "formats/error.h"
#include "platform/cpu.h"

namespace ember {

namespace {

// How long a waiting thread polls before it sleeps. A forward pass hands out work every few
// microseconds, so a short poll catches most of it without a futex wake-up; longer only burns
// a core that another thread (or program) could use.
constexpr auto kPollTime = std::chrono::microseconds(50);
// While polling, the core is offered to other runnable threads (sched_yield) every this many
// pauses: with more threads than free cores, the thread holding a part may be waiting for it.
constexpr int kPausesPerYield = 64;

inline void cpu_relax() {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

// Polls `ready()` for up to kPollTime (pausing, and yielding the core now and then); returns
// whether it became true. The caller sleeps when it did not.
template <typename Ready>
bool poll(const Ready& ready) {
    const auto deadline = std::chrono::steady_clock::now() + kPollTime;
    for (int i = 1;; ++i) {
        if (ready()) return true;
        if (i % kPausesPerYield == 0) {
            if (std::chrono::steady_clock::now() > deadline) return false;
            std::this_thread::yield();
        } else {
            cpu_relax();
        }
    }
}

// The current call in one word: job number (24 bits), part count (20), next unclaimed part (20).
// A claim is one fetch_add on the word; the value it returns says which job and part it got, so
// a thread that read an older job claims (and runs) a part of the current one, or nothing.
// Claims that find no part left push `next` past the count: at most one per thread per job, far
// inside the 20 bits as parts are at most kMaxParts.
constexpr uint64_t pack(uint32_t job, uint32_t n_parts) {
    return uint64_t{job & 0xFFFFFF} << 40 | uint64_t{n_parts} << 20;
}
constexpr uint32_t parts_of(uint64_t work) {
    return static_cast<uint32_t>(work >> 20) & 0xFFFFF;
}
constexpr uint32_t next_of(uint64_t work) {
    return static_cast<uint32_t>(work) & 0xFFFFF;
}

}  // namespace

// libstdc++ 12 waits on a futex on Linux; its fallback elsewhere (MinGW's GCC 12) can miss a
// wake-up, which showed as a pool asleep for good under wine. Other systems therefore sleep
// on a condition variable: the waiter checks the value under the mutex, and the waker takes
// the mutex between changing the value and notifying, so no wake-up falls in between.
void ThreadPool::wait_for_change(const std::atomic<uint32_t>& value, uint32_t old) {
#if defined(__linux__)
    value.wait(old);
#else
    std::unique_lock lock(sleep_mutex_);
    sleep_cv_.wait(lock, [&] { return value.load() != old; });
#endif
}

void ThreadPool::wake_all(std::atomic<uint32_t>& value) {
#if defined(__linux__)
    value.notify_all();
#else
    (void)value;
    { std::lock_guard lock(sleep_mutex_); }
    sleep_cv_.notify_all();
#endif
}

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads < 1 ? 1 : n_threads) {
    workers_.reserve(n_threads_ - 1);
    for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
    stopping_.store(true);
    job_.fetch_add(1);
    wake_all(job_);
    for (std::thread& t : workers_) t.join();
}

// Claims and runs parts of the current call until none is left. Each part is counted in done_
// as soon as it is finished: a thread that the OS deschedules between parts must not hold up a
// call whose parts are all done. Returns how many it ran.
uint32_t ThreadPool::claim_and_run() {
    uint32_t ran = 0;
    for (;;) {
        const uint64_t work = work_.fetch_add(1, std::memory_order_acquire);
        const uint32_t n_parts = parts_of(work);
        if (next_of(work) >= n_parts) break;
        // The call cannot end before this part is counted, so task_ is still this call's.
        try {
            (*task_)(static_cast<int>(next_of(work)), static_cast<int>(n_parts));
        } catch (...) {
            std::lock_guard lock(error_mutex_);
            if (!error_) error_ = std::current_exception();
        }
        ++ran;
        if (done_.fetch_add(1, std::memory_order_acq_rel) + 1 == n_parts && caller_asleep_.load()) {
            wake_all(done_);
        }
    }
    return ran;
}

bool ThreadPool::has_unclaimed() const {
    const uint64_t work = work_.load(std::memory_order_acquire);
    return next_of(work) < parts_of(work);
}

void ThreadPool::run_parts(int n_parts, const Task& task) {
    if (n_parts < 1 || n_parts > kMaxParts) {
        throw Error("thread pool: " + std::to_string(n_parts) + " parts (1.." +
                    std::to_string(kMaxParts) + ")");
    }
    if (n_threads_ == 1 || n_parts == 1) {
        for (int i = 0; i < n_parts; ++i) task(i, n_parts);
        return;
    }
    task_ = &task;
    done_.store(0, std::memory_order_relaxed);
    ++job_number_;
    work_.store(pack(job_number_, static_cast<uint32_t>(n_parts)), std::memory_order_release);
    job_.fetch_add(1);  // after work_: a worker that saw the old job_ sees this work
    if (sleepers_.load() > 0) wake_all(job_);

    claim_and_run();
    const uint32_t all = static_cast<uint32_t>(n_parts);
    if (!poll([&] { return done_.load(std::memory_order_acquire) == all; })) {
        caller_asleep_.store(true);
        for (uint32_t done; (done = done_.load()) != all;) wait_for_change(done_, done);
        caller_asleep_.store(false);
    }
    if (error_) {  // a part threw: the first exception, once every part has finished
        std::exception_ptr error = std::exchange(error_, nullptr);
        std::rethrow_exception(error);
    }
}

void ThreadPool::worker_loop() {
    for (;;) {
        const uint32_t job = job_.load();
        if (stopping_.load()) return;
        if (has_unclaimed()) {
            claim_and_run();
            continue;
        }
        // Nothing to claim: wait for the next job, polling first and then asleep.
        if (poll([&] { return job_.load(std::memory_order_relaxed) != job; })) continue;
        sleepers_.fetch_add(1);
        wait_for_change(job_, job);  // at once if a job was published since `job` was read
        sleepers_.fetch_sub(1);
    }
}

int usable_cpu_count() {
    return platform::usable_cpu_count();
}

int default_thread_count() {
    return platform::core_counts().fast;
}

void check_thread_count(int n_threads) {
    const int cap = 4 * usable_cpu_count();
    if (n_threads < 0) {
        throw Error("thread count " + std::to_string(n_threads) + " is negative (0: the default)");
    }
    if (n_threads > cap) {
        throw Error("thread count " + std::to_string(n_threads) + " is more than 4x the " +
                    std::to_string(cap / 4) + " CPUs this process may use (at most " +
                    std::to_string(cap) + ")");
    }
}

}  // namespace ember
