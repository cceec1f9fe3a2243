#include "engine/runtime/huge_pages.h"

#include <sys/mman.h>

#include <string>
#include <utility>

#include "formats/error.h"

namespace ember {

namespace {
constexpr size_t kHugePage = size_t{2} << 20;
}

HugePageBuffer::HugePageBuffer(size_t bytes) {
    // Map one huge page more than asked, and start at the first 2 MiB boundary inside.
    mapped_bytes_ = (bytes + kHugePage - 1) / kHugePage * kHugePage + kHugePage;
    void* p =
        ::mmap(nullptr, mapped_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        throw Error("cannot allocate " + std::to_string(bytes >> 20) +
                    " MiB for the packed weights (loading without repacking needs none: "
                    "--no-repack, or ember_model_params.repack = 0)");
    }
    mapping_ = p;
    const auto address = reinterpret_cast<uintptr_t>(p);
    data_ = reinterpret_cast<uint8_t*>((address + kHugePage - 1) / kHugePage * kHugePage);
#if defined(MADV_HUGEPAGE)
    // A hint: where transparent huge pages are off, or none is free, 4 KiB pages serve.
    ::madvise(data_, mapped_bytes_ - kHugePage, MADV_HUGEPAGE);
#endif
}

HugePageBuffer::~HugePageBuffer() {
    if (mapping_ != nullptr) ::munmap(mapping_, mapped_bytes_);
}

HugePageBuffer::HugePageBuffer(HugePageBuffer&& other) noexcept
    : mapping_(std::exchange(other.mapping_, nullptr)),
      mapped_bytes_(std::exchange(other.mapped_bytes_, 0)),
      data_(std::exchange(other.data_, nullptr)) {}

HugePageBuffer& HugePageBuffer::operator=(HugePageBuffer&& other) noexcept {
    if (this != &other) {
        if (mapping_ != nullptr) ::munmap(mapping_, mapped_bytes_);
        mapping_ = std::exchange(other.mapping_, nullptr);
        mapped_bytes_ = std::exchange(other.mapped_bytes_, 0);
        data_ = std::exchange(other.data_, nullptr);
    }
    return *this;
}

}  // namespace ember
