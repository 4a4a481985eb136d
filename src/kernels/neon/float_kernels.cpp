// NEON float kernels: f32/f16/bf16 weight rows against f32 activations, the attention helpers
// and f16/bf16 row conversion. Four 4-lane FMA accumulators hide the FMA latency; tails of
// fewer than 4 (or 8) elements go through a zero-padded buffer, never scalar arithmetic.
#include "kernels/neon/neon_kernels.h"
#include "kernels/neon/simd.h"

namespace minnow::kernels::neon {
namespace {

inline float32x4_t load_f16x4(const uint16_t* p) {
  return f16x4_to_f32(vld1_u16(p));
}

// bf16 is the high half of an f32: widen with a 16-bit shift (exact).
inline float32x4_t load_bf16x4(const uint16_t* p) {
  return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16));
}

inline float32x4_t load_f32x4(const float* p) {
  return vld1q_f32(p);
}

// The r < 4 elements at p, zero padded.
template <class E, float32x4_t (*Load)(const E*)>
inline float32x4_t load_tail(const E* p, int64_t r) {
  E buf[4] = {};
  std::memcpy(buf, p, static_cast<size_t>(r) * sizeof(E));
  return Load(buf);
}

// sum_i x[i] * y[i] with f32 y; Load(p) gives the 4 floats of x at p.
template <class E, float32x4_t (*Load)(const E*)>
float dot_any(int64_t n, const E* x, const float* y) {
  float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = acc0, acc2 = acc0, acc3 = acc0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = vfmaq_f32(acc0, Load(x + i), vld1q_f32(y + i));
    acc1 = vfmaq_f32(acc1, Load(x + i + 4), vld1q_f32(y + i + 4));
    acc2 = vfmaq_f32(acc2, Load(x + i + 8), vld1q_f32(y + i + 8));
    acc3 = vfmaq_f32(acc3, Load(x + i + 12), vld1q_f32(y + i + 12));
  }
  for (; i + 4 <= n; i += 4) acc0 = vfmaq_f32(acc0, Load(x + i), vld1q_f32(y + i));
  if (i < n)
    acc1 = vfmaq_f32(acc1, load_tail<E, Load>(x + i, n - i), load_tail<float, load_f32x4>(y + i, n - i));
  return vaddvq_f32(vaddq_f32(vaddq_f32(acc0, acc1), vaddq_f32(acc2, acc3)));
}

// y += a * x; Load as above.
template <class E, float32x4_t (*Load)(const E*)>
void axpy_any(int64_t n, float a, const E* x, float* y) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), Load(x + i), a));
  if (i < n) {
    float out[4];
    vst1q_f32(out,
              vfmaq_n_f32(load_tail<float, load_f32x4>(y + i, n - i), load_tail<E, Load>(x + i, n - i), a));
    std::memcpy(y + i, out, static_cast<size_t>(n - i) * sizeof(float));
  }
}

// 16-bit rows to f32.
template <float32x4_t (*Load)(const uint16_t*)>
void widen_row(const uint16_t* x, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(dst + i, Load(x + i));
  if (i < n) {
    float out[4];
    vst1q_f32(out, load_tail<uint16_t, Load>(x + i, n - i));
    std::memcpy(dst + i, out, static_cast<size_t>(n - i) * sizeof(float));
  }
}

// f16 x f16 and bf16 x bf16: exact f32 products summed in double, as the scalar reference
// (scalar/float_kernels.cpp says why); the double sums differ from its order only far below
// float's precision.
template <float32x4_t (*Load)(const uint16_t*)>
float dot_16bit_exact(int64_t n, const uint16_t* x, const uint16_t* y) {
  float64x2_t acc0 = vdupq_n_f64(0.0), acc1 = acc0;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const float32x4_t p = vmulq_f32(Load(x + i), Load(y + i));  // exact
    acc0 = vaddq_f64(acc0, vcvt_f64_f32(vget_low_f32(p)));
    acc1 = vaddq_f64(acc1, vcvt_high_f64_f32(p));
  }
  if (i < n) {
    const float32x4_t p =
        vmulq_f32(load_tail<uint16_t, Load>(x + i, n - i), load_tail<uint16_t, Load>(y + i, n - i));
    acc0 = vaddq_f64(acc0, vcvt_f64_f32(vget_low_f32(p)));
    acc1 = vaddq_f64(acc1, vcvt_high_f64_f32(p));
  }
  return static_cast<float>(vaddvq_f64(vaddq_f64(acc0, acc1)));
}

}  // namespace

float dot_f32(int64_t n, const float* x, const float* y) {
  return dot_any<float, load_f32x4>(n, x, y);
}

void axpy_f32(int64_t n, float a, const float* x, float* y) {
  axpy_any<float, load_f32x4>(n, a, x, y);
}

float dot_f16_f32(int64_t n, const uint16_t* x, const float* y) {
  return dot_any<uint16_t, load_f16x4>(n, x, y);
}

void axpy_f16(int64_t n, float a, const uint16_t* x, float* y) {
  axpy_any<uint16_t, load_f16x4>(n, a, x, y);
}

// FCVTN rounds to nearest even under the default FPCR, with subnormal results and overflow to
// infinity as tensor/fp16.h's fp32_to_fp16.
void f32_to_f16(const float* x, uint16_t* y, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1_u16(y + i, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(x + i))));
  if (i < n) {
    uint16_t out[4];
    vst1_u16(out, vreinterpret_u16_f16(vcvt_f16_f32(load_tail<float, load_f32x4>(x + i, n - i))));
    std::memcpy(y + i, out, static_cast<size_t>(n - i) * sizeof(uint16_t));
  }
}

void to_float_f16(const void* src, float* dst, int64_t n) {
  widen_row<load_f16x4>(static_cast<const uint16_t*>(src), dst, n);
}

void to_float_bf16(const void* src, float* dst, int64_t n) {
  widen_row<load_bf16x4>(static_cast<const uint16_t*>(src), dst, n);
}

void vec_dot_f32_f32(int64_t n, const void* w, const void* a, float* out) {
  *out = dot_f32(n, static_cast<const float*>(w), static_cast<const float*>(a));
}

void vec_dot_f16_f16(int64_t n, const void* w, const void* a, float* out) {
  *out = dot_16bit_exact<load_f16x4>(n, static_cast<const uint16_t*>(w), static_cast<const uint16_t*>(a));
}

void vec_dot_bf16_bf16(int64_t n, const void* w, const void* a, float* out) {
  *out = dot_16bit_exact<load_bf16x4>(n, static_cast<const uint16_t*>(w), static_cast<const uint16_t*>(a));
}

void quantize_row_f16(const float* x, void* out, int64_t n) {
  f32_to_f16(x, static_cast<uint16_t*>(out), n);
}

}  // namespace minnow::kernels::neon
