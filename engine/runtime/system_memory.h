// How much memory this machine can still give, so that a request that cannot fit (a 131072-
// token context asks for a 17 GB KV cache) is refused up front with what it needs and what
// there is, instead of ending in std::bad_alloc or the kernel's OOM killer half-way through.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace ember {

// What can be allocated without swapping (platform::available_memory_bytes: Linux's
// MemAvailable, ...), in bytes; 0 where it cannot be told (then nothing is refused).
uint64_t available_memory_bytes();

// Throws ember::Error "WHAT needs X GB (DETAIL), this machine has Y GB available: ADVICE" when
// `need` bytes exceed available_memory_bytes().
void check_memory(uint64_t need, const std::string& what, const std::string& detail,
                  const std::string& advice);

// Gives the whole pages inside [begin, begin + bytes) of an anonymous allocation back to the
// system (platform::release_anonymous_pages): they read as zeros afterwards
// and are resident again only when written. For long-lived buffers whose tail is done with.
void release_pages(void* begin, size_t bytes);

// "1.25 GB"
std::string gigabytes(uint64_t bytes);
// "12.5 MB"
std::string megabytes(uint64_t bytes);

}  // namespace ember
