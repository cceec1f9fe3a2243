// The CPUs a process may use and how they differ: how many it may run on, which of them are
// separate physical cores, which are the fast ones on a CPU that mixes fast and slow cores
// (phones' big.LITTLE, Apple's performance and efficiency cores), and the ARM features the
// kernels must ask the operating system about.
#pragma once

#include <string>
#include <vector>

namespace ember::platform {

// The CPUs this process may run on: its affinity mask, lowered by a cgroup CPU quota (Linux,
// cpu.max, rounded up). At least 1.
int usable_cpu_count();

// One logical CPU as the system describes it.
struct LogicalCpu {
    int id = 0;
    std::string core;     // its physical core (CPUs that share one are hardware threads)
    double capacity = 0;  // relative speed (Linux cpu_capacity, else the highest clock); 0: unknown
};

// The usable CPUs' cores: all physical cores, and the fast ones: those whose capacity is at
// least 60% of the fastest (all of them when the capacities are unknown or alike). A phone
// with 4 little, 3 middle and 1 big core has 8 physical cores and 4 fast ones.
struct CoreCounts {
    int physical = 0;
    int fast = 0;
};
CoreCounts core_counts();
// The same from a list of CPUs (tests, and core_counts itself).
CoreCounts count_cores(const std::vector<LogicalCpu>& cpus);

// Linux and Android: the CPUs `ids` as sysfs under `root` describes them
// (root/devices/system/cpu/cpuN/{topology/physical_package_id, topology/core_id, cpu_capacity,
// cpufreq/cpuinfo_max_freq}); a CPU without topology files is a core of its own.
std::vector<LogicalCpu> read_linux_cpus(const std::string& root, const std::vector<int>& ids);

// Where sysfs is: $EMBER_SYSFS, else /sys (tests and containers point it elsewhere).
std::string sysfs_root();

// User and system time of the whole process (every thread) so far, in seconds.
double process_cpu_seconds();

// ARM features that user space learns from the operating system (Linux HWCAP, Apple sysctl,
// Windows IsProcessorFeaturePresent); all false elsewhere.
struct ArmFeatures {
    bool dotprod = false;  // SDOT/UDOT (armv8.2 dotprod)
    bool i8mm = false;     // SMMLA (armv8.6 i8mm)
    bool fp16 = false;     // half-precision arithmetic (FEAT_FP16)
};
ArmFeatures arm_features();

}  // namespace ember::platform
