// A loaded model: the mapped GGUF file, its hyper-parameters, and views of every weight.
// Read-only after loading, so one Model can serve many contexts on many threads.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/llama_config.h"
#include "formats/gguf.h"
#include "kernels/kernels.h"

namespace ember {

// A weight matrix W (rows, cols) used in place from the mapping: `rows` rows of `cols` values,
// each row `row_bytes` long in its storage type. In GGUF's terms ne[0] = cols, ne[1] = rows.
struct WeightMatrix {
    const uint8_t* data = nullptr;
    TensorType type = TensorType::F32;
    int64_t rows = 0, cols = 0;
    size_t row_bytes = 0;
    const TypeKernels* kernels = nullptr;

    const uint8_t* row(int64_t r) const { return data + static_cast<size_t>(r) * row_bytes; }
};

struct LayerWeights {
    const float* attn_norm;  // (n_embd) RMSNorm weight before attention
    WeightMatrix wq;         // (q_dim, n_embd)
    WeightMatrix wk;         // (kv_dim, n_embd)
    WeightMatrix wv;         // (kv_dim, n_embd)
    WeightMatrix wo;         // (n_embd, q_dim)
    const float* ffn_norm;   // (n_embd) RMSNorm weight before the feed-forward network
    WeightMatrix w_gate;     // (n_ff, n_embd)
    WeightMatrix w_up;       // (n_ff, n_embd)
    WeightMatrix w_down;     // (n_embd, n_ff)
};

class Model {
  public:
    // Maps the file and checks every tensor the forward pass needs: present, of the expected
    // shape, of a type ember can compute with. Throws ember::Error naming the tensor.
    explicit Model(const std::string& path);

    const gguf::File& file() const { return file_; }
    const LlamaConfig& config() const { return config_; }

    WeightMatrix token_embd;   // (n_vocab, n_embd): row t is token t's embedding
    const float* output_norm;  // (n_embd)
    WeightMatrix output;       // (n_vocab, n_embd); token_embd when the file ties them
    std::vector<LayerWeights> layers;

  private:
    gguf::File file_;
    LlamaConfig config_;
};

}  // namespace ember
