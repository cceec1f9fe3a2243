// libFuzzer target: arbitrary bytes into every tokenizer ember has (SentencePiece from the
// bundled model and from llama.cpp's llama-spm vocabulary, byte-level BPE from its gpt-2 one,
// WordPiece from its bert-bge one), then back to text. Encoding never crashes and gives ids
// inside the vocabulary; decoding those ids gives the text back whenever it is valid UTF-8 and
// special tokens are not parsed (except WordPiece, which normalises: lower case, no accents).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "engine/text/tokenizer.h"
#include "formats/error.h"
#include "formats/gguf.h"
#include "fuzz/fuzz_data.h"

namespace {

struct Loaded {
    std::string name;
    std::unique_ptr<ember::gguf::File> file;
    std::unique_ptr<ember::Tokenizer> tokenizer;
};

std::vector<Loaded>& tokenizers() {
    static std::vector<Loaded> all = [] {
        std::vector<Loaded> v;
        for (const std::string& path :
             {ember::fuzz::bundled_model(),
              ember::fuzz::shared_file("vocab/ggml-vocab-llama-spm.gguf"),
              ember::fuzz::shared_file("vocab/ggml-vocab-gpt-2.gguf"),
              ember::fuzz::shared_file("vocab/ggml-vocab-bert-bge.gguf")}) {
            if (path.empty()) continue;
            Loaded l{path, std::make_unique<ember::gguf::File>(path), nullptr};
            l.tokenizer = std::make_unique<ember::Tokenizer>(*l.file);
            v.push_back(std::move(l));
        }
        return v;
    }();
    return all;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    auto& all = tokenizers();
    const Loaded& t = all[data[0] % all.size()];
    const bool add_special = (data[0] & 0x10) != 0, parse_special = (data[0] & 0x20) != 0;
    const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);

    const std::vector<int32_t> ids = t.tokenizer->encode(text, add_special, parse_special);
    for (int32_t id : ids) {
        if (id < 0 || id >= t.tokenizer->vocab().size()) {
            std::fprintf(stderr, "%s: id %d outside the vocabulary\n", t.name.c_str(), id);
            std::abort();
        }
    }
    const std::string back = t.tokenizer->decode(ids, /*special=*/false);
    // SentencePiece writes spaces as U+2581, so that character in the text comes back as a
    // space (llama.cpp's too): no round trip for it.
    const bool spm = t.tokenizer->vocab().model == "llama";
    const bool wpm = t.tokenizer->vocab().model == "bert";
    const bool round_trip = !parse_special && !add_special && !wpm &&
                            ember::fuzz::is_valid_utf8(text) &&
                            !(spm && text.find("\xE2\x96\x81") != std::string::npos);
    if (round_trip && back != text) {
        std::fprintf(stderr, "%s: round trip changed %zu bytes into %zu bytes\n", t.name.c_str(),
                     text.size(), back.size());
        std::abort();
    }
    for (int32_t id : ids) (void)t.tokenizer->piece(id, /*special=*/true);
    return 0;
}
