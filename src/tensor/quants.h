// Scalar reference quantize / dequantize for every supported type. These define the formats;
// SIMD kernels are tested against them. n must be a multiple of the type's block size.
#pragma once

#include <cstdint>

#include "tensor/dtype.h"

namespace minnow {

// dst[0..n) = value of each element of the row src (of type t). t must be supported or an
// activation type (q8_0, q8_1, q8_k). Returns false for a type without a dequantizer.
bool dequantize_row(DType t, const void* src, float* dst, int64_t n);

// Quantizes n floats into blocks of type t (every supported weight type and q8_0/q8_1/q8_k).
// Weight quantizers choose scales to minimize error (used by tests and `minnow quantize`).
// Returns false for a type without a quantizer.
bool quantize_row(DType t, const float* src, void* dst, int64_t n);

}  // namespace minnow
