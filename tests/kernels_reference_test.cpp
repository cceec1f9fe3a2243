// The scalar reference kernels: dequantization equals llama.cpp's bit for bit (the files in
// ../shared/reference/dequant), and every dot product equals "dequantize both rows, then a
// float dot product" within a bound derived below.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "formats/gguf.h"
#include "kernels/blocks.h"
#include "kernels/fp16.h"
#include "kernels/kernels.h"
#include "tests/kernel_check.h"
#include "tests/shared_data.h"

namespace ember {
namespace {

TEST(Fp16, EveryHalfRoundTripsThroughFloat) {
    for (uint32_t h = 0; h < 65536; ++h) {
        const float f = fp16_to_f32(static_cast<fp16_t>(h));
        if (std::isnan(f)) continue;
        ASSERT_EQ(f32_to_fp16(f), h) << "half 0x" << std::hex << h;
    }
}

TEST(Fp16, NarrowingRoundsToNearestEvenLikeTheHardware) {
    std::mt19937 rng(1);
    std::uniform_int_distribution<uint32_t> bits;
    for (int i = 0; i < 1000000; ++i) {
        const float f = f32_from_bits(bits(rng));
        if (std::isnan(f)) continue;
        const _Float16 hw = static_cast<_Float16>(f);  // the compiler's own conversion
        fp16_t expected;
        std::memcpy(&expected, &hw, 2);
        ASSERT_EQ(f32_to_fp16(f), expected) << f;
    }
    EXPECT_EQ(f32_to_fp16(65519.0f), 0x7bff);  // rounds down to the largest half, 65504
    EXPECT_EQ(f32_to_fp16(65520.0f), 0x7c00);  // ties away from 65504 to infinity (even)
    EXPECT_EQ(f32_to_fp16(std::ldexp(1.0f, -25)), 0x0000);  // half the smallest subnormal: even
    EXPECT_EQ(f32_to_fp16(std::ldexp(3.0f, -25)), 0x0002);  // 1.5 units: up to even
}

TEST(Bf16, NarrowingRoundsToNearestEven) {
    EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
    EXPECT_EQ(f32_to_bf16(f32_from_bits(0x3f808000)), 0x3f80);  // tie, even stays
    EXPECT_EQ(f32_to_bf16(f32_from_bits(0x3f818000)), 0x3f82);  // tie, odd rounds up
    EXPECT_EQ(bf16_to_f32(0xc000), -2.0f);
    EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::nanf("")))));
}

// ---- dequantization against llama.cpp ----

// Every tensor an index of ../shared/reference/dequant lists, dequantized, against ggml's
// output, counting them in n_checked.
void check_dequantization(const std::string& index_name, size_t& n_checked) {
    const auto dir = test::shared_path("reference/dequant");
    std::ifstream index_file(dir / index_name);
    const auto index = nlohmann::json::parse(index_file);
    for (const auto& [ref_name, entry] : index.items()) {
        SCOPED_TRACE(ref_name);
        const gguf::File file(
            test::shared_path("models/mini/" + entry["file"].get<std::string>()).string());
        const gguf::TensorInfo* t = file.find_tensor(entry["tensor"].get<std::string>());
        ASSERT_NE(t, nullptr);
        ASSERT_EQ(tensor_type_name(t->type), entry["type"].get<std::string>());
        const TypeKernels* k = reference_kernels(t->type);
        ASSERT_NE(k, nullptr);

        std::vector<float> ours(t->n_elements);
        const uint64_t bytes_per_row = row_bytes(t->type, t->ne[0]);
        for (uint64_t r = 0; r < t->n_rows(); ++r) {
            k->dequantize_row(t->data + r * bytes_per_row, ours.data() + r * t->ne[0],
                              static_cast<int64_t>(t->ne[0]));
        }
        const auto expected = test::read_file(dir / ref_name);
        ASSERT_EQ(expected.size(), ours.size() * sizeof(float));
        size_t mismatches = 0;
        for (size_t i = 0; i < ours.size(); ++i) {
            float e;
            std::memcpy(&e, expected.data() + 4 * i, 4);
            if (f32_bits(e) != f32_bits(ours[i])) {
                if (mismatches++ < 5)
                    ADD_FAILURE() << "value " << i << ": " << ours[i] << " vs " << e;
            }
        }
        EXPECT_EQ(mismatches, 0u);
        ++n_checked;
    }
}

TEST(Dequantize, EveryTypeEqualsLlamaCppBitForBit) {
    size_t n_checked = 0;
    check_dequantization("index.json", n_checked);
    EXPECT_GE(n_checked, 30u);
}

// The i-quants and ternary types: 13 tensors covering all 11 types (and every grid entry those
// tensors use).
TEST(Dequantize, EveryIQuantAndTernaryTypeEqualsLlamaCppBitForBit) {
    size_t n_checked = 0;
    check_dequantization("index-iq.json", n_checked);
    EXPECT_EQ(n_checked, 13u);
}

// ---- dot products against dequantize-then-dot ----

class DotProduct : public ::testing::TestWithParam<TensorType> {};

