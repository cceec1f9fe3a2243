// A persistent pool of worker threads for fork-join parallelism. run_parts(n, task) calls
// task(part, n) once for each part in [0, n) and returns when all are done; no thread is created
// per call. Parts are claimed, not assigned: whichever threads are running take the next
// unclaimed part, so a thread that the OS has descheduled (more threads than free cores, or a
// core shared with another program) holds up at most the one part it has started, never a fixed
// share of the work.
//
// Between calls the threads poll for a short while (a forward pass hands out work every few
// microseconds), giving the core away now and then to any other runnable thread, and then sleep
// on a futex, so an idle pool costs nothing and an oversubscribed one does not starve the thread
// that holds the work.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ember {

class ThreadPool {
  public:
    explicit ThreadPool(int n_threads);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const { return n_threads_; }

    using Task = std::function<void(int part, int n_parts)>;
    // task(part, n_parts) for every part in [0, n_parts); 1 <= n_parts <= kMaxParts. A part
    // runs on one thread, so per-part scratch (indexed by part) needs no lock.
    void run_parts(int n_parts, const Task& task);
    // One part per thread: task(i, size()) for i in [0, size()).
    void run(const Task& task) { run_parts(n_threads_, task); }

    // Splits [0, n) into contiguous ranges (a few per thread, for balance) and runs
    // body(begin, end) on each.
    template <typename Body>
    void parallel_for(int64_t n, Body&& body) {
        if (n <= 0) return;
        const int n_parts = static_cast<int>(std::min<int64_t>(n, kPartsPerThread * n_threads_));
        run_parts(n_parts, [&](int part, int parts) {
            const int64_t begin = n * part / parts, end = n * (part + 1) / parts;
            if (begin < end) body(begin, end);
        });
    }

    // Tasks [0, n_tasks) of unequal cost, split into one contiguous run per thread, the runs of
    // about equal total cost (a task goes to the run where the middle of its cost falls):
    // body(part, task) for each task, in order within its run; `part` indexes per-thread
    // scratch. cost(task) >= 0 must give the same value each time it is asked.
    template <typename Cost, typename Body>
    void run_balanced(int n_tasks, Cost&& cost, Body&& body) {
        int64_t total = 0;
        for (int task = 0; task < n_tasks; ++task) total += cost(task);
        run([&](int part, int n_parts) {
            const int64_t begin = total * part / n_parts, end = total * (part + 1) / n_parts;
            int64_t at = 0;
            for (int task = 0; task < n_tasks; ++task) {
                const int64_t c = cost(task);
                const int64_t middle = at + c / 2;
                at += c;
                if (middle >= begin && middle < end) body(part, task);
            }
        });
    }

    static constexpr int kMaxParts = 0xFFFF;
    // Parts per thread in parallel_for: more parts balance better when a thread is slowed (a
    // core shared with another program), fewer cost less in claims (bench/threads.sh;
    // docs/optimizations.md has what 1, 2 and 4 measured).
    static constexpr int kPartsPerThread = 4;

  private:
    void worker_loop();
    uint32_t claim_and_run();
    bool has_unclaimed() const;

    int n_threads_;
    std::vector<std::thread> workers_;
    // The current call: job number, part count and next unclaimed part in one word, claimed
    // with fetch_add (thread_pool.cpp).
    std::atomic<uint64_t> work_{0};
    const Task* task_ = nullptr;     // the current call's task, published by work_
    std::atomic<uint32_t> done_{0};  // parts of the current call finished
    std::atomic<uint32_t> job_{0};   // bumped after each new work_: the futex workers sleep on
    std::atomic<int> sleepers_{0};   // workers asleep on job_
    std::atomic<bool> caller_asleep_{false};  // run_parts() asleep on done_
    std::atomic<bool> stopping_{false};
    uint32_t job_number_ = 0;
    // Sleeping until job_ or done_ changes: std::atomic::wait on Linux (a futex); elsewhere
    // this mutex and condition variable (thread_pool.cpp: wait_for_change).
    std::mutex sleep_mutex_;
    std::condition_variable sleep_cv_;
    void wait_for_change(const std::atomic<uint32_t>& value, uint32_t old);
    void wake_all(std::atomic<uint32_t>& value);
    std::mutex error_mutex_;
    std::exception_ptr error_;  // the first exception a part threw, rethrown by run_parts()
};

// The CPUs this process may run on: its affinity mask, lowered by a cgroup CPU quota
// (platform::usable_cpu_count). At least 1.
int usable_cpu_count();

// The default thread count: the physical cores (not hardware threads) among the usable CPUs,
// and of those only the fast ones where fast and slow cores mix (big.LITTLE phones, Apple's
// performance cores: platform::core_counts). At least 1.
int default_thread_count();

// Refuses (ember::Error) a thread count that cannot help: above 4 x usable_cpu_count(), where
// the threads would only take turns on the cores. 0 means the default and is accepted.
void check_thread_count(int n_threads);

}  // namespace ember
