// A loaded model: the mapped GGUF file, its hyper-parameters, and views of every weight.
// Read-only after loading, so one Model can serve many contexts on many threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/model/config.h"
#include "engine/runtime/page_buffer.h"
#include "formats/gguf.h"
#include "kernels/kernels.h"

namespace ember {

// A weight matrix W (rows, cols) used in place from the mapping: `rows` rows of `cols` values,
// each row `row_bytes` long in its storage type. In GGUF's terms ne[0] = cols, ne[1] = rows.
// With load-time packing, `packed` holds rows 0 .. 8 * (rows / 8) again as groups of 8 rows in
// the kernels' own layout (kernels.h, Pack8Fn), each group packed_group_bytes() long (8 *
// row_bytes but for a type the kernels unpack); the few rows past the last whole group are
// only in the mapping.
struct WeightMatrix {
    const uint8_t* data = nullptr;
    TensorType type = TensorType::F32;
    int64_t rows = 0, cols = 0;
    size_t row_bytes = 0;
    const TypeKernels* kernels = nullptr;
    const uint8_t* packed = nullptr;
    std::string_view name;  // the file's tensor name (a fused tensor's views share it)

    const uint8_t* row(int64_t r) const { return data + static_cast<size_t>(r) * row_bytes; }
    size_t packed_group_bytes() const {
        return ember::packed_group_bytes(*kernels, cols, row_bytes);
    }
    const uint8_t* packed_group(int64_t g) const {
        return packed + static_cast<size_t>(g) * packed_group_bytes();
    }
};

struct ModelOptions {
    // Pack the weight matrices at load time into the layout of this CPU's panel kernels, where
    // it has one (x86 with AVX2, aarch64): generation reads the packed copy, and the mapped pages
    // of the packed tensors are released, so memory stays about the file's size. Off: every kernel
    // reads the mapping in place.
    bool repack = true;
    // With repack: pack a mixture's experts too. Off, they stay in the file's mapping, where the
    // OS keeps in memory the experts tokens choose and may drop the others under pressure, so a
    // memory budget counts only what a token reads of them (context.h: resident_weight_bytes; the
    // tools turn it off under --max-memory). Dense models are unaffected.
    bool pack_experts = true;
    // With repack: let a type whose packing unpacks its values (IQ1_M on x86 with VNNI, 1.36x
    // its bytes) take that memory. Off (the tools under --max-memory), and by itself where the
    // packed copy would not fit the memory this machine has available, such matrices stay in
    // the mapping, read by their row kernels.
    bool unpack = true;
};

// One expert of a mixture of experts: a SwiGLU network of its own, slice e of the file's 3-D
// tensors (ffn_gate_exps [n_embd, n_ff, n_expert] holds each expert's (n_ff, n_embd) matrix in
// turn), so each expert is packed, and read, on its own.
struct ExpertWeights {
    WeightMatrix gate;  // (n_ff, n_embd)
    WeightMatrix up;    // (n_ff, n_embd)
    WeightMatrix down;  // (n_embd, n_ff)
};

// One block's weights. Optional tensors are nullptr when the file has none; a fused matrix
// of the file (phi3's attn_qkv, ffn_up with the gate rows) is split here into views of its rows,
// so the forward pass never sees it.
struct LayerWeights {
    const float* attn_norm;     // (n_embd) RMSNorm weight before attention (encoders: nullptr)
    WeightMatrix wq;            // (q_dim, n_embd)
    WeightMatrix wk;            // (kv_dim, n_embd)
    WeightMatrix wv;            // (kv_dim, n_embd)
    WeightMatrix wo;            // (n_embd, q_dim)
    const float* bq = nullptr;  // (q_dim) optional biases of the projections (qwen2: required)
    const float* bk = nullptr;  // (kv_dim)
    const float* bv = nullptr;  // (kv_dim)
    const float* bo = nullptr;  // (n_embd)
    const float* attn_q_norm = nullptr;  // (head_dim) QK-norm (qwen3, gemma3): RMSNorm weights of
    const float* attn_k_norm = nullptr;  // each query and key head
    const float* attn_post_norm = nullptr;  // (n_embd) gemma2: RMSNorm of the attention output
    // Encoders (post-norm): LayerNorm of x after the attention's residual add, and after the
    // feed-forward network's (the file's attn_output_norm and layer_output_norm).
    const float* attn_out_norm = nullptr;
    const float* attn_out_norm_b = nullptr;
    const float* ffn_out_norm = nullptr;
    const float* ffn_out_norm_b = nullptr;
    const float* ffn_norm;          // (n_embd) RMSNorm weight before the FFN (encoders: nullptr)
    WeightMatrix w_gate;            // (n_ff, n_embd); none (data nullptr) in a plain FFN (BERT)
    WeightMatrix w_up;              // (n_ff, n_embd)
    WeightMatrix w_down;            // (n_embd, n_ff)
    const float* b_gate = nullptr;  // (n_ff) optional biases
    const float* b_up = nullptr;    // (n_ff)
    const float* b_down = nullptr;  // (n_embd)
    const float* ffn_post_norm = nullptr;  // (n_embd) gemma2: RMSNorm of the FFN output
    // A mixture of experts (no w_gate, w_up, w_down): the router, W (n_expert, n_embd), whose
    // softmax picks the experts of each token, and the experts.
    WeightMatrix router;
    std::vector<ExpertWeights> experts;
    // A recurrent layer (no attention weights). lfm2's short convolution: in_proj gives B, C
    // and x, the depthwise kernel mixes the last n_conv values of B * x per channel, out_proj
    // maps back. qwen35's Gated DeltaNet: attn_qkv gives q, k and v, which the kernel mixes
    // (then SiLU) before the delta rule; ssm_out maps the heads' outputs back.
    WeightMatrix conv_in;                // (3 n_embd or conv_channels, n_embd)
    const float* conv_kernel = nullptr;  // (conv_channels, n_conv): a channel's taps, oldest first
    WeightMatrix conv_out;               // (n_embd, n_embd or ssm_value_dim)
    WeightMatrix ssm_z;                  // (ssm_value_dim, n_embd) attn_gate: the output gate
    WeightMatrix ssm_beta;               // (ssm_v_heads, n_embd): each head's write strength
    WeightMatrix ssm_alpha;              // (ssm_v_heads, n_embd): each head's decay, with
    const float* ssm_dt_bias = nullptr;  // (ssm_v_heads) its bias and
    const float* ssm_a = nullptr;        // (ssm_v_heads) its scale, -exp(A_log)
    const float* ssm_norm = nullptr;     // (ssm_head_dim) RMSNorm weight of each head's output
};

class Model {
  public:
    // Maps the file and checks every tensor the forward pass needs: present, of the expected
    // shape, of a type ember can compute with. Throws ember::Error naming the tensor.
    explicit Model(const std::string& path, const ModelOptions& options = {});

