#include "engine/thread_pool.h"

#include <sched.h>

#include <fstream>
#include <set>
#include <string>
#include <utility>

namespace ember {

namespace {

// About 50-100 microseconds of polling before a thread goes to sleep.
constexpr int kSpinIterations = 20000;

inline void cpu_relax() {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads < 1 ? 1 : n_threads) {
    workers_.reserve(n_threads_ - 1);
    for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard lock(mutex_);
        stopping_.store(true);
    }
    wake_.notify_all();
    for (std::thread& t : workers_) t.join();
}

void ThreadPool::run(const Task& task) {
    if (n_threads_ == 1) {
        task(0, 1);
        return;
    }
    task_ = &task;
    pending_.store(n_threads_ - 1, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);  // publishes task_ and pending_
    if (sleepers_.load() > 0) {
        std::lock_guard lock(mutex_);  // pairs with the workers' check under the mutex
        wake_.notify_all();
    }
    task(0, n_threads_);
    for (int spins = 0; pending_.load(std::memory_order_acquire) != 0; ++spins) {
        if (spins < kSpinIterations) {
            cpu_relax();
        } else {
            std::this_thread::yield();
        }
    }
}

void ThreadPool::worker_loop(int index) {
    uint64_t seen = 0;
    for (;;) {
        uint64_t now = generation_.load(std::memory_order_acquire);
        for (int spins = 0; now == seen && spins < kSpinIterations && !stopping_.load(); ++spins) {
            cpu_relax();
            now = generation_.load(std::memory_order_acquire);
        }
        if (now == seen) {
            std::unique_lock lock(mutex_);
            sleepers_.fetch_add(1);
            wake_.wait(lock, [&] {
                return stopping_.load() || generation_.load(std::memory_order_acquire) != seen;
            });
            sleepers_.fetch_sub(1);
            now = generation_.load(std::memory_order_acquire);
        }
        if (stopping_.load()) return;
        seen = now;
        (*task_)(index, n_threads_);
        pending_.fetch_sub(1, std::memory_order_release);
    }
}

int physical_core_count() {
    // Count distinct (package, core) pairs among the CPUs this process may run on.
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    const bool have_mask = sched_getaffinity(0, sizeof(allowed), &allowed) == 0;
    std::set<std::pair<std::string, std::string>> cores;
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
        if (have_mask && !CPU_ISSET(cpu, &allowed)) continue;
        const std::string dir = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
        std::ifstream package(dir + "physical_package_id"), core(dir + "core_id");
        std::string p, c;
        if (!(package >> p) || !(core >> c)) continue;
        cores.emplace(p, c);
    }
    if (!cores.empty()) return static_cast<int>(cores.size());
    const unsigned hw = std::thread::hardware_concurrency();
    return hw > 0 ? static_cast<int>(hw) : 1;
}

}  // namespace ember
