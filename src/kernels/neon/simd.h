// Small NEON helpers shared by the neon/*.cpp files; include only from there. Everything has
// internal linkage, for the reason avx2/simd.h gives: the *_dotprod.cpp files build with
// -march=armv8.2-a+dotprod, and an inline function emitted both there and in a baseline object
// could be the copy the linker keeps for a CPU without dotprod.
#pragma once

#include <arm_neon.h>

#include <cstdint>
#include <cstring>

namespace minnow::kernels::neon {
namespace {

// 4 halves -> 4 floats (FCVTL: exact, subnormals included).
inline float32x4_t f16x4_to_f32(uint16x4_t h) {
  return vcvt_f32_f16(vreinterpret_f16_u16(h));
}

inline float f16_to_f32(uint16_t h) {
  return vgetq_lane_f32(f16x4_to_f32(vdup_n_u16(h)), 0);
}

// Round to nearest even (FCVTN under the default FPCR), as tensor/fp16.h's fp32_to_fp16.
inline uint16_t f32_to_f16_one(float f) {
  return vget_lane_u16(vreinterpret_u16_f16(vcvt_f16_f32(vdupq_n_f32(f))), 0);
}

// Four fp16 values (one field of each of four blocks) as the lanes of a float vector.
inline float32x4_t f16_fields_x4(uint16_t h0, uint16_t h1, uint16_t h2, uint16_t h3) {
  const uint16_t h[4] = {h0, h1, h2, h3};
  return f16x4_to_f32(vld1_u16(h));
}

// 16 bytes of packed nibbles -> the low nibbles (elements 0-15 of q4_0/q4_1/q5_0/q5_1) and the
// high nibbles (elements 16-31), as bytes in [0, 15].
inline void nibbles_16(const uint8_t* p, uint8x16_t* lo, uint8x16_t* hi) {
  const uint8x16_t v = vld1q_u8(p);
  *lo = vandq_u8(v, vdupq_n_u8(0x0f));
  *hi = vshrq_n_u8(v, 4);
}

// The 32 bits of a q5 block's qh as bytes, 0x10 where bit j is set (byte j of lo <- bit j,
// byte j of hi <- bit 16 + j): the 5th bit of each element in place.
inline void fifth_bits_32(const uint8_t* qh, uint8x16_t* lo, uint8x16_t* hi) {
  const uint8x16_t bit = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
  const uint8x16_t sixteen = vdupq_n_u8(0x10);
  const uint8x16_t b01 = vcombine_u8(vdup_n_u8(qh[0]), vdup_n_u8(qh[1]));
  const uint8x16_t b23 = vcombine_u8(vdup_n_u8(qh[2]), vdup_n_u8(qh[3]));
  *lo = vandq_u8(vtstq_u8(b01, bit), sixteen);
  *hi = vandq_u8(vtstq_u8(b23, bit), sixteen);
}

}  // namespace
}  // namespace minnow::kernels::neon
