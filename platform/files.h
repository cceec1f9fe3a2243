// Files written whole or not at all (formats/output_file.h builds on these): what a path is,
// whether two paths name one file, a new temporary file, flushing to disk and renaming over
// an existing file, as each operating system does them.
#pragma once

#include <cstdio>
#include <string>

namespace ember::platform {

enum class PathKind { Missing, Regular, Directory, Other };  // Other: a device, a pipe
PathKind path_kind(const std::string& path);

// Whether a and b are one file (same device and inode, or volume and file index), so that a
// symlink or hard link to it is recognised too. False when either does not exist.
bool same_file(const std::string& a, const std::string& b);

// Creates a new file `prefix` + a unique suffix, mode as a new file normally gets (0666 less
// the umask on POSIX), opened for binary writing; sets `path`. nullptr with `error` on failure.
std::FILE* create_temp_file(const std::string& prefix, std::string& path, std::string& error);

// Flushes the file's data to the disk (fsync, _commit); false on failure.
bool sync_file(std::FILE* file);

// Renames `from` to `to`, replacing `to` if it exists; false with `error` on failure.
bool replace_file(const std::string& from, const std::string& to, std::string& error);

// Removes a file; async-signal-safe on POSIX (unlink), for a signal handler's cleanup.
void remove_file(const char* path);

}  // namespace ember::platform
