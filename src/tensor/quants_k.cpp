// Reference quantize / dequantize of the k-quants (256-element super-blocks): q4_k, q5_k, q6_k
// and the q8_k activation type. Dequantizers are bit-exact with GGML; the weight quantizers
// are minnow's own least-squares searches (valid blocks, not byte-identical to llama-quantize).
#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>

#include "tensor/fp16.h"
#include "tensor/quants.h"

namespace minnow {
namespace {

constexpr int kSub = 32;   // q4_k/q5_k sub-block size (8 per super-block)
constexpr int kSub6 = 16;  // q6_k sub-block size (16 per super-block)

// Scales below this give an fp16 super-scale of 0 whatever their packing (fp16's smallest
// subnormal is 6e-8), and 1/scale could overflow: such a super-block is treated as zero.
constexpr float kTinyScale = 1e-15f;

// Fits x ~= scale * L - min_out with L in [0, nmax] and min_out >= 0 (an offset at or below
// zero, as the format's "- dmin * m" with unsigned m allows), minimizing sum w * err^2.
// Tries a grid of 21 step sizes around (max - min) / nmax, re-solving the 2x2 weighted least
// squares for (scale, offset) at each rounding; GGML's make_qkx2_quants searches the same way.
// Works on x / amax so tiny and large blocks behave alike (no underflow in the sums).
// Returns scale (>= 0); writes L and min_out.
float fit_scale_min(const float* x_in, int nmax, uint8_t* L, float* min_out) {
  float amax = 0.f;
  for (int i = 0; i < kSub; ++i) amax = std::max(amax, std::fabs(x_in[i]));
  std::fill(L, L + kSub, uint8_t{0});
  *min_out = 0.f;
  if (amax == 0.f) return 0.f;

  float x[kSub], w[kSub];
  float sum_x2 = 0.f;
  for (int i = 0; i < kSub; ++i) {
    x[i] = x_in[i] / amax;
    sum_x2 += x[i] * x[i];
  }
  // Weights favour large-magnitude elements a little (GGML's choice for q4_k/q5_k, tuned on
  // perplexity): rms of the sub-block plus |x|.
  const float rms = std::sqrt(sum_x2 / kSub);
  for (int i = 0; i < kSub; ++i) w[i] = rms + std::fabs(x[i]);

  float lo = *std::min_element(x, x + kSub);
  const float hi = *std::max_element(x, x + kSub);
  lo = std::min(lo, 0.f);
  if (hi == lo) {  // constant non-positive block: all of it is the offset
    *min_out = -lo * amax;
    return 0.f;
  }

  auto error_of = [&](const uint8_t* l, float scale, float offset) {
    float err = 0.f;
    for (int i = 0; i < kSub; ++i) {
      const float diff = scale * static_cast<float>(l[i]) + offset - x[i];
      err += w[i] * diff * diff;
    }
    return err;
  };
  auto round_all = [&](float iscale, float offset, uint8_t* l) {
    for (int i = 0; i < kSub; ++i) {
      const float v = std::clamp((x[i] - offset) * iscale, 0.f, static_cast<float>(nmax));
      l[i] = static_cast<uint8_t>(nearest_int(v));
    }
  };

  float best_scale = (hi - lo) / static_cast<float>(nmax);
  float best_offset = lo;
  uint8_t best_l[kSub];
  round_all(1.f / best_scale, best_offset, best_l);
  float best_err = error_of(best_l, best_scale, best_offset);

  uint8_t l[kSub];
  for (int step = -10; step <= 10; ++step) {
    const float iscale = (static_cast<float>(nmax) + 0.1f * static_cast<float>(step)) / (hi - lo);
    round_all(iscale, lo, l);
    float sw = 0.f, sl = 0.f, sll = 0.f, sx = 0.f, slx = 0.f;
    for (int i = 0; i < kSub; ++i) {
      const float li = static_cast<float>(l[i]);
      sw += w[i];
      sl += w[i] * li;
      sll += w[i] * li * li;
      sx += w[i] * x[i];
      slx += w[i] * li * x[i];
    }
    const float det = sw * sll - sl * sl;
    if (!(det > 0.f)) continue;
    float scale = (sw * slx - sx * sl) / det;
    float offset = (sll * sx - sl * slx) / det;
    if (offset > 0.f) {  // the format cannot add a positive offset: refit the scale alone
      offset = 0.f;
      scale = slx / sll;
    }
    if (!(scale > 0.f)) continue;
    const float err = error_of(l, scale, offset);
    if (err < best_err) {
      best_err = err;
      best_scale = scale;
      best_offset = offset;
      std::memcpy(best_l, l, kSub);
    }
  }
  std::memcpy(L, best_l, kSub);
  *min_out = -best_offset * amax;
  return best_scale * amax;
}

// Shared by q4_k and q5_k: fits the 8 sub-blocks of one super-block, quantizes their scales and
// mins to 6 bits under fp16 super-scales, and returns the final quants L[256] in [0, nmax]
// recomputed against the scales as stored (so rounding of the scales is compensated).
void quantize_super_block_k(const float* x, int nmax, uint16_t* d_out, uint16_t* dmin_out,
                            uint8_t scales_out[kKScaleBytes], uint8_t L[kQK_K]) {
  float scales[kQK_K / kSub], mins[kQK_K / kSub];
  float max_scale = 0.f, max_min = 0.f;
  for (int j = 0; j < kQK_K / kSub; ++j) {
    scales[j] = fit_scale_min(x + kSub * j, nmax, L + kSub * j, &mins[j]);
    max_scale = std::max(max_scale, scales[j]);
    max_min = std::max(max_min, mins[j]);
  }
  const float inv_scale = max_scale > kTinyScale ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > kTinyScale ? 63.f / max_min : 0.f;
  uint8_t ls[8], lm[8];
  for (int j = 0; j < 8; ++j) {
    ls[j] = static_cast<uint8_t>(std::clamp(nearest_int(inv_scale * scales[j]), 0, 63));
    lm[j] = static_cast<uint8_t>(std::clamp(nearest_int(inv_min * mins[j]), 0, 63));
  }
  pack_scale_min_k4(ls, lm, scales_out);
  *d_out = fp32_to_fp16(max_scale / 63.f);
  *dmin_out = fp32_to_fp16(max_min / 63.f);

  const float d = fp16_to_fp32(*d_out), dmin = fp16_to_fp32(*dmin_out);
  for (int j = 0; j < 8; ++j) {
    const float dl = d * static_cast<float>(ls[j]);
    const float ml = dmin * static_cast<float>(lm[j]);
    for (int i = 0; i < kSub; ++i) {
      // Clamp in float first: with a tiny dl the quotient can exceed nearest_int's range.
      const float v = dl != 0.f ? (x[kSub * j + i] + ml) / dl : 0.f;
      L[kSub * j + i] = static_cast<uint8_t>(nearest_int(std::clamp(v, 0.f, static_cast<float>(nmax))));
    }
  }
}

// Fits x ~= scale * l with l in [-nmax, nmax - 1] for one 16-element q6_k sub-block, weighting
// by x^2 (large elements dominate the error that matters). The scale's sign is free, so the
// largest-magnitude element can use the asymmetric end -nmax; tries 19 step sizes around
// nmax / max and keeps the one maximizing (sum w x l)^2 / sum w l^2, which for the
// least-squares scale sum w x l / sum w l^2 is the same as minimizing the weighted error.
float fit_scale_symmetric(const float* x, int nmax) {
  float amax = 0.f, max = 0.f;
  for (int i = 0; i < kSub6; ++i) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  }
  if (amax == 0.f) return 0.f;
  float xn[kSub6], w[kSub6];
  for (int i = 0; i < kSub6; ++i) {
    xn[i] = x[i] / amax;
    w[i] = xn[i] * xn[i];
  }
  const float mn = max / amax;  // +-1
  float best_scale = 0.f, best_score = -1.f;
  for (int step = -9; step <= 9; ++step) {
    const float iscale = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(step)) / mn;
    float slx = 0.f, sll = 0.f;
    for (int i = 0; i < kSub6; ++i) {
      const float v = std::clamp(iscale * xn[i], static_cast<float>(-nmax), static_cast<float>(nmax - 1));
      const float l = static_cast<float>(nearest_int(v));
      slx += w[i] * xn[i] * l;
      sll += w[i] * l * l;
    }
    if (sll > 0.f && slx * slx / sll > best_score) {
      best_score = slx * slx / sll;
      best_scale = slx / sll;
    }
  }
  return best_scale * amax;
}

}  // namespace

