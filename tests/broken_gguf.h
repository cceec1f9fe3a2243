// Broken GGUF files, each made from one good file by changing a few bytes, with the words the
// reader's error must contain. Shared by the reader's tests and the `ember inspect` tests; and
// copies of good files with changed metadata.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "formats/gguf_writer.h"

namespace ember::test {

// A small valid GGUF file: metadata of several types, alignment 64, two tensors (F32, Q8_0).
std::vector<uint8_t> good_gguf_bytes();

struct BrokenGguf {
    std::string name;  // what is wrong, as a test label: "wrong_magic"
    std::vector<uint8_t> bytes;
    std::string expected;  // a phrase the error message must contain
};

// One file per class of damage (truncations are separate: see the tests).
std::vector<BrokenGguf> broken_gguf_cases();

// A copy of the file `in` at `out` with its metadata changed by `edit`, tensors as they are
// (a chat template added, a key made odd).
void copy_with(const std::string& in, const std::string& out,
               const std::function<void(gguf::Writer&)>& edit);

}  // namespace ember::test
