#include "engine/runtime/thread_pool.h"

#if defined(__linux__)
#include <sched.h>
#endif

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>
#include <utility>

#include "formats/error.h"

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

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads < 1 ? 1 : n_threads) {
    workers_.reserve(n_threads_ - 1);
    for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
    stopping_.store(true);
    job_.fetch_add(1);
    job_.notify_all();
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
            done_.notify_all();
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
    if (sleepers_.load() > 0) job_.notify_all();

    claim_and_run();
    const uint32_t all = static_cast<uint32_t>(n_parts);
    if (!poll([&] { return done_.load(std::memory_order_acquire) == all; })) {
        caller_asleep_.store(true);
        for (uint32_t done; (done = done_.load()) != all;) done_.wait(done);
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
        job_.wait(job);  // returns at once if a job was published since `job` was read
        sleepers_.fetch_sub(1);
    }
}

int usable_cpu_count() {
    int n = 0;
#if defined(__linux__)
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    if (sched_getaffinity(0, sizeof(allowed), &allowed) == 0) n = CPU_COUNT(&allowed);
#endif
    if (n <= 0) n = static_cast<int>(std::thread::hardware_concurrency());
    if (n <= 0) n = 1;
#if defined(__linux__)
    // A cgroup (v2) quota: "QUOTA PERIOD" in cpu.max of the process's group or an ancestor.
    std::ifstream cgroup("/proc/self/cgroup");
    std::string line, path;
    while (std::getline(cgroup, line)) {
        if (line.rfind("0::", 0) == 0) path = line.substr(3);
    }
    for (;;) {
        std::ifstream max("/sys/fs/cgroup" + path + "/cpu.max");
        std::string quota;
        double period = 0;
        if (max >> quota >> period && quota != "max" && period > 0) {
            const double q = std::atof(quota.c_str());
            if (q > 0) n = std::min(n, std::max(1, static_cast<int>(std::ceil(q / period))));
        }
        if (path.empty() || path == "/") break;
        const size_t slash = path.rfind('/');
        path = slash == 0 || slash == std::string::npos ? "" : path.substr(0, slash);
    }
#endif
    return n;
}

int default_thread_count() {
    const int usable = usable_cpu_count();
    int cores = 0;
#if defined(__linux__)
    // Distinct (package, core) pairs among the CPUs this process may run on.
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    const bool have_mask = sched_getaffinity(0, sizeof(allowed), &allowed) == 0;
    std::set<std::pair<std::string, std::string>> pairs;
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
        if (have_mask && !CPU_ISSET(cpu, &allowed)) continue;
        const std::string dir = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
        std::ifstream package(dir + "physical_package_id"), core(dir + "core_id");
        std::string p, c;
        if (!(package >> p) || !(core >> c)) continue;
        pairs.emplace(p, c);
    }
    cores = static_cast<int>(pairs.size());
#endif
    if (cores <= 0) cores = usable;
    return std::max(1, std::min(cores, usable));
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
