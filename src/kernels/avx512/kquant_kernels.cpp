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

// A super-block's integer sums before their final horizontal adds: sumi (sum over sub-blocks of
// scale * (q . q8)) spread over 16 int32 lanes, and summ (sum over sub-blocks of min * (sum of
// q8), q4_k/q5_k only) over 4. Exact in any order (bounds beside each kernel).
struct Partial {
  __m512i sumi;
  __m128i summ;
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

// vpermw index vectors for q6_k: int16 lanes 8k..8k+7 <- scale 4j + k (kQuadIdx[j], the scales
// of four 16-element sub-blocks).
struct QuadIdx {
  alignas(64) int16_t v[4][32];
  constexpr QuadIdx() : v() {
    for (int j = 0; j < 4; ++j)
      for (int l = 0; l < 32; ++l) v[j][l] = static_cast<int16_t>(4 * j + l / 8);
  }
};
constexpr QuadIdx kQuadIdx;

inline __m512i load_idx(const int16_t* p) {
  return _mm512_load_si512(p);
}

// The activation side of a super-block, shared by every row: 4 x 64 bytes of q8 and the 8 sums
// of 32 (pairs of bsums, for the mins).
struct Act {
  __m512i q[4];      // elements [64i, 64i + 64)
  __m512i split[4];  // q4_k/q5_k order: elements [32i', +32) and [32i' + 64, +32), i' = 64(i/2) + i%2
  __m128i pair_sums;
  explicit Act(const BlockQ8_K& y) {
    for (int i = 0; i < 4; ++i) q[i] = _mm512_loadu_si512(y.qs + 64 * i);
    for (int i = 0; i < 4; ++i) {
      const int8_t* p = y.qs + 128 * (i / 2) + 32 * (i % 2);
      split[i] =
          _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))),
                             _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 64)), 1);
    }
    const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y.bsums));
    pair_sums = _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));  // <= 4064
  }
};

// mins . pair sums as 4 int32 lanes (8 u8 mins, 6 bits, in the high half of scales_mins).
inline __m128i mins_partial(__m128i scales_mins, const Act& act) {
  return _mm_madd_epi16(_mm_cvtepu8_epi16(_mm_unpackhi_epi64(scales_mins, scales_mins)), act.pair_sums);
}

// q4_k and q5_k. 64 bytes of qs hold chunks c and c + 1: low nibbles = sub-blocks 2c (bytes
// 0-31) and 2c + 2 (32-63), high nibbles 2c + 1 and 2c + 3; Act::split orders the activations
// to match. vpdpbusd gives 4-product sums; reduce_4x4 of the four registers leaves in lane
// 4k + j the sum over 128-bit lane k of register j, 16 products of one sub-block, which is then
// multiplied by that sub-block's scale: for q4_k |sum| <= 16 * 15 * 127 < 2^15, so vpmaddwd
// with the scale in the low half of each lane is exact; q5_k's sums reach 16 * 31 * 127 and
// take vpmulld. Sub-block of lane 4k + j: 4(j / 2) + j % 2 + 2(k / 2). |sumi| < 2^26.
inline __m512i k_scales_by_lane(__m128i scales_mins) {
  const __m512i sc32 = _mm512_cvtepu8_epi32(scales_mins);  // sc[0..7], m[0..7]
  const __m512i idx = _mm512_setr_epi32(0, 1, 4, 5, 0, 1, 4, 5, 2, 3, 6, 7, 2, 3, 6, 7);
  return _mm512_permutexvar_epi32(idx, sc32);
}

template <bool kFifth>
[[gnu::always_inline]] inline Partial q45_k_partial(const uint8_t* qs, const uint8_t* qh,
                                                    const uint8_t* scales, const Act& act) {
  const __m128i sm = unpack_scales_mins(scales);
  const __m512i m4 = _mm512_set1_epi8(0x0f);
  __m512i z[4];
  for (int h = 0; h < 2; ++h) {
    const __m512i v = _mm512_loadu_si512(qs + 64 * h);
    z[2 * h] = _mm512_and_si512(v, m4);
    z[2 * h + 1] = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
  }
  if constexpr (kFifth) {
    // 5th bits: sub-block s takes bit s of qh[l]; register j holds sub-blocks j' and j' + 2,
    // j' = 4(j / 2) + j % 2.
    const __m512i hb = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(qh)));
    const __m512i sixteen = _mm512_set1_epi8(0x10);
    for (int j = 0; j < 4; ++j) {
      const int s0 = 4 * (j / 2) + j % 2;
      const __m512i bit = _mm512_inserti64x4(_mm512_set1_epi8(static_cast<char>(1 << s0)),
                                             _mm256_set1_epi8(static_cast<char>(1 << (s0 + 2))), 1);
      z[j] = _mm512_mask_add_epi8(z[j], _mm512_test_epi8_mask(hb, bit), z[j], sixteen);
    }
  }
  const __m512i zero = _mm512_setzero_si512();
  const __m512i sums = reduce_4x4(
      _mm512_dpbusd_epi32(zero, z[0], act.split[0]), _mm512_dpbusd_epi32(zero, z[1], act.split[1]),
      _mm512_dpbusd_epi32(zero, z[2], act.split[2]), _mm512_dpbusd_epi32(zero, z[3], act.split[3]));
  const __m512i scaled =
      kFifth ? _mm512_mullo_epi32(sums, k_scales_by_lane(sm)) : _mm512_madd_epi16(sums, k_scales_by_lane(sm));
  return {scaled, mins_partial(sm, act)};
}

