// Scalar reference dot products of the 32-element block types (q4_0, q4_1, q5_0, q5_1, q8_0)
// with q8_0 / q8_1 activations. Each block's integer dot product is exact; the float part is
// one scale product per block, summed left to right — the reference engine's definition.
#include <cstring>

#include "kernels/scalar/scalar_kernels.h"
#include "tensor/blocks.h"
#include "tensor/fp16.h"

namespace minnow::kernels::scalar {

// q4_0 weights x q8_0 activations, per 32-element block:
//
//   BlockQ4_0 (18 B): | d: f16 | qs[16]: byte j = elem j (low nibble), elem j+16 (high nibble) |
//   BlockQ8_0 (34 B): | d: f16 | qs[32]: int8, byte j = elem j                                 |
//
//   w_j = d_w * (q_j - 8),  a_j = d_a * q8_j
//   sum += sumi * d_w * d_a (left to right),  sumi = sum_j (q_j - 8) * q8_j
void vec_dot_q4_0_q8_0(int64_t n, const void* w, const void* a, float* out) {
  const auto* x = static_cast<const BlockQ4_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  const int64_t nb = n / kQK4_0;
  float sum = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    int sumi = 0;
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      const int v0 = (x[b].qs[j] & 0x0f) - 8;
      const int v1 = (x[b].qs[j] >> 4) - 8;
      sumi += v0 * y[b].qs[j] + v1 * y[b].qs[j + kQK4_0 / 2];
    }
    sum += static_cast<float>(sumi) * fp16_to_fp32(x[b].d) * fp16_to_fp32(y[b].d);
  }
  *out = sum;
}

// q4_1 weights x q8_1 activations, per 32-element block:
//
//   BlockQ4_1 (20 B): | d: f16 | m: f16 | qs[16]: elem j low nibble, elem j+16 high nibble |
//   BlockQ8_1 (36 B): | d: f16 | s: f16 = d * sum(qs) | qs[32]: int8                     |
//
//   w_j = d_w * q_j + m,  a_j = d_a * q8_j
//   sum_j w_j a_j = (d_w * d_a) * sumi + m * s,  sumi = sum_j q_j * q8_j
void vec_dot_q4_1_q8_1(int64_t n, const void* w, const void* a, float* out) {
  const auto* x = static_cast<const BlockQ4_1*>(w);
  const auto* y = static_cast<const BlockQ8_1*>(a);
  const int64_t nb = n / kQK4_1;
  float sum = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    int sumi = 0;
    for (int j = 0; j < kQK4_1 / 2; ++j) {
      const int v0 = x[b].qs[j] & 0x0f;
      const int v1 = x[b].qs[j] >> 4;
      sumi += v0 * y[b].qs[j] + v1 * y[b].qs[j + kQK4_1 / 2];
    }
    sum += (fp16_to_fp32(x[b].d) * fp16_to_fp32(y[b].d)) * static_cast<float>(sumi) +
           fp16_to_fp32(x[b].m) * fp16_to_fp32(y[b].s);
  }
  *out = sum;
}

// q5_0 weights x q8_0 activations, per 32-element block:
//
//   BlockQ5_0 (22 B): | d: f16 | qh[4]: bit j = 5th bit of elem j | qs[16]: low 4 bits, as q4_0 |
//
//   w_j = d_w * (q_j - 16), q_j = nibble | (bit j of qh) << 4, in [0, 31]
void vec_dot_q5_0_q8_0(int64_t n, const void* w, const void* a, float* out) {
  const auto* x = static_cast<const BlockQ5_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  const int64_t nb = n / kQK5_0;
  float sum = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    uint32_t qh;
    std::memcpy(&qh, x[b].qh, sizeof(qh));
    int sumi = 0;
    for (int j = 0; j < kQK5_0 / 2; ++j) {
      const int h0 = static_cast<int>((qh >> j) & 1u) << 4;
      const int h1 = static_cast<int>((qh >> (j + 16)) & 1u) << 4;
      const int v0 = ((x[b].qs[j] & 0x0f) | h0) - 16;
      const int v1 = ((x[b].qs[j] >> 4) | h1) - 16;
      sumi += v0 * y[b].qs[j] + v1 * y[b].qs[j + kQK5_0 / 2];
    }
    sum += (fp16_to_fp32(x[b].d) * fp16_to_fp32(y[b].d)) * static_cast<float>(sumi);
  }
  *out = sum;
}

// q5_1 weights x q8_1 activations, per 32-element block:
//
//   BlockQ5_1 (24 B): | d: f16 | m: f16 | qh[4]: 5th bits | qs[16]: low 4 bits |
//
//   w_j = d_w * q_j + m, q_j in [0, 31];  sum = (d_w * d_a) * sumi + m * s
void vec_dot_q5_1_q8_1(int64_t n, const void* w, const void* a, float* out) {
  const auto* x = static_cast<const BlockQ5_1*>(w);
  const auto* y = static_cast<const BlockQ8_1*>(a);
  const int64_t nb = n / kQK5_1;
  float sum = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    uint32_t qh;
    std::memcpy(&qh, x[b].qh, sizeof(qh));
    int sumi = 0;
    for (int j = 0; j < kQK5_1 / 2; ++j) {
      const int h0 = static_cast<int>((qh >> j) & 1u) << 4;
      const int h1 = static_cast<int>((qh >> (j + 16)) & 1u) << 4;
      const int v0 = (x[b].qs[j] & 0x0f) | h0;
      const int v1 = (x[b].qs[j] >> 4) | h1;
      sumi += v0 * y[b].qs[j] + v1 * y[b].qs[j + kQK5_1 / 2];
    }
    sum += (fp16_to_fp32(x[b].d) * fp16_to_fp32(y[b].d)) * static_cast<float>(sumi) +
           fp16_to_fp32(x[b].m) * fp16_to_fp32(y[b].s);
  }
  *out = sum;
}

// q8_0 weights x q8_0 activations, per 32-element block:
//
//   BlockQ8_0 (34 B): | d: f16 | qs[32]: int8 |
//
//   sum += sumi * (d_w * d_a), sumi = sum_j qw_j * qa_j
void vec_dot_q8_0_q8_0(int64_t n, const void* w, const void* a, float* out) {
  const auto* x = static_cast<const BlockQ8_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  const int64_t nb = n / kQK8_0;
  float sum = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    int sumi = 0;
    for (int j = 0; j < kQK8_0; ++j) sumi += x[b].qs[j] * y[b].qs[j];
    sum += static_cast<float>(sumi) * (fp16_to_fp32(x[b].d) * fp16_to_fp32(y[b].d));
  }
  *out = sum;
}

}  // namespace minnow::kernels::scalar
