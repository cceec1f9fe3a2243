#include "engine/runtime/system_memory.h"

#include <cstdio>

#include "formats/error.h"
#include "platform/memory.h"

namespace ember {

uint64_t available_memory_bytes() {
    return platform::available_memory_bytes();
}

std::string gigabytes(uint64_t bytes) {
    char text[32];
    std::snprintf(text, sizeof(text), "%.2f GB", static_cast<double>(bytes) / 1e9);
    return text;
}

std::string megabytes(uint64_t bytes) {
    char text[32];
    std::snprintf(text, sizeof(text), "%.1f MB", static_cast<double>(bytes) / 1e6);
    return text;
}

void check_memory(uint64_t need, const std::string& what, const std::string& detail,
                  const std::string& advice) {
    const uint64_t available = available_memory_bytes();
    if (available == 0 || need <= available) return;
    throw Error(what + " needs " + gigabytes(need) + " (" + detail + "), this machine has " +
                gigabytes(available) + " available: " + advice);
}

void release_pages(void* begin, size_t bytes) {
    platform::release_anonymous_pages(begin, bytes);
}

}  // namespace ember
