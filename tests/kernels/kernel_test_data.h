// Test data for the kernel tests: weight rows of every supported type (quantized from random
// floats, or random block bytes that reach every bit pattern), activations quantized by the
// scalar reference, and the per-element "offset" parts of the weights that the tolerance
// bounds need (w = scaled quant - offset for the types with mins).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <ostream>
#include <random>
#include <vector>

#include "kernels/kernel_table.h"
#include "tensor/blocks.h"
#include "tensor/dtype.h"
#include "tensor/fp16.h"
#include "tensor/quants.h"

namespace minnow {
// Readable parameter names in gtest output.
inline void PrintTo(DType t, std::ostream* os) {
  *os << dtype_name(t);
}
namespace kernels {
inline void PrintTo(Isa isa, std::ostream* os) {
  *os << isa_name(isa);
}
}  // namespace kernels
}  // namespace minnow

namespace minnow::kernels::test {

// Unit roundoff of float: every rounded operation has relative error <= kU.
constexpr double kU = 0x1p-24;

constexpr DType kWeightTypes[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q4_0,
                                  DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0,
                                  DType::Q4_K, DType::Q5_K, DType::Q6_K};

// Where a SIMD vec_dot must equal the scalar reference bit for bit: the quant dots whose
// integer block sums are exact and whose float terms follow the reference's expressions and
// order (avx2/quant_kernels.cpp, avx512/quant_kernels.cpp and avx512/kquant_kernels.cpp say
// why). The float types sum in another order, and AVX2's k-quant dots convert lane sums to
// float and accumulate with FMA, so those are held to derived tolerances instead.
inline bool bit_identical_to_scalar(Isa isa, DType t) {
  if (isa == Isa::kScalar) return true;
  switch (t) {
    case DType::Q4_0:
    case DType::Q4_1:
    case DType::Q5_0:
    case DType::Q5_1:
    case DType::Q8_0:
      return true;
    case DType::Q4_K:
    case DType::Q5_K:
    case DType::Q6_K:
      return isa != Isa::kAvx2;
    default:
      return false;
  }
}

inline int64_t block_size(DType t) {
  return dtype_info(t).block_size;
}
inline size_t bytes_of(DType t, int64_t n) {
  return *row_bytes(t, n);
}

inline std::vector<float> random_floats(std::mt19937& rng, int64_t n, float scale = 1.0f) {
  std::normal_distribution<float> nd(0.0f, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = nd(rng);
  // A few outliers, as real activations have.
  std::uniform_int_distribution<int64_t> pick(0, n - 1);
  for (int k = 0; k < 1 + n / 64; ++k) v[static_cast<size_t>(pick(rng))] *= 8.0f;
  return v;
}

// A row of n elements of type t, quantized by the reference from random floats.
inline std::vector<uint8_t> quantized_row(std::mt19937& rng, DType t, int64_t n) {
  const std::vector<float> f = random_floats(rng, n);
  std::vector<uint8_t> row(bytes_of(t, n));
  quantize_row(t, f.data(), row.data(), n);
  return row;
}

// Random block bytes with sane (finite, moderate) fp16 scales: every quant, scale and high-bit
// pattern appears, including extremes the reference quantizers rarely produce.
inline std::vector<uint8_t> random_bytes_row(std::mt19937& rng, DType t, int64_t n) {
  std::vector<uint8_t> row(bytes_of(t, n));
  std::uniform_int_distribution<int> byte(0, 255);
  for (auto& b : row) b = static_cast<uint8_t>(byte(rng));
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  auto set_f16 = [&](uint8_t* p) {
    const uint16_t h = fp32_to_fp16(u(rng) * 0.05f);
    std::memcpy(p, &h, 2);
  };
  const size_t bb = dtype_info(t).block_bytes;
  const int64_t nb = n / block_size(t);
  for (int64_t b = 0; b < nb; ++b) {
    uint8_t* p = row.data() + static_cast<size_t>(b) * bb;
    switch (t) {
      case DType::F32: {
        const float v = u(rng);
        std::memcpy(p, &v, 4);
        break;
      }
      case DType::F16:
        set_f16(p);
        break;
      case DType::BF16: {
        const uint16_t h = fp32_to_bf16(u(rng));
        std::memcpy(p, &h, 2);
        break;
      }
      case DType::Q4_0:
      case DType::Q5_0:
      case DType::Q8_0:
        set_f16(p);
        break;
      case DType::Q4_1:
      case DType::Q5_1:
      case DType::Q4_K:
      case DType::Q5_K:
        set_f16(p);
        set_f16(p + 2);
        break;
      case DType::Q6_K:
        set_f16(p + offsetof(BlockQ6_K, d));
        break;
      default:
        break;
    }
  }
  return row;
}

// Activations of type activation_type(w) for n floats, quantized by the scalar reference.
inline std::vector<uint8_t> quantize_activations(DType w, const float* x, int64_t n) {
  const DType at = activation_type(w);
  std::vector<uint8_t> q(bytes_of(at, n));
  table(Isa::kScalar).quantize_act[static_cast<size_t>(at)](x, q.data(), n);
  return q;
}

inline std::vector<double> dequantized(DType t, const void* row, int64_t n) {
  std::vector<float> f(static_cast<size_t>(n));
  EXPECT_TRUE(dequantize_row(t, row, f.data(), n)) << dtype_name(t);
  return std::vector<double>(f.begin(), f.end());
}

// off[i] >= 0 with w[i] = (integer part, scaled) -/+ off[i]: |m| for q4_1/q5_1 (w = d*q + m),
// dmin * m[s] for q4_k/q5_k (w = d*sc*q - dmin*m); zero for the other types. The kernels
// compute the two parts separately, so float error is relative to |w + off| + |off|, not |w|.
inline std::vector<double> offsets(DType t, const uint8_t* row, int64_t n) {
  std::vector<double> off(static_cast<size_t>(n), 0.0);
  if (t == DType::Q4_1 || t == DType::Q5_1) {
    const size_t bb = dtype_info(t).block_bytes;
    for (int64_t i = 0; i < n; ++i) {
      uint16_t m;
      std::memcpy(&m, row + static_cast<size_t>(i / 32) * bb + 2, 2);
      off[static_cast<size_t>(i)] = std::fabs(fp16_to_fp32(m));
    }
  } else if (t == DType::Q4_K || t == DType::Q5_K) {
    const size_t bb = dtype_info(t).block_bytes;
    for (int64_t i = 0; i < n; ++i) {
      const uint8_t* blk = row + static_cast<size_t>(i / kQK_K) * bb;
      uint16_t dmin;
      std::memcpy(&dmin, blk + 2, 2);
      uint8_t sc, m;
      get_scale_min_k4(static_cast<int>((i % kQK_K) / 32), blk + 4, &sc, &m);
      off[static_cast<size_t>(i)] = std::fabs(static_cast<double>(fp16_to_fp32(dmin)) * m);
    }
  }
  return off;
}

// For q8_1 activations: the s field of each 32-block (the kernels use it for the min term
// instead of the sum of the dequantized activations).
inline double q8_1_s(const uint8_t* act, int64_t block) {
  BlockQ8_1 b;
  std::memcpy(&b, act + static_cast<size_t>(block) * sizeof(BlockQ8_1), sizeof(b));
  return fp16_to_fp32(b.s);
}

// The value every kernel computes, exactly, in double, from the dequantized weights and
// activations; and the magnitude M of the terms the kernels sum in float (the error scale).
struct Exact {
  double value = 0.0;
  double magnitude = 0.0;
};

inline Exact exact_dot(DType wt, const uint8_t* w, const uint8_t* act, int64_t n) {
  const DType at = activation_type(wt);
  const std::vector<double> wd = dequantized(wt, w, n);
  const std::vector<double> ad = dequantized(at, act, n);
  const std::vector<double> off = offsets(wt, w, n);
  Exact e;
  if (wt == DType::Q4_1 || wt == DType::Q5_1) {
    // sum_i (w_i - m) a_i + m * s per block: the kernels' min term uses s, a fp16 rounding of
    // sum(a), so the reference uses s too.
    for (int64_t b = 0; b < n / 32; ++b) {
      uint16_t mh;
      std::memcpy(&mh, w + static_cast<size_t>(b) * dtype_info(wt).block_bytes + 2, 2);
      const double m = fp16_to_fp32(mh), s = q8_1_s(act, b);
      for (int64_t i = 32 * b; i < 32 * (b + 1); ++i) {
        e.value += (wd[i] - m) * ad[i];
        e.magnitude += std::fabs(wd[i] - m) * std::fabs(ad[i]);
      }
      e.value += m * s;
      e.magnitude += std::fabs(m * s);
    }
    return e;
  }
  for (int64_t i = 0; i < n; ++i) {
    e.value += wd[i] * ad[i];
    e.magnitude += (std::fabs(wd[i]) + 2 * off[i]) * std::fabs(ad[i]);  // >= |w + off| + |off|
  }
  return e;
}

}  // namespace minnow::kernels::test
