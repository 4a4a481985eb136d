// AVX2 activation quantizers (q8_0, q8_1, q8_k). They must give the same bytes as the scalar
// reference in tensor/quants_*.cpp, so every float operation is the reference's, in the same
// order: one rounded multiply, then ties to even (q8_0/q8_1 as the reference engine's x86 path,
// q8_k as its nearest_int). No step may be fused into an FMA; CMakeLists.txt builds this directory
// with -ffp-contract=off, and no fmadd intrinsic appears here.
#include "kernels/avx2/avx2_kernels.h"
#include "kernels/avx2/simd.h"
#include "tensor/blocks.h"

namespace minnow::kernels::avx2 {
namespace {

inline __m256 abs_ps(__m256 v) {
  return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v);
}

inline float hmax_f32x8(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_extractf128_ps(v, 1), _mm256_castps256_ps128(v));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

// Ties to even, as the scalar reference (tensor/quants_legacy.cpp) and the reference engine.
inline __m256i round_even_epi32(__m256 v) {
  return _mm256_cvttps_epi32(_mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

// 32 int32 lanes (4 registers, elements in order) -> 32 int8 in element order.
inline __m256i pack_epi32_to_epi8(__m256i a, __m256i b, __m256i c, __m256i d) {
  const __m256i ab = _mm256_packs_epi32(a, b);  // per 128-bit lane: a0-3 b0-3 | a4-7 b4-7
  const __m256i cd = _mm256_packs_epi32(c, d);
  const __m256i abcd = _mm256_packs_epi16(ab, cd);  // a0-3 b0-3 c0-3 d0-3 | a4-7 b4-7 c4-7 d4-7
  return _mm256_permutevar8x32_epi32(abcd, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

// One 32-element block of q8_0/q8_1: writes d and qs, returns sum(qs) and the unrounded d.
inline int32_t quantize_block_32(const float* x, uint16_t* d_out, int8_t* qs, float* d_float) {
  const __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8);
  const __m256 v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
  const __m256 m =
      _mm256_max_ps(_mm256_max_ps(abs_ps(v0), abs_ps(v1)), _mm256_max_ps(abs_ps(v2), abs_ps(v3)));
  const float amax = hmax_f32x8(m);
  const float d = amax / 127.f;
  const float id = amax != 0.f ? 127.f / amax : 0.f;
  *d_out = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
  *d_float = d;
  const __m256 vid = _mm256_set1_ps(id);
  const __m256i i0 = round_even_epi32(_mm256_mul_ps(v0, vid));
  const __m256i i1 = round_even_epi32(_mm256_mul_ps(v1, vid));
  const __m256i i2 = round_even_epi32(_mm256_mul_ps(v2, vid));
  const __m256i i3 = round_even_epi32(_mm256_mul_ps(v3, vid));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs), pack_epi32_to_epi8(i0, i1, i2, i3));
  return hsum_i32x8(_mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3)));
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
    __m256 m = _mm256_setzero_ps();
    for (int j = 0; j < kQK_K; j += 8) m = _mm256_max_ps(m, abs_ps(_mm256_loadu_ps(x + j)));
    const float amax = hmax_f32x8(m);
    if (amax == 0.f) {
      std::memset(&y[b], 0, sizeof(BlockQ8_K));
      continue;
    }
    // The first index whose |x| equals amax (the reference keeps the first on ties).
    float max = 0.f;
    const __m256 vamax = _mm256_set1_ps(amax);
    for (int j = 0; j < kQK_K; j += 8) {
      const int hit = _mm256_movemask_ps(_mm256_cmp_ps(abs_ps(_mm256_loadu_ps(x + j)), vamax, _CMP_EQ_OQ));
      if (hit != 0) {
        max = x[j + __builtin_ctz(static_cast<unsigned>(hit))];
        break;
      }
    }
    const float iscale = -127.f / max;
    const __m256 vis = _mm256_set1_ps(iscale);
    const __m256i cap = _mm256_set1_epi32(127);
    for (int j = 0; j < kQK_K; j += 32) {
      __m256i q[4];
      for (int k = 0; k < 4; ++k) {
        const __m256 v = _mm256_mul_ps(vis, _mm256_loadu_ps(x + j + 8 * k));
        const __m256 r = _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        q[k] = _mm256_min_epi32(_mm256_cvtps_epi32(r), cap);
      }
      // bsums of the two 16-element groups in these 32.
      const __m256i s01 = _mm256_add_epi32(q[0], q[1]), s23 = _mm256_add_epi32(q[2], q[3]);
      y[b].bsums[j / 16] = static_cast<int16_t>(hsum_i32x8(s01));
      y[b].bsums[j / 16 + 1] = static_cast<int16_t>(hsum_i32x8(s23));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[b].qs + j),
                          pack_epi32_to_epi8(q[0], q[1], q[2], q[3]));
    }
    y[b].d = 1.f / iscale;
  }
}

}  // namespace minnow::kernels::avx2
