// Files ember writes (quantized models, synthetic models, logits, KL-divergence bases) are
// written beside their final name and renamed into place only when complete, so a failed or
// interrupted run never leaves a partial file under the final name, and an output that names
// one of the command's own inputs is refused before anything is written (writing over a
// mapped input would truncate it under the reader: SIGBUS and a lost file).
#pragma once

#include <cstdio>
#include <span>
#include <string>

namespace ember {

class OutputFile {
  public:
    // Creates the temporary file `path.tmp-XXXXXX` in the target's folder (a device or pipe
    // that exists, such as /dev/stdout, is written in place). Throws FileError if it cannot,
    // and Error if `path` resolves to one of `inputs` (same device and inode, so a symlink or
    // hard link to an input is caught too).
    explicit OutputFile(std::string path, std::span<const std::string> inputs = {});
    ~OutputFile();  // removes the temporary file unless commit() succeeded
    OutputFile(const OutputFile&) = delete;
    OutputFile& operator=(const OutputFile&) = delete;

    const std::string& path() const { return path_; }

    // Appends bytes; throws FileError (naming the final path) on a write error, a full disk
    // included.
    void write(const void* data, size_t n);
    // Flushes, closes and renames the file into place; throws FileError on failure (and
    // removes the temporary file).
    void commit();

  private:
    [[noreturn]] void fail(const std::string& what);

    std::string path_, temp_path_;
    std::FILE* file_ = nullptr;
    int slot_ = -1;  // in the table remove_unfinished_outputs() reads
};

// Throws ember::Error if `output` resolves to the same file as any of `inputs` (only inputs
// that exist are compared).
void refuse_output_over_input(const std::string& output, std::span<const std::string> inputs);

// Removes the temporary files of every OutputFile not yet committed. Async-signal-safe: for a
// SIGINT/SIGTERM handler that then ends the process.
void remove_unfinished_outputs();

}  // namespace ember
