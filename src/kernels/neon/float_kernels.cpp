// NEON float kernels: f32/f16/bf16 weight rows against f32 activations, the attention helpers,
// f16/bf16 row conversion, and the softmax and SwiGLU with a vector exp. Four 4-lane FMA accumulators hide
// the FMA latency; tails of fewer than 4 (or 8) elements go through a zero-padded buffer, never scalar
// arithmetic.
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

// The r < 4 floats at p, the other lanes fill.
inline float32x4_t load_padded(const float* p, int64_t r, float fill) {
  float buf[4] = {fill, fill, fill, fill};
  std::memcpy(buf, p, static_cast<size_t>(r) * sizeof(float));
  return vld1q_f32(buf);
}

inline void store_partial(float* p, float32x4_t v, int64_t r) {
  float buf[4];
  vst1q_f32(buf, v);
  std::memcpy(p, buf, static_cast<size_t>(r) * sizeof(float));
}

// e^v, as avx512/float_kernels.cpp's exp_ps: v clamped to [-150, 89] (beyond, the result is 0
// or +inf), v = n ln2 + r with |r| <= ln2/2 (ln2 split in two so n ln2 is exact enough), e^r by
// its Taylor polynomial to degree 7 (truncation < r^8/8! < 6e-9 relative). NEON has no scalef:
// 2^n (n in [-216, 128]) is applied as two normal powers of two, 2^floor(n/2) (exact on e^r in
// [0.7, 1.42]) then 2^(n - floor(n/2)), so a subnormal or overflowing result is rounded once,
// correctly. Within ~1-2 ulp of the true value, like libm's expf.
inline float32x4_t exp_f32x4(float32x4_t v) {
  v = vminq_f32(vmaxq_f32(v, vdupq_n_f32(-150.0f)), vdupq_n_f32(89.0f));
  const float32x4_t n = vrndnq_f32(vmulq_n_f32(v, 1.44269504088896341f));
  float32x4_t r = vfmsq_f32(v, n, vdupq_n_f32(0.693359375f));
  r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
  float32x4_t p = vdupq_n_f32(1.0f / 5040);
  p = vfmaq_f32(vdupq_n_f32(1.0f / 720), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f / 120), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f / 24), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f / 6), p, r);
  p = vfmaq_f32(vdupq_n_f32(0.5f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
  const int32x4_t ni = vcvtq_s32_f32(n);
  const int32x4_t n1 = vshrq_n_s32(ni, 1);  // floor(n / 2), in [-108, 64]
  const int32x4_t n2 = vsubq_s32(ni, n1);   // in [-108, 64]
  const int32x4_t bias = vdupq_n_s32(127);
  const float32x4_t s1 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n1, bias), 23));
  const float32x4_t s2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n2, bias), 23));
  return vmulq_f32(vmulq_f32(p, s1), s2);
}

}  // namespace

// Three passes: scale and find the maximum, exponentiate and sum in double, normalize. Tail
// lanes count as -inf, whose e^(-inf - m) is 0.
void softmax_scaled(float* x, int64_t n, float scale) {
  const float inf = __builtin_inff();
  const int32x4_t iota = {0, 1, 2, 3};
  float32x4_t mx = vdupq_n_f32(-inf);
  for (int64_t i = 0; i < n; i += 4) {
    const int64_t r = n - i < 4 ? n - i : 4;
    const float32x4_t s = vmulq_n_f32(load_padded(x + i, r, 0.0f), scale);
    store_partial(x + i, s, r);
    const uint32x4_t valid = vcltq_s32(iota, vdupq_n_s32(static_cast<int32_t>(r)));
    mx = vmaxq_f32(mx, vbslq_f32(valid, s, vdupq_n_f32(-inf)));
  }
  const float32x4_t m = vdupq_n_f32(vmaxvq_f32(mx));
  float64x2_t sum0 = vdupq_n_f64(0.0), sum1 = sum0;
  for (int64_t i = 0; i < n; i += 4) {
    const int64_t r = n - i < 4 ? n - i : 4;
    const float32x4_t e = exp_f32x4(vsubq_f32(load_padded(x + i, r, -inf), m));
    store_partial(x + i, e, r);
    sum0 = vaddq_f64(sum0, vcvt_f64_f32(vget_low_f32(e)));
    sum1 = vaddq_f64(sum1, vcvt_high_f64_f32(e));
  }
  const float inv = static_cast<float>(1.0 / vaddvq_f64(vaddq_f64(sum0, sum1)));
  for (int64_t i = 0; i < n; i += 4) {
    const int64_t r = n - i < 4 ? n - i : 4;
    store_partial(x + i, vmulq_n_f32(load_padded(x + i, r, 0.0f), inv), r);
  }
}

void swiglu(float* gate, const float* up, int64_t n) {
  const float32x4_t one = vdupq_n_f32(1.0f);
  for (int64_t i = 0; i < n; i += 4) {
    const int64_t r = n - i < 4 ? n - i : 4;
    const float32x4_t g = load_padded(gate + i, r, 0.0f);
    const float32x4_t silu = vdivq_f32(g, vaddq_f32(one, exp_f32x4(vnegq_f32(g))));
    store_partial(gate + i, vmulq_f32(silu, load_padded(up + i, r, 0.0f)), r);
  }
}

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
