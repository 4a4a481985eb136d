// The 32-element block types as the GEMM kernels see them (avx512/gemm.cpp with VNNI, amx/gemm.cpp
// with AMX tiles): a block's weights as 32 signed bytes in element order, its scales, and its
// float term in the scalar reference's expression. Include only from AVX-512 files (simd.h).
#pragma once

#include "kernels/avx512/simd.h"
#include "tensor/blocks.h"

namespace minnow::kernels::avx512 {
namespace {

template <class A>
constexpr bool kHasS = false;  // q8_1 activations carry s = d * sum(q)
template <>
constexpr bool kHasS<BlockQ8_1> = true;

// 16 bytes of packed nibbles -> 32 bytes: low nibbles (elements 0-15), then high (16-31).
inline __m256i nibbles_32(const uint8_t* p) {
  const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(lo, 4), lo), _mm256_set1_epi8(0x0f));
}

// + 16 on the bytes whose bit in the 4 bytes at qh is set (element j <- bit j).
inline __m256i add_high_bit(__m256i v, const uint8_t* qh) {
  uint32_t h;
  std::memcpy(&h, qh, 4);
  return _mm256_mask_add_epi8(v, _cvtu32_mask32(h), v, _mm256_set1_epi8(0x10));
}

// Per type: W the weight block, A the activation block, kMin whether it has a min m, weights()
// the 32 weights as signed bytes, and term() the block's float term for 16 outputs from their
// exact integer sums f, the weight scales d (and mins m) and the activation scales dy (and s,
// sy), lane by lane, in the reference's expression (scalar/quant_kernels.cpp).

struct GemmQ4_0 {
  using W = BlockQ4_0;
  using A = BlockQ8_0;
  static constexpr bool kMin = false;
  static __m256i weights(const W& x) { return _mm256_sub_epi8(nibbles_32(x.qs), _mm256_set1_epi8(8)); }
  // sumi * d_w * d_a, left to right
  static __m512 term(__m512 f, __m512 d, __m512, __m512 dy, __m512) {
    return _mm512_mul_ps(_mm512_mul_ps(f, d), dy);
  }
};

struct GemmQ4_1 {
  using W = BlockQ4_1;
  using A = BlockQ8_1;
  static constexpr bool kMin = true;
  static __m256i weights(const W& x) { return nibbles_32(x.qs); }
  // (d_w * d_a) * sumi + m * s
  static __m512 term(__m512 f, __m512 d, __m512 m, __m512 dy, __m512 sy) {
    return _mm512_add_ps(_mm512_mul_ps(_mm512_mul_ps(d, dy), f), _mm512_mul_ps(m, sy));
  }
};

struct GemmQ5_0 {
  using W = BlockQ5_0;
  using A = BlockQ8_0;
  static constexpr bool kMin = false;
  static __m256i weights(const W& x) {
    return _mm256_sub_epi8(add_high_bit(nibbles_32(x.qs), x.qh), _mm256_set1_epi8(16));
  }
  // (d_w * d_a) * sumi
  static __m512 term(__m512 f, __m512 d, __m512, __m512 dy, __m512) {
    return _mm512_mul_ps(_mm512_mul_ps(d, dy), f);
  }
};

struct GemmQ5_1 {
  using W = BlockQ5_1;
  using A = BlockQ8_1;
  static constexpr bool kMin = true;
  static __m256i weights(const W& x) { return add_high_bit(nibbles_32(x.qs), x.qh); }
  static __m512 term(__m512 f, __m512 d, __m512 m, __m512 dy, __m512 sy) {
    return GemmQ4_1::term(f, d, m, dy, sy);
  }
};

struct GemmQ8_0 {
  using W = BlockQ8_0;
  using A = BlockQ8_0;
  static constexpr bool kMin = false;
  static __m256i weights(const W& x) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.qs)); }
  // sumi * (d_w * d_a)
  static __m512 term(__m512 f, __m512 d, __m512, __m512 dy, __m512) {
    return _mm512_mul_ps(f, _mm512_mul_ps(d, dy));
  }
};

// d (and m) of a block as floats.
template <class T>
inline void block_scales(const typename T::W& x, float* d, float* m) {
  *d = f16_to_f32(x.d);
  if constexpr (T::kMin) *m = f16_to_f32(x.m);
}

}  // namespace
}  // namespace minnow::kernels::avx512
