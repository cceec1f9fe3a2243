#include "engine/runtime/huge_pages.h"

#include <string>
#include <utility>

#include "formats/error.h"

namespace ember {

HugePageBuffer::HugePageBuffer(size_t bytes) {
    if (!platform::allocate_page_block(bytes, block_)) {
        throw Error("cannot allocate " + std::to_string(bytes >> 20) +
                    " MiB for the packed weights (loading without repacking needs none: "
                    "--no-repack, or ember_model_params.repack = 0)");
    }
    data_ = block_.data;
}

HugePageBuffer::~HugePageBuffer() {
    platform::free_page_block(block_);
}

HugePageBuffer::HugePageBuffer(HugePageBuffer&& other) noexcept
    : block_(std::exchange(other.block_, {})), data_(std::exchange(other.data_, nullptr)) {}

HugePageBuffer& HugePageBuffer::operator=(HugePageBuffer&& other) noexcept {
    if (this != &other) {
        platform::free_page_block(block_);
        block_ = std::exchange(other.block_, {});
        data_ = std::exchange(other.data_, nullptr);
    }
    return *this;
}

}  // namespace ember
