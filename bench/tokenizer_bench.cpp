// Tokenizer throughput on 1 MB of English text (the shared story, repeated), for both
// tokenizer kinds. Usage: tokenizer_bench (from the repository root; EMBER_SHARED to override
// where ../shared is). The target: well under a second per megabyte.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "engine/text/tokenizer.h"

namespace {

std::string shared_dir() {
    const char* env = std::getenv("EMBER_SHARED");
    return env ? env : "../shared";
}

std::string one_megabyte_of_text() {
    std::ifstream in(shared_dir() + "/text/story.txt", std::ios::binary);
    const std::string story{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    std::string text;
    while (!story.empty() && text.size() < 1000000) text += story;
    text.resize(1000000);
    return text;
}

void BM_Encode1MB(benchmark::State& state, const char* vocab) {
    const ember::gguf::File file(shared_dir() + "/vocab/" + vocab);
    const ember::Tokenizer tokenizer(file);
    const std::string text = one_megabyte_of_text();
    size_t n_tokens = 0;
    for (auto _ : state) {
        n_tokens = tokenizer.encode(text, false, false).size();
        benchmark::DoNotOptimize(n_tokens);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
    state.counters["tokens"] = static_cast<double>(n_tokens);
}

}  // namespace

BENCHMARK_CAPTURE(BM_Encode1MB, sentencepiece_llama2, "ggml-vocab-llama-spm.gguf")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Encode1MB, bpe_gpt2, "ggml-vocab-gpt-2.gguf")->Unit(benchmark::kMillisecond);
