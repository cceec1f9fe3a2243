// The architectures' pieces one by one (the whole forward pass of each is checked against
// llama.cpp in engine_reference_test): what the loader reads from a file, its errors for a
// file that lacks something, RoPE's two layouts, GELU, and every synth shape loading and
// running in its architecture.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <set>

#include "engine/model/context.h"
#include "engine/model/model.h"
#include "engine/model/ops.h"
#include "formats/error.h"
#include "formats/gguf_writer.h"
#include "kernels/fp16.h"
#include "tests/shared_data.h"
#include "tools/lib/synth.h"

namespace ember {
namespace {

std::string arch_model(const std::string& name) {
    return test::shared_path("arch/models/" + name + ".gguf").string();
}

// A copy of a GGUF file with some metadata and tensors changed: edit_metadata may set or
// remove keys (after every key is copied), skip names tensors left out, extra adds tensors.
std::string edited_copy(const std::string& source, const std::string& name,
                        const std::function<void(gguf::Writer&)>& edit_metadata,
                        const std::set<std::string>& skip = {},
                        const std::function<void(gguf::Writer&)>& extra = {}) {
    const gguf::File in(source);
    gguf::Writer w;
    for (const gguf::Value& v : in.metadata()) w.copy(v);
    if (edit_metadata) edit_metadata(w);
    for (const gguf::TensorInfo& t : in.tensors()) {
        if (skip.count(std::string(t.name)) != 0) continue;
        const std::span<const uint64_t> ne(t.ne.data(), t.n_dims);
        const std::vector<uint8_t> bytes(t.data, t.data + t.n_bytes);
        w.add_tensor(std::string(t.name), t.type, ne, bytes);
    }
    if (extra) extra(w);
    const auto path = test::temp_dir("architecture-test") / (name + ".gguf");
    w.write(path.string());
    return path.string();
}

std::string load_error(const std::string& path) {
    try {
        const Model model(path);
    } catch (const Error& e) {
        return e.what();
    }
    return "(loaded)";
}

TEST(Architectures, ConfigReadsEachFamilysMetadata) {
    const Model gemma2(arch_model("mini-gemma2-F16"));
    const ModelConfig& g = gemma2.config();
    EXPECT_EQ(g.arch->name, "gemma2");
    EXPECT_EQ(g.head_dim, 64);  // attention.key_length, not n_embd / n_head = 32
    EXPECT_EQ(g.q_dim(), 256);
    ASSERT_EQ(g.layers.size(), static_cast<size_t>(g.n_layer));
    EXPECT_EQ(g.layers[0].window, 16);  // even layers see a window, odd ones everything
    EXPECT_EQ(g.layers[1].window, 0);
    EXPECT_EQ(g.sliding_window, 16);
    EXPECT_FLOAT_EQ(g.layers[1].rope_freq_base, g.rope_freq_base);
    EXPECT_FLOAT_EQ(g.attn_softcap, 50.0f);
    EXPECT_FLOAT_EQ(g.final_softcap, 30.0f);
    EXPECT_FLOAT_EQ(g.query_scale, 0.125f);
    EXPECT_EQ(gemma2.output.data, gemma2.token_embd.data);  // always tied
    EXPECT_NE(gemma2.layers[0].attn_post_norm, nullptr);

    const Model phi3(arch_model("mini-phi3-F16"));
    const ModelConfig& p = phi3.config();
    for (const LayerSpec& layer : p.layers) EXPECT_EQ(layer.window, p.sliding_window);
    EXPECT_GT(p.sliding_window, 0);
    EXPECT_FLOAT_EQ(p.rope_attn_factor, 1.19f);
    EXPECT_EQ(p.rope_n_ctx_orig, 256);
    // The fused matrices as row views: Q, K, V one after the other; gate rows, then up rows.
    const LayerWeights& l = phi3.layers[0];
    EXPECT_EQ(l.wq.rows, 256);
    EXPECT_EQ(l.wk.data, l.wq.data + 256 * l.wq.row_bytes);
    EXPECT_EQ(l.wv.data, l.wk.data + 256 * l.wk.row_bytes);
    EXPECT_EQ(l.w_up.data, l.w_gate.data + 768 * l.w_gate.row_bytes);
    // LongRoPE: the short factors up to the original context, the long ones beyond it.
    EXPECT_EQ(phi3.rope_factors_for(256), phi3.rope_factors_short);
    EXPECT_EQ(phi3.rope_factors_for(257), phi3.rope_factors_long);
    EXPECT_NE(phi3.rope_factors_short, phi3.rope_factors_long);

    const Model qwen2(arch_model("mini-qwen2-F32"));
    EXPECT_NE(qwen2.layers[2].bk, nullptr);
    EXPECT_EQ(qwen2.config().arch->rope, RopeKind::NeoX);
    const Model llama3(arch_model("mini-llama3-F32"));
    EXPECT_NE(llama3.rope_freqs, nullptr);
    EXPECT_EQ(llama3.rope_factors_for(1 << 20), llama3.rope_freqs);
    EXPECT_EQ(llama3.layers[0].bq, nullptr);  // optional for llama
}

// A longer context than phi3's original one switches to the long factors, which changes
// the logits (as it does in llama.cpp).
// The 2025-2026 families (../shared/arch2): gemma3's five local layers to one global, each with
// its RoPE; smollm3's layers without RoPE; qwen3's heads wider than n_embd / n_head.
TEST(Architectures, LayerSpecsOfTheNewerFamilies) {
    const auto arch2 = [](const std::string& name) {
        return test::shared_path("arch2/models/" + name + ".gguf").string();
    };
    const Model gemma3(arch2("mini-gemma3-F16"));
    const ModelConfig& g = gemma3.config();
    ASSERT_EQ(g.layers.size(), 6u);
    for (int l = 0; l < 5; ++l) {
        EXPECT_EQ(g.layers[l].window, 16) << l;
        EXPECT_FLOAT_EQ(g.layers[l].rope_freq_base, 10000.0f) << l;
        EXPECT_FLOAT_EQ(g.layers[l].rope_freq_scale, 1.0f) << l;
    }
    EXPECT_EQ(g.layers[5].window, 0);
    EXPECT_FLOAT_EQ(g.layers[5].rope_freq_base, 1e6f);
    EXPECT_FLOAT_EQ(g.layers[5].rope_freq_scale, 0.125f);
    EXPECT_FLOAT_EQ(g.attn_softcap, 0.0f);
    EXPECT_NE(gemma3.layers[0].attn_q_norm, nullptr);

    const Model smollm3(arch2("mini-smollm3-F32"));
    const ModelConfig& s3 = smollm3.config();
    ASSERT_EQ(s3.layers.size(), 4u);
    EXPECT_TRUE(s3.layers[0].rope && s3.layers[1].rope && s3.layers[2].rope);
    EXPECT_FALSE(s3.layers[3].rope);

    const Model qwen3(arch2("mini-qwen3-F32"));
    EXPECT_EQ(qwen3.config().q_dim(), 128);  // 2 heads of 64 over n_embd 256
    EXPECT_EQ(qwen3.config().arch->rope, RopeKind::NeoX);
    EXPECT_NE(qwen3.layers[1].attn_k_norm, nullptr);

    // qwen3moe: 8 experts of 32 (expert_feed_forward_length; feed_forward_length 512 is the
    // unused dense width), 2 per token, each a slice of the 3-D tensors.
    const Model moe(arch2("mini-qwen3moe-F32"));
    EXPECT_EQ(moe.config().n_expert, 8);
    EXPECT_EQ(moe.config().n_expert_used, 2);
    EXPECT_EQ(moe.config().n_ff, 32);
    ASSERT_EQ(moe.layers[0].experts.size(), 8u);
    EXPECT_EQ(moe.layers[0].experts[0].gate.rows, 32);
    EXPECT_EQ(moe.layers[0].experts[0].down.cols, 32);
    EXPECT_EQ(moe.layers[0].experts[1].up.data,
              moe.layers[0].experts[0].up.data + 32 * moe.layers[0].experts[0].up.row_bytes);
    EXPECT_EQ(moe.layers[0].w_down.data, nullptr);
}

// Recurrent layers keep a state per sequence: going back means evaluating the kept
// tokens again (Context::truncate), which must give exactly what the first pass gave, also
// after a pass that failed half-way, and in a sequence beside others.
void expect_recurrent_state_goes_back(const Model& model) {
    const ModelConfig& c = model.config();
    ASSERT_TRUE(c.recurrent());
    std::vector<int32_t> tokens;
    for (int i = 0; i < 24; ++i) tokens.push_back(1 + (i * 37) % 500);
    const std::span<const int32_t> all(tokens);
    const int n_vocab = c.n_vocab;
    const auto logits_after = [&](const Context& ctx) {
        return std::vector<float>(ctx.logits(), ctx.logits() + n_vocab);
    };
    ContextParams p;
    p.n_ctx = 64;
    p.n_batch = 8;  // several passes per prompt
    Context ctx(model, p);
    ctx.decode(all);
    const std::vector<float> first = logits_after(ctx);
    ctx.truncate(13);
    EXPECT_EQ(ctx.n_past(), 13);
    ctx.decode(all.subspan(13));
    EXPECT_EQ(logits_after(ctx), first);

    // A pass cancelled half-way, then the sequence taken back to what it held.
    CancelFlag cancel;
    cancel.raise();
    ctx.truncate(20);
    ctx.set_cancel_flag(&cancel);
    EXPECT_THROW(ctx.decode(all.subspan(20)), Error);
    ctx.set_cancel_flag(nullptr);
    ctx.truncate(20);
    ctx.decode(all.subspan(20));
    EXPECT_EQ(logits_after(ctx), first);
    // ... or decoded on at once: the half-updated state is rebuilt first.
    ctx.truncate(20);
    ctx.set_cancel_flag(&cancel);
    EXPECT_THROW(ctx.decode(all.subspan(20)), Error);
    ctx.set_cancel_flag(nullptr);
    EXPECT_EQ(ctx.n_past(), 20);
    ctx.decode(all.subspan(20));
    EXPECT_EQ(logits_after(ctx), first);

    // Sequence 1 of two, the other one busy with other tokens.
    ContextParams q = p;
    q.n_seq = 2;
    q.n_batch = 32;
    Context two(model, q);
    const std::vector<int32_t> other(10, 7);
    two.decode_sequences(std::vector<SequenceTokens>{{0, other}, {1, all.first(16)}});
    two.truncate(1, 5);
    two.decode_sequences(std::vector<SequenceTokens>{{1, all.subspan(5)}});
    const float* l = two.sequence_logits(0);
    const std::vector<float> beside(l, l + n_vocab);
    ASSERT_EQ(beside.size(), first.size());
    for (size_t i = 0; i < first.size(); ++i) ASSERT_NEAR(beside[i], first[i], 1e-4) << i;
}

TEST(Architectures, RecurrentStateGoesBackByEvaluatingAgain) {
    const Model lfm2(test::shared_path("arch2/models/mini-lfm2-F32.gguf").string());
    const ModelConfig& c = lfm2.config();
    EXPECT_EQ(c.n_recurrent_layers, 3);
    EXPECT_EQ(c.n_attention_layers, 1);
    EXPECT_EQ(c.layers[2].kind, LayerKind::Attention);
    EXPECT_EQ(c.layers[3].kind, LayerKind::ShortConv);
    EXPECT_EQ(c.n_head_kv, 2);
    expect_recurrent_state_goes_back(lfm2);

    // qwen35: DeltaNet on layers 0-2, attention on 3; a state of the convolution's window over
    // q, k, v (3 x 256) and 4 value heads' 32 x 32 matrices.
    const Model qwen35(test::shared_path("arch2/models/mini-qwen35-F32.gguf").string());
    const ModelConfig& q = qwen35.config();
    EXPECT_EQ(q.layers[0].kind, LayerKind::DeltaNet);
    EXPECT_EQ(q.layers[3].kind, LayerKind::Attention);
    EXPECT_EQ(q.n_attention_layers, 1);
    EXPECT_EQ(q.state_floats, 3 * 256 + 4 * 32 * 32);
    EXPECT_EQ(q.n_rot, 16);
    expect_recurrent_state_goes_back(qwen35);
}

// Real Qwen3.5 files count their multi-token-prediction layer in block_count
// (nextn_predict_layers) and may list the recurrent layers; either way the same four layers run.
TEST(Architectures, Qwen35ReadsItsLayerKeys) {
    const std::string source = test::shared_path("arch2/models/mini-qwen35-F32.gguf").string();
    const std::vector<int32_t> prompt = {1, 20, 30, 40, 50};
    const auto last_logits = [&](const std::string& path) {
        const Model model(path);
        EXPECT_EQ(model.config().n_layer, 4);
        EXPECT_EQ(model.config().layers[2].kind, LayerKind::DeltaNet);
        EXPECT_EQ(model.config().layers[3].kind, LayerKind::Attention);
        ContextParams p;
        p.n_ctx = 32;
        Context ctx(model, p);
        ctx.decode(prompt);
        return std::vector<float>(ctx.logits(), ctx.logits() + model.config().n_vocab);
    };
    const std::vector<float> plain = last_logits(source);
    EXPECT_EQ(last_logits(edited_copy(source, "qwen35-nextn",
                                      [](gguf::Writer& w) {
                                          w.set_u32("qwen35.block_count", 5);
                                          w.set_u32("qwen35.nextn_predict_layers", 1);
                                      })),
              plain);
    EXPECT_EQ(last_logits(edited_copy(source, "qwen35-flags",
                                      [](gguf::Writer& w) {
                                          const std::vector<int32_t> flags = {1, 1, 1, 0};
                                          w.set_array_i32("qwen35.attention.recurrent_layers",
                                                          flags);
                                      })),
              plain);
    EXPECT_EQ(last_logits(edited_copy(source, "qwen35-bools",
                                      [](gguf::Writer& w) {
                                          const uint8_t flags[] = {1, 1, 1, 0, 0};
                                          w.set_u32("qwen35.block_count", 5);
                                          w.set_u32("qwen35.nextn_predict_layers", 1);
                                          w.set_array("qwen35.attention.recurrent_layers",
                                                      gguf::ValueType::BOOL, flags, 5);
                                      })),
              plain);
}

TEST(Architectures, LongRopeFactorsFollowTheContextSize) {
    const Model phi3(arch_model("mini-phi3-F16"));
    const std::vector<int32_t> prompt = {1, 20, 30, 40, 50, 60, 70, 80};
    ContextParams short_ctx, long_ctx;
    short_ctx.n_ctx = 256;
    long_ctx.n_ctx = 512;
    Context a(phi3, short_ctx), b(phi3, long_ctx);
    a.decode(prompt);
    b.decode(prompt);
    double diff = 0;
    for (int i = 0; i < phi3.config().n_vocab; ++i)
        diff += std::fabs(a.logits()[i] - b.logits()[i]);
    EXPECT_GT(diff, 1.0);
}

TEST(Architectures, UnknownArchitectureNamesTheSupportedOnes) {
    const std::string path = edited_copy(arch_model("mini-qwen2-Q8_0"), "mamba", [](auto& w) {
        w.set_string("general.architecture", "mamba");
    });
    EXPECT_NE(
        load_error(path).find(
            "architecture 'mamba' is not supported (ember runs: llama, qwen2, qwen3, "
            "qwen3moe, qwen35, phi3, gemma, gemma2, gemma3, smollm3, lfm2, bert, nomic-bert)"),
        std::string::npos)
        << load_error(path);
}

TEST(Architectures, MissingOrMisshapedTensorsAreNamed) {
    struct Case {
        std::string model, name;
        std::set<std::string> skip;
        std::function<void(gguf::Writer&)> extra;
        std::string expected;
    };
    const uint64_t eight[] = {8};
    const std::vector<uint8_t> eight_floats(32, 0);
    const std::vector<Case> cases = {
        {"mini-qwen2-Q8_0",
         "no-bias",
         {"blk.1.attn_k.bias"},
         {},
         "missing tensor 'blk.1.attn_k.bias'"},
        {"mini-phi3-Q8_0",
         "no-qkv",
         {"blk.2.attn_qkv.weight"},
         {},
         "missing tensor 'blk.2.attn_qkv.weight'"},
        {"mini-gemma2-Q8_0",
         "no-post-norm",
         {"blk.3.post_ffw_norm.weight"},
         {},
         "missing tensor 'blk.3.post_ffw_norm.weight'"},
        {"mini-llama3-Q8_0",
         "short-rope-freqs",
         {"rope_freqs.weight"},
         [&](gguf::Writer& w) {
             w.add_tensor("rope_freqs.weight", TensorType::F32, eight, eight_floats);
         },
         "tensor 'rope_freqs.weight' has shape [8], expected [16]"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        const std::string path = edited_copy(arch_model(c.model), c.name, {}, c.skip, c.extra);
        EXPECT_NE(load_error(path).find(c.expected), std::string::npos) << load_error(path);
    }
}

TEST(Architectures, MissingMetadataIsNamed) {
    const std::string no_caps =
        edited_copy(arch_model("mini-gemma2-Q8_0"), "no-caps",
                    [](gguf::Writer& w) { w.remove("gemma2.final_logit_softcapping"); });
    EXPECT_NE(load_error(no_caps).find("final_logit_softcapping must be positive"),
              std::string::npos)
        << load_error(no_caps);
    // mini-phi3 is not one of the Phi-3 releases whose window llama.cpp knows without the key.
    const std::string no_window =
        edited_copy(arch_model("mini-phi3-Q8_0"), "no-window",
                    [](gguf::Writer& w) { w.remove("phi3.attention.sliding_window"); });
    EXPECT_NE(load_error(no_window).find("missing metadata phi3.attention.sliding_window"),
              std::string::npos)
        << load_error(no_window);
    std::filesystem::remove_all(std::filesystem::path(no_window).parent_path());
}

// Hostile or broken metadata of the hybrid and mixture families: an error naming the key,
// never a crash or an allocation of what the file claims.
TEST(Architectures, HybridAndMixtureMetadataOutOfRangeIsNamed) {
    const std::string lfm2 = test::shared_path("arch2/models/mini-lfm2-F32.gguf").string();
    const std::string qwen35 = test::shared_path("arch2/models/mini-qwen35-F32.gguf").string();
    const std::string moe = test::shared_path("arch2/models/mini-qwen3moe-F32.gguf").string();
    struct Case {
        std::string source, name;
        std::function<void(gguf::Writer&)> edit;
        std::string expected;
    };
    const std::vector<int32_t> short_kv = {0, 2}, negative_kv = {0, -1, 2, 0},
                               mixed_kv = {0, 2, 1, 0};
    const std::vector<Case> cases = {
        {lfm2, "kv-short",
         [&](auto& w) { w.set_array_i32("lfm2.attention.head_count_kv", short_kv); },
         "is an array, which a lfm2 model of 4 layers cannot use"},
        {lfm2, "kv-negative",
         [&](auto& w) { w.set_array_i32("lfm2.attention.head_count_kv", negative_kv); },
         "head_count_kv[1] = -1 is out of range"},
        {lfm2, "kv-mixed",
         [&](auto& w) { w.set_array_i32("lfm2.attention.head_count_kv", mixed_kv); },
         "different KV head counts are not supported"},
        {lfm2, "conv-huge", [](auto& w) { w.set_u32("lfm2.shortconv.l_cache", 1000000); },
         "lfm2.shortconv.l_cache = 1000000 is out of range"},
        {qwen35, "state-huge", [](auto& w) { w.set_u32("qwen35.ssm.state_size", 1u << 20); },
         "qwen35.ssm.state_size = 1048576 is out of range"},
        {qwen35, "heads-odd", [](auto& w) { w.set_u32("qwen35.ssm.time_step_rank", 3); },
         "the DeltaNet's heads do not fit together"},
        {qwen35, "nextn-all", [](auto& w) { w.set_u32("qwen35.nextn_predict_layers", 4); },
         "nextn_predict_layers = 4 leaves no layer of 4"},
        {qwen35, "flags-string",
         [](auto& w) { w.set_string("qwen35.attention.recurrent_layers", "all"); },
         "must be an array of a flag per layer"},
        {moe, "experts-used", [](auto& w) { w.set_u32("qwen3moe.expert_used_count", 9); },
         "expert_used_count 9 of expert_count 8 is out of range"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        const std::string error = load_error(edited_copy(c.source, c.name, c.edit));
        EXPECT_NE(error.find(c.expected), std::string::npos) << error;
    }
}

TEST(Rope, AdjacentAndNeoXPairsWithFactors) {
    RopeAngles angles;
    const float factors[] = {1.0f, 4.0f};
    angles.compute(3, 4, 100.0f, 0.5f, factors, 2.0f);
    // Pair i's angle: pos * freq_scale * base^(-2i / n_rot) / factor_i; scaled by attn_factor.
    const float angle[] = {3 * 0.5f, 3 * 0.5f * 0.1f / 4.0f};
    for (int i = 0; i < 2; ++i) {
        EXPECT_NEAR(angles.cos[i], 2.0f * std::cos(angle[i]), 1e-6f);
        EXPECT_NEAR(angles.sin[i], 2.0f * std::sin(angle[i]), 1e-6f);
    }
    const float x[] = {1, 2, 3, 4, 5};  // n_rot 4 of a head of 5: the last value passes
    const auto rotated = [&](int a, int b, int i) {
        return std::pair{x[a] * angles.cos[i] - x[b] * angles.sin[i],
                         x[a] * angles.sin[i] + x[b] * angles.cos[i]};
    };
    float adjacent[5] = {1, 2, 3, 4, 5}, neox[5] = {1, 2, 3, 4, 5};
    rope_rotate(adjacent, angles, RopeKind::Adjacent);
    rope_rotate(neox, angles, RopeKind::NeoX);
    const auto [a0, a1] = rotated(0, 1, 0);
    const auto [a2, a3] = rotated(2, 3, 1);
    const auto [n0, n2] = rotated(0, 2, 0);
    const auto [n1, n3] = rotated(1, 3, 1);
    EXPECT_FLOAT_EQ(adjacent[0], a0);
    EXPECT_FLOAT_EQ(adjacent[1], a1);
    EXPECT_FLOAT_EQ(adjacent[2], a2);
    EXPECT_FLOAT_EQ(adjacent[3], a3);
    EXPECT_FLOAT_EQ(neox[0], n0);
    EXPECT_FLOAT_EQ(neox[2], n2);
    EXPECT_FLOAT_EQ(neox[1], n1);
    EXPECT_FLOAT_EQ(neox[3], n3);
    EXPECT_EQ(adjacent[4], 5.0f);
    EXPECT_EQ(neox[4], 5.0f);
}

TEST(Gelu, TanhApproximationThroughF16AsLlamaCpp) {
    std::vector<float> gate, up;
    for (float v = -12.0f; v <= 12.0f; v += 0.37f) gate.push_back(v);
    up.assign(gate.size(), 2.0f);
    std::vector<float> out = gate;
    gelu_mul(out.data(), up.data(), static_cast<int64_t>(out.size()));
    for (size_t i = 0; i < gate.size(); ++i) {
        const float g = gate[i];
        float expected;
        if (g <= -10.0f) {
            expected = 0.0f;
        } else if (g >= 10.0f) {
            expected = g;
        } else {  // the formula on the F16 value of g, the result rounded to F16
            const float h = fp16_to_f32(f32_to_fp16(g));
            const float gelu =
                0.5f * h * (1.0f + std::tanh(0.7978845608f * h * (1.0f + 0.044715f * h * h)));
            expected = fp16_to_f32(f32_to_fp16(gelu));
        }
        EXPECT_FLOAT_EQ(out[i], expected * 2.0f) << "gate " << g;
    }
}

TEST(SoftCap, BoundsValuesByTheCap) {
    float x[] = {0.0f, 1.0f, -1000.0f, 1000.0f};
    soft_cap(x, 4, 30.0f);
    EXPECT_EQ(x[0], 0.0f);
    EXPECT_NEAR(x[1], 30.0f * std::tanh(1.0f / 30.0f), 30e-6f);
    EXPECT_FLOAT_EQ(x[2], -30.0f);
    EXPECT_FLOAT_EQ(x[3], 30.0f);
}

// Every shape `ember synth` knows, in its own architecture's tensors (one layer, the 512-token
// vocabulary of stories260K so the files stay small), loads and decodes.
TEST(SynthShapes, EveryShapeLoadsAndRunsInItsArchitecture) {
    const gguf::File vocab(std::string(EMBER_SOURCE_DIR) + "/models/stories260K.gguf");
    const auto dir = test::temp_dir("synth-shapes");
    for (const ModelShape& shape : known_shapes()) {
        SCOPED_TRACE(shape.name);
        SynthOptions options;
        options.vocab = &vocab;
        options.n_layer_override = 1;
        const std::string path = (dir / (shape.name + ".gguf")).string();
        write_synthetic_model(shape, options, path);
        const Model model(path);
        const ModelConfig& c = model.config();
        EXPECT_EQ(c.arch->name, shape.arch);
        EXPECT_EQ(c.n_embd, shape.n_embd);
        EXPECT_EQ(c.head_dim, shape.head_dim > 0 ? shape.head_dim : shape.n_embd / shape.n_head);
        EXPECT_EQ(model.rope_freqs != nullptr, shape.rope_freqs);
        ContextParams params;
        params.n_ctx = 64;
        Context context(model, params);
        const int32_t prompt[] = {1, 100, 200};
        if (c.arch->encoder) {  // no output head: the final hidden states
            EXPECT_EQ(model.output.data, nullptr);
            const int lengths[] = {3};
            std::vector<float> hidden(3 * static_cast<size_t>(c.n_embd));
            context.encode(prompt, lengths, hidden.data());
            for (float v : hidden) ASSERT_TRUE(std::isfinite(v));
        } else {
            EXPECT_EQ(model.output.data == model.token_embd.data, shape.tied_embeddings);
            context.decode(prompt);
            const float* logits = context.logits();
            for (int i = 0; i < c.n_vocab; ++i) ASSERT_TRUE(std::isfinite(logits[i]));
        }
        std::filesystem::remove(path);
    }
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ember
