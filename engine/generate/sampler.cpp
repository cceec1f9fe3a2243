#include "engine/generate/sampler.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <sstream>
#include <string>
#include <unordered_map>

#include "engine/grammar/token_grammar.h"
#include "formats/error.h"

namespace ember {

namespace {

// Refuses parameters outside their domain: each would otherwise sample silently wrong (a
// top_p of 2 keeps everything, a penalty of 0 divides by zero, NaN spreads everywhere).
const SamplerParams& checked(const SamplerParams& p) {
    const auto in = [](float v, float lo, float hi) {
        return std::isfinite(v) && v >= lo && v <= hi;
    };
    const auto refuse = [](const char* name, float v, const char* domain) {
        throw Error(std::string("sampling: ") + name + " " + std::to_string(v) + " is outside " +
                    domain);
    };
    if (!in(p.temperature, -1e6f, 1e6f)) {
        refuse("temperature", p.temperature, "finite numbers (<= 0: greedy)");
    }
    if (!in(p.top_p, 0, 1)) refuse("top_p", p.top_p, "[0, 1]");
    if (!in(p.min_p, 0, 1)) refuse("min_p", p.min_p, "[0, 1]");
    if (!in(p.repeat_penalty, 1e-6f, 1e6f)) {
        refuse("repeat_penalty", p.repeat_penalty, "(0, 1e6] (1: off)");
    }
    if (!in(p.frequency_penalty, -1e6f, 1e6f)) {
        refuse("frequency_penalty", p.frequency_penalty, "finite numbers");
    }
    if (!in(p.presence_penalty, -1e6f, 1e6f)) {
        refuse("presence_penalty", p.presence_penalty, "finite numbers");
    }
    return p;
}

}  // namespace

Sampler::Sampler(const SamplerParams& params) : params_(checked(params)), rng_(params.seed) {}

void Sampler::reset() {
    recent_.clear();
    rng_.seed(params_.seed);
}

// "<mt19937_64 state> <count> <token> ...": the generator's standard text form (its 312 words),
// then the recent tokens.
std::string Sampler::state() const {
    std::ostringstream out;
    out << rng_ << ' ' << recent_.size();
    for (int32_t t : recent_) out << ' ' << t;
    return out.str();
}

void Sampler::set_state(std::string_view state) {
    std::istringstream in{std::string(state)};
    std::mt19937_64 rng;
    size_t count = 0;
    in >> rng >> count;
    if (!in || count > 1u << 24) throw Error("sampler state: not a saved state");
    std::deque<int32_t> recent;
    for (size_t i = 0; i < count; ++i) {
        int32_t t = 0;
        if (!(in >> t)) throw Error("sampler state: not a saved state");
        recent.push_back(t);
    }
    rng_ = rng;
    recent_ = std::move(recent);
    while (params_.repeat_last_n >= 0 && static_cast<int>(recent_.size()) > params_.repeat_last_n)
        recent_.pop_front();
}

void Sampler::accept(int32_t token) {
    if (params_.repeat_last_n <= 0) return;
    recent_.push_back(token);
    while (static_cast<int>(recent_.size()) > params_.repeat_last_n) recent_.pop_front();
}

void Sampler::apply_penalties(std::vector<Candidate>& candidates) const {
    const bool active = params_.repeat_penalty != 1.0f || params_.frequency_penalty != 0.0f ||
                        params_.presence_penalty != 0.0f;
    if (!active || recent_.empty()) return;
    std::unordered_map<int32_t, int> counts;
    for (int32_t t : recent_) ++counts[t];
    // candidates are still in id order here, so a token's candidate is candidates[token].
    for (const auto& [token, count] : counts) {
        if (token < 0 || token >= static_cast<int32_t>(candidates.size())) continue;
        float& logit = candidates[token].logit;
        logit = logit > 0 ? logit / params_.repeat_penalty : logit * params_.repeat_penalty;
        logit -= static_cast<float>(count) * params_.frequency_penalty + params_.presence_penalty;
    }
}

std::vector<float> Sampler::penalized(const float* logits, int n_vocab) const {
    std::vector<Candidate> candidates(n_vocab);
    for (int i = 0; i < n_vocab; ++i) candidates[i] = {i, logits[i]};
    apply_penalties(candidates);
    std::vector<float> out(n_vocab);
    for (int i = 0; i < n_vocab; ++i) out[i] = candidates[i].logit;
    return out;
}

void Sampler::partial_sort_best(std::vector<Candidate>& candidates, size_t keep) {
    const auto better = [](const Candidate& a, const Candidate& b) {
        return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
    };
    keep = std::min(keep, candidates.size());
    if (keep == 0) return;
    const auto front = candidates.begin() + static_cast<ptrdiff_t>(keep);
    if (keep * 64 < candidates.size()) {
        // A few of a large vocabulary (top-k's 40 of 150,000-250,000): one pass keeps the best
        // seen so far in a heap whose top is the worst of them, so nearly every candidate costs
        // one comparison; then one pass moves them to the front. nth_element's partitioning
        // passes took ~5% of a Qwen3.5-0.8B token in `ember run` (perf).
        std::vector<Candidate> best(candidates.begin(), front);
        std::make_heap(best.begin(), best.end(), better);  // (better as "less": top = worst)
        for (auto it = front; it != candidates.end(); ++it) {
            if (!better(*it, best.front())) continue;
            std::pop_heap(best.begin(), best.end(), better);
            best.back() = *it;
            std::push_heap(best.begin(), best.end(), better);
        }
        const Candidate worst = best.front();  // ids are distinct: exactly `keep` pass
        std::partition(candidates.begin(), candidates.end(),
                       [&](const Candidate& c) { return !better(worst, c); });
    } else {
        std::nth_element(candidates.begin(), front - 1, candidates.end(), better);
    }
    std::sort(candidates.begin(), front, better);
}

int32_t Sampler::sample(const float* logits, int n_vocab, TokenGrammar* grammar) {
    prepare(logits, n_vocab, false);
    const int32_t token = choose();
    if (grammar == nullptr || grammar->allows(token)) return token;
    // Refused. The chain keeps at most top_k tokens (greedy: one), the best the grammar
    // allows: look for them among the best few hundred before masking the whole vocabulary
    // (which a position inside a long string makes costly: nearly every token is allowed).
    const size_t want =
        params_.temperature <= 0 ? 1 : static_cast<size_t>(std::max(0, params_.top_k));
    if (want > 0) {
        prepare(logits, n_vocab, false);
        const size_t window = std::min(candidates_.size(), std::max<size_t>(256, 4 * want));
        partial_sort_best(candidates_, window);
        size_t kept = 0;
        for (size_t i = 0; i < window && kept < want; ++i) {
            if (grammar->allows(candidates_[i].id)) candidates_[kept++] = candidates_[i];
        }
        if (kept == want) {
            candidates_.resize(kept);
            return choose();
        }
    }
    masked_.assign(logits, logits + n_vocab);
    if (!grammar->mask(masked_.data())) return -1;
    prepare(masked_.data(), n_vocab, true);
    return choose();
}

void Sampler::prepare(const float* logits, int n_vocab, bool masked) {
    candidates_.resize(n_vocab);
    for (int i = 0; i < n_vocab; ++i) candidates_[i] = {i, logits[i]};
    apply_penalties(candidates_);
    for (const auto& [id, bias] : params_.logit_bias) {
        if (id >= 0 && id < n_vocab) candidates_[static_cast<size_t>(id)].logit += bias;
    }
    if (masked) {  // refused tokens leave the chain (the penalties needed id order until here)
        std::erase_if(candidates_, [](const Candidate& c) { return std::isinf(c.logit); });
    }
}

int32_t Sampler::choose() {
    if (params_.temperature <= 0.0f) {  // greedy: the first of the largest logits
        const auto best = std::max_element(
            candidates_.begin(), candidates_.end(),
            [](const Candidate& a, const Candidate& b) { return a.logit < b.logit; });
        return best->id;
    }

    // top-k: keep the k best, sorted.
    size_t n = candidates_.size();
    if (params_.top_k > 0) n = std::min(n, static_cast<size_t>(params_.top_k));
    // top-p needs candidates sorted until their mass reaches p; without top-k, widen a sorted
    // prefix (64, 256, ...) until it does, so the usual case sorts a few hundred tokens.
    size_t sorted = std::min(n, params_.top_k > 0 ? n : size_t{64});
    partial_sort_best(candidates_, sorted);
    const float max_logit = candidates_[0].logit;

    // Probabilities at temperature 1 over all kept candidates (llama.cpp applies top-p and
    // min-p to the untempered distribution, then the temperature).
    double total = 0;
    for (size_t i = 0; i < n; ++i) total += std::exp(candidates_[i].logit - max_logit);

    if (params_.top_p < 1.0f) {
        double mass = 0;
        size_t i = 0;
        for (;; ++i) {
            if (i == sorted) {
                if (sorted == n) break;
                sorted = std::min(n, sorted * 4);
                // everything before i is already in place; sort the next slice behind it
                std::vector<Candidate> rest(candidates_.begin() + static_cast<ptrdiff_t>(i),
                                            candidates_.end());
                partial_sort_best(rest, sorted - i);
                std::copy(rest.begin(), rest.end(),
                          candidates_.begin() + static_cast<ptrdiff_t>(i));
            }
            mass += std::exp(candidates_[i].logit - max_logit) / total;
            if (mass >= params_.top_p) {
                ++i;
                break;
            }
        }
        n = std::max<size_t>(1, std::min(n, i));
    }
    if (params_.min_p > 0.0f) {
        // p_i >= min_p * p_max  <=>  logit_i >= max_logit + log(min_p)
        const float threshold = max_logit + std::log(params_.min_p);
        size_t kept = 0;
        for (size_t i = 0; i < n; ++i) {
            if (candidates_[i].logit >= threshold) candidates_[kept++] = candidates_[i];
        }
        n = std::max<size_t>(1, kept);
    }

    // Temperature, then a draw from the renormalised distribution over the n survivors.
    probs_.resize(n);
    double sum = 0;
    for (size_t i = 0; i < n; ++i) {
        probs_[i] = std::exp((candidates_[i].logit - max_logit) / params_.temperature);
        sum += probs_[i];
    }
    std::uniform_real_distribution<double> uniform(0.0, sum);
    double r = uniform(rng_);
    for (size_t i = 0; i < n; ++i) {
        r -= probs_[i];
        if (r <= 0) return candidates_[i].id;
    }
    return candidates_[n - 1].id;
}

}  // namespace ember
