// AVX2 float kernels: f32/f16/bf16 weight rows against f32 activations, the attention helpers
// and f16/bf16 row conversion. Four 8-lane FMA accumulators hide the FMA latency; tails use
// masked loads (f32) or a zero-padded 8-element buffer (16-bit types), never scalar code.
#include "kernels/avx2/avx2_kernels.h"

#include <cstring>
#include "kernels/avx2/simd.h"

namespace minnow::kernels::avx2 {
namespace {

// Lanes i < r of the result are all-ones (0 < r < 8): the mask for a tail of r floats.
inline __m256i tail_mask(int64_t r) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(r)), idx);
}

inline __m256 load_f16x8(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// r < 8 halves, zero padded.
inline __m256 load_f16_tail(const uint16_t* p, int64_t r) {
  uint16_t buf[8] = {};
  std::memcpy(buf, p, static_cast<size_t>(r) * sizeof(uint16_t));
  return load_f16x8(buf);
}

inline float bf16_one(uint16_t h) {
  const uint32_t w = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &w, 4);
  return f;
}

inline __m256 load_bf16x8(const uint16_t* p) {
  const __m256i u = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(u, 16));
}

inline __m256 load_bf16_tail(const uint16_t* p, int64_t r) {
  uint16_t buf[8] = {};
  std::memcpy(buf, p, static_cast<size_t>(r) * sizeof(uint16_t));
  return load_bf16x8(buf);
}

// Shared body of the 16-bit dot products: Load(p) gives the 8 floats at p, LoadTail(p, r)
// the r < 8 floats at p, zero padded.
template <__m256 (*Load)(const uint16_t*), __m256 (*LoadTail)(const uint16_t*, int64_t)>
float dot_16bit(int64_t n, const uint16_t* x, const float* y) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm256_fmadd_ps(Load(x + i), _mm256_loadu_ps(y + i), acc0);
    acc1 = _mm256_fmadd_ps(Load(x + i + 8), _mm256_loadu_ps(y + i + 8), acc1);
    acc2 = _mm256_fmadd_ps(Load(x + i + 16), _mm256_loadu_ps(y + i + 16), acc2);
    acc3 = _mm256_fmadd_ps(Load(x + i + 24), _mm256_loadu_ps(y + i + 24), acc3);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(Load(x + i), _mm256_loadu_ps(y + i), acc0);
  if (i < n) {
    const __m256 yt = _mm256_maskload_ps(y + i, tail_mask(n - i));
    acc1 = _mm256_fmadd_ps(LoadTail(x + i, n - i), yt, acc1);
  }
  return hsum_f32x8(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
}

}  // namespace

float dot_f32(int64_t n, const float* x, const float* y) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), acc1);
    acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), _mm256_loadu_ps(y + i + 16), acc2);
    acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), _mm256_loadu_ps(y + i + 24), acc3);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), acc0);
  if (i < n) {
    const __m256i m = tail_mask(n - i);
    acc1 = _mm256_fmadd_ps(_mm256_maskload_ps(x + i, m), _mm256_maskload_ps(y + i, m), acc1);
  }
  return hsum_f32x8(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
}

void axpy_f32(int64_t n, float a, const float* x, float* y) {
  const __m256 va = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  }
  if (i < n) {
    const __m256i m = tail_mask(n - i);
    const __m256 r = _mm256_fmadd_ps(va, _mm256_maskload_ps(x + i, m), _mm256_maskload_ps(y + i, m));
    _mm256_maskstore_ps(y + i, m, r);
  }
}

float dot_f16_f32(int64_t n, const uint16_t* x, const float* y) {
  return dot_16bit<load_f16x8, load_f16_tail>(n, x, y);
}

void axpy_f16(int64_t n, float a, const uint16_t* x, float* y) {
  const __m256 va = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, load_f16x8(x + i), _mm256_loadu_ps(y + i)));
  }
  if (i < n) {
    const __m256i m = tail_mask(n - i);
    const __m256 r = _mm256_fmadd_ps(va, load_f16_tail(x + i, n - i), _mm256_maskload_ps(y + i, m));
    _mm256_maskstore_ps(y + i, m, r);
  }
}

void f32_to_f16(const float* x, uint16_t* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), h);
  }
  if (i < n) {
    const __m256 v = _mm256_maskload_ps(x + i, tail_mask(n - i));
    uint16_t buf[8];
    _mm_storeu_si128(reinterpret_cast<__m128i*>(buf), _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
    std::memcpy(y + i, buf, static_cast<size_t>(n - i) * sizeof(uint16_t));
  }
}

void to_float_f16(const void* src, float* dst, int64_t n) {
  const auto* x = static_cast<const uint16_t*>(src);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load_f16x8(x + i));
  if (i < n) _mm256_maskstore_ps(dst + i, tail_mask(n - i), load_f16_tail(x + i, n - i));
}

void to_float_bf16(const void* src, float* dst, int64_t n) {
  const auto* x = static_cast<const uint16_t*>(src);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load_bf16x8(x + i));
  if (i < n) _mm256_maskstore_ps(dst + i, tail_mask(n - i), load_bf16_tail(x + i, n - i));
}

void vec_dot_f32_f32(int64_t n, const void* w, const void* a, float* out) {
  *out = dot_f32(n, static_cast<const float*>(w), static_cast<const float*>(a));
}

// f16 x f16 and bf16 x bf16: exact f32 products summed in double, as the scalar reference
// (scalar/float_kernels.cpp says why); the double sums differ from its order only far below
// float's precision.
template <__m256 (*Load)(const uint16_t*), float (*One)(uint16_t)>
float dot_16bit_exact(int64_t n, const uint16_t* x, const uint16_t* y) {
  __m256d acc0 = _mm256_setzero_pd(), acc1 = _mm256_setzero_pd();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 p = _mm256_mul_ps(Load(x + i), Load(y + i));  // exact
    acc0 = _mm256_add_pd(acc0, _mm256_cvtps_pd(_mm256_castps256_ps128(p)));
    acc1 = _mm256_add_pd(acc1, _mm256_cvtps_pd(_mm256_extractf128_ps(p, 1)));
  }
  const __m256d acc = _mm256_add_pd(acc0, acc1);
  __m128d r = _mm_add_pd(_mm256_castpd256_pd128(acc), _mm256_extractf128_pd(acc, 1));
  double sum = _mm_cvtsd_f64(_mm_add_sd(r, _mm_unpackhi_pd(r, r)));
  for (; i < n; ++i) sum += static_cast<double>(One(x[i]) * One(y[i]));
  return static_cast<float>(sum);
}

void vec_dot_f16_f16(int64_t n, const void* w, const void* a, float* out) {
  *out = dot_16bit_exact<load_f16x8, f16_to_f32>(n, static_cast<const uint16_t*>(w),
                                                   static_cast<const uint16_t*>(a));
}

void vec_dot_bf16_bf16(int64_t n, const void* w, const void* a, float* out) {
  *out = dot_16bit_exact<load_bf16x8, bf16_one>(n, static_cast<const uint16_t*>(w),
                                                  static_cast<const uint16_t*>(a));
}

void quantize_row_f16(const float* x, void* out, int64_t n) { f32_to_f16(x, static_cast<uint16_t*>(out), n); }

}  // namespace minnow::kernels::avx2
