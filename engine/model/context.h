// A context runs a Model: its KV cache, scratch buffers and threads. It holds n_seq sequences
// (one conversation: 1; a server's slots: several, evaluated together by decode_sequences);
// several contexts may share one Model on different threads.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <span>
#include <vector>

#include "engine/model/kv_cache.h"
#include "engine/model/matmul.h"
#include "engine/model/model.h"
#include "engine/model/ops.h"
#include "engine/runtime/cancel_flag.h"
#include "engine/runtime/thread_pool.h"
#include "formats/error.h"

namespace ember {

// Thrown when tokens would not fit in the context.
class ContextFullError : public Error {
  public:
    explicit ContextFullError(const std::string& message) : Error(message) {}
};

// Thrown by the callers of a context (Session, Embedder) when their cancel() interrupted it.
class CancelledError : public Error {
  public:
    CancelledError() : Error("cancelled") {}
};

struct ContextParams {
    int n_ctx = 0;      // positions the KV cache holds; 0: the training context, at most 4096
    int n_threads = 0;  // 0: default_thread_count(); at most 4x the usable CPUs
    int n_batch = 512;  // most tokens evaluated in one forward pass (longer input is split)
    // F16 as llama.cpp does, F32, or Q8_0 / Q4_0 (heads of a multiple of 32 values)
    TensorType kv_type = TensorType::F16;
    // Sequences the cache holds side by side, n_ctx positions each, for continuous batching
    // (decode_sequences): the KV cache is n_seq x n_ctx positions. 1 for a single conversation.
    int n_seq = 1;
    // Run on this pool instead of a new one (n_threads is then its size): a draft model's
    // context beside its target's (engine/generate/draft.h). The two must never run at once;
    // sharing keeps a second set of threads from waiting for work on the same cores.
    std::shared_ptr<ThreadPool> pool;
    // A memory budget in bytes for the weights, the KV cache and the scratch together (0: none).
    // A default context (n_ctx 0) shrinks to the largest that fits; a context asked for that
    // does not fit is refused, saying how much would.
    uint64_t max_memory = 0;
};

// What a model and a context hold in memory, in bytes (ember inspect --memory, the load line
// of ember run, ContextParams::max_memory).
struct MemoryUse {
    uint64_t weights = 0;   // the tensors, mapped or packed (Model::resident_weight_bytes)
    uint64_t kv_cache = 0;  // 2 x attention layers x positions x KV heads x a head's row
    uint64_t state = 0;     // recurrent layers' state, per sequence
    uint64_t scratch = 0;   // a batch's activations and logits, per thread an attention tile
    uint64_t total() const { return weights + kv_cache + state + scratch; }
};
// For parameters with n_ctx, n_batch and n_threads filled in.
MemoryUse memory_use(const ModelConfig& config, uint64_t weight_bytes, const ContextParams& params);
// The bytes of a file's tensors: the weights' share.
uint64_t weight_bytes(const gguf::File& file);
// What one generated token reads of the weights: every tensor but the embedding table (one row
// of it, unless it is also the output head), and of a mixture's expert tensors only the share
// a token chooses (n_expert_used of n_expert). In a dense model nearly all of weight_bytes.
struct TokenReads {
    uint64_t params = 0;
    uint64_t bytes = 0;
};
TokenReads token_reads(const ModelConfig& config, const gguf::File& file);
// The weights a memory budget counts: every tensor's bytes, except that a mixture's experts left
// in the file's mapping (experts_mapped: ModelOptions::pack_experts off) count as the share a
// token reads, since the OS keeps only the experts in use in memory.
uint64_t resident_weight_bytes(const ModelConfig& config, const gguf::File& file,
                               bool experts_mapped);
// What load-time packing on this CPU would add to weight_bytes: the matrices of a type whose
// packing unpacks its values (kernels.h: packed_block_bytes; IQ1_M on x86). Model's own count
// after loading is Model::unpacked_bytes.
uint64_t unpacked_bytes(const gguf::File& file);

// One sequence's new tokens in a multi-sequence decode.
struct SequenceTokens {
    int seq = 0;                      // 0 .. n_seq - 1
    std::span<const int32_t> tokens;  // evaluated at positions n_past(seq) ..
    bool all_logits = false;          // logits after every token (speculation), not the last's
};

// The default context: the training context, but no more than this (as llama.cpp): a file
// trained for 131072 positions would otherwise ask for a KV cache of many GB up front.
inline constexpr int kDefaultMaxContext = 4096;
inline int default_context(const ModelConfig& config) {
    return std::min(config.n_ctx_train, kDefaultMaxContext);
}

// Sees the input of every product by a weight read through the forward pass's projections:
// the weight's tensor name and the input rows x (n, cols), as floats before any conversion
// (an importance matrix sums their squares). Once per tensor and pass, even where a fused
// tensor is read as several views.
using ActivationObserver =
    std::function<void(std::string_view weight, const float* x, int n, int64_t cols)>;

class Context {
  public:
    // Throws ember::Error for parameters out of their domain, and when the KV cache and scratch
    // would not fit in the memory available (saying what they need and what there is).
    Context(const Model& model, const ContextParams& params);