void pack_scale_min_k4(const uint8_t sc[8], const uint8_t m[8], uint8_t q[kKScaleBytes]) {
  for (int j = 0; j < 4; ++j) {
    q[j] = static_cast<uint8_t>((sc[j] & 63) | (sc[j + 4] >> 4) << 6);
    q[j + 4] = static_cast<uint8_t>((m[j] & 63) | (m[j + 4] >> 4) << 6);
    q[j + 8] = static_cast<uint8_t>((sc[j + 4] & 0xf) | (m[j + 4] & 0xf) << 4);
  }
}

// q4_k, 144 bytes per 256 elements (8 sub-blocks of 32):
//   d, dmin  fp16 super-scales
//   scales   12 bytes: 8 six-bit sc and 8 six-bit m (get_scale_min_k4)
//   qs       128 bytes, 4 chunks of 64 elements, 32 bytes each:
//            chunk c byte l = q[64c + l] (low nibble) | q[64c + 32 + l] << 4
//   x = d * sc[s] * q - dmin * m[s],  s = sub-block = element / 32
void dequantize_row_q4_k(const BlockQ4_K* x, float* y, int64_t n) {
  assert(n % kQK_K == 0);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = fp16_to_fp32(x[i].d), dmin = fp16_to_fp32(x[i].dmin);
    const uint8_t* q = x[i].qs;
    for (int c = 0; c < kQK_K / 64; ++c, q += 32) {
      uint8_t sc, m;
      get_scale_min_k4(2 * c, x[i].scales, &sc, &m);
      const float d1 = d * sc, m1 = dmin * m;
      get_scale_min_k4(2 * c + 1, x[i].scales, &sc, &m);
      const float d2 = d * sc, m2 = dmin * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>(q[l] & 0xf) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>(q[l] >> 4) - m2;
    }
  }
}

