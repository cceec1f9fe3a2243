#include "platform/thermal.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "platform/cpu.h"

namespace ember::platform {

std::optional<double> hottest_temperature_celsius() {
    return hottest_temperature_celsius(sysfs_root());
}

std::optional<double> hottest_temperature_celsius(const std::string& root) {
#if defined(__linux__)
    std::error_code ec;
    std::optional<double> hottest;
    for (const auto& entry : std::filesystem::directory_iterator(root + "/class/thermal", ec)) {
        if (entry.path().filename().string().rfind("thermal_zone", 0) != 0) continue;
        std::ifstream temp(entry.path() / "temp");
        long millidegrees = 0;
        // Disabled or broken zones read as errors or absurd values: skip them.
        if (!(temp >> millidegrees) || millidegrees < -50000 || millidegrees > 200000) continue;
        const double celsius = millidegrees / 1000.0;
        hottest = hottest ? std::max(*hottest, celsius) : celsius;
    }
    return hottest;
#else
    (void)root;
    return std::nullopt;
#endif
}

}  // namespace ember::platform
