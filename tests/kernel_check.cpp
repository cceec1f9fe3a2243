#include "tests/kernel_check.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <sstream>
#include <vector>

#include "kernels/blocks.h"
#include "kernels/fp16.h"
#include "kernels/reference.h"

namespace ember::test {
namespace {

enum class Fill { Random, AllZeroBits, AllOneBits, LargeScales };

std::vector<uint8_t> weight_row(TensorType type, int64_t n, Fill fill, std::mt19937& rng) {
    const TensorTypeInfo& info = tensor_type_info(type);
    std::vector<uint8_t> row(row_bytes(type, n));
    if (type == TensorType::F32 || type == TensorType::F16 || type == TensorType::BF16) {
        std::normal_distribution<float> normal(0.0f, fill == Fill::LargeScales ? 1000.0f : 1.0f);
        std::vector<float> v(n);
        for (float& f : v) f = fill == Fill::AllZeroBits ? 0.0f : normal(rng);
        reference_kernels(type)->quantize_row(v.data(), row.data(), n);
        return row;
    }
    for (auto& b : row) {
        b = fill == Fill::AllZeroBits  ? 0x00
            : fill == Fill::AllOneBits ? 0xff
                                       : static_cast<uint8_t>(rng());
    }
    std::uniform_real_distribution<float> small(0.001f, 0.05f);
    for (size_t at = 0; at < row.size(); at += info.bytes_per_block) {
        const auto put_half = [&](size_t offset) {
            const fp16_t h = f32_to_fp16(fill == Fill::LargeScales ? 1000.0f : small(rng));
            std::memcpy(row.data() + at + offset, &h, 2);
        };
        switch (type) {
            case TensorType::Q4_0:
            case TensorType::Q5_0:
            case TensorType::Q8_0:
                put_half(0);
                break;
            case TensorType::Q4_1:
            case TensorType::Q5_1:
                put_half(0), put_half(2);
                break;
            case TensorType::Q2_K:
                put_half(80), put_half(82);
                break;
            case TensorType::Q3_K:
                put_half(108);
                break;
            case TensorType::Q4_K:
            case TensorType::Q5_K:
                put_half(0), put_half(2);
                break;
            case TensorType::Q6_K:
                put_half(208);
                break;
            case TensorType::IQ4_NL:
            case TensorType::IQ4_XS:
            case TensorType::IQ2_XXS:
            case TensorType::IQ2_XS:
            case TensorType::IQ2_S:
            case TensorType::IQ3_XXS:
            case TensorType::IQ3_S:
            case TensorType::IQ1_S:
                put_half(0);
                break;
            case TensorType::IQ1_M: {  // d is the top nibbles of the 4 scale words (offset 48)
                const fp16_t h = f32_to_fp16(fill == Fill::LargeScales ? 1000.0f : small(rng));
                for (int k = 0; k < 4; ++k) {
                    uint16_t word;
                    std::memcpy(&word, row.data() + at + 48 + 2 * k, 2);
                    word = static_cast<uint16_t>((word & 0x0fff) | ((h >> (4 * k)) & 0xf) << 12);
                    std::memcpy(row.data() + at + 48 + 2 * k, &word, 2);
                }
                break;
            }
            case TensorType::TQ1_0:
                put_half(52);
                break;
            case TensorType::TQ2_0:
                put_half(64);
                break;
            default:
                break;
        }
    }
    return row;
}

}  // namespace

std::vector<uint8_t> random_weight_row(TensorType type, int64_t n, std::mt19937& rng) {
    return weight_row(type, n, Fill::Random, rng);
}

std::string check_dot_against_reference(TensorType type, const DotUnderTest& dot, bool exact) {
    const TypeKernels& ref = *reference_kernels(type);
    const TypeKernels& act = *reference_kernels(ref.activation_type);
    const bool is_float =
        type == TensorType::F32 || type == TensorType::F16 || type == TensorType::BF16;
    std::mt19937 rng(static_cast<uint32_t>(type) * 31 + 5);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    const std::vector<int64_t> sizes = is_float ? std::vector<int64_t>{1, 7, 8, 9, 33, 256, 4095}
                                                : std::vector<int64_t>{256, 512, 2816, 4096};
    const size_t block_bytes = tensor_type_info(type).bytes_per_block;
    for (const int64_t n : sizes) {
        if (n % tensor_type_info(type).block_size != 0) continue;
        for (const Fill fill :
             {Fill::Random, Fill::AllZeroBits, Fill::AllOneBits, Fill::LargeScales}) {
            // Activations: random, zero, alternating extremes, and all at the largest or at the
            // most negative value (Q8_K's -128): with the largest weights, the sums that
            // overflow a narrower integer first.
            for (int trial = 0; trial < 10; ++trial) {
                const auto w = weight_row(type, n, fill, rng);
                std::vector<float> a(n);
                for (int64_t i = 0; i < n; ++i) {
                    switch (trial % 5) {
                        case 0:
                            a[i] = normal(rng);
                            break;
                        case 1:
                            a[i] = 0.0f;
                            break;
                        case 2:
                            a[i] = i % 2 ? -3.0f : 3.0f;
                            break;
                        case 3:
                            a[i] = 3.0f;
                            break;
                        default:
                            a[i] = -3.0f;
                            break;
                    }
                }
                std::vector<uint8_t> q(row_bytes(ref.activation_type, n));
                act.quantize_row(a.data(), q.data(), n);
                const float want = ref.vec_dot(n, w.data(), q.data());
                const float got = dot(n, w.data(), q.data());
                bool ok = f32_bits(got) == f32_bits(want);
                double bound = 0;
                if (!exact) {
                    double magnitude = 0;
                    std::vector<float> wd(n), ad(n);
                    ref.dequantize_row(w.data(), wd.data(), n);
                    act.dequantize_row(q.data(), ad.data(), n);
                    for (int64_t i = 0; i < n; ++i) magnitude += std::fabs(double(wd[i]) * ad[i]);
                    const double blocks = double(n) / tensor_type_info(type).block_size;
                    bound = 2 * (4 + 2 * blocks) * std::ldexp(1.0, -24) * magnitude;
                    if (ref.activation_type == TensorType::Q8_1) {  // the offsets' m * s terms
                        for (int64_t b = 0; b < n / kQK; ++b) {
                            fp16_t m, s;
                            std::memcpy(&m, w.data() + b * block_bytes + 2, 2);
                            std::memcpy(&s, q.data() + b * sizeof(BlockQ8_1) + 2, 2);
                            bound += 2 * blocks * std::ldexp(1.0, -24) *
                                     std::fabs(fp16_to_f32(m) * fp16_to_f32(s));
                        }
                    }
                    ok = std::fabs(double(got) - double(want)) <= bound + 1e-30 ||
                         (std::isinf(got) && got == want);
                }
                if (!ok) {
                    std::ostringstream why;
                    why << tensor_type_name(type) << ": got " << got << ", reference " << want
                        << " (n=" << n << ", fill " << static_cast<int>(fill) << ", trial " << trial
                        << (exact ? ", bit-exact required" : ", bound " + std::to_string(bound))
                        << ")";
                    return why.str();
                }
            }
        }
    }
    return "";
}

DotUnderTest panel_as_dot(TensorType type, int tokens, PanelRun run, int* call, int rows) {
    return [type, tokens, rows, run, call, rng = std::mt19937(17)](int64_t n, const void* w,
                                                                   const void* a) mutable {
        const TypeKernels& k = *kernels_for(type);
        const TensorType act_type = k.activation_type;
        std::normal_distribution<float> normal(0.0f, 1.0f);
        const int row = *call % rows, token = (*call / rows) % tokens;
        ++*call;
        const size_t w_bytes = row_bytes(type, n), a_bytes = row_bytes(act_type, n);
        std::vector<uint8_t> ws(rows * w_bytes), as(tokens * a_bytes);
        for (int r = 0; r < rows; ++r) {
            const auto other = random_weight_row(type, n, rng);
            std::memcpy(ws.data() + r * w_bytes, r == row ? w : other.data(), w_bytes);
        }
        std::vector<float> values(n);
        for (int t = 0; t < tokens; ++t) {
            for (float& v : values) v = normal(rng);
            reference_kernels(act_type)->quantize_row(values.data(), as.data() + t * a_bytes, n);
            if (t == token) std::memcpy(as.data() + t * a_bytes, a, a_bytes);
        }
        const bool q8_1 = act_type == TensorType::Q8_1;
        const int64_t n_blocks = act_type == TensorType::Q8_0 || q8_1 ? n / 32 : 0;
        std::vector<float> scales(tokens * n_blocks), block_s(tokens * n_blocks);
        std::vector<int32_t> sums(tokens * n_blocks);
        for (int t = 0; t < tokens && n_blocks > 0; ++t) {
            const uint8_t* token_row = as.data() + t * a_bytes;
            if (q8_1) {
                q8_1_scales_and_s(token_row, n, &scales[t * n_blocks], &block_s[t * n_blocks]);
            } else {
                q8_0_scales_and_sums(token_row, n, &scales[t * n_blocks], &sums[t * n_blocks]);
            }
        }
        Q8Batch batch{as.data(), a_bytes, scales.data(), sums.data(), tokens, block_s.data()};
        // Half the calls with the activations also in tiles, as the engine gives a few tokens
        // of Q8_0 (the kernels that take them must agree with the ones that do not).
        std::vector<uint8_t> tiles;
        if (act_type == TensorType::Q8_0 && tokens >= 2 && tokens <= kTiledTokensMax &&
            rng() % 2 == 0) {
            tiles.resize(q8_0_token_tiles_bytes(tokens, n));
            q8_0_token_tiles(batch, n, tiles.data());
            batch.tiles = tiles.data();
        }
        std::vector<float> y(tokens * rows);
        run(k, n, ws.data(), w_bytes, batch, y.data());
        return y[token * rows + row];
    };
}

std::string check_packed_against_reference(TensorType type, Pack8Fn pack, GemmPacked8Fn gemm,
                                           int tokens, int rows, uint32_t packed_block_bytes) {
    int call = 0;
    const auto run = [=](const TypeKernels&, int64_t n, const uint8_t* ws, size_t w_bytes,
                         const Q8Batch& batch, float* y) {
        TypeKernels sizes{};
        sizes.type = type;
        sizes.packed_block_bytes = packed_block_bytes;
        const size_t group_bytes = packed_group_bytes(sizes, n, w_bytes);
        std::vector<uint8_t> packed(rows / 8 * group_bytes);
        for (int g = 0; g < rows / 8; ++g)
            pack(n, ws + 8 * g * w_bytes, w_bytes, packed.data() + g * group_bytes);
        gemm(n, packed.data(), batch, y, rows);
    };
    // Until every row and token was checked (a round checks many; a kernel that is never
    // called would not get there).
    for (int round = 0; call < rows * tokens; ++round) {
        if (round == 64) return "not every row and token was checked";
        const std::string why =
            check_dot_against_reference(type, panel_as_dot(type, tokens, run, &call, rows), false);
        if (!why.empty()) return why;
    }
    return "";
}

std::string check_matmul_f32_against_reference(MatMulF32Fn matmul) {
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    enum class Values { Normal, Zero, Large, Tiny, Mixed };
    for (Values values :
         {Values::Normal, Values::Zero, Values::Large, Values::Tiny, Values::Mixed}) {
        for (int m : {1, 3, 4, 5, 9, 67}) {
            for (int n : {1, 7, 16, 33, 64, 100}) {
                for (int k : {1, 5, 64, 200}) {
                    const size_t lda = k + 3, ldb = n + 5, ldc = n + 2;  // strided rows
                    const auto value = [&](size_t i) {
                        switch (values) {
                            case Values::Zero:
                                return 0.0f;
                            case Values::Large:
                                return 1e15f * normal(rng);
                            case Values::Tiny:
                                return 1e-20f * normal(rng);
                            case Values::Mixed:
                                return i % 3 == 0 ? 1e6f * normal(rng) : normal(rng);
                            default:
                                return normal(rng);
                        }
                    };
                    std::vector<float> a(m * lda), b(k * ldb);
                    for (size_t i = 0; i < a.size(); ++i) a[i] = value(i);
                    for (size_t i = 0; i < b.size(); ++i) b[i] = value(i);
                    std::vector<float> want(m * ldc, -1.0f), got(m * ldc, -1.0f);
                    ref::matmul_f32(m, n, k, a.data(), lda, b.data(), ldb, want.data(), ldc);
                    matmul(m, n, k, a.data(), lda, b.data(), ldb, got.data(), ldc);
                    for (int i = 0; i < m; ++i) {
                        for (int j = 0; j < n; ++j) {
                            double magnitude = 0;  // sum |a||b|: the rounding bound's scale
                            for (int l = 0; l < k; ++l)
                                magnitude += std::fabs(double{a[i * lda + l]} * b[l * ldb + j]);
                            const double bound = (k + 2) * 0x1p-24 * magnitude + 1e-38;
                            const double diff =
                                std::fabs(double{got[i * ldc + j]} - want[i * ldc + j]);
                            if (!(diff <= bound)) {
                                std::ostringstream why;
                                why << "m " << m << " n " << n << " k " << k << " at (" << i << ", "
                                    << j << "): " << got[i * ldc + j] << " vs reference "
                                    << want[i * ldc + j];
                                return why.str();
                            }
                        }
                        for (size_t j = n; j < ldc; ++j) {
                            if (got[i * ldc + j] != -1.0f) return "wrote past column n";
                        }
                    }
                }
            }
        }
    }
    return "";
}

std::string check_rows_f16_against_reference(DotRowsF16Fn dot, MadRowsF16Fn mad,
                                             MatMulF32Fn matmul) {
    std::mt19937 rng(17);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    const auto fail = [](const char* what, int m, int n, int k, int i, int j, float got,
                         double want) {
        std::ostringstream why;
        why << what << " m " << m << " n " << n << " k " << k << " at (" << i << ", " << j
            << "): " << got << " vs " << want;
        return why.str();
    };
    for (int scale_case = 0; scale_case < 4; ++scale_case) {
        // Within F16's range for the cache's rows; A (queries, probabilities) any float.
        const float b_scale = scale_case == 1 ? 1000.0f : scale_case == 2 ? 1e-4f : 1.0f;
        const float a_scale = scale_case == 1 ? 1e20f : scale_case == 2 ? 1e-20f : 1.0f;
        for (int m : {1, 2, 3, 4, 5, 9, 17}) {
            for (int n : {1, 3, 4, 16, 17, 33, 100}) {
                for (int k : {1, 5, 8, 64, 80, 128, 136, 256, 300}) {
                    const size_t lda = std::max(k, n) + 3, ldb = k + 5, ldc = std::max(k, n) + 2;
                    std::vector<float> a(m * lda), c0(m * ldc);
                    std::vector<uint16_t> b(n * ldb);
                    for (size_t i = 0; i < a.size(); ++i)
                        a[i] = scale_case == 3 ? 0.0f : a_scale * normal(rng);
                    for (uint16_t& v : b) v = f32_to_fp16(b_scale * normal(rng));
                    for (float& v : c0) v = normal(rng);
                    // Scores: C (m, n) = A (m, k) @ B^T.
                    std::vector<float> want(m * ldc, -1.0f), got(m * ldc, -1.0f);
                    ref::dot_rows_f16(m, n, k, a.data(), lda, b.data(), ldb, want.data(), ldc);
                    dot(m, n, k, a.data(), lda, b.data(), ldb, got.data(), ldc);
                    for (int i = 0; i < m; ++i) {
                        for (int j = 0; j < n; ++j) {
                            double magnitude = 0;
                            for (int l = 0; l < k; ++l)
                                magnitude +=
                                    std::fabs(double{a[i * lda + l]} * fp16_to_f32(b[j * ldb + l]));
                            const double bound = (k + 2) * 0x1p-24 * magnitude + 1e-38;
                            const float g = got[i * ldc + j];
                            if (!(std::fabs(double{g} - want[i * ldc + j]) <= bound))
                                return fail("dot_rows_f16", m, n, k, i, j, g, want[i * ldc + j]);
                            float alone = 0;  // the same pair in a call of its own
                            dot(1, 1, k, &a[i * lda], lda, &b[j * ldb], ldb, &alone, 1);
                            if (alone != g)
                                return fail("dot_rows_f16 alone", m, n, k, i, j, alone, g);
                        }
                        for (size_t j = n; j < ldc; ++j)
                            if (got[i * ldc + j] != -1.0f) return "dot_rows_f16 wrote past n";
                    }
                    // Values: C (m, k) += A (m, n) @ B.
                    std::vector<float> want_v = c0, got_v = c0;
                    ref::mad_rows_f16(m, n, k, a.data(), lda, b.data(), ldb, want_v.data(), ldc);
                    mad(m, n, k, a.data(), lda, b.data(), ldb, got_v.data(), ldc);
                    for (int i = 0; i < m; ++i) {
                        for (int l = 0; l < k; ++l) {
                            double magnitude = std::fabs(double{c0[i * ldc + l]});
                            for (int j = 0; j < n; ++j)
                                magnitude +=
                                    std::fabs(double{a[i * lda + j]} * fp16_to_f32(b[j * ldb + l]));
                            const double bound = (n + 2) * 0x1p-24 * magnitude + 1e-38;
                            const float g = got_v[i * ldc + l];
                            if (!(std::fabs(double{g} - want_v[i * ldc + l]) <= bound))
                                return fail("mad_rows_f16", m, n, k, i, l, g, want_v[i * ldc + l]);
                        }
                        for (size_t l = k; l < ldc; ++l)
                            if (got_v[i * ldc + l] != c0[i * ldc + l])
                                return "mad_rows_f16 wrote past k";
                    }
                    // From zero, the floats of matmul on B converted to F32.
                    std::vector<float> b32(n * ldb), from_zero(m * ldc, 0.0f), gemm(m * ldc, 0.0f);
                    for (size_t i = 0; i < b.size(); ++i) b32[i] = fp16_to_f32(b[i]);
                    mad(m, n, k, a.data(), lda, b.data(), ldb, from_zero.data(), ldc);
                    matmul(m, k, n, a.data(), lda, b32.data(), ldb, gemm.data(), ldc);
                    for (int i = 0; i < m; ++i)
                        for (int l = 0; l < k; ++l)
                            if (from_zero[i * ldc + l] != gemm[i * ldc + l])
                                return fail("mad_rows_f16 from zero vs matmul", m, n, k, i, l,
                                            from_zero[i * ldc + l], gemm[i * ldc + l]);
                }
            }
        }
    }
    return "";
}

std::string check_activation_quantizer(TensorType type, QuantizeRowFn quantize) {
    const QuantizeRowFn reference = reference_kernels(type)->quantize_row;
    const int64_t n = 4 * tensor_type_info(type).block_size;
    std::mt19937 rng(11);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (int c = 0; c < 64; ++c) {
        std::vector<float> x(n);
        for (float& v : x) v = normal(rng) * (c % 4 == 0 ? 1e-3f : c % 4 == 1 ? 1e4f : 1.0f);
        switch (c % 8) {
            case 0:
                std::fill(x.begin(), x.end(), 0.0f);
                break;  // all zero
            case 1:
                std::fill(x.begin(), x.end(), 0.0f), x[n / 2] = -3.0f;
                break;  // one value
            case 2:     // ties: max 127 makes the scale 1, so k + 0.5 rounds to even
                for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(i % 50) - 24.5f;
                for (int64_t i = 0; i < n; i += 32) x[i] = 127.0f;
                break;
            case 3:  // the largest magnitude with both signs, the negative first
                for (int64_t i = 0; i < n; i += 64) x[i + 3] = -50.0f, x[i + 9] = 50.0f;
                break;
            case 4:
                x[5] = -1e30f;
                break;
            default:
                break;
        }
        std::vector<uint8_t> want(row_bytes(type, n)), got(want.size());
        reference(x.data(), want.data(), n);
        quantize(x.data(), got.data(), n);
        if (want != got) {
            size_t at = 0;
            while (want[at] == got[at]) ++at;
            return "case " + std::to_string(c) + ": byte " + std::to_string(at) + " is " +
                   std::to_string(got[at]) + ", reference " + std::to_string(want[at]);
        }
    }
    return "";
}

std::string check_exp_f32(ExpF32Fn exp) {
    std::vector<float> x;
    for (float v = -110.0f; v <= 90.0f; v += 0.0137f) x.push_back(v);
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> uniform(-20.0f, 20.0f);
    for (int i = 0; i < 10000; ++i) x.push_back(uniform(rng));
    for (float v : {0.0f, -0.0f, 1e-30f, -1e-30f, 88.72f, 88.73f, -87.3f, -103.9f, -104.0f})
        x.push_back(v);
    for (size_t length : {x.size(), size_t{1}, size_t{15}, size_t{17}, size_t{33}}) {
        std::vector<float> y(length + 1, -7.0f);
        exp(x.data(), y.data(), static_cast<int64_t>(length));
        if (y[length] != -7.0f) return "wrote past n = " + std::to_string(length);
        for (size_t i = 0; i < length; ++i) {
            const double want = std::exp(static_cast<double>(x[i]));
            const double ulp = std::max(0x1p-149, std::ldexp(1.0, std::ilogb(want) - 23));
            const double error = want > 3.4028234663852886e38 ? (std::isinf(y[i]) ? 0 : 1e300)
                                                              : std::fabs(y[i] - want) / ulp;
            if (!(error <= 2.0)) {
                std::ostringstream why;
                why.precision(9);
                why << "e^" << x[i] << " = " << y[i] << ", exactly " << want;
                return why.str();
            }
        }
    }
    std::vector<float> special = {-INFINITY, INFINITY, std::nanf(""), 1.0f};
    exp(special.data(), special.data(), 4);  // in place
    if (special[0] != 0.0f || !std::isinf(special[1]) || !std::isnan(special[2]) ||
        std::fabs(special[3] - 2.7182818f) > 3e-7f) {
        return "e^-inf, e^inf, e^NaN, e^1 in place: " + std::to_string(special[0]) + " " +
               std::to_string(special[1]) + " " + std::to_string(special[2]) + " " +
               std::to_string(special[3]);
    }
    return "";
}

std::string check_block_dequantize(TensorType type, DequantizeRowFn dequantize) {
    const TensorTypeInfo& info = tensor_type_info(type);
    const size_t n_blocks = 4096;
    std::vector<uint8_t> bytes(n_blocks * info.bytes_per_block);
    std::mt19937 rng(11);
    for (uint8_t& b : bytes) b = static_cast<uint8_t>(rng());
    // Both types start each block with its F16 scale d: every 8th block gets a special one.
    const fp16_t specials[] = {0x0000, 0x8000, 0x0001, 0x03ff, 0x7bff, 0x7c00, 0xfc00, 0x3c00};
    for (size_t b = 0; b < n_blocks; b += 8) {
        std::memcpy(&bytes[b * info.bytes_per_block], &specials[(b / 8) % 8], sizeof(fp16_t));
    }
    const int64_t n = static_cast<int64_t>(n_blocks * info.block_size);
    std::vector<float> want(static_cast<size_t>(n)), got(static_cast<size_t>(n));
    reference_kernels(type)->dequantize_row(bytes.data(), want.data(), n);
    dequantize(bytes.data(), got.data(), n);
    for (size_t i = 0; i < want.size(); ++i) {
        if (std::isnan(want[i]) ? !std::isnan(got[i])
                                : std::memcmp(&want[i], &got[i], sizeof(float)) != 0) {
            return std::string(info.name) + " value " + std::to_string(i) + ": " +
                   std::to_string(got[i]) + ", the reference " + std::to_string(want[i]);
        }
    }
    return "";
}

std::string check_f16_conversions(DequantizeRowFn dequantize, QuantizeRowFn quantize) {
    const DequantizeRowFn ref_dequantize = reference_kernels(TensorType::F16)->dequantize_row;
    const QuantizeRowFn ref_quantize = reference_kernels(TensorType::F16)->quantize_row;
    // Every half (65536, a multiple of the vector widths) and back.
    std::vector<fp16_t> halves(65536 + 5);  // + 5: a tail past the vectors
    for (size_t i = 0; i < halves.size(); ++i) halves[i] = static_cast<fp16_t>(i * 40503u);
    std::vector<float> want(halves.size()), got(halves.size());
    ref_dequantize(halves.data(), want.data(), static_cast<int64_t>(halves.size()));
    dequantize(halves.data(), got.data(), static_cast<int64_t>(halves.size()));
    for (size_t i = 0; i < halves.size(); ++i) {
        if (std::isnan(want[i]) ? !std::isnan(got[i])
                                : std::memcmp(&want[i], &got[i], sizeof(float)) != 0) {
            return "half " + std::to_string(halves[i]) + " converts to " + std::to_string(got[i]);
        }
    }
    // Floats: random, halfway between neighbouring halves (ties), subnormal, overflowing.
    std::mt19937 rng(3);
    std::vector<float> floats;
    for (size_t i = 0; i < halves.size(); ++i) {
        const float f = want[i];
        if (std::isnan(f)) continue;
        floats.push_back(f);
        floats.push_back(std::nextafter(f, 0.0f));
        floats.push_back(f * 1.3f);
        if ((halves[i] & 0x7fff) < 0x7bff) {  // exactly halfway to the next half away from 0
            floats.push_back(0.5f * (f + fp16_to_f32(static_cast<fp16_t>(halves[i] + 1))));
        }
    }
    for (float f : {65504.0f, 65519.0f, 65520.0f, 1e9f, -1e9f, 0x1p-25f, 0x1p-26f, 1e-30f, -0.0f})
        floats.push_back(f);
    std::vector<fp16_t> want_h(floats.size()), got_h(floats.size());
    ref_quantize(floats.data(), want_h.data(), static_cast<int64_t>(floats.size()));
    quantize(floats.data(), got_h.data(), static_cast<int64_t>(floats.size()));
    for (size_t i = 0; i < floats.size(); ++i) {
        if (want_h[i] != got_h[i]) {
            return "float " + std::to_string(floats[i]) + " rounds to half " +
                   std::to_string(got_h[i]) + ", reference " + std::to_string(want_h[i]);
        }
    }
    std::vector<float> nan(9, std::nanf(""));
    quantize(nan.data(), got_h.data(), 9);
    for (int i = 0; i < 9; ++i) {
        if ((got_h[i] & 0x7c00) != 0x7c00 || (got_h[i] & 0x3ff) == 0) return "NaN lost";
    }
    return "";
}

}  // namespace ember::test
