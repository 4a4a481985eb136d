// AVX2 dot products of the k-quants with q8_k activations. Per 256-element super-block the
// integer work stays in 8 int32 lanes (maddubs, then madd with each sub-block's scale) and is
// converted to float once; the min terms come from q8_k's bsums. Layouts are drawn above the
// scalar reference kernels in scalar/kquant_kernels.cpp.
#include "kernels/avx2/avx2_kernels.h"
#include "kernels/avx2/simd.h"
#include "tensor/blocks.h"

namespace minnow::kernels::avx2 {
namespace {

// The 12 packed scale bytes -> 16 bytes: sc[0..7] then m[0..7], each 6 bits.
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

// Broadcast int16 lane j of v (v holds the 8 scales widened to int16 in both halves).
inline __m256i broadcast_i16(__m256i v, int j) {
  return _mm256_shuffle_epi8(v, _mm256_set1_epi16(static_cast<int16_t>((2 * j + 1) << 8 | 2 * j)));
}

// sum_s m[s] * (bsums[2s] + bsums[2s+1]) for 8 sub-blocks of 32.
inline int32_t mins_dot_bsums(__m128i mins_u8x8, const int16_t* bsums) {
  const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bsums));
  const __m128i pair_sums = _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));
  __m128i prod = _mm_madd_epi16(_mm_cvtepu8_epi16(mins_u8x8), pair_sums);
  prod = _mm_add_epi32(prod, _mm_unpackhi_epi64(prod, prod));
  prod = _mm_add_epi32(prod, _mm_shuffle_epi32(prod, 0xb1));
  return _mm_cvtsi128_si32(prod);
}

}  // namespace

// q4_k x q8_k. Each 32-byte load of qs holds two sub-blocks: low nibbles (sub-block 2c) and
// high nibbles (2c + 1). maddubs of u4 x s8: 15 * 127 * 2 <= 32767; madd with the 6-bit scale.
void vec_dot_q4_k_q8_k(int64_t n, const void* w, const void* a, float* out) {
  const auto* x = static_cast<const BlockQ4_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  const int64_t nb = n / kQK_K;
  const __m256i m4 = _mm256_set1_epi8(0x0f);
  __m256 acc = _mm256_setzero_ps();
  float summ = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    const float d = f16_to_f32(x[b].d) * y[b].d;
    const float dmin = f16_to_f32(x[b].dmin) * y[b].d;
    const __m128i sm = unpack_scales_mins(x[b].scales);
    summ += dmin * static_cast<float>(mins_dot_bsums(_mm_unpackhi_epi64(sm, sm), y[b].bsums));
    const __m128i sc16 = _mm_cvtepu8_epi16(sm);
    const __m256i scales = _mm256_set_m128i(sc16, sc16);
    const uint8_t* q4 = x[b].qs;
    const int8_t* q8 = y[b].qs;
    __m256i sumi = _mm256_setzero_si256();
    for (int c = 0; c < kQK_K / 64; ++c) {
      const __m256i bits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q4 + 32 * c));
      const __m256i lo = _mm256_and_si256(bits, m4);
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
      const __m256i y0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q8 + 64 * c));
      const __m256i y1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q8 + 64 * c + 32));
      const __m256i p0 = _mm256_madd_epi16(broadcast_i16(scales, 2 * c), _mm256_maddubs_epi16(lo, y0));
      const __m256i p1 = _mm256_madd_epi16(broadcast_i16(scales, 2 * c + 1), _mm256_maddubs_epi16(hi, y1));
      sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p0, p1));
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
  }
  *out = hsum_f32x8(acc) - summ;
}

