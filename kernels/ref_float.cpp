// F32, F16 and BF16 rows. Dot products accumulate in double: the reference is about the
// exact answer, not speed.
#include <cmath>

#include "kernels/fp16.h"
#include "kernels/reference.h"

namespace ember::ref {

void dequantize_row_f32(const void* in, float* out, int64_t n) {
    std::memcpy(out, in, static_cast<size_t>(n) * sizeof(float));
}
void quantize_row_f32(const float* in, void* out, int64_t n) {
    std::memcpy(out, in, static_cast<size_t>(n) * sizeof(float));
}
float vec_dot_f32(int64_t n, const void* x, const void* y) {
    const auto* a = static_cast<const float*>(x);
    const auto* b = static_cast<const float*>(y);
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(a[i]) * b[i];
    return static_cast<float>(sum);
}
void matmul_f32(int m, int n, int k, const float* a, size_t lda, const float* b, size_t ldb,
                float* c, size_t ldc) {
    for (int i = 0; i < m; ++i) {
        for (int j = 0; j < n; ++j) {
            double sum = 0;
            for (int l = 0; l < k; ++l) sum += static_cast<double>(a[i * lda + l]) * b[l * ldb + j];
            c[i * ldc + j] = static_cast<float>(sum);
        }
    }
}

void exp_f32(const float* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = std::exp(x[i]);
}

void dot_rows_f16(int m, int n, int k, const float* a, size_t lda, const uint16_t* b, size_t ldb,
                  float* c, size_t ldc) {
    for (int i = 0; i < m; ++i) {
        for (int j = 0; j < n; ++j) {
            double sum = 0;
            for (int l = 0; l < k; ++l)
                sum += static_cast<double>(a[i * lda + l]) * fp16_to_f32(b[j * ldb + l]);
            c[i * ldc + j] = static_cast<float>(sum);
        }
    }
}

void mad_rows_f16(int m, int n, int k, const float* a, size_t lda, const uint16_t* b, size_t ldb,
                  float* c, size_t ldc) {
    for (int i = 0; i < m; ++i) {
        for (int l = 0; l < k; ++l) {
            double sum = c[i * ldc + l];
            for (int j = 0; j < n; ++j)
                sum += static_cast<double>(a[i * lda + j]) * fp16_to_f32(b[j * ldb + l]);
            c[i * ldc + l] = static_cast<float>(sum);
        }
    }
}

void dequantize_row_f16(const void* in, float* out, int64_t n) {
    const auto* h = static_cast<const fp16_t*>(in);
    for (int64_t i = 0; i < n; ++i) out[i] = fp16_to_f32(h[i]);
}
void quantize_row_f16(const float* in, void* out, int64_t n) {
    auto* h = static_cast<fp16_t*>(out);
    for (int64_t i = 0; i < n; ++i) h[i] = f32_to_fp16(in[i]);
}
float vec_dot_f16(int64_t n, const void* x, const void* y) {
    const auto* a = static_cast<const fp16_t*>(x);
    const auto* b = static_cast<const fp16_t*>(y);
    double sum = 0;
    for (int64_t i = 0; i < n; ++i)
        sum += static_cast<double>(fp16_to_f32(a[i])) * fp16_to_f32(b[i]);
    return static_cast<float>(sum);
}

void dequantize_row_bf16(const void* in, float* out, int64_t n) {
    const auto* h = static_cast<const bf16_t*>(in);
    for (int64_t i = 0; i < n; ++i) out[i] = bf16_to_f32(h[i]);
}
void quantize_row_bf16(const float* in, void* out, int64_t n) {
    auto* h = static_cast<bf16_t*>(out);
    for (int64_t i = 0; i < n; ++i) h[i] = f32_to_bf16(in[i]);
}
float vec_dot_bf16(int64_t n, const void* x, const void* y) {
    const auto* a = static_cast<const bf16_t*>(x);
    const auto* b = static_cast<const bf16_t*>(y);
    double sum = 0;
    for (int64_t i = 0; i < n; ++i)
        sum += static_cast<double>(bf16_to_f32(a[i])) * bf16_to_f32(b[i]);
    return static_cast<float>(sum);
}

}  // namespace ember::ref
