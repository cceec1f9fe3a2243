// libFuzzer target: any bytes given to the GGUF reader either parse, and then every value and
// tensor can be touched safely, or throw ember::Error. Anything else (a crash, a sanitizer
// report, another exception) is a bug.
#include <cstddef>
#include <cstdint>
#include <span>

#include "formats/error.h"
#include "formats/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        const ember::gguf::File file(std::span(data, size), "fuzz.gguf");
        size_t checksum = 0;
        for (const auto& value : file.metadata()) checksum += value.to_string(4).size();
        for (const auto& tensor : file.tensors()) {
            checksum += tensor.data[0] + tensor.data[tensor.n_bytes - 1];
        }
        if (checksum == 1) return 0;  // keeps the reads above from being optimised away
    } catch (const ember::Error&) {
    }
    return 0;
}
