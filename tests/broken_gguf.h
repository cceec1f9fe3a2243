// Broken GGUF files, each made from one good file by changing a few bytes, with the words the
// reader's error must contain. Shared by the reader's tests and the `ember inspect` tests.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

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

}  // namespace ember::test
