// Memory for data that is streamed again and again (the packed weights): anonymous pages,
// aligned to 2 MiB, with transparent huge pages asked for where Linux offers them. Generation
// reads every weight once per token, and with 4 KiB pages the walk misses the TLB every 4 KiB;
// on 2 MiB pages the same read measured faster (docs/optimizations.md).
#pragma once

#include <cstddef>
#include <cstdint>

#include "platform/memory.h"

namespace ember {

class HugePageBuffer {
  public:
    HugePageBuffer() = default;
    explicit HugePageBuffer(size_t bytes);  // throws Error if the memory cannot be had
    ~HugePageBuffer();
    HugePageBuffer(HugePageBuffer&& other) noexcept;
    HugePageBuffer& operator=(HugePageBuffer&& other) noexcept;
    HugePageBuffer(const HugePageBuffer&) = delete;
    HugePageBuffer& operator=(const HugePageBuffer&) = delete;

    uint8_t* data() const { return data_; }  // 2 MiB aligned; not zeroed (fresh pages are)

  private:
    platform::PageBlock block_;
    uint8_t* data_ = nullptr;
};

}  // namespace ember