void quantize_row_q4_k(const float* x, BlockQ4_K* y, int64_t n) {
  assert(n % kQK_K == 0);
  uint8_t L[kQK_K];
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    quantize_super_block_k(x, 15, &y[i].d, &y[i].dmin, y[i].scales, L);
    for (int c = 0; c < kQK_K / 64; ++c)
      for (int l = 0; l < 32; ++l)
        y[i].qs[32 * c + l] = static_cast<uint8_t>(L[64 * c + l] | L[64 * c + 32 + l] << 4);
  }
}

// q5_k, 176 bytes per 256 elements: d, dmin, scales as q4_k, then
//   qh   32 bytes: bit 2c of qh[l] = bit 4 of q[64c + l], bit 2c+1 = bit 4 of q[64c + 32 + l]
//   qs   128 bytes: the low 4 bits, laid out as q4_k's qs
//   x = d * sc[s] * q - dmin * m[s], q in [0, 31]
void dequantize_row_q5_k(const BlockQ5_K* x, float* y, int64_t n) {
  assert(n % kQK_K == 0);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = fp16_to_fp32(x[i].d), dmin = fp16_to_fp32(x[i].dmin);
    const uint8_t* ql = x[i].qs;
    const uint8_t* qh = x[i].qh;
    for (int c = 0; c < kQK_K / 64; ++c, ql += 32) {
      uint8_t sc, m;
      get_scale_min_k4(2 * c, x[i].scales, &sc, &m);
      const float d1 = d * sc, m1 = dmin * m;
      get_scale_min_k4(2 * c + 1, x[i].scales, &sc, &m);
      const float d2 = d * sc, m2 = dmin * m;
      const int u1 = 1 << (2 * c), u2 = 2 << (2 * c);
      for (int l = 0; l < 32; ++l)
        *y++ = d1 * static_cast<float>((ql[l] & 0xf) + ((qh[l] & u1) ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l)
        *y++ = d2 * static_cast<float>((ql[l] >> 4) + ((qh[l] & u2) ? 16 : 0)) - m2;
    }
  }
}

