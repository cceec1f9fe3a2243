// The platform layer: core counts on big.LITTLE CPUs (from a sysfs tree written here, as a
// phone's kernel shows it), the thread default that follows from them, thermal zones, file
// mappings and memory.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "engine/generate/session.h"
#include "engine/runtime/thread_pool.h"
#include "engine/text/tokenizer.h"
#include "platform/cpu.h"
#include "platform/memory.h"
#include "platform/thermal.h"
#include "tests/shared_data.h"

namespace ember {
namespace {

namespace fs = std::filesystem;

void write(const fs::path& path, const std::string& text) {
    fs::create_directories(path.parent_path());
    std::ofstream(path) << text << "\n";
}

// cpuN with its package, core and capacity (or only a maximum clock, or nothing).
void add_cpu(const fs::path& root, int id, int core, int capacity, int max_khz = 0) {
    const fs::path dir = root / "devices/system/cpu" / ("cpu" + std::to_string(id));
    write(dir / "topology/physical_package_id", "0");
    write(dir / "topology/core_id", std::to_string(core));
    if (capacity > 0) write(dir / "cpu_capacity", std::to_string(capacity));
    if (max_khz > 0) write(dir / "cpufreq/cpuinfo_max_freq", std::to_string(max_khz));
}

TEST(Platform, BigLittleCoresFromSysfs) {
    const fs::path root = test::temp_dir("sysfs");
    // A Tensor-G1-like phone: 4 little (250), 2 middle (620), 2 big (1024) cores.
    for (int i = 0; i < 8; ++i) add_cpu(root, i, i, i < 4 ? 250 : i < 6 ? 620 : 1024);
    const auto cpus = platform::read_linux_cpus(root.string(), {0, 1, 2, 3, 4, 5, 6, 7});
    ASSERT_EQ(cpus.size(), 8u);
    EXPECT_EQ(cpus[7].capacity, 1024);
    platform::CoreCounts counts = platform::count_cores(cpus);
    EXPECT_EQ(counts.physical, 8);
    EXPECT_EQ(counts.fast, 4);
    // Only the CPUs the process may use count: the little ones alone are all "fast".
    counts = platform::count_cores(platform::read_linux_cpus(root.string(), {0, 1}));
    EXPECT_EQ(counts.physical, 2);
    EXPECT_EQ(counts.fast, 2);
    fs::remove_all(root);
}

TEST(Platform, HardwareThreadsClocksAndMissingFiles) {
    const fs::path root = test::temp_dir("sysfs");
    // Two hardware threads per core, no cpu_capacity: the maximum clocks decide (an x86
    // hybrid's 5.0 GHz and 3.8 GHz cores are both fast: 76%).
    add_cpu(root, 0, 0, 0, 5000000);
    add_cpu(root, 1, 0, 0, 5000000);
    add_cpu(root, 2, 1, 0, 3800000);
    add_cpu(root, 3, 1, 0, 3800000);
    add_cpu(root, 4, 2, 0, 2000000);  // 40%: slow
    platform::CoreCounts counts =
        platform::count_cores(platform::read_linux_cpus(root.string(), {0, 1, 2, 3, 4}));
    EXPECT_EQ(counts.physical, 3);
    EXPECT_EQ(counts.fast, 2);
    // A CPU sysfs says nothing about is a core of its own, of unknown speed (counted fast).
    counts = platform::count_cores(platform::read_linux_cpus(root.string(), {0, 9}));
    EXPECT_EQ(counts.physical, 2);
    EXPECT_EQ(counts.fast, 2);
    fs::remove_all(root);
}

// default_thread_count() on this machine with EMBER_SYSFS pointing at a tree in which CPU 0
// is fast and every other CPU slow: one thread (if the process may use CPU 0).
TEST(Platform, DefaultThreadsAreTheFastCores) {
    const fs::path root = test::temp_dir("sysfs");
    for (int i = 0; i < 64; ++i) add_cpu(root, i, i, i == 0 ? 1024 : 300);
    setenv("EMBER_SYSFS", root.c_str(), 1);
    const int threads = default_thread_count();
    const platform::CoreCounts counts = platform::core_counts();
    unsetenv("EMBER_SYSFS");
    EXPECT_GE(threads, 1);
    EXPECT_LE(threads, usable_cpu_count());
    EXPECT_EQ(threads, counts.fast);
    if (usable_cpu_count() > 1 && counts.physical == usable_cpu_count()) {
        EXPECT_EQ(counts.fast, 1);  // CPU 0 alone (CPUs without entries would count as fast)
    }
    EXPECT_GE(default_thread_count(), 1);  // the real sysfs again
    fs::remove_all(root);
}

TEST(Platform, HottestThermalZone) {
    const fs::path root = test::temp_dir("sysfs");
    EXPECT_FALSE(platform::hottest_temperature_celsius(root.string()).has_value());
    write(root / "class/thermal/thermal_zone0/temp", "45000");
    write(root / "class/thermal/thermal_zone1/temp", "71500");
    write(root / "class/thermal/thermal_zone2/temp", "oops");     // unreadable: skipped
    write(root / "class/thermal/thermal_zone3/temp", "-273000");  // absurd: skipped
    write(root / "class/thermal/cooling_device0/temp", "99000");  // not a zone
    const auto hottest = platform::hottest_temperature_celsius(root.string());
    ASSERT_TRUE(hottest.has_value());
    EXPECT_DOUBLE_EQ(*hottest, 71.5);
    fs::remove_all(root);
}

#if defined(__linux__)
// The thermal back-off of a generation, with a thermal zone the test heats and cools: while
// hot the pace halves at every check (here every token), and once cool it is at once back to
// full speed.
TEST(ThermalBackOff, HalvesThePaceWhileHotAndReturnsWhenCool) {
    const fs::path root = test::temp_dir("sysfs");
    const fs::path zone = root / "class/thermal/thermal_zone0/temp";
    write(zone, "90000");
    setenv("EMBER_SYSFS", root.c_str(), 1);
    const Model model(test::shared_path("models/stories260K.gguf").string());
    const Tokenizer tokenizer(model.file());
    SessionParams params;
    params.sampling.temperature = 0;
    params.context.n_threads = 1;
    using Clock = std::chrono::steady_clock;
    const auto generate = [&](int cool_after) {
        Session session(model, tokenizer, params);
        TurnOptions turn;
        turn.max_tokens = 16;
        turn.ignore_eos = true;
        turn.thermal_limit_celsius = 70;
        turn.thermal_check_ms = 0;
        std::vector<Clock::time_point> times;
        turn.on_token = [&](int32_t) {
            times.push_back(Clock::now());
            if (static_cast<int>(times.size()) == cool_after) write(zone, "40000");
            return true;
        };
        const TurnResult r =
            session.generate("Once upon a time", turn, [](std::string_view) { return true; });
        EXPECT_EQ(r.n_generated, 16);
        std::vector<double> gaps;  // ms between tokens i - 1 and i
        for (size_t i = 1; i < times.size(); ++i)
            gaps.push_back(
                std::chrono::duration<double, std::milli>(times[i] - times[i - 1]).count());
        return std::make_pair(r.thermal_slowdowns, gaps);
    };
    const auto [slowdowns, gaps] = generate(8);
    unsetenv("EMBER_SYSFS");
    // Hot before tokens 2..8: halved each time.
    EXPECT_GE(slowdowns, 6);
    EXPECT_LE(slowdowns, 8);
    // (Against the smaller of two early gaps: one of them may be stretched by a busy machine.)
    EXPECT_GT(gaps[6], 8 * std::min(gaps[0], gaps[1])) << "the pace did not fall while hot";
    // Cool from token 9 on: no more sleeping.
    const double after = *std::max_element(gaps.begin() + 9, gaps.end());
    EXPECT_LT(after, gaps[6] / 4) << "the pace did not come back when cool";
    // Cool all along: nothing happens.
    write(zone, "40000");
    setenv("EMBER_SYSFS", root.c_str(), 1);
    EXPECT_EQ(generate(0).first, 0);
    unsetenv("EMBER_SYSFS");
    fs::remove_all(root);
}
#endif

TEST(Platform, FileMappingsAndMemory) {
    platform::FileMapping mapping;
    std::string error;
    EXPECT_FALSE(platform::map_file("/nonexistent/model.gguf", mapping, error));
    EXPECT_NE(error.find("cannot open /nonexistent/model.gguf"), std::string::npos) << error;
    EXPECT_FALSE(platform::map_file("/tmp", mapping, error));
    EXPECT_NE(error.find("not a regular file"), std::string::npos) << error;
    const std::string path = test::shared_path("models/stories260K.gguf").string();
    ASSERT_TRUE(platform::map_file(path, mapping, error)) << error;
    EXPECT_EQ(mapping.size, fs::file_size(path));
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(mapping.data), 4), "GGUF");
    platform::release_file_pages(mapping.data, mapping.size);  // read again from the file
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(mapping.data), 4), "GGUF");
    platform::unmap_file(mapping);
    platform::unmap_file(mapping);  // idempotent
    EXPECT_GT(platform::page_size(), 0u);
