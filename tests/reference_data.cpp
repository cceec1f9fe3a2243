#include "tests/reference_data.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "tests/shared_data.h"

namespace ember::test {

Reference load_reference(const std::string& dir, const std::string& name) {
    const bool arch = dir == "arch" || dir == "arch2";  // ../shared/arch*/{reference,models}
    const auto base = arch ? shared_path(dir + "/reference") : shared_path("reference/" + dir);
    std::ifstream json_file(base / (name + ".json"));
    const auto json = nlohmann::json::parse(json_file);
    Reference r;
    const std::string model = json["model"].get<std::string>();
    const auto models = arch ? shared_path(dir + "/models") : shared_path("models");
    for (const auto& entry : std::filesystem::recursive_directory_iterator(models)) {
        if (entry.path().filename() == model) r.model_path = entry.path().string();
    }
    if (r.model_path.empty())
        throw std::runtime_error("no model " + model + " in " + models.string());
    r.prompt_ids = json["prompt_ids"].get<std::vector<int32_t>>();
    r.greedy_ids = json["greedy_ids"].get<std::vector<int32_t>>();
    r.n_vocab = json["n_vocab"].get<int>();
    if (json.contains("llamacpp_kv_f32_spread")) {
        const auto& spread = json["llamacpp_kv_f32_spread"];
        r.spread_rms = spread["rms"].get<double>();
        r.spread_top1 = spread["top1"].get<double>();
        r.spread_greedy_same = spread["greedy_same"].get<int>();
    }
    const auto bytes = read_file(base / (name + ".logits.f32"));
    r.logits.resize(bytes.size() / sizeof(float));
    std::memcpy(r.logits.data(), bytes.data(), r.logits.size() * sizeof(float));
    if (r.logits.size() != r.prompt_ids.size() * static_cast<size_t>(r.n_vocab)) {
        throw std::runtime_error(name + ": logits size does not match the prompt");
    }
    return r;
}

LogitsComparison compare_logits(const std::vector<float>& expected,
                                const std::vector<float>& actual, int n_vocab) {
    if (expected.size() != actual.size()) throw std::runtime_error("logits of different sizes");
    LogitsComparison c;
    double squares = 0;
    for (size_t i = 0; i < expected.size(); ++i) {
        const double diff = static_cast<double>(expected[i]) - actual[i];
        squares += diff * diff;
        c.max_abs = std::max(c.max_abs, std::fabs(diff));
    }
    c.rms = std::sqrt(squares / static_cast<double>(expected.size()));
    const size_t rows = expected.size() / n_vocab;
    size_t agree = 0;
    for (size_t r = 0; r < rows; ++r) {
        const auto e = expected.begin() + static_cast<ptrdiff_t>(r * n_vocab);
        const auto a = actual.begin() + static_cast<ptrdiff_t>(r * n_vocab);
        agree += std::max_element(e, e + n_vocab) - e == std::max_element(a, a + n_vocab) - a;
    }
    c.top1_agreement = static_cast<double>(agree) / static_cast<double>(rows);
    return c;
}

}  // namespace ember::test