    // Evaluates `tokens` at positions n_past() .. n_past() + size - 1 and appends them to the KV
    // cache. With all_logits, logits(i) afterwards gives token i's next-token logits; without,
    // only the last token's (logits(0)). Throws ember::Error for a token outside the
    // vocabulary or a context that would overflow.
    void decode(std::span<const int32_t> tokens, bool all_logits = false);

    // Encodes whole sequences packed into one forward pass, each attending only to its own
    // tokens (causally for decoder models, all of them for encoders) from position 0, and
    // writes every token's final hidden state, n_embd floats (after the output norm for
    // decoders), to hidden: (tokens.size(), n_embd). For embeddings (engine/embed). The KV
    // cache is only scratch here: it starts empty and is left empty. lengths: each sequence's
    // token count, summing to tokens.size(), which must fit in n_ctx. Throws ember::Error.
    void encode(std::span<const int32_t> tokens, std::span<const int> lengths, float* hidden);

    // Evaluates the new tokens of several sequences in one forward pass, so that each weight
    // is read once for all of them (continuous batching: the next token of every generating
    // sequence and a chunk of a waiting prompt together). Each token attends to its own
    // sequence's cache only. Afterwards sequence_logits(i) holds the next-token logits after
    // inputs[i]'s last token (with all_logits, sequence_logits(i, j) after its token j). The
    // tokens together must fit n_batch, each sequence its context; a sequence appears at most
    // once. Throws ember::Error (ContextFullError for a full one).
    void decode_sequences(std::span<const SequenceTokens> inputs);
    const float* sequence_logits(int i) const { return logits(sequence_rows_[i + 1] - 1); }
    const float* sequence_logits(int i, int j) const { return logits(sequence_rows_[i] + j); }

    const float* logits(int i = 0) const {
        return logits_.data() + static_cast<size_t>(i) * n_vocab();
    }
    int n_logit_rows() const { return static_cast<int>(logits_.size() / n_vocab()); }
    int n_vocab() const { return model_.config().n_vocab; }

    int n_past(int seq = 0) const { return n_past_[seq]; }
    int n_ctx() const { return params_.n_ctx; }      // positions of one sequence
    int n_batch() const { return params_.n_batch; }  // most tokens of one forward pass
    int n_seq() const { return params_.n_seq; }
    int n_threads() const { return pool_.size(); }
    // The pool this context runs on, for another context to share (ContextParams::pool).
    std::shared_ptr<ThreadPool> thread_pool() const { return pool_owner_; }
    const Model& model() const { return model_; }
    MemoryUse memory() const;

    // Forgets everything from position n on (n = 0: an empty cache), of sequence 0 or seq.
    // release_memory: also give the forgotten positions' KV memory back to the system (whole
    // pages), for a long-lived context whose sequences change hands (a server's slots); they
    // become resident again as they are refilled.
    // A model with recurrent layers (lfm2's short convolutions; ModelConfig::recurrent) keeps a
    // state per sequence that no position can be taken out of: it is evaluated again from the
    // sequence's own first n tokens, which the context keeps for that.
    void truncate(int n) { truncate(0, n); }
    void truncate(int seq, int n, bool release_memory = false);

