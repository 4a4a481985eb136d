// AVX-512 float kernels: f32/f16/bf16 weight rows, the attention helpers and f16/bf16 row
// conversion. Four 16-lane FMA accumulators hide the FMA latency; tails use masked loads and
// stores. f16 x f16 and bf16 x bf16 keep the scalar reference's exact products summed in double
// (not vdpbf16ps, whose float accumulation would round differently).
#include "kernels/avx512/avx512_kernels.h"
#include "kernels/avx512/simd.h"

namespace minnow::kernels::avx512 {
namespace {

// Lanes i < r (0 < r < 16).
inline __mmask16 tail_mask(int64_t r) {
  return static_cast<__mmask16>((1u << r) - 1);
}

inline __m512 load_f16x16(const uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
inline __m512 load_f16_tail(const uint16_t* p, int64_t r) {
  return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(tail_mask(r), p));
}
inline __m512 load_bf16x16(const uint16_t* p) {
  const __m512i u = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  return _mm512_castsi512_ps(_mm512_slli_epi32(u, 16));
}
inline __m512 load_bf16_tail(const uint16_t* p, int64_t r) {
  const __m512i u = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(tail_mask(r), p));
  return _mm512_castsi512_ps(_mm512_slli_epi32(u, 16));
}
inline __m512 load_f32x16(const float* p) {
  return _mm512_loadu_ps(p);
}
inline __m512 load_f32_tail(const float* p, int64_t r) {
  return _mm512_maskz_loadu_ps(tail_mask(r), p);
}

// sum of x[i] * y[i] with Load/LoadTail reading x's type as floats.
template <class T, __m512 (*Load)(const T*), __m512 (*LoadTail)(const T*, int64_t)>
float dot_any(int64_t n, const T* x, const float* y) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  __m512 acc2 = _mm512_setzero_ps(), acc3 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    acc0 = _mm512_fmadd_ps(Load(x + i), _mm512_loadu_ps(y + i), acc0);
    acc1 = _mm512_fmadd_ps(Load(x + i + 16), _mm512_loadu_ps(y + i + 16), acc1);
    acc2 = _mm512_fmadd_ps(Load(x + i + 32), _mm512_loadu_ps(y + i + 32), acc2);
    acc3 = _mm512_fmadd_ps(Load(x + i + 48), _mm512_loadu_ps(y + i + 48), acc3);
  }
  for (; i + 16 <= n; i += 16) acc0 = _mm512_fmadd_ps(Load(x + i), _mm512_loadu_ps(y + i), acc0);
  if (i < n)
    acc1 = _mm512_fmadd_ps(LoadTail(x + i, n - i), _mm512_maskz_loadu_ps(tail_mask(n - i), y + i), acc1);
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3)));
}

template <class T, __m512 (*Load)(const T*), __m512 (*LoadTail)(const T*, int64_t)>
void axpy_any(int64_t n, float a, const T* x, float* y) {
  const __m512 va = _mm512_set1_ps(a);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, Load(x + i), _mm512_loadu_ps(y + i)));
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(y + i, m,
                          _mm512_fmadd_ps(va, LoadTail(x + i, n - i), _mm512_maskz_loadu_ps(m, y + i)));
  }
}

// Exact f32 products of two 16-bit rows, summed in double (scalar/float_kernels.cpp says why).
template <__m512 (*Load)(const uint16_t*), __m512 (*LoadTail)(const uint16_t*, int64_t)>
float dot_16bit_exact(int64_t n, const uint16_t* x, const uint16_t* y) {
  __m512d acc0 = _mm512_setzero_pd(), acc1 = _mm512_setzero_pd();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 p = _mm512_mul_ps(Load(x + i), Load(y + i));  // exact
    acc0 = _mm512_add_pd(acc0, _mm512_cvtps_pd(_mm512_castps512_ps256(p)));
    acc1 = _mm512_add_pd(acc1,
                         _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(p), 1))));
  }
  if (i < n) {  // zero padded: the extra products are +0 and change no sum
    const __m512 p = _mm512_mul_ps(LoadTail(x + i, n - i), LoadTail(y + i, n - i));
    acc0 = _mm512_add_pd(acc0, _mm512_cvtps_pd(_mm512_castps512_ps256(p)));
    acc1 = _mm512_add_pd(acc1,
                         _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(p), 1))));
  }
  return static_cast<float>(_mm512_reduce_add_pd(_mm512_add_pd(acc0, acc1)));
}

}  // namespace