// Why the bound: the integer part of every quantized dot product is exact, so the kernels and
// "dequantize, then dot in double" differ only by float rounding: each dequantized value is
// a product of at most 3 floats (relative error <= 3u, u = 2^-24), each product of two of
// them adds 1u, and the kernel's float sum over B blocks adds at most B*u of the running
// magnitude. So |kernel - exact| <= (4 + 2*B) * u * sum|x_i * y_i|, doubled for slack.
// Q4_1 and Q5_1 pair with Q8_1, whose s = d * sum(q) is stored as fp16: that rounding
// (relative 2^-11) enters through the offset term m * s of every block, by design.
TEST_P(DotProduct, MatchesDequantizeThenDotWithinTheRoundingBound) {
    const TensorType type = GetParam();
    const TypeKernels& k = *reference_kernels(type);
    const TypeKernels& act = *reference_kernels(k.activation_type);
    std::mt19937 rng(static_cast<uint32_t>(type) + 7);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (const int64_t n : {256, 512, 4096}) {
        for (int trial = 0; trial < 20; ++trial) {
            const auto weights = test::random_weight_row(type, n, rng);
            std::vector<float> activations(n);
            for (float& v : activations) v = normal(rng) * (trial % 2 ? 100.0f : 0.01f);
            if (trial == 3) activations.assign(n, 0.0f);  // all-zero activations

            std::vector<uint8_t> quantized(row_bytes(k.activation_type, n));
            act.quantize_row(activations.data(), quantized.data(), n);
            const float got = k.vec_dot(n, weights.data(), quantized.data());

            std::vector<float> w(n), a(n);
            k.dequantize_row(weights.data(), w.data(), n);
            act.dequantize_row(quantized.data(), a.data(), n);
            double exact = 0, magnitude = 0;
            for (int64_t i = 0; i < n; ++i) {
                exact += static_cast<double>(w[i]) * a[i];
                magnitude += std::fabs(static_cast<double>(w[i]) * a[i]);
            }
            const double blocks = static_cast<double>(n) / tensor_type_info(type).block_size;
            double bound = 2 * (4 + 2 * blocks) * std::ldexp(1.0, -24) * magnitude;
            if (k.activation_type == TensorType::Q8_1) {
                const auto* wb = reinterpret_cast<const fp16_t*>(weights.data());
                const auto* ab = reinterpret_cast<const BlockQ8_1*>(quantized.data());
                const size_t half_stride = tensor_type_info(type).bytes_per_block / 2;
                for (int64_t b = 0; b < n / kQK; ++b) {
                    bound +=
                        std::fabs(fp16_to_f32(wb[b * half_stride + 1]) * fp16_to_f32(ab[b].s)) *
                        std::ldexp(1.0, -11);
                }
            }
            ASSERT_LE(std::fabs(got - exact), bound + 1e-30)
                << tensor_type_name(type) << " n=" << n << " trial " << trial;
        }
    }
}

INSTANTIATE_TEST_SUITE_P(
    EveryType, DotProduct,
    ::testing::Values(TensorType::F32, TensorType::F16, TensorType::BF16, TensorType::Q4_0,
                      TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1, TensorType::Q8_0,
                      TensorType::Q2_K, TensorType::Q3_K, TensorType::Q4_K, TensorType::Q5_K,
                      TensorType::Q6_K, TensorType::IQ4_NL, TensorType::IQ4_XS, TensorType::IQ3_XXS,
                      TensorType::IQ3_S, TensorType::IQ2_XXS, TensorType::IQ2_XS, TensorType::IQ2_S,
                      TensorType::IQ1_S, TensorType::IQ1_M, TensorType::TQ1_0, TensorType::TQ2_0),
    [](const auto& p) { return std::string(tensor_type_name(p.param)); });

// ---- activation quantization ----

TEST(QuantizeActivations, Q8TypesRoundEachValueToTheNearestStep) {
    std::mt19937 rng(3);
    std::normal_distribution<float> normal(0.0f, 3.0f);
    std::vector<float> x(512);
    for (float& v : x) v = normal(rng);
    x[5] = 0.0f;
    for (TensorType type : {TensorType::Q8_0, TensorType::Q8_1, TensorType::Q8_K}) {
        SCOPED_TRACE(tensor_type_name(type));
        const TypeKernels& k = *reference_kernels(type);
        std::vector<uint8_t> q(row_bytes(type, 512));
        k.quantize_row(x.data(), q.data(), 512);
        std::vector<float> back(512);
        k.dequantize_row(q.data(), back.data(), 512);
        const int block = static_cast<int>(tensor_type_info(type).block_size);
        for (int b = 0; b < 512 / block; ++b) {
            float amax = 0;
            for (int j = 0; j < block; ++j) amax = std::max(amax, std::fabs(x[b * block + j]));
            const float step = amax / 127.0f;
            for (int j = 0; j < block; ++j) {
                // half a step, plus the fp16 rounding of Q8_0's scale (relative 2^-11 of 127 steps)
                ASSERT_NEAR(back[b * block + j], x[b * block + j],
                            step * (0.5f + 127.0f / 2048.0f));
            }
        }
    }
    // Q8_K's block sums are the sums of its values.
    BlockQ8_K blocks[2];
    reference_kernels(TensorType::Q8_K)->quantize_row(x.data(), blocks, 512);
    for (const auto& b : blocks) {
        for (int g = 0; g < 16; ++g) {
            int sum = 0;
            for (int j = 0; j < 16; ++j) sum += b.qs[16 * g + j];
            EXPECT_EQ(b.bsums[g], sum);
        }
    }
}

}  // namespace
}  // namespace ember