    // Context shift (as llama.cpp's): forgets positions [keep, keep + discard) of sequence seq
    // and moves the later ones down by discard, turning their cached keys' RoPE back by
    // discard positions, so that generation continues past a full context. Every RoPE kind
    // and frequency factor ember supports; the keys are rounded to the cache's type again.
    // Throws ember::Error for a model without RoPE or positions out of range. A model with
    // recurrent layers evaluates the tokens that remain again instead.
    void shift(int seq, int keep, int discard);

    // Read-only view of the KV cache (tests compare a shifted cache with a fresh one).
    const KvCache& kv_cache() const { return kv_; }
    // Saving and restoring a sequence (engine/generate/session_state.cpp): its first n cache
    // rows as bytes (KvCache::read_rows), and back, which makes n_past(seq) = n; and the
    // logits after the last token (one row of n_vocab), which a restored sequence samples
    // from without evaluating anything. Throws ember::Error for sizes that do not fit.
    // A recurrent model's state follows the rows; it is of the sequence's last position, so
    // n must be n_past(seq) there, and load_rows takes the tokens the rows are of (so the
    // sequence can be evaluated again later).
    std::vector<uint8_t> save_rows(int seq, int n) const;
    // Sequence `from`'s first n cache rows into sequence `to`, which then holds those n
    // positions (a server's choices of one prompt, evaluated once): through a buffer of 64
    // positions, not a copy of all of them. Throws ember::Error for a recurrent model (its
    // state belongs to a sequence's last position) or sizes that do not fit.
    void copy_rows(int from, int to, int n);
    void load_rows(int seq, std::span<const int32_t> tokens, std::span<const uint8_t> rows);
    // Bytes of one sequence's saved rows: n cache rows, and a recurrent model's state.
    size_t saved_bytes(int n) const;
    void set_logits(std::span<const float> logits);

    // Asked between layers: a long prompt evaluation stops (throwing ember::Error) when set.
    void set_cancel_flag(const CancelFlag* flag) { cancel_ = flag; }
    // Watch the projections' inputs (an empty function: stop). A mixture's experts are not
    // seen: their products do not go through the projections.
    void set_activation_observer(ActivationObserver observer) { observer_ = std::move(observer); }

  private:
    // One forward pass over n tokens, stored in the cache rows rows_, at the positions and
    // with the attention ranges of positions_ and attend_begin_/end_; writes the logits of the
    // batch's tokens `outputs` (indices) one row after another to out, or, with hidden, every
    // token's final hidden state.
    void forward(const int32_t* tokens, int n, std::span<const int> outputs, float* out,
                 float* hidden = nullptr);
    // Its steps (forward.cpp), in order: the embedding lookup into x_ (and each position's
    // RoPE angles), the attention block and the feed-forward block of each layer (each adds
    // its sub-layer's output to x_), then the output head's logits or the final states.
    void embed(const int32_t* tokens, int n);
    void attention_block(int layer, int n);
    void ffn_block(int layer, int n);
    void short_conv_block(int layer, int n);
    void delta_net_block(int layer, int n);
    void evaluate_again(int seq, int n);
    // Recurrent layer `slot`'s state of sequence seq (state_floats): the last n_conv - 1 inputs
    // of its convolution, (n_conv - 1, conv_channels) oldest first; then (qwen35) each value
    // head's matrix, (ssm_v_heads, ssm_head_dim keys, ssm_head_dim values).
    size_t state_at(int slot, int seq) const {
        const ModelConfig& c = model_.config();
        return (static_cast<size_t>(slot) * n_seq() + seq) * c.state_floats;
    }
    float* state(int slot, int seq) { return state_.data() + state_at(slot, seq); }
    const float* state(int slot, int seq) const { return state_.data() + state_at(slot, seq); }
    void expert_ffn(int layer, int n, const float* in);
    void output_head(std::span<const int> outputs, float* out);
    void final_states(int n, float* hidden);
    // Attention of the batch's queries over the cache rows they see -> attn_ (attention.cpp).
    void attention(int layer, int n);
    // Helpers of the steps: the model's norm of one row; W @ in for weights reading one input;
    // a block's input and the residual add of its output.
    void norm(const float* in, const float* weight, const float* bias, float* out) const;
    const float* block_input(const float* norm_weight, int n);
    void add_block_output(int n, const float* bias, const float* post_norm, const float* out_norm,
                          const float* out_norm_b);
    void project(const float* in, int n, int64_t cols,
                 std::initializer_list<std::pair<const WeightMatrix*, float*>> outs);
    ActivationObserver observer_;
    void check_tokens(std::span<const int32_t> tokens) const;