float dot_f32(int64_t n, const float* x, const float* y) {
  return dot_any<float, load_f32x16, load_f32_tail>(n, x, y);
}
void axpy_f32(int64_t n, float a, const float* x, float* y) {
  axpy_any<float, load_f32x16, load_f32_tail>(n, a, x, y);
}
float dot_f16_f32(int64_t n, const uint16_t* x, const float* y) {
  return dot_any<uint16_t, load_f16x16, load_f16_tail>(n, x, y);
}
void axpy_f16(int64_t n, float a, const uint16_t* x, float* y) {
  axpy_any<uint16_t, load_f16x16, load_f16_tail>(n, a, x, y);
}

void f32_to_f16(const float* x, uint16_t* y, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i),
                        _mm512_cvtps_ph(_mm512_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
  }
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    _mm256_mask_storeu_epi16(y + i, m,
                             _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, x + i), _MM_FROUND_TO_NEAREST_INT));
  }
}

void to_float_f16(const void* src, float* dst, int64_t n) {
  const auto* x = static_cast<const uint16_t*>(src);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(dst + i, load_f16x16(x + i));
  if (i < n) _mm512_mask_storeu_ps(dst + i, tail_mask(n - i), load_f16_tail(x + i, n - i));
}

void to_float_bf16(const void* src, float* dst, int64_t n) {
  const auto* x = static_cast<const uint16_t*>(src);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(dst + i, load_bf16x16(x + i));
  if (i < n) _mm512_mask_storeu_ps(dst + i, tail_mask(n - i), load_bf16_tail(x + i, n - i));
}

void softmax_scaled(float* x, int64_t n, float scale) {
  const __m512 vs = _mm512_set1_ps(scale);
  __m512 mx = _mm512_set1_ps(-__builtin_inff());
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? static_cast<__mmask16>(0xffff) : tail_mask(n - i);
    const __m512 s = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), vs);
    _mm512_mask_storeu_ps(x + i, m, s);
    mx = _mm512_mask_max_ps(mx, m, mx, s);
  }
  const __m512 vmax = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
  __m512d sum0 = _mm512_setzero_pd(), sum1 = _mm512_setzero_pd();
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? static_cast<__mmask16>(0xffff) : tail_mask(n - i);
    const __m512 e = _mm512_maskz_mov_ps(m, exp_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), vmax)));
    _mm512_mask_storeu_ps(x + i, m, e);
    sum0 = _mm512_add_pd(sum0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
    sum1 = _mm512_add_pd(sum1,
                         _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
  }
  const __m512 inv =
      _mm512_set1_ps(static_cast<float>(1.0 / _mm512_reduce_add_pd(_mm512_add_pd(sum0, sum1))));
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? static_cast<__mmask16>(0xffff) : tail_mask(n - i);
    _mm512_mask_storeu_ps(x + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), inv));
  }
}

void swiglu(float* gate, const float* up, int64_t n) {
  const __m512 one = _mm512_set1_ps(1.0f);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? static_cast<__mmask16>(0xffff) : tail_mask(n - i);
    const __m512 g = _mm512_maskz_loadu_ps(m, gate + i);
    const __m512 silu = _mm512_div_ps(g, _mm512_add_ps(one, exp_ps(_mm512_sub_ps(_mm512_setzero_ps(), g))));
    _mm512_mask_storeu_ps(gate + i, m, _mm512_mul_ps(silu, _mm512_maskz_loadu_ps(m, up + i)));
  }
}

void vec_dot_f32_f32(int64_t n, const void* w, const void* a, float* out) {
  *out = dot_f32(n, static_cast<const float*>(w), static_cast<const float*>(a));
}
void vec_dot_f16_f16(int64_t n, const void* w, const void* a, float* out) {
  *out = dot_16bit_exact<load_f16x16, load_f16_tail>(n, static_cast<const uint16_t*>(w),
                                                     static_cast<const uint16_t*>(a));
}
void vec_dot_bf16_bf16(int64_t n, const void* w, const void* a, float* out) {
  *out = dot_16bit_exact<load_bf16x16, load_bf16_tail>(n, static_cast<const uint16_t*>(w),
                                                       static_cast<const uint16_t*>(a));
}
void quantize_row_f16(const float* x, void* out, int64_t n) {
  f32_to_f16(x, static_cast<uint16_t*>(out), n);
}

}  // namespace minnow::kernels::avx512
