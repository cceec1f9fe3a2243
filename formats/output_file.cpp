#include "formats/output_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "formats/error.h"

namespace ember {
namespace {

// Temporary paths of the outputs being written, for the signal handler: fixed storage, a slot
// taken and released with atomics (no allocation, no lock in the handler).
constexpr int kSlots = 16;
constexpr size_t kPathMax = 4096;
char g_paths[kSlots][kPathMax];
std::atomic<bool> g_in_use[kSlots];

int take_slot(const std::string& path) {
    if (path.size() >= kPathMax) return -1;
    for (int i = 0; i < kSlots; ++i) {
        bool expected = false;
        if (g_in_use[i].load() || !g_in_use[i].compare_exchange_strong(expected, true)) continue;
        std::memcpy(g_paths[i], path.c_str(), path.size() + 1);
        std::atomic_signal_fence(std::memory_order_seq_cst);
        return i;
    }
    return -1;  // more than kSlots at once: still written safely, only not removed on a signal
}

void release_slot(int slot) {
    if (slot >= 0) g_in_use[slot].store(false);
}

bool same_file(const std::string& a, const std::string& b) {
    struct stat sa, sb;
    if (::stat(a.c_str(), &sa) != 0 || ::stat(b.c_str(), &sb) != 0) return false;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

}  // namespace

void refuse_output_over_input(const std::string& output, std::span<const std::string> inputs) {
    for (const std::string& input : inputs) {
        if (!input.empty() && same_file(output, input)) {
            throw Error("the output " + output + " is the input " + input +
                        ": writing it would destroy the input; choose another output file");
        }
    }
}

OutputFile::OutputFile(std::string path, std::span<const std::string> inputs)
    : path_(std::move(path)) {
    refuse_output_over_input(path_, inputs);
    struct stat st;
    const bool exists = ::stat(path_.c_str(), &st) == 0;
    if (exists && S_ISDIR(st.st_mode)) {
        throw FileError("cannot write " + path_ + ": it is a directory");
    }
    if (exists && !S_ISREG(st.st_mode)) {
        // A device or a pipe (/dev/stdout, a FIFO): written in place, there is nothing to
        // rename over.
        file_ = std::fopen(path_.c_str(), "wb");
        if (file_ == nullptr) throw FileError("cannot open " + path_ + ": " + std::strerror(errno));
        return;
    }
    std::string temp = path_ + ".tmp-XXXXXX";
    const int fd = ::mkstemp(temp.data());
    if (fd < 0) throw FileError("cannot create " + path_ + ": " + std::strerror(errno));
    temp_path_ = temp;
    // mkstemp makes the file 0600; give it the usual mode for new files (0666 less the umask).
    const mode_t mask = ::umask(0);
    ::umask(mask);
    ::fchmod(fd, 0666 & ~mask);
    file_ = ::fdopen(fd, "wb");
    if (file_ == nullptr) {
        const int err = errno;
        ::close(fd);
        ::unlink(temp_path_.c_str());
        throw FileError("cannot create " + path_ + ": " + std::strerror(err));
    }
    slot_ = take_slot(temp_path_);
}

OutputFile::~OutputFile() {
    if (file_ != nullptr) {
        std::fclose(file_);
        if (!temp_path_.empty()) ::unlink(temp_path_.c_str());
    }
    release_slot(slot_);
}

void OutputFile::fail(const std::string& what) {
    if (file_ != nullptr) std::fclose(file_);
    file_ = nullptr;
    if (!temp_path_.empty()) ::unlink(temp_path_.c_str());
    release_slot(slot_);
    slot_ = -1;
    throw FileError("cannot write " + path_ + ": " + what);
}

void OutputFile::write(const void* data, size_t n) {
    if (file_ == nullptr) throw FileError("cannot write " + path_ + ": already closed");
    if (n != 0 && std::fwrite(data, 1, n, file_) != n) fail(std::strerror(errno));
}

void OutputFile::commit() {
    if (file_ == nullptr) throw FileError("cannot write " + path_ + ": already closed");
    if (std::fflush(file_) != 0) fail(std::strerror(errno));
    // On disk before it takes the final name (a crash then leaves the old file, not a hole).
    if (!temp_path_.empty() && ::fsync(::fileno(file_)) != 0) fail(std::strerror(errno));
    std::FILE* f = file_;
    file_ = nullptr;
    if (std::fclose(f) != 0) fail(std::strerror(errno));
    if (temp_path_.empty()) return;
    if (::rename(temp_path_.c_str(), path_.c_str()) != 0) fail(std::strerror(errno));
    release_slot(slot_);
    slot_ = -1;
}

void remove_unfinished_outputs() {
    for (int i = 0; i < kSlots; ++i) {
        if (g_in_use[i].load()) ::unlink(g_paths[i]);
    }
}

}  // namespace ember
