// The thread pool: every part runs exactly once per call, on any number of threads (more than
// the cores included), a part's exception reaches the caller, and thread counts are checked.
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <vector>

#include "engine/runtime/thread_pool.h"
#include "formats/error.h"

namespace ember {
namespace {

TEST(ThreadPool, EveryPartRunsOncePerCall) {
    for (int n_threads : {1, 2, 3, 8}) {
        ThreadPool pool(n_threads);
        for (int n_parts : {1, 2, 5, 64, 1000}) {
            SCOPED_TRACE(std::to_string(n_threads) + " threads, " + std::to_string(n_parts));
            for (int call = 0; call < 50; ++call) {
                std::vector<std::atomic<int>> runs(static_cast<size_t>(n_parts));
                pool.run_parts(n_parts, [&](int part, int parts) {
                    ASSERT_EQ(parts, n_parts);
                    runs[static_cast<size_t>(part)].fetch_add(1);
                });
                for (const auto& r : runs) ASSERT_EQ(r.load(), 1);
            }
        }
    }
}

TEST(ThreadPool, ParallelForCoversTheRangeOnce) {
    ThreadPool pool(4);
    for (int64_t n : {1, 3, 16, 1001}) {
        std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
        pool.parallel_for(n, [&](int64_t begin, int64_t end) {
            for (int64_t i = begin; i < end; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
        });
        for (const auto& h : hits) EXPECT_EQ(h.load(), 1);
    }
    pool.parallel_for(0, [](int64_t, int64_t) { FAIL() << "nothing to do"; });
}

TEST(ThreadPool, APartsExceptionReachesTheCallerAfterAllParts) {
    ThreadPool pool(3);
    std::atomic<int> finished{0};
    EXPECT_THROW(pool.run_parts(30,
                                [&](int part, int) {
                                    if (part == 7) throw std::runtime_error("part 7");
                                    finished.fetch_add(1);
                                }),
                 std::runtime_error);
    EXPECT_EQ(finished.load(), 29);
    // The pool is still usable.
    std::atomic<int> again{0};
    pool.run([&](int, int) { again.fetch_add(1); });
    EXPECT_EQ(again.load(), 3);
}

TEST(ThreadPool, ThreadCountsAreChecked) {
    EXPECT_GE(usable_cpu_count(), 1);
    EXPECT_GE(default_thread_count(), 1);
    EXPECT_LE(default_thread_count(), usable_cpu_count());
    EXPECT_NO_THROW(check_thread_count(0));
    EXPECT_NO_THROW(check_thread_count(4 * usable_cpu_count()));
    EXPECT_THROW(check_thread_count(4 * usable_cpu_count() + 1), Error);
    EXPECT_THROW(check_thread_count(-1), Error);
}

// Tasks of unequal cost: each runs once, each thread's tasks are one ascending run, and the
// runs' costs are about equal (every run within the largest task's cost of total / threads).
TEST(ThreadPool, BalancedRunsCoverEveryTaskOnceInContiguousRuns) {
    for (int threads : {1, 2, 3, 4}) {
        ThreadPool pool(threads);
        std::vector<int64_t> cost(101);
        for (size_t i = 0; i < cost.size(); ++i) cost[i] = static_cast<int64_t>((i * 37) % 11);
        std::vector<std::vector<int>> runs(static_cast<size_t>(threads));
        std::vector<std::atomic<int>> seen(cost.size());
        pool.run_balanced(
            static_cast<int>(cost.size()),
            [&](int task) { return cost[static_cast<size_t>(task)]; },
            [&](int part, int task) {
                runs[static_cast<size_t>(part)].push_back(task);
                ++seen[static_cast<size_t>(task)];
            });
        for (const auto& n : seen) EXPECT_EQ(n.load(), 1);
        int64_t total = 0;
        for (int64_t c : cost) total += c;
        int next = 0;
        for (const auto& run : runs) {
            int64_t run_cost = 0;
            for (int task : run) {
                EXPECT_EQ(task, next++);  // contiguous, in order, the parts in part order
                run_cost += cost[static_cast<size_t>(task)];
            }
            EXPECT_LE(std::abs(run_cost - total / threads), 10) << threads << " threads";
        }
    }
}

}  // namespace
}  // namespace ember
