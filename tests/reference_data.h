// llama.cpp's reference outputs in ../shared/reference: prompt ids, greedy ids and logits.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ember::test {

struct Reference {
    std::string model_path;  // the GGUF file it was made from
    std::vector<int32_t> prompt_ids;
    std::vector<int32_t> greedy_ids;
    int n_vocab = 0;
    std::vector<float> logits;  // prompt_ids.size() rows of n_vocab
    // arch/ references: how far llama.cpp itself moves when only its KV cache type changes
    // (F16 -> F32); 0 where the reference does not say.
    double spread_rms = 0, spread_top1 = 0;
    int spread_greedy_same = 0;
};

// Loads reference/DIR/NAME.json and NAME.logits.f32; the model is looked up in models/.
// DIR "arch": arch/reference/NAME.json, the model in arch/models/.
Reference load_reference(const std::string& dir, const std::string& name);

struct LogitsComparison {
    double rms = 0;             // root mean square of the difference over every value
    double max_abs = 0;         // largest absolute difference
    double top1_agreement = 0;  // fraction of rows whose argmax is the same
};

LogitsComparison compare_logits(const std::vector<float>& expected,
                                const std::vector<float>& actual, int n_vocab);

}  // namespace ember::test
