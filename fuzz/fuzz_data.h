// Where the fuzz targets find their models and vocabularies: the bundled model in the
// repository, and ../shared (EMBER_SHARED to point elsewhere) where present.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace ember::fuzz {

inline std::string bundled_model() {
    return std::string(EMBER_SOURCE_DIR) + "/models/stories260K.gguf";
}

// A file under the shared folder, or "" if it is not there.
inline std::string shared_file(const std::string& relative) {
    const char* env = std::getenv("EMBER_SHARED");
    const std::filesystem::path path =
        std::filesystem::path(env != nullptr ? env : EMBER_DEFAULT_SHARED_DIR) / relative;
    return std::filesystem::exists(path) ? path.string() : "";
}

// Valid UTF-8 (no overlong forms, no surrogates, at most U+10FFFF)?
inline bool is_valid_utf8(const std::string& s) {
    size_t i = 0;
    while (i < s.size()) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        int n = 0;
        uint32_t cp = 0;
        if (c < 0x80) {
            ++i;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1, cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2, cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3, cp = c & 0x07;
        } else {
            return false;
        }
        if (i + n >= s.size()) return false;
        for (int k = 1; k <= n; ++k) {
            const unsigned char d = static_cast<unsigned char>(s[i + k]);
            if ((d & 0xC0) != 0x80) return false;
            cp = cp << 6 | (d & 0x3F);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            return false;
        }
        i += n + 1;
    }
    return true;
}

}  // namespace ember::fuzz
