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

// Anonymous read-write memory of at least `bytes`, its start aligned to 2 MiB, whole pages to
// the end of the block; untouched pages cost nothing. With huge_pages the system is asked to back
// it with huge pages where it can (Linux transparent huge pages): for data read again and again;
// without, memory that fills a little at a time keeps small pages, committed as it is touched.
// Returns false when the system refuses.
struct PageBlock {
    void* base = nullptr;  // what was allocated (freed by free_page_block)
    size_t size = 0;
    uint8_t* data = nullptr;  // the aligned start
};
bool allocate_page_block(size_t bytes, PageBlock& out, bool huge_pages);
void free_page_block(PageBlock& block);  // idempotent

// Backs the pages that [begin, begin + bytes) overlaps with memory now, in one call (Linux 5.14+:
// MADV_POPULATE_WRITE), rather than one page fault each when they are first written: in some
// virtual machines a fault costs 15-30 times what populating the page does. Advice: elsewhere, or
// where the system declines, nothing happens and the pages fault in when touched. Every page the
// range overlaps must be the caller's writable anonymous memory (a PageBlock's).
void populate_pages(void* begin, size_t bytes);

// Memory that can be allocated without swapping (Linux: MemAvailable; Windows: available
// physical memory; Apple: free and inactive pages), in bytes; 0 where it cannot be told.
uint64_t available_memory_bytes();

}  // namespace ember::platform
