// The library's logging: it prints nothing itself; lines go to the sink the application
// installs (ember_set_log_callback), or nowhere.
#pragma once

#include <functional>
#include <string>

namespace ember {

enum class LogLevel { Debug = 0, Info = 1, Warn = 2, Error = 3 };

using LogSink = std::function<void(LogLevel level, const char* message)>;

void set_log_sink(LogSink sink);  // an empty sink silences the library
void log_message(LogLevel level, const std::string& message);

}  // namespace ember
