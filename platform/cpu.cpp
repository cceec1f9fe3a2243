#include "platform/cpu.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <thread>

#if defined(_WIN32)
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#elif defined(__APPLE__)
#include <sys/resource.h>
#include <sys/sysctl.h>
#elif defined(__linux__)
#include <sched.h>
#include <sys/resource.h>
#if defined(__aarch64__)
#include <sys/auxv.h>
#endif
#endif

namespace ember::platform {
namespace {

#if defined(__linux__)
// The CPUs in this process's affinity mask (empty if it cannot be read).
std::vector<int> affinity_cpus() {
    std::vector<int> ids;
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) return ids;
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
        if (CPU_ISSET(cpu, &allowed)) ids.push_back(cpu);
    }
    return ids;
}

// A cgroup v2 CPU quota ("QUOTA PERIOD" in cpu.max of the process's group or an ancestor),
// as a CPU count rounded up; 0 for none.
int cgroup_cpu_limit() {
    std::ifstream cgroup("/proc/self/cgroup");
    std::string line, path;
    while (std::getline(cgroup, line)) {
        if (line.rfind("0::", 0) == 0) path = line.substr(3);
    }
    int limit = 0;
    for (;;) {
        std::ifstream max("/sys/fs/cgroup" + path + "/cpu.max");
        std::string quota;
        double period = 0;
        if (max >> quota >> period && quota != "max" && period > 0) {
            const double q = std::atof(quota.c_str());
            if (q > 0) {
                const int n = std::max(1, static_cast<int>(std::ceil(q / period)));
                limit = limit == 0 ? n : std::min(limit, n);
            }
        }
        if (path.empty() || path == "/") break;
        const size_t slash = path.rfind('/');
        path = slash == 0 || slash == std::string::npos ? "" : path.substr(0, slash);
    }
    return limit;
}
#endif

#if defined(__APPLE__)
int sysctl_int(const char* name) {
    int value = 0;
    size_t size = sizeof(value);
    return sysctlbyname(name, &value, &size, nullptr, 0) == 0 ? value : 0;
}
#endif

}  // namespace

int usable_cpu_count() {
    int n = 0;
#if defined(__linux__)
    n = static_cast<int>(affinity_cpus().size());
#elif defined(_WIN32)
    DWORD_PTR process = 0, system = 0;
    if (GetProcessAffinityMask(GetCurrentProcess(), &process, &system)) {
        for (; process != 0; process &= process - 1) ++n;
    }
#elif defined(__APPLE__)
    n = sysctl_int("hw.activecpu");
#endif
    if (n <= 0) n = static_cast<int>(std::thread::hardware_concurrency());
    if (n <= 0) n = 1;
#if defined(__linux__)
    if (const int limit = cgroup_cpu_limit(); limit > 0) n = std::min(n, limit);
#endif
    return n;
}

std::string sysfs_root() {
    const char* root = std::getenv("EMBER_SYSFS");
    return root != nullptr && *root != '\0' ? root : "/sys";
}

std::vector<LogicalCpu> read_linux_cpus(const std::string& root, const std::vector<int>& ids) {
    std::vector<LogicalCpu> cpus;
    for (int id : ids) {
        const std::string dir = root + "/devices/system/cpu/cpu" + std::to_string(id) + "/";
        LogicalCpu cpu;
        cpu.id = id;
        std::ifstream package(dir + "topology/physical_package_id"), core(dir + "topology/core_id");
        std::string p, c;
        cpu.core = package >> p && core >> c ? p + ":" + c : "cpu" + std::to_string(id);
        std::ifstream capacity(dir + "cpu_capacity");
        if (!(capacity >> cpu.capacity)) {
            std::ifstream max_freq(dir + "cpufreq/cpuinfo_max_freq");
            if (!(max_freq >> cpu.capacity)) cpu.capacity = 0;
        }
        cpus.push_back(cpu);
    }
    return cpus;
}

CoreCounts count_cores(const std::vector<LogicalCpu>& cpus) {
    std::map<std::string, double> cores;  // core -> the capacity of its fastest CPU
    for (const LogicalCpu& cpu : cpus) {
        double& capacity = cores[cpu.core];
        capacity = std::max(capacity, cpu.capacity);
    }
    double fastest = 0;
    for (const auto& [core, capacity] : cores) fastest = std::max(fastest, capacity);
    CoreCounts counts;
    counts.physical = static_cast<int>(cores.size());
    for (const auto& [core, capacity] : cores) {
        // Unknown capacities count as fast: nothing says they are slow.
        if (fastest <= 0 || capacity <= 0 || capacity >= 0.6 * fastest) ++counts.fast;
    }
    return counts;
}

