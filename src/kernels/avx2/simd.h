// Small AVX2 helpers shared by the avx2/*.cpp files; include only from there (it needs
// -mavx2 -mfma -mf16c). Everything has internal linkage so no AVX2 code can be picked by the
// linker for a generic caller (an inline function emitted in two objects with different
// flags would be an ODR trap); for the same reason these files call no header-defined
// functions from tensor/ or the standard library.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace minnow::kernels::avx2 {
namespace {

inline float f16_to_f32(uint16_t h) {
  return _cvtsh_ss(h);
}

// Sum of the 8 lanes.
inline float hsum_f32x8(__m256 x) {
  __m128 r = _mm_add_ps(_mm256_extractf128_ps(x, 1), _mm256_castps256_ps128(x));
  r = _mm_add_ps(r, _mm_movehl_ps(r, r));
  r = _mm_add_ss(r, _mm_movehdup_ps(r));
  return _mm_cvtss_f32(r);
}

// Sum of the 8 int32 lanes.
inline int32_t hsum_i32x8(__m256i x) {
  __m128i r = _mm_add_epi32(_mm256_extracti128_si256(x, 1), _mm256_castsi256_si128(x));
  r = _mm_add_epi32(r, _mm_unpackhi_epi64(r, r));
  r = _mm_add_epi32(r, _mm_shuffle_epi32(r, 0xb1));
  return _mm_cvtsi128_si32(r);
}

// 16 bytes of packed nibbles -> 32 bytes: low nibbles in bytes 0-15, high nibbles in 16-31
// (the element order of q4_0/q4_1/q5_0/q5_1).
inline __m256i nibbles_32(const uint8_t* p) {
  const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m256i both = _mm256_set_m128i(_mm_srli_epi16(lo, 4), lo);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0f));
}

// 32 bits -> 32 bytes, 0xff where the bit is set (byte j <- bit j).
inline __m256i bits_to_bytes_32(const uint8_t* p) {
  uint32_t x32;
  std::memcpy(&x32, p, sizeof(x32));
  const __m256i shuf = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0);
  __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(x32)), shuf);
  bytes = _mm256_or_si256(bytes, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
  return _mm256_cmpeq_epi8(bytes, _mm256_set1_epi64x(-1));
}

// Pairwise int32 sums of u8 x s8 products: lanes hold sum over 4 consecutive bytes.
// maddubs saturates at int16; callers keep |u| * |s| * 2 <= 32767.
inline __m256i dot_u8_s8(__m256i u, __m256i s) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

// Same for s8 x s8, via |x| * sign(y, x). Exact for any x (|-128| reads as u8 128) and any
// y but -128, which no activation quantizer produces (|q| <= 127 by construction).
inline __m256i dot_s8_s8(__m256i x, __m256i y) {
  return dot_u8_s8(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}

}  // namespace
}  // namespace minnow::kernels::avx2
