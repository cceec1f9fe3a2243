// Temperatures the operating system reports, for a thermal back-off (a phone that heats up
// slows down on its own, audio stutters and the OS may kill the app: better to slow first).
#pragma once

#include <optional>
#include <string>

namespace ember::platform {

// The hottest of the thermal zones the system exposes, in degrees Celsius: Linux and Android
// read root/class/thermal/thermal_zone*/temp (millidegrees; root is sysfs_root()). Nothing
// where there are none (containers, Windows, Apple: no public interface).
std::optional<double> hottest_temperature_celsius();
std::optional<double> hottest_temperature_celsius(const std::string& root);

}  // namespace ember::platform
