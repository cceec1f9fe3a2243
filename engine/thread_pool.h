// A persistent pool of worker threads for fork-join parallelism: run(task) calls
// task(thread_index, n_threads) once on each of n_threads threads (the caller is thread 0)
// and returns when all are done. No thread is created per call. Between calls the workers
// spin briefly (a forward pass hands out work every few microseconds) and then sleep, so an
// idle pool costs nothing.
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
    const Task* task_ = nullptr;           // published by the generation bump
    std::atomic<uint64_t> generation_{0};  // bumped per run(); workers run each one once
    std::atomic<int> pending_{0};          // workers still running the current task
    std::atomic<int> sleepers_{0};         // workers waiting on wake_
    std::atomic<bool> stopping_{false};
    std::mutex mutex_;
    std::condition_variable wake_;
};

// The number of physical cores (not hardware threads) this process may use; at least 1.
int physical_core_count();

}  // namespace ember
