// AVX-512 dot products of the k-quants (q4_k, q5_k, q6_k) with q8_k activations, one row or
// several rows against one activation row. Per 256-element super-block the integer sums of
// the scalar reference (sumi, and summ for the mins) are computed exactly in 16 int32 lanes
// and reduced; the float part is then the reference's own expressions in its order, so the
// results are bit-identical to it (the AVX2 k-quant kernels, which convert lane sums to float
// and accumulate with FMA, are not). Layouts are drawn above scalar/kquant_kernels.cpp.
//
// A register holds 64 consecutive elements: for q4_k/q5_k one 32-byte chunk of qs (low nibbles
// = sub-block 2c, high nibbles = 2c + 1), for q6_k the low or high nibbles of 64 bytes of ql.
// maddubs (u8 x s8 -> int16 pairs) then madd with each sub-block's scale gives int32 partial
// sums (bounds beside each kernel); activations are 64 contiguous bytes of q8_k.
#include "kernels/avx512/avx512_kernels.h"
#include "kernels/avx512/simd.h"
#include "tensor/blocks.h"

namespace minnow::kernels::avx512 {
namespace {

struct Ints {
  int32_t sumi = 0;  // sum over sub-blocks of scale * (q . q8)
  int32_t summ = 0;  // sum over sub-blocks of min * (sum of q8), q4_k/q5_k only
};

// The 12 packed scale bytes of q4_k/q5_k -> 16 bytes: sc[0..7] then m[0..7], each 6 bits.
inline __m128i unpack_scales_mins(const uint8_t* scales) {
  constexpr uint32_t kmask1 = 0x3f3f3f3f, kmask2 = 0x0f0f0f0f, kmask3 = 0x03030303;
  uint32_t u[4];
  std::memcpy(u, scales, 12);
  u[3] = ((u[2] >> 4) & kmask2) | (((u[1] >> 6) & kmask3) << 4);
  const uint32_t m_lo = u[1] & kmask1;
  u[1] = (u[2] & kmask2) | (((u[0] >> 6) & kmask3) << 4);
  u[2] = m_lo;
  u[0] &= kmask1;
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(u));
}

// sum_s m[s] * (bsums[2s] + bsums[2s+1]) over the 8 sub-blocks of 32.
inline int32_t mins_dot_bsums(__m128i scales_mins, const int16_t* bsums) {
  const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bsums));
  const __m128i pair_sums = _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));
  const __m128i mins = _mm_cvtepu8_epi16(_mm_unpackhi_epi64(scales_mins, scales_mins));
  __m128i prod = _mm_madd_epi16(mins, pair_sums);
  prod = _mm_add_epi32(prod, _mm_unpackhi_epi64(prod, prod));
  prod = _mm_add_epi32(prod, _mm_shuffle_epi32(prod, 0xb1));
  return _mm_cvtsi128_si32(prod);
}

// int16 lanes 0-15 = v16[i], lanes 16-31 = v16[i + 1] (v16: sixteen int16 in the low half).
inline __m512i scale_pair(__m512i v16, int i) {
  const __m512i idx = _mm512_inserti64x4(_mm512_set1_epi16(static_cast<int16_t>(i)),
                                         _mm256_set1_epi16(static_cast<int16_t>(i + 1)), 1);
  return _mm512_permutexvar_epi16(idx, v16);
}

// int16 lanes 8k..8k+7 = v16[i + k], k < 4: the scales of four 16-element sub-blocks.
inline __m512i scale_quad(__m512i v16, int i) {
  const __m512i idx = _mm512_setr_epi64(0x0001000100010001LL * i, 0x0001000100010001LL * i,
                                        0x0001000100010001LL * (i + 1), 0x0001000100010001LL * (i + 1),
                                        0x0001000100010001LL * (i + 2), 0x0001000100010001LL * (i + 2),
                                        0x0001000100010001LL * (i + 3), 0x0001000100010001LL * (i + 3));
  return _mm512_permutexvar_epi16(idx, v16);
}

// The 4 x 64 activation bytes of a q8_k block.
struct Act {
  __m512i q[4];
  explicit Act(const BlockQ8_K& y) {
    for (int i = 0; i < 4; ++i) q[i] = _mm512_loadu_si512(y.qs + 64 * i);
  }
};

