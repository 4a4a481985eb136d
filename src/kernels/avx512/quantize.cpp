// AVX-512 activation quantizers (q8_0, q8_1, q8_k): the same bytes as the scalar reference in
// tensor/quants_*.cpp, by the same float operations in the same order (one rounded multiply,
// then ties to even), as avx2/quantize.cpp explains; -ffp-contract=off keeps them unfused.
#include "kernels/avx512/avx512_kernels.h"
#include "kernels/avx512/simd.h"
#include "tensor/blocks.h"

namespace minnow::kernels::avx512 {
namespace {

inline __m512i round_even_epi32(__m512 v) {
  return _mm512_cvt_roundps_epi32(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

// One 32-element block of q8_0/q8_1: writes d and qs, returns sum(qs) and the unrounded d.
inline int32_t quantize_block_32(const float* x, uint16_t* d_out, int8_t* qs, float* d_float) {
  const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
  const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
  const float d = amax / 127.f;
  const float id = amax != 0.f ? 127.f / amax : 0.f;
  *d_out = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
  *d_float = d;
  const __m512 vid = _mm512_set1_ps(id);
  const __m512i i0 = round_even_epi32(_mm512_mul_ps(v0, vid));
  const __m512i i1 = round_even_epi32(_mm512_mul_ps(v1, vid));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(qs), _mm512_cvtsepi32_epi8(i0));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(qs + 16), _mm512_cvtsepi32_epi8(i1));
  return _mm512_reduce_add_epi32(_mm512_add_epi32(i0, i1));
}

}  // namespace

void quantize_row_q8_0(const float* x, void* out, int64_t n) {
  auto* y = static_cast<BlockQ8_0*>(out);
  float d;
  for (int64_t b = 0; b < n / kQK8_0; ++b) quantize_block_32(x + b * kQK8_0, &y[b].d, y[b].qs, &d);
}

void quantize_row_q8_1(const float* x, void* out, int64_t n) {
  auto* y = static_cast<BlockQ8_1*>(out);
  for (int64_t b = 0; b < n / kQK8_1; ++b) {
    float d;
    const int32_t sum = quantize_block_32(x + b * kQK8_1, &y[b].d, y[b].qs, &d);
    y[b].s = _cvtss_sh(static_cast<float>(sum) * d, _MM_FROUND_TO_NEAREST_INT);
  }
}

// q8_k: iscale = -127 / max, max the first element of largest magnitude (with its sign).
void quantize_row_q8_k(const float* x, void* out, int64_t n) {
  auto* y = static_cast<BlockQ8_K*>(out);
  for (int64_t b = 0; b < n / kQK_K; ++b, x += kQK_K) {
    __m512 m = _mm512_setzero_ps();
    for (int j = 0; j < kQK_K; j += 16) m = _mm512_max_ps(m, _mm512_abs_ps(_mm512_loadu_ps(x + j)));
    const float amax = _mm512_reduce_max_ps(m);
    if (amax == 0.f) {
      std::memset(&y[b], 0, sizeof(BlockQ8_K));
      continue;
    }
    // The first index whose |x| equals amax (the reference keeps the first on ties).
    float max = 0.f;
    const __m512 vamax = _mm512_set1_ps(amax);
    for (int j = 0; j < kQK_K; j += 16) {
      const __mmask16 hit = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_loadu_ps(x + j)), vamax, _CMP_EQ_OQ);
      if (hit != 0) {
        max = x[j + __builtin_ctz(static_cast<unsigned>(hit))];
        break;
      }
    }
    const float iscale = -127.f / max;
    const __m512 vis = _mm512_set1_ps(iscale);
    const __m512i cap = _mm512_set1_epi32(127);
    for (int j = 0; j < kQK_K; j += 16) {  // 16 elements: one bsums group
      const __m512i q = _mm512_min_epi32(round_even_epi32(_mm512_mul_ps(vis, _mm512_loadu_ps(x + j))), cap);
      y[b].bsums[j / 16] = static_cast<int16_t>(_mm512_reduce_add_epi32(q));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(y[b].qs + j), _mm512_cvtsepi32_epi8(q));
    }
    y[b].d = 1.f / iscale;
  }
}

}  // namespace minnow::kernels::avx512
