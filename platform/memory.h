// Memory from the operating system: read-only file mappings, anonymous blocks aligned for huge
// pages, giving whole pages back, and how much memory can still be had. Failures come back as
// values (a false return and a message): the layers above turn them into ember::Error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace ember::platform {

size_t page_size();

// A whole regular file mapped read-only (an empty file maps to data == nullptr, size 0).
struct FileMapping {
    const uint8_t* data = nullptr;
    size_t size = 0;
    void* handle = nullptr;  // Windows: the file mapping object
};
// Returns false with `error` set ("cannot open PATH: reason", "... not a regular file").
bool map_file(const std::string& path, FileMapping& out, std::string& error);
void unmap_file(FileMapping& mapping);  // idempotent

// Drops the whole pages inside [begin, begin + bytes) from memory. For a file mapping they are
// read from the file again when touched; for anonymous memory they read as zeros. Advice: where
// the system has no such call (or declines), the pages merely stay resident.
void release_file_pages(const void* begin, size_t bytes);
void release_anonymous_pages(void* begin, size_t bytes);

// Anonymous read-write memory of at least `bytes`, its start aligned to 2 MiB and the system
// asked to back it with huge pages where it can (Linux transparent huge pages); untouched pages
// cost nothing. Returns false when the system refuses.
struct PageBlock {
    void* base = nullptr;  // what was allocated (freed by free_page_block)
    size_t size = 0;
    uint8_t* data = nullptr;  // the aligned start
};
bool allocate_page_block(size_t bytes, PageBlock& out);
void free_page_block(PageBlock& block);  // idempotent

// Memory that can be allocated without swapping (Linux: MemAvailable; Windows: available
// physical memory; Apple: free and inactive pages), in bytes; 0 where it cannot be told.
uint64_t available_memory_bytes();

}  // namespace ember::platform
