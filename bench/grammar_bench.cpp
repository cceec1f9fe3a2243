// What a grammar costs the sampler on a 32000-token vocabulary (../shared/vocab's SentencePiece
// vocabulary; EMBER_SHARED to override), under a JSON schema's grammar:
//   mask/<place>:   the tokens allowed at one place, by walking the vocabulary's trie (no cache)
//   sample/<place>: one sampler step whose drawn token the grammar refuses (random logits,
//                   ember run's default chain): the best top_k allowed tokens are looked for
//                   among the best few hundred, and the vocabulary is masked only when they are
//                   not all there (in a string nearly every token is allowed; between members
//                   only a few are)
// Usage: grammar_bench (from the repository root). bench/grammar.sh gives the whole generation
// step's ratio.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <random>
#include <string>

#include "engine/grammar/json_schema.h"
#include "engine/generate/sampler.h"
#include "engine/grammar/token_grammar.h"
#include "engine/text/tokenizer.h"
#include "formats/gguf.h"

namespace {

// The places: inside a string (nearly every token may follow), and after a member's value
// (a comma, white space or the end).
const char* const kPlaces[2] = {R"({"name": "Bob the bu)", R"({"name": "Bob")"};

// The vocabulary plus one token per place whose text leads there, so that a TokenGrammar can
// be put at the place by accepting it.
struct Setup {
    Setup() {
        const char* env = std::getenv("EMBER_SHARED");
        const ember::gguf::File file(std::string(env ? env : "../shared") +
                                     "/vocab/ggml-vocab-llama-spm.gguf");
        const ember::Tokenizer tokenizer(file);
        eos = tokenizer.vocab().eos;
        std::vector<std::string> texts(static_cast<size_t>(tokenizer.vocab().size()));
        for (int32_t t = 0; t < tokenizer.vocab().size(); ++t) {
            if (!tokenizer.vocab().is_special(t)) texts[t] = tokenizer.piece(t);
        }
        n_real = static_cast<int32_t>(texts.size());
        for (const char* place : kPlaces) texts.emplace_back(place);
        vocabulary = std::make_shared<ember::GrammarVocabulary>(std::move(texts));
        grammar = ember::Grammar::parse(ember::json_schema_to_gbnf(R"({"type": "object",
            "properties": {"name": {"type": "string"}, "qty": {"type": "integer"}},
            "required": ["name", "qty"], "additionalProperties": false})"));
        std::mt19937 rng(1);
        std::normal_distribution<float> normal(0, 3);
        free_logits.resize(static_cast<size_t>(vocabulary->size()));
        for (float& l : free_logits) l = normal(rng);
        // Per place: the 40 best logits go to tokens the grammar refuses there, so the first
        // draw is always refused.
        for (int place = 0; place < 2; ++place) {
            ember::TokenGrammar g = at(place);
            std::vector<float> logits = free_logits;
            int boosted = 0;
            for (int32_t t = 0; t < n_real && boosted < 40; ++t) {
                if (!g.allows(t)) {
                    logits[t] += 20;
                    ++boosted;
                }
            }
            refused_logits[place] = std::move(logits);
        }
    }
    ember::TokenGrammar at(int place) const {
        ember::TokenGrammar g(grammar, vocabulary, {eos});
        g.accept(n_real + place);
        return g;
    }
    int32_t eos = -1, n_real = 0;
    std::shared_ptr<const ember::GrammarVocabulary> vocabulary;
    std::shared_ptr<const ember::Grammar> grammar;
    std::vector<float> free_logits, refused_logits[2];
};

const Setup& setup() {
    static const Setup s;
    return s;
}

void BM_Mask(benchmark::State& state) {
    const Setup& s = setup();
    ember::GrammarMatcher matcher(s.grammar);
    matcher.advance(kPlaces[state.range(0)]);
    std::vector<uint8_t> allowed;
    for (auto _ : state) {
        s.vocabulary->allowed(matcher, allowed);
        benchmark::DoNotOptimize(allowed.data());
    }
    int n = 0;
    for (uint8_t a : allowed) n += a;
    state.counters["allowed"] = n;
}
BENCHMARK(BM_Mask)->Arg(0)->Arg(1)->ArgNames({"place"})->Unit(benchmark::kMicrosecond);

// A fresh grammar each time: no mask cached from an earlier step.
void BM_SampleRefused(benchmark::State& state) {
    const Setup& s = setup();
    const std::vector<float>& logits = s.refused_logits[state.range(0)];
    ember::Sampler sampler{ember::SamplerParams{}};
    for (auto _ : state) {
        state.PauseTiming();
        ember::TokenGrammar grammar = s.at(static_cast<int>(state.range(0)));
        state.ResumeTiming();
        benchmark::DoNotOptimize(sampler.sample(logits.data(), s.vocabulary->size(), &grammar));
    }
}
BENCHMARK(BM_SampleRefused)->Arg(0)->Arg(1)->ArgNames({"place"})->Unit(benchmark::kMicrosecond);

// The same step without a grammar: the sampler's own cost.
void BM_SampleFree(benchmark::State& state) {
    const Setup& s = setup();
    ember::Sampler sampler{ember::SamplerParams{}};
    for (auto _ : state) {
        benchmark::DoNotOptimize(sampler.sample(s.free_logits.data(), s.vocabulary->size()));
    }
}
BENCHMARK(BM_SampleFree)->Unit(benchmark::kMicrosecond);

}  // namespace
