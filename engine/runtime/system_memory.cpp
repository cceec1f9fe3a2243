#include "engine/runtime/system_memory.h"

#include <cstdio>
#include <fstream>

#include "formats/error.h"

#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#include <unistd.h>
#define EMBER_HAVE_MADVISE 1
#endif

namespace ember {

uint64_t available_memory_bytes() {
    std::ifstream meminfo("/proc/meminfo");
    std::string key;
    uint64_t kib = 0;
    std::string unit;
    while (meminfo >> key >> kib >> unit) {
        if (key == "MemAvailable:") return kib * 1024;
    }
    return 0;
}

std::string gigabytes(uint64_t bytes) {
    char text[32];
    std::snprintf(text, sizeof(text), "%.2f GB", static_cast<double>(bytes) / 1e9);
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
#if EMBER_HAVE_MADVISE
    static const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
    const uintptr_t start = (reinterpret_cast<uintptr_t>(begin) + page - 1) / page * page;
    const uintptr_t end = (reinterpret_cast<uintptr_t>(begin) + bytes) / page * page;
    if (end > start) madvise(reinterpret_cast<void*>(start), end - start, MADV_DONTNEED);
#else
    (void)begin;
    (void)bytes;
#endif
}

}  // namespace ember
