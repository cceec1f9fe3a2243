#include "formats/output_file.h"

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "formats/error.h"
#include "platform/files.h"

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

}  // namespace

void refuse_output_over_input(const std::string& output, std::span<const std::string> inputs) {
    for (const std::string& input : inputs) {
        if (!input.empty() && platform::same_file(output, input)) {
            throw Error("the output " + output + " is the input " + input +
                        ": writing it would destroy the input; choose another output file");
        }
    }
}

OutputFile::OutputFile(std::string path, std::span<const std::string> inputs)
    : path_(std::move(path)) {
    refuse_output_over_input(path_, inputs);
    const platform::PathKind kind = platform::path_kind(path_);
    if (kind == platform::PathKind::Directory) {
        throw FileError("cannot write " + path_ + ": it is a directory");
    }
    if (kind == platform::PathKind::Other) {
        // A device or a pipe (/dev/stdout, a FIFO): written in place, there is nothing to
        // rename over.
        file_ = std::fopen(path_.c_str(), "wb");
        if (file_ == nullptr) throw FileError("cannot open " + path_ + ": " + std::strerror(errno));
        return;
    }
    std::string error;
    file_ = platform::create_temp_file(path_ + ".tmp-", temp_path_, error);
    if (file_ == nullptr) throw FileError("cannot create " + path_ + ": " + error);
    slot_ = take_slot(temp_path_);
}

OutputFile::~OutputFile() {
    if (file_ != nullptr) {
        std::fclose(file_);
        if (!temp_path_.empty()) platform::remove_file(temp_path_.c_str());
    }
    release_slot(slot_);
}

void OutputFile::fail(const std::string& what) {
    if (file_ != nullptr) std::fclose(file_);
    file_ = nullptr;
    if (!temp_path_.empty()) platform::remove_file(temp_path_.c_str());
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
    if (!temp_path_.empty() && !platform::sync_file(file_)) fail(std::strerror(errno));
    std::FILE* f = file_;
    file_ = nullptr;
    if (std::fclose(f) != 0) fail(std::strerror(errno));
    if (temp_path_.empty()) return;
    if (std::string error; !platform::replace_file(temp_path_, path_, error)) fail(error);
    release_slot(slot_);
    slot_ = -1;
}

void remove_unfinished_outputs() {
    for (int i = 0; i < kSlots; ++i) {
        if (g_in_use[i].load()) platform::remove_file(g_paths[i]);
    }
}

}  // namespace ember