// q4_k: maddubs of u4 x s8 <= 2 * 15 * 127; madd with a 6-bit scale; |sumi| < 2^25 (scalar file).
inline Ints q4_k_ints(const BlockQ4_K& x, const BlockQ8_K& y, const Act& act) {
  const __m128i sm = unpack_scales_mins(x.scales);
  const __m512i sc16 = _mm512_castsi256_si512(_mm256_cvtepu8_epi16(sm));
  const __m256i m4 = _mm256_set1_epi8(0x0f);
  __m512i acc = _mm512_setzero_si512();
  for (int c = 0; c < 4; ++c) {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.qs + 32 * c));
    const __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_and_si256(q, m4)),
                                         _mm256_and_si256(_mm256_srli_epi16(q, 4), m4), 1);
    acc = _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_maddubs_epi16(z, act.q[c]), scale_pair(sc16, 2 * c)));
  }
  return {_mm512_reduce_add_epi32(acc), mins_dot_bsums(sm, y.bsums)};
}

// q5_k: as q4_k with the 5th bit (bit 2c of qh[l] for sub-block 2c, bit 2c + 1 for 2c + 1);
// maddubs of u5 x s8 <= 2 * 31 * 127.
inline Ints q5_k_ints(const BlockQ5_K& x, const BlockQ8_K& y, const Act& act) {
  const __m128i sm = unpack_scales_mins(x.scales);
  const __m512i sc16 = _mm512_castsi256_si512(_mm256_cvtepu8_epi16(sm));
  const __m256i m4 = _mm256_set1_epi8(0x0f);
  const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.qh)));
  const __m512i sixteen = _mm512_set1_epi8(0x10);
  __m512i acc = _mm512_setzero_si512();
  for (int c = 0; c < 4; ++c) {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.qs + 32 * c));
    __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_and_si256(q, m4)),
                                   _mm256_and_si256(_mm256_srli_epi16(q, 4), m4), 1);
    const __m512i bit = _mm512_inserti64x4(_mm512_set1_epi8(static_cast<char>(1 << (2 * c))),
                                           _mm256_set1_epi8(static_cast<char>(1 << (2 * c + 1))), 1);
    z = _mm512_mask_add_epi8(z, _mm512_test_epi8_mask(qh, bit), z, sixteen);
    acc = _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_maddubs_epi16(z, act.q[c]), scale_pair(sc16, 2 * c)));
  }
  return {_mm512_reduce_add_epi32(acc), mins_dot_bsums(sm, y.bsums)};
}

// q6_k: per half h, 64 bytes of ql give elements 128h + [0, 64) (low nibbles) and
// 128h + [64, 128) (high nibbles); their 2 high bits sit in the 32 bytes of qh at bit pairs
// (0, 2) and (4, 6) for the two 32-element halves of each. (q - 32) . q8 as maddubs(q, q8) -
// maddubs(32, q8): each <= 2 * 63 * 127, the difference within int16; madd with int8 scales.
inline Ints q6_k_ints(const BlockQ6_K& x, const Act& act) {
  const __m512i sc16 =
      _mm512_castsi256_si512(_mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x.scales))));
  const __m512i m4 = _mm512_set1_epi8(0x0f), m2 = _mm512_set1_epi8(3);
  const __m512i m32 = _mm512_set1_epi8(32);
  // Right shifts per 16-bit lane, bringing bit pairs (0, 2) / (4, 6) of qh down to bits 0-1.
  const __m512i shift_lo = _mm512_inserti64x4(_mm512_set1_epi16(0), _mm256_set1_epi16(2), 1);
  const __m512i shift_hi = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(6), 1);
  __m512i acc = _mm512_setzero_si512();
  for (int h = 0; h < 2; ++h) {
    const __m512i l = _mm512_loadu_si512(x.ql + 64 * h);
    const __m512i qh =
        _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.qh + 32 * h)));
    const __m512i q_lo = _mm512_or_si512(
        _mm512_and_si512(l, m4), _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(qh, shift_lo), m2), 4));
    const __m512i q_hi =
        _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), m4),
                        _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(qh, shift_hi), m2), 4));
    const __m512i y_lo = act.q[2 * h], y_hi = act.q[2 * h + 1];
    const __m512i p_lo = _mm512_sub_epi16(_mm512_maddubs_epi16(q_lo, y_lo), _mm512_maddubs_epi16(m32, y_lo));
    const __m512i p_hi = _mm512_sub_epi16(_mm512_maddubs_epi16(q_hi, y_hi), _mm512_maddubs_epi16(m32, y_hi));
    acc = _mm512_add_epi32(acc, _mm512_madd_epi16(p_lo, scale_quad(sc16, 8 * h)));
    acc = _mm512_add_epi32(acc, _mm512_madd_epi16(p_hi, scale_quad(sc16, 8 * h + 4)));
  }
  return {_mm512_reduce_add_epi32(acc), 0};
}

