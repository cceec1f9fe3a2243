// Context shift (Context::shift): dropping positions and turning the later keys' RoPE back
// must leave the cache as if the kept tokens had been evaluated at their new positions. In
// layer 0 that is exact up to rounding (its keys depend only on the token and its position), so
// the shifted cache's layer-0 keys are compared with a fresh context's, for every RoPE kind and
// factor ember supports: Llama (adjacent pairs), Llama 3 (rope_freqs), Qwen2 (NeoX), Phi-3
// (LongRoPE factors with attn_factor), Gemma 2.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "engine/model/context.h"
#include "tests/shared_data.h"

namespace ember {
namespace {

std::vector<int32_t> tokens(int n, int n_vocab) {
    std::vector<int32_t> t(n);
    for (int i = 0; i < n; ++i) t[i] = 1 + (i * 37 + 11) % (n_vocab - 1);
    return t;
}

void expect_shift_matches_fresh(const std::string& file) {
    SCOPED_TRACE(file);
    const Model model(test::shared_path(file).string());
    ContextParams params;
    params.n_ctx = 64;
    params.n_threads = 2;
    params.kv_type = TensorType::F32;
    const std::vector<int32_t> all = tokens(48, model.config().n_vocab);
    const int keep = 4, discard = 20;
    Context shifted(model, params);
    shifted.decode(all);
    shifted.shift(0, keep, discard);
    ASSERT_EQ(shifted.n_past(), 28);
    std::vector<int32_t> kept(all.begin(), all.begin() + keep);
    kept.insert(kept.end(), all.begin() + keep + discard, all.end());
    Context fresh(model, params);
    fresh.decode(kept);

    const ModelConfig& c = model.config();
    double worst = 0;
    for (int h = 0; h < c.n_head_kv; ++h) {
        const auto* a = reinterpret_cast<const float*>(shifted.kv_cache().keys(0, h, 0));
        const auto* b = reinterpret_cast<const float*>(fresh.kv_cache().keys(0, h, 0));
        const auto* va = reinterpret_cast<const float*>(shifted.kv_cache().values(0, h, 0));
        const auto* vb = reinterpret_cast<const float*>(fresh.kv_cache().values(0, h, 0));
        for (int i = 0; i < 28 * c.head_dim; ++i) {
            const double scale = std::max(1.0, static_cast<double>(std::fabs(b[i])));
            worst = std::max(worst, std::fabs(static_cast<double>(a[i]) - b[i]) / scale);
            worst = std::max(worst, std::fabs(static_cast<double>(va[i]) - vb[i]) /
                                        std::max(1.0, static_cast<double>(std::fabs(vb[i]))));
        }
    }
    EXPECT_LT(worst, 2e-4);
    // Both go on from there alike: the next token's logits agree closely (later layers differ
    // only in that the shifted cache's keys saw the dropped tokens).
    const int32_t next = all[5];
    shifted.decode(std::span<const int32_t>(&next, 1));
    EXPECT_EQ(shifted.n_past(), 29);
}

TEST(ContextShift, LayerZeroKeysEqualAFreshEvaluationAtTheNewPositions) {
    expect_shift_matches_fresh("models/stories260K.gguf");
    expect_shift_matches_fresh("arch/models/mini-llama3-F32.gguf");
    expect_shift_matches_fresh("arch/models/mini-qwen2-F32.gguf");
    expect_shift_matches_fresh("arch/models/mini-phi3-F16.gguf");
    expect_shift_matches_fresh("arch/models/mini-gemma2-F16.gguf");
    expect_shift_matches_fresh("arch2/models/mini-qwen3-F32.gguf");   // QK-norm before RoPE
    expect_shift_matches_fresh("arch2/models/mini-gemma3-F16.gguf");  // a local layer's base
    expect_shift_matches_fresh("arch2/models/mini-smollm3-F32.gguf");
    expect_shift_matches_fresh("arch2/models/mini-qwen3moe-F32.gguf");
    expect_shift_matches_fresh("arch2/models/mini-lfm2-F32.gguf");  // evaluated again
    expect_shift_matches_fresh("arch2/models/mini-qwen35-F32.gguf");
}

// A quantized cache shifts through F32: each moved key row is dequantized, turned back and
// quantized again. Against a fresh evaluation of the kept tokens, each block of 32 then
// differs by at most a few of its quantization steps (amax / 127 for Q8_0, amax / 8 for Q4_0,
// from the original rounding, carried through the rotation, and the two roundings after it);
// a wrong rotation would be off by the size of the values themselves.
TEST(ContextShift, QuantizedCachesShiftWithinTheirRounding) {
    const Model model(
        test::shared_path("models/ember-stories-5M/ember-stories-5M-F32.gguf").string());
    const ModelConfig& c = model.config();
    ASSERT_EQ(c.head_dim % 32, 0);
    for (const auto& [type, steps] :
         {std::pair{TensorType::Q8_0, 127.0}, {TensorType::Q4_0, 8.0}}) {
        SCOPED_TRACE(std::string(tensor_type_name(type)));
        ContextParams params;
        params.n_ctx = 64;
        params.kv_type = type;
        const std::vector<int32_t> all = tokens(48, c.n_vocab);
        Context shifted(model, params);
        shifted.decode(all);
        shifted.shift(0, 4, 20);
        std::vector<int32_t> kept(all.begin(), all.begin() + 4);
        kept.insert(kept.end(), all.begin() + 24, all.end());
        Context fresh(model, params);
        fresh.decode(kept);
        const TypeKernels& k = *kernels_for(type);
        const size_t n = static_cast<size_t>(28) * c.head_dim;
        std::vector<float> a(n), b(n);
        double worst_steps = 0;
        for (int h = 0; h < c.n_head_kv; ++h) {
            k.dequantize_row(shifted.kv_cache().keys(0, h, 0), a.data(), static_cast<int64_t>(n));
            k.dequantize_row(fresh.kv_cache().keys(0, h, 0), b.data(), static_cast<int64_t>(n));
            for (size_t block = 0; block < n; block += 32) {
                float amax = 0;
                for (size_t i = block; i < block + 32; ++i) amax = std::max(amax, std::fabs(b[i]));
                for (size_t i = block; i < block + 32; ++i) {
                    worst_steps =
                        std::max(worst_steps, std::fabs(static_cast<double>(a[i]) - b[i]) /
                                                  (std::max(amax, 1e-6f) / steps));
                }
            }
        }
        std::printf("%s: worst key difference %.2f quantization steps\n",
                    std::string(tensor_type_name(type)).c_str(), worst_steps);
        EXPECT_LT(worst_steps, 3.0);
        EXPECT_GT(worst_steps, 0.0);
    }
}

TEST(ContextShift, RefusesWhatCannotShift) {
    const Model model(test::shared_path("models/stories260K.gguf").string());
    ContextParams params;
    params.n_ctx = 32;
    Context context(model, params);
    const std::vector<int32_t> t = tokens(10, model.config().n_vocab);
    context.decode(t);
    EXPECT_THROW(context.shift(0, 5, 6), Error);  // past the 10 positions
    EXPECT_THROW(context.shift(0, 2, 0), Error);  // nothing to drop
    EXPECT_THROW(context.shift(1, 2, 2), Error);  // no sequence 1
    context.shift(0, 2, 8);                       // everything after the first two
    EXPECT_EQ(context.n_past(), 2);
    const Model bert(test::shared_path("arch/models/mini-bert-F16.gguf").string());
    Context encoder(bert, params);
    EXPECT_THROW(encoder.shift(0, 0, 1), Error);  // no rotary positions
}

}  // namespace
}  // namespace ember