CoreCounts core_counts() {
    CoreCounts counts;
#if defined(__linux__)
    std::vector<int> ids = affinity_cpus();
    if (!ids.empty()) counts = count_cores(read_linux_cpus(sysfs_root(), ids));
#elif defined(__APPLE__)
    counts.physical = sysctl_int("hw.physicalcpu");
    counts.fast = sysctl_int("hw.perflevel0.physicalcpu");  // performance cores (Apple silicon)
    if (counts.fast <= 0) counts.fast = counts.physical;
#elif defined(_WIN32)
    DWORD bytes = 0;
    GetLogicalProcessorInformationEx(RelationProcessorCore, nullptr, &bytes);
    std::vector<char> buffer(bytes);
    auto* info = reinterpret_cast<SYSTEM_LOGICAL_PROCESSOR_INFORMATION_EX*>(buffer.data());
    if (bytes > 0 && GetLogicalProcessorInformationEx(RelationProcessorCore, info, &bytes)) {
        std::vector<LogicalCpu> cores;
        for (DWORD at = 0; at < bytes;) {
            auto* entry =
                reinterpret_cast<SYSTEM_LOGICAL_PROCESSOR_INFORMATION_EX*>(buffer.data() + at);
            LogicalCpu core;
            core.core = std::to_string(cores.size());
            // EfficiencyClass, the byte after Flags (MinGW's headers still call it Reserved):
            // higher is faster; 0 on CPUs whose cores are all alike.
            core.capacity = 1 + reinterpret_cast<const BYTE*>(&entry->Processor.Flags)[1];
            cores.push_back(core);
            at += entry->Size;
        }
        counts = count_cores(cores);
    }
#endif
    const int usable = usable_cpu_count();
    if (counts.physical <= 0) counts.physical = usable;
    if (counts.fast <= 0) counts.fast = counts.physical;
    counts.physical = std::min(counts.physical, usable);
    counts.fast = std::min(counts.fast, counts.physical);
    return counts;
}

double process_cpu_seconds() {
#if defined(_WIN32)
    FILETIME created, exited, kernel, user;
    if (!GetProcessTimes(GetCurrentProcess(), &created, &exited, &kernel, &user)) return 0;
    const auto seconds = [](const FILETIME& t) {  // 100 ns units
        return ((static_cast<uint64_t>(t.dwHighDateTime) << 32) | t.dwLowDateTime) / 1e7;
    };
    return seconds(kernel) + seconds(user);
#else
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    const auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
    return seconds(usage.ru_utime) + seconds(usage.ru_stime);
#endif
}

ArmFeatures arm_features() {
    ArmFeatures f;
#if defined(__aarch64__) && defined(__linux__)
    // Bits of AT_HWCAP / AT_HWCAP2 (Linux's arch/arm64/include/uapi/asm/hwcap.h).
    const unsigned long hwcap = getauxval(AT_HWCAP), hwcap2 = getauxval(AT_HWCAP2);
    f.fp16 = (hwcap & (1ul << 10)) != 0;     // HWCAP_ASIMDHP
    f.dotprod = (hwcap & (1ul << 20)) != 0;  // HWCAP_ASIMDDP
    f.i8mm = (hwcap2 & (1ul << 13)) != 0;    // HWCAP2_I8MM
#elif defined(__aarch64__) && defined(__APPLE__)
    f.dotprod = sysctl_int("hw.optional.arm.FEAT_DotProd") != 0;
    f.i8mm = sysctl_int("hw.optional.arm.FEAT_I8MM") != 0;
    f.fp16 = sysctl_int("hw.optional.arm.FEAT_FP16") != 0;
#elif defined(_M_ARM64) || (defined(_WIN32) && defined(__aarch64__))
    f.dotprod = IsProcessorFeaturePresent(43) != 0;  // PF_ARM_V82_DP_INSTRUCTIONS_AVAILABLE
#endif
    return f;
}

}  // namespace ember::platform
