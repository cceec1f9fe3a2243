#include "tests/kernel_check.h"

#include <cmath>
#include <cstring>
#include <random>
#include <sstream>
#include <vector>

#include "kernels/blocks.h"

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
            for (int trial = 0; trial < 6; ++trial) {
                const auto w = weight_row(type, n, fill, rng);
                std::vector<float> a(n);
                for (int64_t i = 0; i < n; ++i) {
                    a[i] = trial % 3 == 0   ? normal(rng)
                           : trial % 3 == 1 ? 0.0f
                                            : (i % 2 ? -3.0f : 3.0f);
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

}  // namespace ember::test