#if defined(__linux__)
    EXPECT_GT(platform::available_memory_bytes(), 0u);
#endif
    for (const bool huge : {true, false}) {
        platform::PageBlock block;
        ASSERT_TRUE(platform::allocate_page_block(3 << 20, block, huge));
        EXPECT_EQ(reinterpret_cast<uintptr_t>(block.data) % (2 << 20), 0u);
        block.data[0] = 7;
        block.data[(3 << 20) - 1] = 9;
        platform::release_anonymous_pages(block.data, 3 << 20);
        EXPECT_EQ(block.data[0], 0);  // given back: zero when touched again
        platform::free_page_block(block);
    }
}

#if defined(__linux__)
// Resident pages of [begin, begin + pages * page_size), by mincore.
int resident_pages(const uint8_t* begin, size_t pages) {
    std::vector<unsigned char> present(pages);
    if (mincore(const_cast<uint8_t*>(begin), pages * platform::page_size(), present.data()) != 0)
        return -1;
    int n = 0;
    for (unsigned char p : present) n += p & 1;
    return n;
}
#endif

TEST(Platform, PopulatedPagesAreResidentAndZero) {
    const size_t page = platform::page_size();
    platform::PageBlock block;
    ASSERT_TRUE(platform::allocate_page_block(64 * page, block, false));
    // An unaligned range: the pages it overlaps (pages 3..7), not its neighbours.
    platform::populate_pages(block.data + 3 * page + 100, 4 * page);
#if defined(__linux__)
    EXPECT_EQ(resident_pages(block.data + 3 * page, 5), 5);  // Linux 5.14 on (Debian 12: 6.1)
    EXPECT_EQ(resident_pages(block.data, 3), 0);
    EXPECT_EQ(resident_pages(block.data + 8 * page, 56), 0);
#endif
    for (size_t i = 0; i < 64 * page; i += 97) EXPECT_EQ(block.data[i], 0) << i;
    block.data[5 * page] = 1;                 // writable
    platform::populate_pages(block.data, 0);  // nothing
    platform::free_page_block(block);
}

}  // namespace
}  // namespace ember
