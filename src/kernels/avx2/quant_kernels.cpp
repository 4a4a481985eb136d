// AVX2 dot products of the 32-element block types with q8_0 / q8_1 activations. One block is
// one 256-bit register of 32 int8 lanes: maddubs (u8 x s8 -> pairs of int16) then madd with
// ones (-> int32 sums of 4) gives the exact integer dot of the block. The float scaling and
// accumulation then repeat the scalar reference's expressions in its order, so results are
// bit-identical to it. Why: these products feed the next layer's q8 activation rounding, and on
// small random models one activation rounded the other way moves logits by ~1%; a different
// float order (e.g. per-lane FMA accumulators) flips such near-ties where the scalar order, which
// is also the reference engine's generic order, reproduces its reference logits to 1e-6.
// The cost, one horizontal integer sum per 32 weights, is far below the memory time of decoding.
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
  float sum = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    const __m256i qx = _mm256_sub_epi8(nibbles_32(x[b].qs), eight);
    const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[b].qs));
    const int sumi = hsum_i32x8(dot_s8_s8(qx, qy));
    sum += static_cast<float>(sumi) * f16_to_f32(x[b].d) * f16_to_f32(y[b].d);
  }
  *out = sum;
}

// q4_1 x q8_1: | d f16 | m f16 | qs[16] | x | d f16 | s f16 | qs[32] |
// Unsigned nibbles go straight into maddubs (15 * 127 * 2 <= 32767); the min term is m * s.
void vec_dot_q4_1_q8_1(int64_t n, const void* w, const void* a, float* out) {
  const auto* x = static_cast<const BlockQ4_1*>(w);
  const auto* y = static_cast<const BlockQ8_1*>(a);
  const int64_t nb = n / kQK4_1;
  float sum = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    const __m256i qx = nibbles_32(x[b].qs);
    const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[b].qs));
    const int sumi = hsum_i32x8(dot_u8_s8(qx, qy));
    sum += (f16_to_f32(x[b].d) * f16_to_f32(y[b].d)) * static_cast<float>(sumi) +
           f16_to_f32(x[b].m) * f16_to_f32(y[b].s);
  }
  *out = sum;
}

// q5_0 x q8_0: | d f16 | qh[4] | qs[16] | x | d f16 | qs[32] |
// Bytes where the 5th bit is clear get 0xf0 or-ed in: nibble | 0xf0 == nibble - 16 as int8.
void vec_dot_q5_0_q8_0(int64_t n, const void* w, const void* a, float* out) {
  const auto* x = static_cast<const BlockQ5_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  const int64_t nb = n / kQK5_0;
  const __m256i f0 = _mm256_set1_epi8(static_cast<char>(0xf0));
  float sum = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    const __m256i hi = _mm256_andnot_si256(bits_to_bytes_32(x[b].qh), f0);
    const __m256i qx = _mm256_or_si256(nibbles_32(x[b].qs), hi);
    const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[b].qs));
    const int sumi = hsum_i32x8(dot_s8_s8(qx, qy));
    sum += (f16_to_f32(x[b].d) * f16_to_f32(y[b].d)) * static_cast<float>(sumi);
  }
  *out = sum;
}

// q5_1 x q8_1: | d f16 | m f16 | qh[4] | qs[16] | x | d f16 | s f16 | qs[32] |
// q = nibble | 16 * bit in [0, 31], unsigned into maddubs (31 * 127 * 2 <= 32767).
void vec_dot_q5_1_q8_1(int64_t n, const void* w, const void* a, float* out) {
  const auto* x = static_cast<const BlockQ5_1*>(w);
  const auto* y = static_cast<const BlockQ8_1*>(a);
  const int64_t nb = n / kQK5_1;
  const __m256i sixteen = _mm256_set1_epi8(0x10);
  float sum = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    const __m256i hi = _mm256_and_si256(bits_to_bytes_32(x[b].qh), sixteen);
    const __m256i qx = _mm256_or_si256(nibbles_32(x[b].qs), hi);
    const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[b].qs));
    const int sumi = hsum_i32x8(dot_u8_s8(qx, qy));
    sum += (f16_to_f32(x[b].d) * f16_to_f32(y[b].d)) * static_cast<float>(sumi) +
           f16_to_f32(x[b].m) * f16_to_f32(y[b].s);
  }
  *out = sum;
}

// q8_0 x q8_0: | d f16 | qs[32] | x | d f16 | qs[32] |
void vec_dot_q8_0_q8_0(int64_t n, const void* w, const void* a, float* out) {
  const auto* x = static_cast<const BlockQ8_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  const int64_t nb = n / kQK8_0;
  float sum = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    const __m256i qx = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qs));
    const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[b].qs));
    const int sumi = hsum_i32x8(dot_s8_s8(qx, qy));
    sum += static_cast<float>(sumi) * (f16_to_f32(x[b].d) * f16_to_f32(y[b].d));
  }
  *out = sum;
}

}  // namespace minnow::kernels::avx2
