// AVX2 dot products of the 32-element block types with q8_0 / q8_1 activations. One block is
// one 256-bit register of 32 int8 lanes: maddubs (u8 x s8 -> pairs of int16) then madd with
// ones (-> int32 sums of 4) gives the exact integer dot; one FMA per block applies the scales.
// Layouts are drawn above the scalar reference kernels in scalar/quant_kernels.cpp.
#include "kernels/avx2/avx2_kernels.h"
#include "kernels/avx2/simd.h"
#include "tensor/blocks.h"

namespace minnow::kernels::avx2 {

// q4_0 x q8_0: | d f16 | qs[16] nibbles | x | d f16 | qs[32] int8 |
// Weights become signed bytes q - 8 in [-8, 7]; |q - 8| * |q8| * 2 <= 2032, no saturation.
void vec_dot_q4_0_q8_0(int64_t n, const void* w, const void* a, float* out) {
  const auto* x = static_cast<const BlockQ4_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  const int64_t nb = n / kQK4_0;
  const __m256i eight = _mm256_set1_epi8(8);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t b = 0;
  for (; b + 2 <= nb; b += 2) {
    const __m256i qx0 = _mm256_sub_epi8(nibbles_32(x[b].qs), eight);
    const __m256i qx1 = _mm256_sub_epi8(nibbles_32(x[b + 1].qs), eight);
    const __m256i qy0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[b].qs));
    const __m256i qy1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[b + 1].qs));
    const __m256 d0 = _mm256_set1_ps(f16_to_f32(x[b].d) * f16_to_f32(y[b].d));
    const __m256 d1 = _mm256_set1_ps(f16_to_f32(x[b + 1].d) * f16_to_f32(y[b + 1].d));
    acc0 = _mm256_fmadd_ps(d0, _mm256_cvtepi32_ps(dot_s8_s8(qx0, qy0)), acc0);
    acc1 = _mm256_fmadd_ps(d1, _mm256_cvtepi32_ps(dot_s8_s8(qx1, qy1)), acc1);
  }
  if (b < nb) {
    const __m256i qx = _mm256_sub_epi8(nibbles_32(x[b].qs), eight);
    const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[b].qs));
    const __m256 d = _mm256_set1_ps(f16_to_f32(x[b].d) * f16_to_f32(y[b].d));
    acc0 = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_s8_s8(qx, qy)), acc0);
  }
  *out = hsum_f32x8(_mm256_add_ps(acc0, acc1));
}

// q4_1 x q8_1: | d f16 | m f16 | qs[16] | x | d f16 | s f16 | qs[32] |
// Unsigned nibbles go straight into maddubs (15 * 127 * 2 <= 32767); the min term is m * s.
void vec_dot_q4_1_q8_1(int64_t n, const void* w, const void* a, float* out) {
  const auto* x = static_cast<const BlockQ4_1*>(w);
  const auto* y = static_cast<const BlockQ8_1*>(a);
  const int64_t nb = n / kQK4_1;
  __m256 acc = _mm256_setzero_ps();
  float summs = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    summs += f16_to_f32(x[b].m) * f16_to_f32(y[b].s);
    const __m256i qx = nibbles_32(x[b].qs);
    const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[b].qs));
    const __m256 d = _mm256_set1_ps(f16_to_f32(x[b].d) * f16_to_f32(y[b].d));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_u8_s8(qx, qy)), acc);
  }
  *out = hsum_f32x8(acc) + summs;
}

// q5_0 x q8_0: | d f16 | qh[4] | qs[16] | x | d f16 | qs[32] |
// Bytes where the 5th bit is clear get 0xf0 or-ed in: nibble | 0xf0 == nibble - 16 as int8.
void vec_dot_q5_0_q8_0(int64_t n, const void* w, const void* a, float* out) {
  const auto* x = static_cast<const BlockQ5_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  const int64_t nb = n / kQK5_0;
  const __m256i f0 = _mm256_set1_epi8(static_cast<char>(0xf0));
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const __m256i hi = _mm256_andnot_si256(bits_to_bytes_32(x[b].qh), f0);
    const __m256i qx = _mm256_or_si256(nibbles_32(x[b].qs), hi);
    const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[b].qs));
    const __m256 d = _mm256_set1_ps(f16_to_f32(x[b].d) * f16_to_f32(y[b].d));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_s8_s8(qx, qy)), acc);
  }
  *out = hsum_f32x8(acc);
}

// q5_1 x q8_1: | d f16 | m f16 | qh[4] | qs[16] | x | d f16 | s f16 | qs[32] |
// q = nibble | 16 * bit in [0, 31], unsigned into maddubs (31 * 127 * 2 <= 32767).
void vec_dot_q5_1_q8_1(int64_t n, const void* w, const void* a, float* out) {
  const auto* x = static_cast<const BlockQ5_1*>(w);
  const auto* y = static_cast<const BlockQ8_1*>(a);
  const int64_t nb = n / kQK5_1;
  const __m256i sixteen = _mm256_set1_epi8(0x10);
  __m256 acc = _mm256_setzero_ps();
  float summs = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    summs += f16_to_f32(x[b].m) * f16_to_f32(y[b].s);
    const __m256i hi = _mm256_and_si256(bits_to_bytes_32(x[b].qh), sixteen);
    const __m256i qx = _mm256_or_si256(nibbles_32(x[b].qs), hi);
    const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[b].qs));
    const __m256 d = _mm256_set1_ps(f16_to_f32(x[b].d) * f16_to_f32(y[b].d));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_u8_s8(qx, qy)), acc);
  }
  *out = hsum_f32x8(acc) + summs;
}

// q8_0 x q8_0: | d f16 | qs[32] | x | d f16 | qs[32] |
void vec_dot_q8_0_q8_0(int64_t n, const void* w, const void* a, float* out) {
  const auto* x = static_cast<const BlockQ8_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  const int64_t nb = n / kQK8_0;
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t b = 0;
  for (; b + 2 <= nb; b += 2) {
    const __m256i qx0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qs));
    const __m256i qx1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b + 1].qs));
    const __m256i qy0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[b].qs));
    const __m256i qy1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[b + 1].qs));
    const __m256 d0 = _mm256_set1_ps(f16_to_f32(x[b].d) * f16_to_f32(y[b].d));
    const __m256 d1 = _mm256_set1_ps(f16_to_f32(x[b + 1].d) * f16_to_f32(y[b + 1].d));
    acc0 = _mm256_fmadd_ps(d0, _mm256_cvtepi32_ps(dot_s8_s8(qx0, qy0)), acc0);
    acc1 = _mm256_fmadd_ps(d1, _mm256_cvtepi32_ps(dot_s8_s8(qx1, qy1)), acc1);
  }
  if (b < nb) {
    const __m256i qx = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qs));
    const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[b].qs));
    const __m256 d = _mm256_set1_ps(f16_to_f32(x[b].d) * f16_to_f32(y[b].d));
    acc0 = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_s8_s8(qx, qy)), acc0);
  }
  *out = hsum_f32x8(_mm256_add_ps(acc0, acc1));
}

}  // namespace minnow::kernels::avx2
