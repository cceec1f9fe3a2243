#include "formats/mapped_file.h"

#include "formats/error.h"

namespace ember {

MappedFile::MappedFile(const std::string& path) : path_(path) {
    std::string error;
    if (!platform::map_file(path, mapping_, error)) throw FileError(error);
    data_ = mapping_.data;
    size_ = mapping_.size;
}

void MappedFile::release(const uint8_t* begin, size_t size) const {
    if (begin < data_ || size > size_ || begin - data_ > static_cast<ptrdiff_t>(size_ - size))
        return;  // not ours
    platform::release_file_pages(begin, size);
}

MappedFile::~MappedFile() {
    platform::unmap_file(mapping_);
}

}  // namespace ember
