// Byte-level BPE (GPT-2 style): placeholder until the BPE tokenizer lands.
#include "engine/tokenizer.h"
#include "formats/error.h"

namespace ember {

std::unique_ptr<Tokenizer::Impl> make_bpe_tokenizer(const Vocab& vocab, const gguf::File& file) {
    throw Error(file.name() + ": byte-level BPE vocabularies (tokenizer.ggml.model = gpt2) are not supported yet");
}

}  // namespace ember
