// A persistent pool of worker threads for fork-join parallelism: run(task) calls
// task(thread_index, n_threads) once on each of n_threads threads (the caller is thread 0)
// and returns when all are done. No thread is created per call, so per-token work is cheap.
#pragma once

#include <atomic>
#include <condition_variable>
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

    using Task = std::function<void(int thread_index, int n_threads)>;
    void run(const Task& task);

    // Splits [0, n) into n_threads contiguous ranges and runs body(begin, end) on each.
    template <typename Body>
    void parallel_for(int64_t n, Body&& body) {
        run([&](int thread, int n_threads) {
            const int64_t begin = n * thread / n_threads, end = n * (thread + 1) / n_threads;
            if (begin < end) body(begin, end);
        });
    }

private:
    void worker_loop(int index);

    int n_threads_;
    std::vector<std::thread> workers_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::condition_variable done_;
    const Task* task_ = nullptr;
    uint64_t generation_ = 0;  // bumped per run(); workers run each generation once
    int pending_ = 0;          // workers still running the current task
    bool stopping_ = false;
};

// The number of physical cores (not hardware threads) this process may use; at least 1.
int physical_core_count();

}  // namespace ember
