// Scalar reference dot products of the k-quants (q4_k, q5_k, q6_k) with q8_k activations.
// Per 256-element super-block the scaled integer sums are exact in int32 (bounds below); the
// float part is one product per super-block for the scales and one for the mins.
#include <cstring>

#include "kernels/scalar/scalar_kernels.h"
#include "tensor/blocks.h"
#include "tensor/fp16.h"

namespace minnow::kernels::scalar {
namespace {

// The 12 scale bytes of q4_k/q5_k hold 8 six-bit scales and 8 six-bit mins:
//
//   bytes 0-3 : sc[0..3] low 6 bits, top 2 bits = sc[4..7] bits 4-5
//   bytes 4-7 : m[0..3]  low 6 bits, top 2 bits = m[4..7]  bits 4-5
//   bytes 8-11: sc[4..7] bits 0-3 (low nibble), m[4..7] bits 0-3 (high nibble)
void unpack_scale_min(int j, const uint8_t* q, int* sc, int* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = (q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

}  // namespace

// q4_k weights x q8_k activations, per 256-element super-block:
//
//   BlockQ4_K (144 B): | d: f16 | dmin: f16 | scales[12]: 8 x (sc, m) 6-bit | qs[128] |
//     qs[32c + l], c < 4, l < 32: elem 64c + l (low nibble), elem 64c + 32 + l (high nibble)
//     sub-block s = elem / 32 uses (sc[s], m[s])
//   BlockQ8_K (292 B): | d: f32 | qs[256]: int8 | bsums[16]: sum of each 16 qs |
//
//   w = d * sc[s] * q - dmin * m[s],  a = d_a * q8
//   sum = d * d_a * sum_s sc[s] * (q . q8)_s  -  dmin * d_a * sum_s m[s] * (bsums[2s] + bsums[2s+1])
//   |sumi| <= 8 sub-blocks * 63 * 32 * 15 * 127 < 2^25: exact in int32.
void vec_dot_q4_k_q8_k(int64_t n, const void* w, const void* a, float* out) {
  const auto* x = static_cast<const BlockQ4_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  const int64_t nb = n / kQK_K;
  float sum = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* q4 = x[b].qs;
    const int8_t* q8 = y[b].qs;
    int32_t sumi = 0, summ = 0;
    for (int c = 0; c < kQK_K / 64; ++c) {
      int sc0, m0, sc1, m1;
      unpack_scale_min(2 * c, x[b].scales, &sc0, &m0);
      unpack_scale_min(2 * c + 1, x[b].scales, &sc1, &m1);
      int32_t lo = 0, hi = 0;
      for (int l = 0; l < 32; ++l) {
        lo += (q4[l] & 0x0f) * q8[l];
        hi += (q4[l] >> 4) * q8[l + 32];
      }
      sumi += sc0 * lo + sc1 * hi;
      summ += m0 * (y[b].bsums[4 * c] + y[b].bsums[4 * c + 1]) +
              m1 * (y[b].bsums[4 * c + 2] + y[b].bsums[4 * c + 3]);
      q4 += 32;
      q8 += 64;
    }
    sum += fp16_to_fp32(x[b].d) * y[b].d * static_cast<float>(sumi);
    sum -= fp16_to_fp32(x[b].dmin) * y[b].d * static_cast<float>(summ);
  }
  *out = sum;
}

// q5_k weights x q8_k activations, per 256-element super-block:
//
//   BlockQ5_K (176 B): | d: f16 | dmin: f16 | scales[12] | qh[32] | qs[128] |
//     low 4 bits as q4_k; 5th bit of elem 64c + l is bit 2c of qh[l],
//     of elem 64c + 32 + l bit 2c+1 of qh[l]  (c < 4, l < 32)
//
//   w = d * sc[s] * q - dmin * m[s], q in [0, 31]; same sums as q4_k.
//   |sumi| <= 8 * 63 * 32 * 31 * 127 < 2^26: exact in int32.
void vec_dot_q5_k_q8_k(int64_t n, const void* w, const void* a, float* out) {
  const auto* x = static_cast<const BlockQ5_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  const int64_t nb = n / kQK_K;
  float sum = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* q5 = x[b].qs;
    const uint8_t* qh = x[b].qh;
    const int8_t* q8 = y[b].qs;
    int32_t sumi = 0, summ = 0;
    for (int c = 0; c < kQK_K / 64; ++c) {
      int sc0, m0, sc1, m1;
      unpack_scale_min(2 * c, x[b].scales, &sc0, &m0);
      unpack_scale_min(2 * c + 1, x[b].scales, &sc1, &m1);
      int32_t lo = 0, hi = 0;
      for (int l = 0; l < 32; ++l) {
        const int v0 = (q5[l] & 0x0f) | (((qh[l] >> (2 * c)) & 1) << 4);
        const int v1 = (q5[l] >> 4) | (((qh[l] >> (2 * c + 1)) & 1) << 4);
        lo += v0 * q8[l];
        hi += v1 * q8[l + 32];
      }
      sumi += sc0 * lo + sc1 * hi;
      summ += m0 * (y[b].bsums[4 * c] + y[b].bsums[4 * c + 1]) +
              m1 * (y[b].bsums[4 * c + 2] + y[b].bsums[4 * c + 3]);
      q5 += 32;
      q8 += 64;
    }
    sum += fp16_to_fp32(x[b].d) * y[b].d * static_cast<float>(sumi);
    sum -= fp16_to_fp32(x[b].dmin) * y[b].d * static_cast<float>(summ);
  }
  *out = sum;
}

// q6_k weights x q8_k activations, per 256-element super-block:
//
//   BlockQ6_K (210 B): | ql[128] | qh[64] | scales[16]: int8 | d: f16 |
//     two halves h < 2 of 128 elems; in half h, for l < 32:
//       elem 128h +      l: low  nibble of ql[64h + l],      bits 0-1 of qh[32h + l]
//       elem 128h + 32 + l: low  nibble of ql[64h + 32 + l], bits 2-3 of qh[32h + l]
//       elem 128h + 64 + l: high nibble of ql[64h + l],      bits 4-5 of qh[32h + l]
//       elem 128h + 96 + l: high nibble of ql[64h + 32 + l], bits 6-7 of qh[32h + l]
//     sub-block s = elem / 16 uses scales[s]
//
//   w = d * scales[s] * (q - 32), q in [0, 63];  sum = d * d_a * sum_s scales[s] * ((q - 32) . q8)_s
//   |sumi| <= 16 * 128 * 16 * 32 * 127 < 2^27: exact in int32.
void vec_dot_q6_k_q8_k(int64_t n, const void* w, const void* a, float* out) {
  const auto* x = static_cast<const BlockQ6_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  const int64_t nb = n / kQK_K;
  float sum = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    int8_t q[kQK_K];  // the 256 weights as q - 32, in element order
    const uint8_t* ql = x[b].ql;
    const uint8_t* qh = x[b].qh;
    for (int h = 0; h < 2; ++h) {
      int8_t* qq = q + 128 * h;
      for (int l = 0; l < 32; ++l) {
        qq[l] = static_cast<int8_t>(((ql[l] & 0x0f) | ((qh[l] & 3) << 4)) - 32);
        qq[l + 32] = static_cast<int8_t>(((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32);
        qq[l + 64] = static_cast<int8_t>(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
        qq[l + 96] = static_cast<int8_t>(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
      }
      ql += 64;
      qh += 32;
    }
    int32_t sumi = 0;
    for (int s = 0; s < kQK_K / 16; ++s) {
      int32_t dot = 0;
      for (int l = 0; l < 16; ++l) dot += q[16 * s + l] * y[b].qs[16 * s + l];
      sumi += x[b].scales[s] * dot;
    }
    sum += fp16_to_fp32(x[b].d) * y[b].d * static_cast<float>(sumi);
  }
  *out = sum;
}

}  // namespace minnow::kernels::scalar
