// Reference quantize / dequantize of the 32-element block types: q4_0, q4_1, q5_0, q5_1,
// q8_0, q8_1. Quantizers are GGML's simple reference ones (deterministic, bit-exact), which
// matters most for q8_0/q8_1: they quantize activations and must match the reference engine.
#include <algorithm>
#include <cassert>
#include <cmath>

#include "tensor/fp16.h"
#include "tensor/quants.h"

namespace minnow {
namespace {

// Largest-magnitude element of x[0..n), with its sign (0 for an all-zero block). The first
// of equal magnitudes wins, as in GGML.
float signed_absmax(const float* x, int n) {
  float amax = 0.f, max = 0.f;
  for (int j = 0; j < n; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

float absmax(const float* x, int n) {
  float amax = 0.f;
  for (int j = 0; j < n; ++j) amax = std::max(amax, std::fabs(x[j]));
  return amax;
}

// Truncation toward zero of v, clamped to [0, hi]. Clamping before the conversion keeps it
// defined when a denormal block scale makes 1/d infinite (that block's fp16 d is 0 anyway);
// for every finite in-range v this is GGML's MIN(hi, (int8_t)v).
int trunc_clamped(float v, int hi) {
  if (!(v > 0.f)) return 0;  // also NaN
  if (v >= static_cast<float>(hi)) return hi;
  return static_cast<int>(v);
}

// roundf (ties away from zero) to int8, as GGML's reference stores q8 quants. Inf/NaN occur
// only when 1/d overflows for a denormal block whose fp16 d is 0; they give 0, as x86 does.
// Ties to even (the default FP rounding mode; nearbyint honours it).
int8_t round_even_to_int8(float v) {
  const float r = std::nearbyint(v);
  return r >= -128.f && r <= 127.f ? static_cast<int8_t>(r) : int8_t{0};
}

// The 32 high bits of a q5 block, little-endian as GGML stores them.
uint32_t load_qh(const uint8_t qh[4]) {
  return static_cast<uint32_t>(qh[0]) | static_cast<uint32_t>(qh[1]) << 8 |
         static_cast<uint32_t>(qh[2]) << 16 | static_cast<uint32_t>(qh[3]) << 24;
}

void store_qh(uint32_t v, uint8_t qh[4]) {
  for (int b = 0; b < 4; ++b) qh[b] = static_cast<uint8_t>(v >> (8 * b));
}

}  // namespace

// q4_0, 18 bytes per 32 elements:
//   d    fp16
//   qs   16 bytes; qs[j] = q[j] (low nibble) | q[j+16] << 4
//   x[j] = d * (q[j] - 8)
void dequantize_row_q4_0(const BlockQ4_0* x, float* y, int64_t n) {
  assert(n % kQK4_0 == 0);
  for (int64_t i = 0; i < n / kQK4_0; ++i, y += kQK4_0) {
    const float d = fp16_to_fp32(x[i].d);
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      y[j] = d * static_cast<float>((x[i].qs[j] & 0xf) - 8);
      y[j + kQK4_0 / 2] = d * static_cast<float>((x[i].qs[j] >> 4) - 8);
    }
  }
}

// d = max / -8 with max the signed largest-magnitude element, so that element lands exactly on
// q = 0 (-8 * d) and the asymmetric range [-8, 7] is used on the side that needs the extra step.
void quantize_row_q4_0(const float* x, BlockQ4_0* y, int64_t n) {
  assert(n % kQK4_0 == 0);
  for (int64_t i = 0; i < n / kQK4_0; ++i, x += kQK4_0) {
    const float d = signed_absmax(x, kQK4_0) / -8.f;
    const float id = d != 0.f ? 1.f / d : 0.f;
    y[i].d = fp32_to_fp16(d);
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      // Truncation after +8.5 is round-half-up of x*id + 8 (x*id >= -8, so never negative).
      const int q0 = trunc_clamped(x[j] * id + 8.5f, 15);
      const int q1 = trunc_clamped(x[j + kQK4_0 / 2] * id + 8.5f, 15);
      y[i].qs[j] = static_cast<uint8_t>(q0 | q1 << 4);
    }
  }
}

// q4_1, 20 bytes per 32 elements:
//   d, m fp16
//   qs   16 bytes; qs[j] = q[j] | q[j+16] << 4
//   x[j] = d * q[j] + m
void dequantize_row_q4_1(const BlockQ4_1* x, float* y, int64_t n) {
  assert(n % kQK4_1 == 0);
  for (int64_t i = 0; i < n / kQK4_1; ++i, y += kQK4_1) {
    const float d = fp16_to_fp32(x[i].d);
    const float m = fp16_to_fp32(x[i].m);
    for (int j = 0; j < kQK4_1 / 2; ++j) {
      y[j] = d * static_cast<float>(x[i].qs[j] & 0xf) + m;
      y[j + kQK4_1 / 2] = d * static_cast<float>(x[i].qs[j] >> 4) + m;
    }
  }
}

void quantize_row_q4_1(const float* x, BlockQ4_1* y, int64_t n) {
  assert(n % kQK4_1 == 0);
  for (int64_t i = 0; i < n / kQK4_1; ++i, x += kQK4_1) {
    const auto [lo, hi] = std::minmax_element(x, x + kQK4_1);
    const float min = *lo;
    const float d = (*hi - min) / 15.f;
    const float id = d != 0.f ? 1.f / d : 0.f;
    y[i].d = fp32_to_fp16(d);
    y[i].m = fp32_to_fp16(min);
    for (int j = 0; j < kQK4_1 / 2; ++j) {
      const int q0 = trunc_clamped((x[j] - min) * id + 0.5f, 15);
      const int q1 = trunc_clamped((x[j + kQK4_1 / 2] - min) * id + 0.5f, 15);
      y[i].qs[j] = static_cast<uint8_t>(q0 | q1 << 4);
    }
  }
}

// q5_0, 22 bytes per 32 elements:
//   d    fp16
//   qh   u32 little-endian; bit j = bit 4 of q[j] (j = 0..31)
//   qs   16 bytes; qs[j] = low 4 bits of q[j] | low 4 bits of q[j+16] << 4
//   x[j] = d * (q[j] - 16)
void dequantize_row_q5_0(const BlockQ5_0* x, float* y, int64_t n) {
  assert(n % kQK5_0 == 0);
  for (int64_t i = 0; i < n / kQK5_0; ++i, y += kQK5_0) {
    const float d = fp16_to_fp32(x[i].d);
    const uint32_t qh = load_qh(x[i].qh);
    for (int j = 0; j < kQK5_0 / 2; ++j) {
      const int h0 = static_cast<int>((qh >> j) & 1u) << 4;
      const int h1 = static_cast<int>((qh >> (j + kQK5_0 / 2)) & 1u) << 4;
      y[j] = d * static_cast<float>(((x[i].qs[j] & 0xf) | h0) - 16);
      y[j + kQK5_0 / 2] = d * static_cast<float>(((x[i].qs[j] >> 4) | h1) - 16);
    }
  }
}

void quantize_row_q5_0(const float* x, BlockQ5_0* y, int64_t n) {
  assert(n % kQK5_0 == 0);
  for (int64_t i = 0; i < n / kQK5_0; ++i, x += kQK5_0) {
    const float d = signed_absmax(x, kQK5_0) / -16.f;
    const float id = d != 0.f ? 1.f / d : 0.f;
    y[i].d = fp32_to_fp16(d);
    uint32_t qh = 0;
    for (int j = 0; j < kQK5_0 / 2; ++j) {
      const int q0 = trunc_clamped(x[j] * id + 16.5f, 31);
      const int q1 = trunc_clamped(x[j + kQK5_0 / 2] * id + 16.5f, 31);
      y[i].qs[j] = static_cast<uint8_t>((q0 & 0xf) | (q1 & 0xf) << 4);
      qh |= static_cast<uint32_t>(q0 >> 4) << j;
      qh |= static_cast<uint32_t>(q1 >> 4) << (j + kQK5_0 / 2);
    }
    store_qh(qh, y[i].qh);
  }
}

// q5_1, 24 bytes per 32 elements: d, m fp16, then qh and qs as q5_0.
//   x[j] = d * q[j] + m
void dequantize_row_q5_1(const BlockQ5_1* x, float* y, int64_t n) {
  assert(n % kQK5_1 == 0);
  for (int64_t i = 0; i < n / kQK5_1; ++i, y += kQK5_1) {
    const float d = fp16_to_fp32(x[i].d);
    const float m = fp16_to_fp32(x[i].m);
    const uint32_t qh = load_qh(x[i].qh);
    for (int j = 0; j < kQK5_1 / 2; ++j) {
      const int h0 = static_cast<int>((qh >> j) & 1u) << 4;
      const int h1 = static_cast<int>((qh >> (j + kQK5_1 / 2)) & 1u) << 4;
      y[j] = d * static_cast<float>((x[i].qs[j] & 0xf) | h0) + m;
      y[j + kQK5_1 / 2] = d * static_cast<float>((x[i].qs[j] >> 4) | h1) + m;
    }
  }
}

void quantize_row_q5_1(const float* x, BlockQ5_1* y, int64_t n) {
  assert(n % kQK5_1 == 0);
  for (int64_t i = 0; i < n / kQK5_1; ++i, x += kQK5_1) {
    const auto [lo, hi] = std::minmax_element(x, x + kQK5_1);
    const float min = *lo;
    const float d = (*hi - min) / 31.f;
    const float id = d != 0.f ? 1.f / d : 0.f;
    y[i].d = fp32_to_fp16(d);
    y[i].m = fp32_to_fp16(min);
    uint32_t qh = 0;
    for (int j = 0; j < kQK5_1 / 2; ++j) {
      const int q0 = trunc_clamped((x[j] - min) * id + 0.5f, 31);
      const int q1 = trunc_clamped((x[j + kQK5_1 / 2] - min) * id + 0.5f, 31);
      y[i].qs[j] = static_cast<uint8_t>((q0 & 0xf) | (q1 & 0xf) << 4);
      qh |= static_cast<uint32_t>(q0 >> 4) << j;
      qh |= static_cast<uint32_t>(q1 >> 4) << (j + kQK5_1 / 2);
    }
    store_qh(qh, y[i].qh);
  }
}

// q8_0, 34 bytes per 32 elements:
//   d    fp16
//   qs   32 x int8
//   x[j] = d * qs[j]
void dequantize_row_q8_0(const BlockQ8_0* x, float* y, int64_t n) {
  assert(n % kQK8_0 == 0);
  for (int64_t i = 0; i < n / kQK8_0; ++i, y += kQK8_0) {
    const float d = fp16_to_fp32(x[i].d);
    for (int j = 0; j < kQK8_0; ++j) y[j] = d * static_cast<float>(x[i].qs[j]);
  }
}

// d = amax / 127 and q = round_half_even(x * (127 / amax)). This is the arithmetic of the
// reference engine's x86 SIMD path, which produced ../shared/reference: activations quantized
// this way reproduce its logits exactly, where roundf (its portable path) flips the rare
// exact tie (x * id == k + 0.5 does occur: q4_0 weights make many activations share factors).
// The integers come from the float scale, not its fp16 rounding.
void quantize_row_q8_0(const float* x, BlockQ8_0* y, int64_t n) {
  assert(n % kQK8_0 == 0);
  for (int64_t i = 0; i < n / kQK8_0; ++i, x += kQK8_0) {
    const float amax = absmax(x, kQK8_0);
    const float id = amax != 0.f ? 127.f / amax : 0.f;
    y[i].d = fp32_to_fp16(amax / 127.f);
    for (int j = 0; j < kQK8_0; ++j) y[i].qs[j] = round_even_to_int8(x[j] * id);
  }
}

// q8_1, 36 bytes per 32 elements:
//   d, s fp16; s = d * sum(qs), precomputed for the min term of q4_1/q5_1 dot products
//   qs   32 x int8
//   x[j] = d * qs[j]
void dequantize_row_q8_1(const BlockQ8_1* x, float* y, int64_t n) {
  assert(n % kQK8_1 == 0);
  for (int64_t i = 0; i < n / kQK8_1; ++i, y += kQK8_1) {
    const float d = fp16_to_fp32(x[i].d);
    for (int j = 0; j < kQK8_1; ++j) y[j] = d * static_cast<float>(x[i].qs[j]);
  }
}

// As q8_0; s is computed in float from the unrounded d, then stored as fp16 (the reference's order).
void quantize_row_q8_1(const float* x, BlockQ8_1* y, int64_t n) {
  assert(n % kQK8_1 == 0);
  for (int64_t i = 0; i < n / kQK8_1; ++i, x += kQK8_1) {
    const float amax = absmax(x, kQK8_1);
    const float d = amax / 127.f;
    const float id = amax != 0.f ? 127.f / amax : 0.f;
    y[i].d = fp32_to_fp16(d);
    int sum = 0;
    for (int j = 0; j < kQK8_1; ++j) {
      y[i].qs[j] = round_even_to_int8(x[j] * id);
      sum += y[i].qs[j];
    }
    y[i].s = fp32_to_fp16(static_cast<float>(sum) * d);
  }
}

}  // namespace minnow
