#include "tools/lib/kl_divergence.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "formats/error.h"
#include "formats/output_file.h"

namespace ember {
namespace {

constexpr char kMagic[8] = {'_', 'l', 'o', 'g', 'i', 't', 's', '_'};
constexpr float kRange = 16;  // nats below the most likely token that a record resolves

// Round half to even (as the file's writer in llama.cpp does), for 0 <= x <= 65535.
int nearest_int(float x) {
    return static_cast<int>(std::nearbyint(x));
}

struct LogSoftmax {
    float max;          // largest logit
    int argmax;         // its index (the first on ties)
    float log_sum_exp;  // log sum exp(logit - max)
};

LogSoftmax log_softmax(const float* logits, int n_vocab) {
    LogSoftmax r{logits[0], 0, 0};
    for (int i = 1; i < n_vocab; ++i) {
        if (logits[i] > r.max) {
            r.max = logits[i];
            r.argmax = i;
        }
    }
    double sum = 0;
    for (int i = 0; i < n_vocab; ++i) sum += std::exp(logits[i] - r.max);
    r.log_sum_exp = static_cast<float>(std::log(sum));
    return r;
}

// One position's log-probabilities as a record: log p(i) ~ scale * q(i) + min_log_prob with
// q in 0..65535 spanning the top kRange nats; everything below reads as the bottom.
void encode_record(const float* logits, int n_vocab, uint16_t* record) {
    const LogSoftmax ls = log_softmax(logits, n_vocab);
    float min = *std::min_element(logits, logits + n_vocab);
    min = std::max(min, ls.max - kRange);
    const float scale = (ls.max - min) / 65535.f;
    const float min_log_prob = min - ls.max - ls.log_sum_exp;
    std::memcpy(record, &scale, 4);
    std::memcpy(record + 2, &min_log_prob, 4);
    uint16_t* q = record + 4;
    std::fill(q, q + (log_prob_record_size(n_vocab) - 4), uint16_t{0});
    if (scale == 0) return;
    const float inv_scale = 1 / scale;
    for (int i = 0; i < n_vocab; ++i) {
        if (logits[i] > min)
            q[i] = static_cast<uint16_t>(nearest_int(inv_scale * (logits[i] - min)));
    }
}

struct PositionStats {
    double nll, nll_base, kld;
    bool same_top;
    float p_diff;
};

// Compares the model's logits at one position with the base record; `token` is the right one.
PositionStats compare(const float* logits, int n_vocab, const uint16_t* record, int32_t token) {
    float scale, min_log_prob;
    std::memcpy(&scale, record, 4);
    std::memcpy(&min_log_prob, record + 2, 4);
    const uint16_t* q = record + 4;
    const LogSoftmax ls = log_softmax(logits, n_vocab);
    PositionStats s{};
    s.nll = ls.max + ls.log_sum_exp - logits[token];
    s.nll_base = -(scale * q[token] + min_log_prob);
    // KL(base || model) = sum_i p_base(i) (log p_base(i) - log p(i)); terms whose base
    // probability is below e^-16 are dropped (the record cannot resolve them).
    double kld = 0;
    int argmax_base = 0;
    float best_base = 0;
    for (int i = 0; i < n_vocab; ++i) {
        const float log_p_base = scale * q[i] + min_log_prob;
        if (i == 0 || log_p_base > best_base) {
            best_base = log_p_base;
            argmax_base = i;
        }
        if (log_p_base > -kRange) {
            const float log_p = logits[i] - ls.max - ls.log_sum_exp;
            kld += std::exp(log_p_base) * (log_p_base - log_p);
        }
    }
    s.kld = kld;
    s.same_top = argmax_base == ls.argmax;
    s.p_diff = std::exp(static_cast<float>(-s.nll)) - std::exp(static_cast<float>(-s.nll_base));
    return s;
}

// Mean and its standard error from a sum, a sum of squares and a count.
std::pair<double, double> mean_and_error(double sum, double sum2, size_t n) {
    if (n == 0) return {0, 0};
    const double mean = sum / n;
    const double variance = sum2 / n - mean * mean;
    return {mean, variance > 0 && n > 10 ? std::sqrt(variance / (n - 1)) : 0};
}

}  // namespace

int log_prob_record_size(int n_vocab) {
    return 2 * ((n_vocab + 1) / 2) + 4;
}

LogProbWriter::LogProbWriter(const std::string& path, int n_ctx, int n_vocab,
                             std::span<const int32_t> tokens, std::span<const std::string> inputs)
    : out_(std::make_unique<OutputFile>(path, inputs)),
      n_vocab_(n_vocab),
      record_(static_cast<size_t>(log_prob_record_size(n_vocab))) {
    const int32_t n_chunks = static_cast<int32_t>(tokens.size() / static_cast<size_t>(n_ctx));
    const int32_t header[3] = {n_ctx, n_vocab, n_chunks};
    out_->write(kMagic, 8);
    out_->write(header, sizeof(header));
    out_->write(tokens.data(), static_cast<size_t>(n_chunks) * n_ctx * 4);
}

LogProbWriter::~LogProbWriter() = default;

void LogProbWriter::add_chunk(const float* logits, int n_positions) {
    for (int p = 0; p < n_positions; ++p) {
        encode_record(logits + static_cast<size_t>(p) * n_vocab_, n_vocab_, record_.data());
        out_->write(record_.data(), record_.size() * 2);
    }
}

void LogProbWriter::finish() {
    out_->commit();
}

LogProbReader::LogProbReader(const std::string& path, int n_vocab)
    : path_(path), in_(path, std::ios::binary) {
    if (!in_) throw Error(path + ": " + "cannot open");
    char magic[8];
    int32_t header[3];
    in_.read(magic, 8);
    in_.read(reinterpret_cast<char*>(header), sizeof(header));
    if (!in_ || std::memcmp(magic, kMagic, 8) != 0) {
        throw Error(path + ": " +
                    "not a log-probability file (written by perplexity --kl-divergence-base)");
    }
    n_ctx_ = header[0];
    n_vocab_ = header[1];
    n_chunks_ = header[2];
    if (n_ctx_ < 4 || n_ctx_ > (1 << 24) || n_chunks_ < 1 || n_chunks_ > (1 << 24)) {
        throw Error(path + ": " + "implausible header: n_ctx " + std::to_string(n_ctx_) + ", " +
                    std::to_string(n_chunks_) + " chunks");
    }
    if (n_vocab_ != n_vocab) {
        throw Error(path + ": " + "written for a vocabulary of " + std::to_string(n_vocab_) +
                    " tokens; this model has " + std::to_string(n_vocab));
    }
    const uint64_t positions = static_cast<uint64_t>(n_ctx_ - 1 - n_ctx_ / 2);
    const uint64_t expected = 20 + 4ull * n_ctx_ * n_chunks_ +
                              2ull * n_chunks_ * positions * log_prob_record_size(n_vocab_);
    const uint64_t size = std::filesystem::file_size(path);
    if (size != expected) {
        throw Error(path + ": " + "is " + std::to_string(size) + " bytes; its header promises " +
                    std::to_string(expected));
    }
    tokens_.resize(static_cast<size_t>(n_ctx_) * n_chunks_);
    in_.read(reinterpret_cast<char*>(tokens_.data()),
             static_cast<std::streamsize>(tokens_.size() * 4));
    for (size_t i = 0; i < tokens_.size(); ++i) {
        if (tokens_[i] < 0 || tokens_[i] >= n_vocab_) {
            throw Error(path + ": " + "token " + std::to_string(i) + " is " +
                        std::to_string(tokens_[i]) + ", outside the vocabulary");
        }
    }
    chunk_.resize(positions * log_prob_record_size(n_vocab_));
}

const std::vector<uint16_t>& LogProbReader::read_chunk() {
    in_.read(reinterpret_cast<char*>(chunk_.data()),
             static_cast<std::streamsize>(chunk_.size() * 2));
    if (!in_) throw Error(path_ + ": " + "truncated while reading log-probabilities");
    const size_t record = static_cast<size_t>(log_prob_record_size(n_vocab_));
    for (size_t at = 0; at < chunk_.size(); at += record) {
        float scale, min_log_prob;
        std::memcpy(&scale, &chunk_[at], 4);
        std::memcpy(&min_log_prob, &chunk_[at + 2], 4);
        if (!std::isfinite(scale) || scale < 0 || !std::isfinite(min_log_prob) ||
            min_log_prob > 0) {
            throw Error(path_ + ": " + "a log-probability record has an invalid scale or offset");
        }
    }
    return chunk_;
}

float percentile(const std::vector<float>& sorted, double fraction) {
    if (sorted.empty()) return 0;
    if (fraction <= 0) return sorted.front();
    if (fraction >= 1) return sorted.back();
    const double at = fraction * static_cast<double>(sorted.size() - 1);
    const size_t i = static_cast<size_t>(at);
    const double t = at - static_cast<double>(i);
    return static_cast<float>((1 - t) * sorted[i] + t * sorted[std::min(i + 1, sorted.size() - 1)]);
}

KlDivergenceResult kl_divergence(Context& context, LogProbReader& base, int32_t bos,
                                 const PerplexityProgress& progress) {
    const int n_ctx = base.n_ctx();
    if (context.n_ctx() < n_ctx) {
        throw Error("the base file was computed with chunks of " + std::to_string(n_ctx) +
                    " tokens; the context holds " + std::to_string(context.n_ctx()));
    }
    const int n_vocab = context.n_vocab();
    const int first = n_ctx / 2;
    const size_t record = static_cast<size_t>(log_prob_record_size(n_vocab));
    double sum_nll = 0, sum_nll2 = 0, sum_base = 0, sum_base2 = 0, sum_nll_base = 0;
    double sum_kld = 0, sum_kld2 = 0, sum_p_diff = 0, sum_p_diff2 = 0;
    size_t same_top = 0;
    KlDivergenceResult r;
    for (int c = 0; c < base.n_chunks(); ++c) {
        const auto chunk = base.tokens().subspan(static_cast<size_t>(c) * n_ctx, n_ctx);
        const std::vector<uint16_t>& records = base.read_chunk();
        const float* scored = evaluate_chunk(context, chunk, bos);
        for (int pos = first; pos < n_ctx - 1; ++pos) {
            const PositionStats s =
                compare(scored + static_cast<size_t>(pos - first) * n_vocab, n_vocab,
                        records.data() + static_cast<size_t>(pos - first) * record, chunk[pos + 1]);
            sum_nll += s.nll;
            sum_nll2 += s.nll * s.nll;
            sum_base += s.nll_base;
            sum_base2 += s.nll_base * s.nll_base;
            sum_nll_base += s.nll * s.nll_base;
            sum_kld += s.kld;
            sum_kld2 += s.kld * s.kld;
            sum_p_diff += s.p_diff;
            sum_p_diff2 += static_cast<double>(s.p_diff) * s.p_diff;
            same_top += s.same_top;
            r.kld_sorted.push_back(static_cast<float>(s.kld));
            r.p_diff_sorted.push_back(s.p_diff);
        }
        if (progress)
            progress(c + 1, base.n_chunks(), sum_kld / static_cast<double>(r.kld_sorted.size()));
    }
    const size_t n = r.kld_sorted.size();
    r.count = n;
    const auto [log_ppl, log_ppl_error] = mean_and_error(sum_nll, sum_nll2, n);
    const auto [log_base, log_base_error] = mean_and_error(sum_base, sum_base2, n);
    r.ppl = std::exp(log_ppl);
    r.ppl_error = r.ppl * log_ppl_error;
    r.ppl_base = std::exp(log_base);
    r.ppl_base_error = r.ppl_base * log_base_error;
    // The two log-perplexities are strongly correlated: the ratio's error uses their covariance.
    const double covariance =
        n < 10 ? 0
               : (sum_nll_base / n - (sum_nll / n) * (sum_base / n)) / static_cast<double>(n - 1);
    r.log_ppl_ratio = log_ppl - log_base;
    r.log_ppl_ratio_error = std::sqrt(std::max(
        0.0, log_ppl_error * log_ppl_error + log_base_error * log_base_error - 2 * covariance));
    std::tie(r.kld_mean, r.kld_error) = mean_and_error(sum_kld, sum_kld2, n);
    r.same_top = static_cast<double>(same_top) / static_cast<double>(n);
    r.same_top_error =
        n > 1 ? std::sqrt(r.same_top * (1 - r.same_top) / static_cast<double>(n - 1)) : 0;
    r.p_diff_mean = sum_p_diff / static_cast<double>(n);
    r.p_diff_rms = std::sqrt(sum_p_diff2 / static_cast<double>(n));
    std::sort(r.kld_sorted.begin(), r.kld_sorted.end());
    std::sort(r.p_diff_sorted.begin(), r.p_diff_sorted.end());
    return r;
}

}  // namespace ember
