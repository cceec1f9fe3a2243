#include "tests/shared_data.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>

namespace ember::test {

std::filesystem::path shared_dir() {
    const char* env = std::getenv("EMBER_SHARED");
    const std::filesystem::path dir = (env && *env) ? env : EMBER_DEFAULT_SHARED_DIR;
    if (!std::filesystem::is_directory(dir / "models")) {
        throw std::runtime_error(
            "shared test data not found at '" + dir.string() +
            "' (set EMBER_SHARED to the folder holding models/ and reference/)");
    }
    return dir;
}

std::filesystem::path shared_path(std::string_view relative) {
    const std::filesystem::path path = shared_dir() / relative;
    if (!std::filesystem::exists(path)) {
        throw std::runtime_error("missing shared test file " + path.string());
    }
    return path;
}

std::vector<uint8_t> read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path.string());
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::filesystem::path temp_dir(std::string_view test_name) {
    const std::filesystem::path dir =
        std::filesystem::temp_directory_path() /
        ("ember-test-" + std::to_string(::getpid()) + "-" + std::string(test_name));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return dir;
}

}  // namespace ember::test