inline Partial q4_k_partial(const BlockQ4_K& x, const Act& act) {
  return q45_k_partial<false>(x.qs, nullptr, x.scales, act);
}
inline Partial q5_k_partial(const BlockQ5_K& x, const Act& act) {
  return q45_k_partial<true>(x.qs, x.qh, x.scales, act);
}

// q6_k: per half h, 64 bytes of ql give elements 128h + [0, 64) (low nibbles) and
// 128h + [64, 128) (high nibbles); their 2 high bits sit in the 32 bytes of qh at bit pairs
// (0, 2) and (4, 6) for the two 32-element halves of each. (q - 32) . q8 as maddubs(q, q8) -
// maddubs(32, q8): each <= 2 * 63 * 127, the difference within int16; madd with int8 scales.
[[gnu::always_inline]] inline Partial q6_k_partial(const BlockQ6_K& x, const Act& act) {
  const __m512i sc16 = _mm512_castsi256_si512(
      _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x.scales))));
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
    acc = _mm512_add_epi32(
        acc, _mm512_madd_epi16(p_lo, _mm512_permutexvar_epi16(load_idx(kQuadIdx.v[2 * h]), sc16)));
    acc = _mm512_add_epi32(
        acc, _mm512_madd_epi16(p_hi, _mm512_permutexvar_epi16(load_idx(kQuadIdx.v[2 * h + 1]), sc16)));
  }
  return {acc, _mm_setzero_si128()};
}

// Per type: W, partial(), whether the float step has the mins term, and where d (and dmin
// after it) sit. The float step, in the scalar reference's order per super-block:
//   sum += (d * d_a) * sumi;   sum -= (dmin * d_a) * summ   (q4_k, q5_k)
//   sum += (d * d_a) * sumi                                 (q6_k)
struct Q4K {
  using W = BlockQ4_K;
  static constexpr bool kMins = true;
  static constexpr size_t kHead = offsetof(BlockQ4_K, d);
  static Partial partial(const W& x, const Act& act) { return q4_k_partial(x, act); }
};
struct Q5K {
  using W = BlockQ5_K;
  static constexpr bool kMins = true;
  static constexpr size_t kHead = offsetof(BlockQ5_K, d);
  static Partial partial(const W& x, const Act& act) { return q5_k_partial(x, act); }
};
struct Q6K {
  using W = BlockQ6_K;
  static constexpr bool kMins = false;
  static constexpr size_t kHead = offsetof(BlockQ6_K, d);
  static Partial partial(const W& x, const Act& act) { return q6_k_partial(x, act); }
};

inline int32_t hsum_i32x4(__m128i v) {
  v = _mm_add_epi32(v, _mm_unpackhi_epi64(v, v));
  return _mm_cvtsi128_si32(_mm_add_epi32(v, _mm_shuffle_epi32(v, 0xb1)));
}

template <class T>
void dot_one(int64_t n, const void* w, const void* a, float* out) {
  const auto* x = static_cast<const typename T::W*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  float sum = 0.0f;
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const Partial p = T::partial(x[b], Act(y[b]));
    uint16_t h[2];
    std::memcpy(h, reinterpret_cast<const char*>(&x[b]) + T::kHead, T::kMins ? 4 : 2);
    sum += f16_to_f32(h[0]) * y[b].d * static_cast<float>(_mm512_reduce_add_epi32(p.sumi));
    if constexpr (T::kMins) sum -= f16_to_f32(h[1]) * y[b].d * static_cast<float>(hsum_i32x4(p.summ));
  }
  *out = sum;
}