// The reference's float steps for one super-block.
inline void accumulate_dmin(float* sum, uint16_t d, uint16_t dmin, float d_a, Ints v) {
  *sum += f16_to_f32(d) * d_a * static_cast<float>(v.sumi);
  *sum -= f16_to_f32(dmin) * d_a * static_cast<float>(v.summ);
}

struct Q4K {
  using W = BlockQ4_K;
  static void step(float* sum, const W& x, const BlockQ8_K& y, const Act& act) {
    accumulate_dmin(sum, x.d, x.dmin, y.d, q4_k_ints(x, y, act));
  }
};
struct Q5K {
  using W = BlockQ5_K;
  static void step(float* sum, const W& x, const BlockQ8_K& y, const Act& act) {
    accumulate_dmin(sum, x.d, x.dmin, y.d, q5_k_ints(x, y, act));
  }
};
struct Q6K {
  using W = BlockQ6_K;
  static void step(float* sum, const W& x, const BlockQ8_K& y, const Act& act) {
    *sum += f16_to_f32(x.d) * y.d * static_cast<float>(q6_k_ints(x, act).sumi);
  }
};

template <class T>
void dot_one(int64_t n, const void* w, const void* a, float* out) {
  const auto* x = static_cast<const typename T::W*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  float sum = 0.0f;
  for (int64_t b = 0; b < n / kQK_K; ++b) T::step(&sum, x[b], y[b], Act(y[b]));
  *out = sum;
}

// Four rows at a time share each activation load; their float chains are independent.
template <class T>
void dot_rows(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* a, float* out) {
  using W = typename T::W;
  const auto* y = static_cast<const BlockQ8_K*>(a);
  const char* base = static_cast<const char*>(w);
  const int64_t nb = n / kQK_K;
  int64_t r = 0;
  for (; r + 4 <= n_rows; r += 4) {
    const W* x[4];
    for (int i = 0; i < 4; ++i) x[i] = reinterpret_cast<const W*>(base + static_cast<size_t>(r + i) * w_stride);
    float sum[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int64_t b = 0; b < nb; ++b) {
      const Act act(y[b]);
      for (int i = 0; i < 4; ++i) T::step(&sum[i], x[i][b], y[b], act);
    }
    for (int i = 0; i < 4; ++i) out[r + i] = sum[i];
  }
  for (; r < n_rows; ++r) dot_one<T>(n, base + static_cast<size_t>(r) * w_stride, a, out + r);
}

}  // namespace

void vec_dot_q4_k_q8_k(int64_t n, const void* w, const void* a, float* out) {
  dot_one<Q4K>(n, w, a, out);
}
void vec_dot_q5_k_q8_k(int64_t n, const void* w, const void* a, float* out) {
  dot_one<Q5K>(n, w, a, out);
}
void vec_dot_q6_k_q8_k(int64_t n, const void* w, const void* a, float* out) {
  dot_one<Q6K>(n, w, a, out);
}

void vec_dot_rows_q4_k_q8_k(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* a, float* out) {
  dot_rows<Q4K>(n, w, w_stride, n_rows, a, out);
}
void vec_dot_rows_q5_k_q8_k(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* a, float* out) {
  dot_rows<Q5K>(n, w, w_stride, n_rows, a, out);
}
void vec_dot_rows_q6_k_q8_k(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* a, float* out) {
  dot_rows<Q6K>(n, w, w_stride, n_rows, a, out);
}

}  // namespace minnow::kernels::avx512
