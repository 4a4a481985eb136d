// Small AVX-512 helpers shared by the avx512/*.cpp files; include only from there (it needs
// -mavx512f/bw/dq/vl/vnni). Everything has internal linkage, as in avx2/simd.h, so no AVX-512
// code can be picked by the linker for a generic caller; for the same reason these files
// instantiate no standard-library templates (an out-of-line std::vector or std::min built with
// these flags is a weak symbol the linker may pick for generic code).
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace minnow::kernels::avx512 {
namespace {

inline float f16_to_f32(uint16_t h) {
  return _cvtsh_ss(h);
}

// 16 bytes at each of p0..p3 into the four 128-bit lanes.
inline __m512i load_x4(const void* p0, const void* p1, const void* p2, const void* p3) {
  __m512i v = _mm512_castsi128_si512(_mm_loadu_si128(static_cast<const __m128i*>(p0)));
  v = _mm512_inserti32x4(v, _mm_loadu_si128(static_cast<const __m128i*>(p1)), 1);
  v = _mm512_inserti32x4(v, _mm_loadu_si128(static_cast<const __m128i*>(p2)), 2);
  return _mm512_inserti32x4(v, _mm_loadu_si128(static_cast<const __m128i*>(p3)), 3);
}

// 16 bytes at p in all four 128-bit lanes.
inline __m512i broadcast_x4(const void* p) {
  return _mm512_broadcast_i32x4(_mm_loadu_si128(static_cast<const __m128i*>(p)));
}

// Four vectors whose 128-bit lane k holds four int32 partial sums of output 4k + j (vector j)
// -> one vector whose lane 4k + j holds that output's total. Integer adds: exact in any order.
inline __m512i reduce_4x4(__m512i a0, __m512i a1, __m512i a2, __m512i a3) {
  const __m512i s01 = _mm512_add_epi32(_mm512_unpacklo_epi32(a0, a1), _mm512_unpackhi_epi32(a0, a1));
  const __m512i s23 = _mm512_add_epi32(_mm512_unpacklo_epi32(a2, a3), _mm512_unpackhi_epi32(a2, a3));
  return _mm512_add_epi32(_mm512_unpacklo_epi64(s01, s23), _mm512_unpackhi_epi64(s01, s23));
}

// The low and the high 16 bits of each int32 lane, read as fp16 and widened (exactly) to f32.
inline __m512 f16_lo_to_f32(__m512i v) {
  return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(v));
}
inline __m512 f16_hi_to_f32(__m512i v) {
  return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(v, 16)));
}

// The reduction and polynomial exp_ps and its relatives share: v = n ln2 + r, and P with
// e^r = 1 + r P(r) (Taylor to degree 7).
inline __m512 exp_poly(__m512 v, __m512* n, __m512* r) {
  *n = _mm512_roundscale_ps(_mm512_mul_ps(v, _mm512_set1_ps(1.44269504088896341f)),
                            _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  *r = _mm512_fnmadd_ps(*n, _mm512_set1_ps(0.693359375f), v);
  *r = _mm512_fnmadd_ps(*n, _mm512_set1_ps(-2.12194440e-4f), *r);
  __m512 p = _mm512_set1_ps(1.0f / 5040);
  p = _mm512_fmadd_ps(p, *r, _mm512_set1_ps(1.0f / 720));
  p = _mm512_fmadd_ps(p, *r, _mm512_set1_ps(1.0f / 120));
  p = _mm512_fmadd_ps(p, *r, _mm512_set1_ps(1.0f / 24));
  p = _mm512_fmadd_ps(p, *r, _mm512_set1_ps(1.0f / 6));
  p = _mm512_fmadd_ps(p, *r, _mm512_set1_ps(0.5f));
  return _mm512_fmadd_ps(p, *r, _mm512_set1_ps(1.0f));
}

// e^v (below -150 the result is 0, above 89 +inf): v = n ln2 + r with |r| <= ln2/2 (ln2 split
// in two so n ln2 is exact enough), e^r by its Taylor polynomial to degree 7 (truncation
// < r^8/8! < 6e-9 relative), then scaled by 2^n with vscalefps, which rounds subnormal and
// overflowing results correctly. Within ~1-2 ulp of the true value, like libm's expf.
inline __m512 exp_ps(__m512 v) {
  v = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(-150.0f)), _mm512_set1_ps(89.0f));
  __m512 n, r;
  const __m512 p = exp_poly(v, &n, &r);
  return _mm512_scalef_ps(_mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f)), n);
}

}  // namespace
}  // namespace minnow::kernels::avx512