// Four vectors of 4 int32 partials -> lane r = the total of vector r.
inline __m128i reduce_4x4_i32(__m128i a0, __m128i a1, __m128i a2, __m128i a3) {
  const __m128i s01 = _mm_add_epi32(_mm_unpacklo_epi32(a0, a1), _mm_unpackhi_epi32(a0, a1));
  const __m128i s23 = _mm_add_epi32(_mm_unpacklo_epi32(a2, a3), _mm_unpackhi_epi32(a2, a3));
  return _mm_add_epi32(_mm_unpacklo_epi64(s01, s23), _mm_unpackhi_epi64(s01, s23));
}

// Four rows at a time: the activation side is loaded once, the horizontal adds are shared, and
// lane r of a 4-lane float vector runs row r's chain of the reference's float steps.
template <class T>
void dot_rows(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* a, float* out) {
  using W = typename T::W;
  const auto* y = static_cast<const BlockQ8_K*>(a);
  const char* base = static_cast<const char*>(w);
  const int64_t nb = n / kQK_K;
  int64_t r = 0;
  for (; r + 4 <= n_rows; r += 4) {
    const W* x[4];
    for (int i = 0; i < 4; ++i)
      x[i] = reinterpret_cast<const W*>(base + static_cast<size_t>(r + i) * w_stride);
    // The next 4 rows, super-block by super-block in step with these (as the 32-block kernels
    // do, avx512/quant_kernels.cpp): 4 interleaved short streams defeat the hardware prefetchers.
    const int64_t ahead = n_rows - r - 4 < 4 ? n_rows - r - 4 : 4;
    const char* next = base + static_cast<size_t>(r + 4) * w_stride;
    __m128 sum = _mm_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      for (int64_t i = 0; i < ahead; ++i) {
        const char* p = next + static_cast<size_t>(i) * w_stride + static_cast<size_t>(b) * sizeof(W);
        for (size_t off = 0; off < sizeof(W); off += 64) _mm_prefetch(p + off, _MM_HINT_T0);
        _mm_prefetch(p + sizeof(W) - 1, _MM_HINT_T0);  // the block need not start a cache line
      }
      const Act act(y[b]);
      Partial p[4];
      int32_t head[4] = {0, 0, 0, 0};  // d | dmin << 16 (q6_k: d only; its block ends there)
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) {
        p[i] = T::partial(x[i][b], act);
        std::memcpy(&head[i], reinterpret_cast<const char*>(&x[i][b]) + T::kHead, T::kMins ? 4 : 2);
      }
      // sumi: 4 x 16 lanes -> 4 x 4 (lane k of row r: its 128-bit lane k) -> 4
      const __m512i f = reduce_4x4(p[0].sumi, p[1].sumi, p[2].sumi, p[3].sumi);  // lane 4k + r
      const __m256i f2 = _mm256_add_epi32(_mm512_castsi512_si256(f), _mm512_extracti64x4_epi64(f, 1));
      const __m128i sumi = _mm_add_epi32(_mm256_castsi256_si128(f2), _mm256_extracti128_si256(f2, 1));
      const __m128i hv = _mm_loadu_si128(reinterpret_cast<const __m128i*>(head));
      const __m128 dy = _mm_set1_ps(y[b].d);
      const __m128i d_lo = _mm_and_si128(hv, _mm_set1_epi32(0xffff));
      const __m128 d = _mm_cvtph_ps(_mm_packus_epi32(d_lo, d_lo));
      sum = _mm_add_ps(sum, _mm_mul_ps(_mm_mul_ps(d, dy), _mm_cvtepi32_ps(sumi)));
      if constexpr (T::kMins) {
        const __m128i summ = reduce_4x4_i32(p[0].summ, p[1].summ, p[2].summ, p[3].summ);
        const __m128i m_hi = _mm_srli_epi32(hv, 16);
        const __m128 dmin = _mm_cvtph_ps(_mm_packus_epi32(m_hi, m_hi));
        sum = _mm_sub_ps(sum, _mm_mul_ps(_mm_mul_ps(dmin, dy), _mm_cvtepi32_ps(summ)));
      }
    }
    _mm_storeu_ps(out + r, sum);
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

void vec_dot_rows_q4_k_q8_k(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* a,
                            float* out) {
  dot_rows<Q4K>(n, w, w_stride, n_rows, a, out);
}
void vec_dot_rows_q5_k_q8_k(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* a,
                            float* out) {
  dot_rows<Q5K>(n, w, w_stride, n_rows, a, out);
}
void vec_dot_rows_q6_k_q8_k(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* a,
                            float* out) {
  dot_rows<Q6K>(n, w, w_stride, n_rows, a, out);
}

}  // namespace minnow::kernels::avx512
