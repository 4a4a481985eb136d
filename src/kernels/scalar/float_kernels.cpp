// Scalar reference for the float kernels: f32/f16/bf16 weight rows against f32 activations and
// the attention helpers. Sums run left to right in float, one product at a time (no FMA: this
// file builds for baseline x86-64), which is the order the tolerance analysis in the tests assumes.
#include "kernels/scalar/scalar_kernels.h"
#include "tensor/fp16.h"

namespace minnow::kernels::scalar {

float dot_f32(int64_t n, const float* x, const float* y) {
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum += x[i] * y[i];
  return sum;
}

void axpy_f32(int64_t n, float a, const float* x, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

float dot_f16_f32(int64_t n, const uint16_t* x, const float* y) {
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum += fp16_to_fp32(x[i]) * y[i];
  return sum;
}

void axpy_f16(int64_t n, float a, const uint16_t* x, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * fp16_to_fp32(x[i]);
}

void f32_to_f16(const float* x, uint16_t* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = fp32_to_fp16(x[i]);
}

void vec_dot_f32_f32(int64_t n, const void* w, const void* a, float* out) {
  *out = dot_f32(n, static_cast<const float*>(w), static_cast<const float*>(a));
}

// f16 weights x f16 activations and bf16 x bf16, as the reference engine pairs them. Each
// product of two halves is exact in f32 (11 + 11 significant bits; bf16: 8 + 8), and the sum
// runs in double, so the result is the dot product correctly rounded up to double's error:
// the same, in practice, for every summation order and ISA.
void vec_dot_f16_f16(int64_t n, const void* w, const void* a, float* out) {
  const auto* x = static_cast<const uint16_t*>(w);
  const auto* y = static_cast<const uint16_t*>(a);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(fp16_to_fp32(x[i]) * fp16_to_fp32(y[i]));
  *out = static_cast<float>(sum);
}

void vec_dot_bf16_bf16(int64_t n, const void* w, const void* a, float* out) {
  const auto* x = static_cast<const uint16_t*>(w);
  const auto* y = static_cast<const uint16_t*>(a);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(bf16_to_fp32(x[i]) * bf16_to_fp32(y[i]));
  *out = static_cast<float>(sum);
}

void quantize_row_f16(const float* x, void* out, int64_t n) { f32_to_f16(x, static_cast<uint16_t*>(out), n); }

void quantize_row_bf16(const float* x, void* out, int64_t n) {
  auto* y = static_cast<uint16_t*>(out);
  for (int64_t i = 0; i < n; ++i) y[i] = fp32_to_bf16(x[i]);
}

}  // namespace minnow::kernels::scalar
