// FNV-1a, 64 bits (Fowler, Noll and Vo; the offset basis and prime of the published
// algorithm): a model's fingerprint and a saved session's checksum. Not cryptographic: it
// detects accidents (a truncated or damaged file, the wrong model), not tampering.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ember {

inline constexpr uint64_t kFnvOffsetBasis = 0xcbf29ce484222325ull;

inline uint64_t fnv1a(const void* data, size_t n, uint64_t hash = kFnvOffsetBasis) {
    const auto* bytes = static_cast<const uint8_t*>(data);
    for (size_t i = 0; i < n; ++i) hash = (hash ^ bytes[i]) * 0x100000001b3ull;
    return hash;
}

}  // namespace ember
