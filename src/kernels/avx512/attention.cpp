// AVX-512 attention kernels over the KV cache: the scores of a few query rows (the heads of one
// GQA group) against a run of key rows, and the probability-weighted sum of value rows. Each
// key and value row is read and widened once for all the group's queries, where the f32 helpers
// (dot_f16_f32, axpy_f16) read it once per head.
//
// Each output's arithmetic does not depend on how many queries share the call, nor on the other
// keys: a score is sum over 16-dim chunks (FMA, chunk order) folded by a fixed 4-key reduction
// (the last keys of a run are padded by repeating one, so every key takes the same path); a
// value lane is the FMA chain over keys in order, from what out held, as axpy_f16 computes it.
// So attention results stay independent of batching and thread count.
#include "kernels/avx512/avx512_kernels.h"
#include "kernels/avx512/simd.h"

namespace minnow::kernels::avx512 {
namespace {

inline __mmask16 lanes(int64_t r) {  // the first r < 16 lanes, or all
  return r >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << r) - 1);
}

inline __m512 load_chunk(const float* p, __mmask16 m) {
  return _mm512_maskz_loadu_ps(m, p);
}
inline __m512 load_chunk(const uint16_t* p, __mmask16 m) {
  return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
}

// s[i * s_stride + j] = q_i . k_j. Four keys at a time are widened into kf (f32, L1), then each
// query runs its 16-wide FMA chains over them and reduces the four at once.
template <class E>
void scores(int64_t hd, int n_q, const float* q, int64_t q_stride, const E* k, int64_t kv_stride,
            int64_t n_keys, float* s, int64_t s_stride) {
  constexpr int64_t kMaxHd = 512;
  alignas(64) float kf[4][kMaxHd];
  const int64_t n_chunks = (hd + 15) / 16;
  for (int64_t j0 = 0; j0 < n_keys; j0 += 4) {
    for (int r = 0; r < 4; ++r) {
      const E* kr = k + (j0 + r < n_keys ? j0 + r : n_keys - 1) * kv_stride;
      for (int64_t c = 0; c < n_chunks; ++c)
        _mm512_store_ps(kf[r] + 16 * c, load_chunk(kr + 16 * c, lanes(hd - 16 * c)));
    }
    const int64_t valid = n_keys - j0 < 4 ? n_keys - j0 : 4;
    for (int i = 0; i < n_q; ++i) {
      const float* qi = q + i * q_stride;
      __m512 acc[4];
      const __m512 q0 = _mm512_maskz_loadu_ps(lanes(hd), qi);
      for (int r = 0; r < 4; ++r) acc[r] = _mm512_mul_ps(q0, _mm512_load_ps(kf[r]));
      for (int64_t c = 1; c < n_chunks; ++c) {
        const __m512 qc = _mm512_maskz_loadu_ps(lanes(hd - 16 * c), qi + 16 * c);
        for (int r = 0; r < 4; ++r) acc[r] = _mm512_fmadd_ps(qc, _mm512_load_ps(kf[r] + 16 * c), acc[r]);
      }
      // Fold: lane 4l + r of t = key r's partial sum over 128-bit lane l; then add the 4 lanes.
      const __m512 t01 =
          _mm512_add_ps(_mm512_unpacklo_ps(acc[0], acc[1]), _mm512_unpackhi_ps(acc[0], acc[1]));
      const __m512 t23 =
          _mm512_add_ps(_mm512_unpacklo_ps(acc[2], acc[3]), _mm512_unpackhi_ps(acc[2], acc[3]));
      const __m512 t =
          _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t01), _mm512_castps_pd(t23))),
                        _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t01), _mm512_castps_pd(t23))));
      const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(t),
                                     _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(t), 1)));
      const __m128 four = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
      _mm_mask_storeu_ps(s + i * s_stride + j0, static_cast<__mmask8>((1u << valid) - 1), four);
    }
  }
}

// out_i += sum_j p[i * p_stride + j] * v_j, 16 dims at a time with the group's accumulators in
// registers (at most kMaxGroup queries per pass).
template <class E>
void values(int64_t hd, int n_q, const float* p, int64_t p_stride, const E* v, int64_t kv_stride,
            int64_t n_keys, float* out, int64_t o_stride) {
  constexpr int kMaxGroup = 8;
  for (int i0 = 0; i0 < n_q; i0 += kMaxGroup) {
    const int g = n_q - i0 < kMaxGroup ? n_q - i0 : kMaxGroup;
    for (int64_t c = 0; c < hd; c += 16) {
      const __mmask16 m = lanes(hd - c);
      __m512 acc[kMaxGroup];
      for (int i = 0; i < g; ++i) acc[i] = _mm512_maskz_loadu_ps(m, out + (i0 + i) * o_stride + c);
      for (int64_t j = 0; j < n_keys; ++j) {
        const __m512 vj = load_chunk(v + j * kv_stride + c, m);
        for (int i = 0; i < g; ++i)
          acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(p[(i0 + i) * p_stride + j]), vj, acc[i]);
      }
      for (int i = 0; i < g; ++i) _mm512_mask_storeu_ps(out + (i0 + i) * o_stride + c, m, acc[i]);
    }
  }
}

}  // namespace

void attn_scores_f16(int64_t hd, int n_q, const float* q, int64_t q_stride, const uint16_t* k,
                     int64_t kv_stride, int64_t n_keys, float* s, int64_t s_stride) {
  scores(hd, n_q, q, q_stride, k, kv_stride, n_keys, s, s_stride);
}
void attn_scores_f32(int64_t hd, int n_q, const float* q, int64_t q_stride, const float* k, int64_t kv_stride,
                     int64_t n_keys, float* s, int64_t s_stride) {
  scores(hd, n_q, q, q_stride, k, kv_stride, n_keys, s, s_stride);
}
void attn_values_f16(int64_t hd, int n_q, const float* p, int64_t p_stride, const uint16_t* v,
                     int64_t kv_stride, int64_t n_keys, float* out, int64_t o_stride) {
  values(hd, n_q, p, p_stride, v, kv_stride, n_keys, out, o_stride);
}
void attn_values_f32(int64_t hd, int n_q, const float* p, int64_t p_stride, const float* v, int64_t kv_stride,
                     int64_t n_keys, float* out, int64_t o_stride) {
  values(hd, n_q, p, p_stride, v, kv_stride, n_keys, out, o_stride);
}

}  // namespace minnow::kernels::avx512
