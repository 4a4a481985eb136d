// Scalar reference quantize / dequantize for every supported type. These define the formats;
// SIMD kernels are tested against them. n must be a multiple of the type's block size.
// Bit-exact with GGML's block formats (GGUF weights) and with its activation quantizers.
#pragma once

#include <cstdint>
#include <cstring>

#include "tensor/blocks.h"
#include "tensor/dtype.h"

namespace minnow {

// dst[0..n) = value of each element of the row src (of type t). t must be supported or an
// activation type (q8_0, q8_1, q8_k). Returns false for a type without a dequantizer, or
// when n is negative or not a whole number of blocks.
bool dequantize_row(DType t, const void* src, float* dst, int64_t n);

// Quantizes n floats into blocks of type t (every supported weight type and q8_0/q8_1/q8_k).
// Weight quantizers choose scales to minimize error (used by tests and `minnow quantize`).
// Returns false for a type without a quantizer, or when n is not a whole number of blocks.
bool quantize_row(DType t, const float* src, void* dst, int64_t n);

// ---- Helpers shared with the kernels -------------------------------------------------------

// Round to nearest, ties to even, for |f| <= 2^22: adding 1.5*2^23 puts the integer in the low
// mantissa bits. This is GGML's nearest_int; q8_k and the k-quant quantizers depend on its
// exact tie behaviour (roundf would round ties away from zero).
inline int nearest_int(float f) {
  const float v = f + 12582912.f;
  int32_t i;
  std::memcpy(&i, &v, 4);
  return (i & 0x007fffff) - 0x00400000;
}

// 6-bit scale and min of sub-block j (0..7) of a q4_k/q5_k block from its 12 packed bytes:
//   bytes 0-3:  sc[0..3] in bits 0-5, bits 6-7 = high 2 bits of sc[4..7]
//   bytes 4-7:  m[0..3]  in bits 0-5, bits 6-7 = high 2 bits of m[4..7]
//   bytes 8-11: low 4 bits of sc[4..7] (low nibble) and of m[4..7] (high nibble)
inline void get_scale_min_k4(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = static_cast<uint8_t>((q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

// Inverse of get_scale_min_k4: packs 8 scales and 8 mins (each < 64) into 12 bytes.
void pack_scale_min_k4(const uint8_t sc[8], const uint8_t m[8], uint8_t q[kKScaleBytes]);

// ---- Per-type entry points (n elements; n a multiple of the block size) -------------------

void dequantize_row_q4_0(const BlockQ4_0* x, float* y, int64_t n);
void dequantize_row_q4_1(const BlockQ4_1* x, float* y, int64_t n);
void dequantize_row_q5_0(const BlockQ5_0* x, float* y, int64_t n);
void dequantize_row_q5_1(const BlockQ5_1* x, float* y, int64_t n);
void dequantize_row_q8_0(const BlockQ8_0* x, float* y, int64_t n);
void dequantize_row_q8_1(const BlockQ8_1* x, float* y, int64_t n);
void dequantize_row_q4_k(const BlockQ4_K* x, float* y, int64_t n);
void dequantize_row_q5_k(const BlockQ5_K* x, float* y, int64_t n);
void dequantize_row_q6_k(const BlockQ6_K* x, float* y, int64_t n);
void dequantize_row_q8_k(const BlockQ8_K* x, float* y, int64_t n);

void quantize_row_q4_0(const float* x, BlockQ4_0* y, int64_t n);
void quantize_row_q4_1(const float* x, BlockQ4_1* y, int64_t n);
void quantize_row_q5_0(const float* x, BlockQ5_0* y, int64_t n);
void quantize_row_q5_1(const float* x, BlockQ5_1* y, int64_t n);
void quantize_row_q4_k(const float* x, BlockQ4_K* y, int64_t n);
void quantize_row_q5_k(const float* x, BlockQ5_K* y, int64_t n);
void quantize_row_q6_k(const float* x, BlockQ6_K* y, int64_t n);

// Activation quantizers: these match GGML's reference rounding exactly (q8_0/q8_1: roundf,
// ties away from zero; q8_k: nearest_int, ties to even, with scale -127/max), so a quantized
// matmul sees the same integers the reference engine does.
void quantize_row_q8_0(const float* x, BlockQ8_0* y, int64_t n);
void quantize_row_q8_1(const float* x, BlockQ8_1* y, int64_t n);
void quantize_row_q8_k(const float* x, BlockQ8_K* y, int64_t n);

}  // namespace minnow