void quantize_row_q5_k(const float* x, BlockQ5_K* y, int64_t n) {
  assert(n % kQK_K == 0);
  uint8_t L[kQK_K];
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    quantize_super_block_k(x, 31, &y[i].d, &y[i].dmin, y[i].scales, L);
    std::memset(y[i].qh, 0, sizeof(y[i].qh));
    for (int c = 0; c < kQK_K / 64; ++c) {
      for (int l = 0; l < 32; ++l) {
        const int q1 = L[64 * c + l], q2 = L[64 * c + 32 + l];
        y[i].qs[32 * c + l] = static_cast<uint8_t>((q1 & 0xf) | (q2 & 0xf) << 4);
        y[i].qh[l] |= static_cast<uint8_t>((q1 >> 4) << (2 * c) | (q2 >> 4) << (2 * c + 1));
      }
    }
  }
}

// q6_k, 210 bytes per 256 elements (16 sub-blocks of 16), in two halves of 128; half h uses
// ql[64h .. 64h+64), qh[32h .. 32h+32), scales[8h .. 8h+8). Within a half, for l in 0..31:
//   element l      : ql[l]      low nibble, qh[l] bits 0-1
//   element l + 32 : ql[l + 32] low nibble, qh[l] bits 2-3
//   element l + 64 : ql[l]      high nibble, qh[l] bits 4-5
//   element l + 96 : ql[l + 32] high nibble, qh[l] bits 6-7
//   then int8 scales[16], d fp16;  x = d * scales[e / 16] * (q - 32), q in [0, 63]
void dequantize_row_q6_k(const BlockQ6_K* x, float* y, int64_t n) {
  assert(n % kQK_K == 0);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = fp16_to_fp32(x[i].d);
    const uint8_t* ql = x[i].ql;
    const uint8_t* qh = x[i].qh;
    const int8_t* sc = x[i].scales;
    for (int h = 0; h < 2; ++h, y += 128, ql += 64, qh += 32, sc += 8) {
      for (int l = 0; l < 32; ++l) {
        const int s = l / 16;
        const int q1 = ((ql[l] & 0xf) | ((qh[l] >> 0) & 3) << 4) - 32;
        const int q2 = ((ql[l + 32] & 0xf) | ((qh[l] >> 2) & 3) << 4) - 32;
        const int q3 = ((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32;
        const int q4 = ((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32;
        y[l] = d * static_cast<float>(sc[s]) * static_cast<float>(q1);
        y[l + 32] = d * static_cast<float>(sc[s + 2]) * static_cast<float>(q2);
        y[l + 64] = d * static_cast<float>(sc[s + 4]) * static_cast<float>(q3);
        y[l + 96] = d * static_cast<float>(sc[s + 6]) * static_cast<float>(q4);
      }
    }
  }
}

// Sub-block scales are fitted freely, then quantized to int8 against a super-scale chosen so the
// largest-magnitude one lands on -128 (using the full asymmetric int8 range).
void quantize_row_q6_k(const float* x, BlockQ6_K* y, int64_t n) {
  assert(n % kQK_K == 0);
  constexpr int kNmax = 32;
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    float scales[kQK_K / kSub6];
    float max_scale = 0.f, max_abs_scale = 0.f;
    for (int j = 0; j < kQK_K / kSub6; ++j) {
      scales[j] = fit_scale_symmetric(x + kSub6 * j, kNmax);
      if (std::fabs(scales[j]) > max_abs_scale) {
        max_abs_scale = std::fabs(scales[j]);
        max_scale = scales[j];
      }
    }
    std::memset(&y[i], 0, sizeof(BlockQ6_K));
    if (max_abs_scale < kTinyScale) continue;  // d = 0: decodes to zeros

    const float iscale = -128.f / max_scale;
    y[i].d = fp32_to_fp16(1.f / iscale);
    for (int j = 0; j < kQK_K / kSub6; ++j)
      y[i].scales[j] = static_cast<int8_t>(std::clamp(nearest_int(iscale * scales[j]), -128, 127));

    uint8_t L[kQK_K];
    const float d = fp16_to_fp32(y[i].d);
    for (int j = 0; j < kQK_K / kSub6; ++j) {
      const float dl = d * static_cast<float>(y[i].scales[j]);
      for (int e = 0; e < kSub6; ++e) {
        const float v = dl != 0.f ? x[kSub6 * j + e] / dl : 0.f;
        L[kSub6 * j + e] = static_cast<uint8_t>(nearest_int(std::clamp(v, -32.f, 31.f)) + 32);
      }
    }
    for (int h = 0; h < 2; ++h) {
      uint8_t* ql = y[i].ql + 64 * h;
      uint8_t* qh = y[i].qh + 32 * h;
      const uint8_t* q = L + 128 * h;
      for (int l = 0; l < 32; ++l) {
        ql[l] = static_cast<uint8_t>((q[l] & 0xf) | (q[l + 64] & 0xf) << 4);
        ql[l + 32] = static_cast<uint8_t>((q[l + 32] & 0xf) | (q[l + 96] & 0xf) << 4);
        qh[l] = static_cast<uint8_t>((q[l] >> 4) | (q[l + 32] >> 4) << 2 | (q[l + 64] >> 4) << 4 |
                                     (q[l + 96] >> 4) << 6);
      }
    }
  }
}

// q8_k, 292 bytes per 256 elements:
//   d      float (not fp16)
//   qs     256 x int8
//   bsums  16 x int16, bsums[g] = sum of qs[16g .. 16g+16) (the min terms of q4_k/q5_k dots)
//   x = d * qs
void dequantize_row_q8_k(const BlockQ8_K* x, float* y, int64_t n) {
  assert(n % kQK_K == 0);
  for (int64_t i = 0; i < n / kQK_K; ++i, y += kQK_K)
    for (int j = 0; j < kQK_K; ++j) y[j] = x[i].d * static_cast<float>(x[i].qs[j]);
}

// GGML's reference exactly: iscale = -127 / max with max the signed largest-magnitude element
// (so that element maps to -127, and the sign flip is undone by d = 1 / iscale), q rounded by
// nearest_int (ties to even) and capped at 127.
void quantize_row_q8_k(const float* x, BlockQ8_K* y, int64_t n) {
  assert(n % kQK_K == 0);
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    float amax = 0.f, max = 0.f;
    for (int j = 0; j < kQK_K; ++j) {
      if (std::fabs(x[j]) > amax) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    if (amax == 0.f) {
      std::memset(&y[i], 0, sizeof(BlockQ8_K));
      continue;
    }
    const float iscale = -127.f / max;
    for (int j = 0; j < kQK_K; ++j)
      y[i].qs[j] = static_cast<int8_t>(std::min(127, nearest_int(iscale * x[j])));
    for (int g = 0; g < kQK_K / 16; ++g) {
      int sum = 0;
      for (int e = 0; e < 16; ++e) sum += y[i].qs[16 * g + e];
      y[i].bsums[g] = static_cast<int16_t>(sum);
    }
    y[i].d = 1.f / iscale;
  }
}

}  // namespace minnow
