#include "engine/api/log.h"

#include <mutex>

namespace ember {
namespace {

std::mutex g_mutex;
LogSink g_sink;

}  // namespace

void set_log_sink(LogSink sink) {
    std::lock_guard lock(g_mutex);
    g_sink = std::move(sink);
}

void log_message(LogLevel level, const std::string& message) {
    std::lock_guard lock(g_mutex);
    if (g_sink) g_sink(level, message.c_str());
}

}  // namespace ember
