#include "engine/runtime/page_buffer.h"

#include <string>
#include <utility>

#include "formats/error.h"

namespace ember {

PageBuffer::PageBuffer(size_t bytes, PageSize pages) {
    if (!platform::allocate_page_block(bytes, block_, pages == PageSize::Huge)) {
        throw Error("cannot allocate " + std::to_string(bytes >> 20) + " MiB");
    }
    data_ = block_.data;
}

PageBuffer::~PageBuffer() {
    platform::free_page_block(block_);
}

PageBuffer::PageBuffer(PageBuffer&& other) noexcept
    : block_(std::exchange(other.block_, {})), data_(std::exchange(other.data_, nullptr)) {}

PageBuffer& PageBuffer::operator=(PageBuffer&& other) noexcept {
    if (this != &other) {
        platform::free_page_block(block_);
        block_ = std::exchange(other.block_, {});
        data_ = std::exchange(other.data_, nullptr);
    }
    return *this;
}

void PageBuffer::populate(size_t offset, size_t bytes) const {
    // The block is whole pages from data_ on, so the pages around the range are all its own.
    platform::populate_pages(data_ + offset, bytes);
}

}  // namespace ember
