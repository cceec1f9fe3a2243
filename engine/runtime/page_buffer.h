// Anonymous memory in whole pages, for the two large buffers a model's run fills: the packed
// weights, streamed again and again (huge pages: generation reads every weight once per token,
// and with 4 KiB pages the walk misses the TLB every 4 KiB; on 2 MiB pages the same read
// measured faster, docs/optimizations.md), and the KV cache, which fills a little at a time
// (small pages, so that only the positions in use are resident).
#pragma once

#include <cstddef>
#include <cstdint>

#include "platform/memory.h"

namespace ember {

enum class PageSize { Huge, Small };

class PageBuffer {
  public:
    PageBuffer() = default;
    // Throws Error ("cannot allocate N MiB") if the memory cannot be had.
    PageBuffer(size_t bytes, PageSize pages);
    ~PageBuffer();
    PageBuffer(PageBuffer&& other) noexcept;
    PageBuffer& operator=(PageBuffer&& other) noexcept;
    PageBuffer(const PageBuffer&) = delete;
    PageBuffer& operator=(const PageBuffer&) = delete;

    uint8_t* data() const { return data_; }  // 2 MiB aligned; not zeroed (fresh pages are)

    // Makes the pages of bytes [offset, offset + bytes) resident now, in one system call rather
    // than a page fault each (platform::populate_pages); advice, so nothing if it cannot.
    void populate(size_t offset, size_t bytes) const;

  private:
    platform::PageBlock block_;
    uint8_t* data_ = nullptr;
};

}  // namespace ember