    const Model& model_;
    ContextParams params_;
    KvCache kv_;
    std::shared_ptr<ThreadPool> pool_owner_;  // its own, or one it shares (ContextParams::pool)
    ThreadPool& pool_;
    std::vector<int> n_past_;  // per sequence: positions held
    std::vector<float> logits_;
    // decode_sequences: input i's logits rows are [sequence_rows_[i], sequence_rows_[i + 1]).
    std::vector<int> sequence_rows_;
    const CancelFlag* cancel_ = nullptr;

    // Scratch, sized for n_batch tokens (names follow the forward pass).
    std::vector<float> x_;          // (n, n_embd) the residual stream
    std::vector<float> xb_;         // (n, n_embd) normalised input of a sub-layer
    std::vector<float> q_;          // (n, q_dim)
    std::vector<float> k_, v_;      // (n, kv_dim)
    std::vector<float> attn_;       // (n, q_dim) attention output, heads side by side
    std::vector<float> proj_;       // (n, n_embd) output of a sub-layer before the residual add
    std::vector<float> gate_, up_;  // (n, n_ff)
    // A mixture of experts (experts.cpp): router probabilities (n, n_expert); each token's
    // chosen experts and their weights (n, n_expert_used); one expert's tokens, their weights,
    // rows in and out (up to n, n_embd).
    std::vector<float> router_;
    std::vector<int> chosen_;
    std::vector<float> chosen_weight_;
    std::vector<int> expert_tokens_;
    std::vector<float> expert_token_weights_;
    std::vector<float> expert_in_, expert_out_;
    QuantizedActivations xq_;       // the current matmul input, converted
    std::vector<MatMulJob> jobs_;   // the current set of products (project, expert_ffn)
    std::vector<RopeAngles> rope_;  // (n) angles per position of the batch
    float rope_angles_base_ = 0, rope_angles_scale_ = 0;  // the base and scale rope_ holds
    // Per token of the batch: the cache row its keys and values go to (sequence s owns rows
    // s * n_ctx ..), its position (RoPE, learned positions), and the cache rows it attends to,
    // [attend_begin_, attend_end_): causal for generation, its own text in encode.
    std::vector<int> rows_, positions_, attend_begin_, attend_end_;
    std::vector<int> seqs_;  // (n) each token's sequence
    // Recurrent layers (lfm2, qwen35): per layer and sequence its state (state(slot, seq));
    // per sequence the tokens it holds and whether a failed pass may have left its state
    // half-updated. A pass's input projections and outputs (recurrent_in_width and _out_width
    // per token, context.cpp).
    std::vector<float> state_;
    std::vector<std::vector<int32_t>> history_;
    std::vector<bool> stale_;
    std::vector<float> mix_in_, mix_out_;
    std::vector<float> query_gate_;  // qwen35: (n, 2 q_dim) attn_q's rows, each head's q then gate
    std::vector<float> attn_gate_;   // (n, q_dim) the gates
    const float* rope_factors_;      // the model's RoPE frequency factors for this context size
    // Per thread: one KV head's cache slice in F32 and one chunk of queries (Context::attention).
    struct AttentionScratch {
        std::vector<float> keys_t;    // (head_dim, ld) keys of rows conv_begin .., transposed
        std::vector<float> values;    // (ld, head_dim) their values
        std::vector<float> key_rows;  // (new positions, head_dim): keys before the transpose
        std::vector<float> queries;   // (rows, head_dim) rows: tokens of the chunk x group heads
        std::vector<float> scores;    // (rows, ld) scores, then probabilities
        std::vector<float> out;       // (rows, head_dim)
        std::vector<uint8_t> conv;    // one row in the cache's type, for rounding to it
        // What keys_t and values hold: this layer's and KV head's rows [conv_begin, conv_end).
        int layer = -1, kv_head = -1, conv_begin = 0, conv_end = 0;
    };
    std::vector<AttentionScratch> attention_scratch_;  // one per thread
};

}  // namespace ember
