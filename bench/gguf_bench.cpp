// How long opening and validating a GGUF file takes (metadata and tensor directory; the tensor
// data is mapped, not read). Usage: gguf_bench, with EMBER_BENCH_MODEL=FILE to choose the file.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <string>

#include "formats/gguf.h"

static void BM_OpenAndValidate(benchmark::State& state) {
    const char* env = std::getenv("EMBER_BENCH_MODEL");
    const std::string path = env ? env : "models/stories260K.gguf";
    for (auto _ : state) {
        const ember::gguf::File file(path);
        benchmark::DoNotOptimize(file.tensors().size());
    }
}
BENCHMARK(BM_OpenAndValidate)->Unit(benchmark::kMicrosecond);