// q5_k x q8_k: as q4_k with a 5th bit from qh; bit 2c of qh[l] belongs to sub-block 2c,
// bit 2c + 1 to 2c + 1. maddubs of u5 x s8: 31 * 127 * 2 <= 32767.
void vec_dot_q5_k_q8_k(int64_t n, const void* w, const void* a, float* out) {
  const auto* x = static_cast<const BlockQ5_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  const int64_t nb = n / kQK_K;
  const __m256i m4 = _mm256_set1_epi8(0x0f);
  const __m256i sixteen = _mm256_set1_epi8(0x10);
  __m256 acc = _mm256_setzero_ps();
  float summ = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    const float d = f16_to_f32(x[b].d) * y[b].d;
    const float dmin = f16_to_f32(x[b].dmin) * y[b].d;
    const __m128i sm = unpack_scales_mins(x[b].scales);
    summ += dmin * static_cast<float>(mins_dot_bsums(_mm_unpackhi_epi64(sm, sm), y[b].bsums));
    const __m128i sc16 = _mm_cvtepu8_epi16(sm);
    const __m256i scales = _mm256_set_m128i(sc16, sc16);
    const __m256i hbits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qh));
    const uint8_t* q5 = x[b].qs;
    const int8_t* q8 = y[b].qs;
    __m256i sumi = _mm256_setzero_si256();
    __m256i hmask = _mm256_set1_epi8(1);
    for (int c = 0; c < kQK_K / 64; ++c) {
      const __m256i bits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q5 + 32 * c));
      const __m256i h0 = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(hbits, hmask), hmask), sixteen);
      hmask = _mm256_add_epi8(hmask, hmask);
      const __m256i h1 = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(hbits, hmask), hmask), sixteen);
      hmask = _mm256_add_epi8(hmask, hmask);
      const __m256i lo = _mm256_or_si256(_mm256_and_si256(bits, m4), h0);
      const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bits, 4), m4), h1);
      const __m256i y0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q8 + 64 * c));
      const __m256i y1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q8 + 64 * c + 32));
      const __m256i p0 = _mm256_madd_epi16(broadcast_i16(scales, 2 * c), _mm256_maddubs_epi16(lo, y0));
      const __m256i p1 = _mm256_madd_epi16(broadcast_i16(scales, 2 * c + 1), _mm256_maddubs_epi16(hi, y1));
      sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p0, p1));
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
  }
  *out = hsum_f32x8(acc) - summ;
}

// q6_k x q8_k. Per half of 128 elements: two 32-byte loads of ql, one of qh give four groups of
// 32 six-bit values q in [0, 63]. maddubs(q, q8) - maddubs(32, q8) = (q - 32) . q8 in int16
// (63 * 127 * 2 <= 32767), then madd with the int8 scales of the two 16-element sub-blocks.
void vec_dot_q6_k_q8_k(int64_t n, const void* w, const void* a, float* out) {
  const auto* x = static_cast<const BlockQ6_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  const int64_t nb = n / kQK_K;
  const __m256i m4 = _mm256_set1_epi8(0x0f);
  const __m256i m2 = _mm256_set1_epi8(3);
  const __m256i m32 = _mm256_set1_epi8(32);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const float d = f16_to_f32(x[b].d) * y[b].d;
    const __m128i scales = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x[b].scales));
    const uint8_t* ql = x[b].ql;
    const uint8_t* qh = x[b].qh;
    const int8_t* q8 = y[b].qs;
    __m256i sumi = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const __m256i l0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 64 * h));
      const __m256i l1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 64 * h + 32));
      const __m256i hb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qh + 32 * h));
      __m256i q[4];
      q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(hb, m2), 4));
      q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4),
                             _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2), m2), 4));
      q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                             _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 4), m2), 4));
      q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                             _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 6), m2), 4));
      for (int g = 0; g < 4; ++g) {
        // Group g covers sub-blocks 8h + 2g and 8h + 2g + 1: scale bytes widened to 16 lanes.
        const int s = 8 * h + 2 * g;
        const __m128i sel = _mm_set_epi64x(0x0101010101010101LL * (s + 1), 0x0101010101010101LL * s);
        const __m256i sc = _mm256_cvtepi8_epi16(_mm_shuffle_epi8(scales, sel));
        const __m256i yv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q8 + 128 * h + 32 * g));
        const __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(q[g], yv), _mm256_maddubs_epi16(m32, yv));
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(sc, p));
      }
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
  }
  *out = hsum_f32x8(acc);
}

}  // namespace minnow::kernels::avx2