    const gguf::File& file() const { return file_; }
    // Names this model's file for saved sessions: FNV-1a of the file size, its header
    // (metadata and tensor table) and 64 bytes from each of up to 16 tensors spread over the
    // file. Two files that differ only in weights elsewhere share it; the wrong model almost
    // never does. Computed on first use (saving or loading a session), then kept.
    uint64_t fingerprint() const;
    const ModelConfig& config() const { return config_; }
    // True when a mixture's experts are read from the file's mapping (not packed).
    bool experts_mapped() const { return experts_mapped_; }
    // What packing added beyond the file's bytes: a type whose packing unpacks its values
    // (IQ1_M on x86, kernels.h: packed_block_bytes); 0 for every other type.
    uint64_t unpacked_bytes() const { return unpacked_bytes_; }

    WeightMatrix token_embd;   // (n_vocab, n_embd): row t is token t's embedding
    const float* output_norm;  // (n_embd); nullptr for encoders
    WeightMatrix output;       // (n_vocab, n_embd); token_embd when the file ties them; none
                               // (data nullptr) for encoders, which make no logits
    // Encoders: row 0 of token_types (every text is "sentence A"), added to each embedding;
    // learned positions (BERT; position p's row); the LayerNorm after the embeddings.
    std::vector<float> token_type0;
    WeightMatrix position_embd;  // (n_ctx_train, n_embd)
    const float* embd_norm = nullptr;
    const float* embd_norm_b = nullptr;
    std::vector<LayerWeights> layers;

    // RoPE frequency factors (n_rot / 2), dividing each pair's angle, or nullptr: Llama 3.1+
    // files carry rope_freqs; phi3 files (LongRoPE) a short and a long set, chosen by the
    // context size (rope_factors_for).
    const float* rope_freqs = nullptr;
    const float* rope_factors_short = nullptr;
    const float* rope_factors_long = nullptr;
    const float* rope_factors_for(int n_ctx) const {
        if (rope_freqs != nullptr) return rope_freqs;
        return n_ctx > config_.rope_n_ctx_orig ? rope_factors_long : rope_factors_short;
    }

  private:
    void pack_weights(bool experts, bool unpack);

    gguf::File file_;
    ModelConfig config_;
    PageBuffer packed_;  // every packed matrix, each 64-byte aligned
    bool experts_mapped_ = false;
    uint64_t unpacked_bytes_ = 0;
    // fingerprint(), once computed (0: not yet; threads that race compute the same value).
    mutable std::atomic<uint64_t> fingerprint_{0};
};

}  // namespace ember
