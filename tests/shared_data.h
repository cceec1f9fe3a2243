// Where the tests find ../shared (models and llama.cpp reference outputs): the environment
// variable EMBER_SHARED if set, else the folder beside the repository.
#pragma once

#include <filesystem>
#include <string_view>
#include <vector>

namespace ember::test {

// The shared folder; throws std::runtime_error with a hint if it is missing.
std::filesystem::path shared_dir();
// A file or folder inside it, which must exist.
std::filesystem::path shared_path(std::string_view relative);
// Reads a whole file (throws if it cannot).
std::vector<uint8_t> read_file(const std::filesystem::path& path);
// A fresh, empty folder under the system temp folder for one test's files.
std::filesystem::path temp_dir(std::string_view test_name);

}  // namespace ember::test
