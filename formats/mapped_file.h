// A whole file memory-mapped read-only. Weights are used in place from the mapping (or packed
// from it once, after which their pages are released), so a model is in memory once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "platform/memory.h"

namespace ember {

class MappedFile {
  public:
    // Maps `path`; throws ember::Error ("cannot open PATH: reason") on failure.
    explicit MappedFile(const std::string& path);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    std::span<const uint8_t> bytes() const { return {data_, size_}; }
    const std::string& path() const { return path_; }

    // Tells the system this process no longer needs the whole pages inside [begin, begin + size)
    // (platform::release_file_pages): they leave the resident set; reading them later faults
    // them back in from the file, so the contents never change. For weights the engine has
    // packed into its own memory.
    void release(const uint8_t* begin, size_t size) const;

  private:
    std::string path_;
    platform::FileMapping mapping_;
    const uint8_t* data_ = nullptr;
    size_t size_ = 0;
};

}  // namespace ember
