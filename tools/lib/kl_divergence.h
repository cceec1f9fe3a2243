// How far a quantized model's predictions are from the original's: the KL divergence of the
// next-token distributions, token by token, the way llama.cpp's perplexity tool measures it.
//
//   1. `ember perplexity -m F32.gguf -f TEXT --kl-divergence-base BASE.kld` scores the text as
//      usual and saves, for every scored position, the base model's log-probabilities;
//   2. `ember perplexity -m Q.gguf --kl-divergence-base BASE.kld --kl-divergence` evaluates the
//      same tokens (stored in the file) and compares: KL(base || Q), the perplexities of both,
//      how often both rank the same token first, and the change in the right token's probability.
//
// The file is llama.cpp's own layout, so either engine's base file serves the other:
//   "_logits_", int32 n_ctx, int32 n_vocab, int32 n_chunk, int32 tokens[n_chunk * n_ctx],
//   then per chunk, per scored position (n_ctx - 1 - n_ctx / 2 of them) a record of
//   2 * ceil(n_vocab / 2) + 4 uint16: float scale, float min_log_prob, then log p(i) quantized
//   as round((log p(i) - min_log_prob) / scale), over a range of at most 16 nats below the top.
// All little-endian.
#pragma once

#include <cstdint>
#include <fstream>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/model/context.h"
#include "tools/lib/perplexity.h"

namespace ember {

class OutputFile;

// uint16 values per position record for a vocabulary of n_vocab.
int log_prob_record_size(int n_vocab);

// Writes a base file while perplexity() runs (pass it as the observer), beside `path` until
// finish() renames it into place (formats/output_file.h); refuses a `path` that is one of
// `inputs`. Throws ember::Error.
class LogProbWriter {
  public:
    LogProbWriter(const std::string& path, int n_ctx, int n_vocab, std::span<const int32_t> tokens,
                  std::span<const std::string> inputs = {});
    ~LogProbWriter();  // without finish(): nothing is left under `path`
    // Observer for perplexity(): records the scored positions of one chunk.
    void add_chunk(const float* logits, int n_positions);
    // The file is complete: puts it in place.
    void finish();

  private:
    std::unique_ptr<OutputFile> out_;
    int n_vocab_;
    std::vector<uint16_t> record_;
};

// A base file, validated on open (header, sizes, token ids) and read one chunk at a time.
class LogProbReader {
  public:
    LogProbReader(const std::string& path, int n_vocab);  // throws ember::Error

    int n_ctx() const { return n_ctx_; }
    int n_chunks() const { return n_chunks_; }
    std::span<const int32_t> tokens() const { return tokens_; }
    // The records of chunk c (must be read in order): n_ctx - 1 - n_ctx/2 of them.
    const std::vector<uint16_t>& read_chunk();

  private:
    std::string path_;
    std::ifstream in_;
    int n_ctx_ = 0, n_vocab_ = 0, n_chunks_ = 0;
    std::vector<int32_t> tokens_;
    std::vector<uint16_t> chunk_;
};

struct KlDivergenceResult {
    size_t count = 0;               // positions compared
    double ppl = 0, ppl_error = 0;  // of the model under test
    double ppl_base = 0, ppl_base_error = 0;
    double log_ppl_ratio = 0, log_ppl_ratio_error = 0;  // ln(PPL(Q) / PPL(base))
    double kld_mean = 0, kld_error = 0;
    double same_top = 0, same_top_error = 0;  // fraction of positions with the same argmax
    double p_diff_rms = 0;                    // RMS of p(right token) - p_base(right token)
    double p_diff_mean = 0;
    std::vector<float> kld_sorted;     // per position, ascending (for percentiles)
    std::vector<float> p_diff_sorted;  // per position, ascending
};

// Evaluates the base file's chunks with `context` (whose size must be at least the file's n_ctx)
// and compares. progress(done, total, running KLD mean).
KlDivergenceResult kl_divergence(Context& context, LogProbReader& base, int32_t bos,
                                 const PerplexityProgress& progress = {});

// The value at `fraction` (0..1) of sorted values, interpolating between neighbours.
float percentile(const std::vector<float>& sorted, double fraction);

}  // namespace ember
