// NEON activation quantizers (q8_0, q8_1, q8_k). They must give the same bytes as the scalar
// reference in tensor/quants_*.cpp, so every float operation is the reference's, in the same
// order: one rounded multiply, then ties to even (FRINTN / FCVTNS, the reference's nearbyint and
// nearest_int under the default rounding mode). No step may be fused into an FMA; CMakeLists.txt
// builds this directory with -ffp-contract=off, and no fma intrinsic appears here. Maxima use
// FMAXNM, which like the reference's comparisons never picks a NaN.
#include "kernels/neon/neon_kernels.h"
#include "kernels/neon/simd.h"
#include "tensor/blocks.h"

namespace minnow::kernels::neon {
namespace {

// x * id rounded to the nearest integer, ties to even, as int32; 0 where that is outside
// [-128, 127] or NaN (the reference's round_even_to_int8: Inf/NaN arise when 1/d overflows).
inline int32x4_t round_even_to_int8_range(float32x4_t v) {
  const float32x4_t r = vrndnq_f32(v);
  const uint32x4_t ok = vandq_u32(vcgeq_f32(r, vdupq_n_f32(-128.0f)), vcleq_f32(r, vdupq_n_f32(127.0f)));
  return vandq_s32(vcvtq_s32_f32(r), vreinterpretq_s32_u32(ok));
}

// 16 int32 lanes in [-128, 127] (4 registers, elements in order) -> 16 int8 in element order.
inline int8x16_t narrow_16(int32x4_t a, int32x4_t b, int32x4_t c, int32x4_t d) {
  const int16x8_t ab = vcombine_s16(vmovn_s32(a), vmovn_s32(b));
  const int16x8_t cd = vcombine_s16(vmovn_s32(c), vmovn_s32(d));
  return vcombine_s8(vmovn_s16(ab), vmovn_s16(cd));
}

// One 32-element block of q8_0/q8_1: writes d and qs, returns sum(qs) and the unrounded d.
inline int32_t quantize_block_32(const float* x, uint16_t* d_out, int8_t* qs, float* d_float) {
  float32x4_t v[8];
  float32x4_t m = vdupq_n_f32(0.0f);
  for (int k = 0; k < 8; ++k) {
    v[k] = vld1q_f32(x + 4 * k);
    m = vmaxnmq_f32(m, vabsq_f32(v[k]));
  }
  const float amax = vmaxnmvq_f32(m);
  const float d = amax / 127.f;
  const float id = amax != 0.f ? 127.f / amax : 0.f;
  *d_out = f32_to_f16_one(d);
  *d_float = d;
  int32x4_t q[8];
  int32x4_t sum = vdupq_n_s32(0);
  for (int k = 0; k < 8; ++k) {
    q[k] = round_even_to_int8_range(vmulq_n_f32(v[k], id));
    sum = vaddq_s32(sum, q[k]);
  }
  vst1q_s8(qs, narrow_16(q[0], q[1], q[2], q[3]));
  vst1q_s8(qs + 16, narrow_16(q[4], q[5], q[6], q[7]));
  return vaddvq_s32(sum);
}

}  // namespace

void quantize_row_q8_0(const float* x, void* out, int64_t n) {
  auto* y = static_cast<BlockQ8_0*>(out);
  float d;
  for (int64_t b = 0; b < n / kQK8_0; ++b) quantize_block_32(x + b * kQK8_0, &y[b].d, y[b].qs, &d);
}

void quantize_row_q8_1(const float* x, void* out, int64_t n) {
  auto* y = static_cast<BlockQ8_1*>(out);
  for (int64_t b = 0; b < n / kQK8_1; ++b) {
    float d;
    const int32_t sum = quantize_block_32(x + b * kQK8_1, &y[b].d, y[b].qs, &d);
    y[b].s = f32_to_f16_one(static_cast<float>(sum) * d);
  }
}

// q8_k: iscale = -127 / max, max the first element of largest magnitude (with its sign); q is
// nearest_int(iscale * x) capped at 127, and bsums the sums of each 16.
void quantize_row_q8_k(const float* x, void* out, int64_t n) {
  auto* y = static_cast<BlockQ8_K*>(out);
  for (int64_t b = 0; b < n / kQK_K; ++b, x += kQK_K) {
    float32x4_t m = vdupq_n_f32(0.0f);
    for (int j = 0; j < kQK_K; j += 4) m = vmaxnmq_f32(m, vabsq_f32(vld1q_f32(x + j)));
    const float amax = vmaxnmvq_f32(m);
    if (amax == 0.f) {
      std::memset(&y[b], 0, sizeof(BlockQ8_K));
      continue;
    }
    // The first index whose |x| equals amax (the reference keeps the first on ties).
    float max = 0.f;
    const float32x4_t vamax = vdupq_n_f32(amax);
    for (int j = 0; j < kQK_K; j += 4) {
      if (vmaxvq_u32(vceqq_f32(vabsq_f32(vld1q_f32(x + j)), vamax)) != 0) {
        int k = 0;
        while (!(x[j + k] == amax || x[j + k] == -amax)) ++k;
        max = x[j + k];
        break;
      }
    }
    const float iscale = -127.f / max;
    const int32x4_t cap = vdupq_n_s32(127);
    for (int j = 0; j < kQK_K; j += 16) {
      int32x4_t q[4];
      for (int k = 0; k < 4; ++k)
        q[k] = vminq_s32(vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(x + j + 4 * k), iscale)), cap);
      y[b].bsums[j / 16] =
          static_cast<int16_t>(vaddvq_s32(vaddq_s32(vaddq_s32(q[0], q[1]), vaddq_s32(q[2], q[3]))));
      vst1q_s8(y[b].qs + j, narrow_16(q[0], q[1], q[2], q[3]));
    }
    y[b].d = 1.f / iscale;
  }
}

}  // namespace minnow::kernels::neon
