// The NEON integer dot products of the quant types with their q8 activations, one row (vec_dot)
// or several rows against one activation row (vec_dot_rows), as templates over Dot, the way 16
// int8 products are summed: quant_kernels.cpp instantiates them with widening multiplies (any
// aarch64 CPU), quant_kernels_dotprod.cpp with SDOT. Include only from those two files.
//
// Bit-identical to the scalar reference, as the AVX2 and AVX-512 kernels are and for the same
// reason (avx2/quant_kernels.cpp): each block's integer sum is exact (Dot is exact, bounds beside
// each type), and each output's float terms are the reference's expressions, added in its order.
// Four blocks' terms are formed at once, one per lane (the same operations per lane); vec_dot then
// adds the four lanes in block order, vec_dot_rows gives each lane its own row and adds vertically.
// Layouts are drawn above the scalar reference kernels in scalar/quant_kernels.cpp and
// scalar/kquant_kernels.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/kernel_table.h"
#include "kernels/neon/simd.h"
#include "tensor/blocks.h"

namespace minnow::kernels::neon {
namespace {

// Weight types with 32-element blocks. unpack() gives elements 0-15 and 16-31 of a block as
// int8 (in [-16, 31] for q4/q5, any int8 for q8_0); term() is the scalar reference's float
// expression of the exact block sum f and the blocks' scales, lane k from block k.

struct Q4_0 {
  using W = BlockQ4_0;
  using A = BlockQ8_0;
  static void unpack(const W& w, int8x16_t* lo, int8x16_t* hi) {
    uint8x16_t l, h;
    nibbles_16(w.qs, &l, &h);
    *lo = vsubq_s8(vreinterpretq_s8_u8(l), vdupq_n_s8(8));
    *hi = vsubq_s8(vreinterpretq_s8_u8(h), vdupq_n_s8(8));
  }
  // sumi * d_w * d_a, left to right
  static float32x4_t term(float32x4_t f, const W* const w[4], const A* const a[4]) {
    return vmulq_f32(vmulq_f32(f, f16_fields_x4(w[0]->d, w[1]->d, w[2]->d, w[3]->d)),
                     f16_fields_x4(a[0]->d, a[1]->d, a[2]->d, a[3]->d));
  }
};

struct Q4_1 {
  using W = BlockQ4_1;
  using A = BlockQ8_1;
  static void unpack(const W& w, int8x16_t* lo, int8x16_t* hi) {
    uint8x16_t l, h;
    nibbles_16(w.qs, &l, &h);
    *lo = vreinterpretq_s8_u8(l);
    *hi = vreinterpretq_s8_u8(h);
  }
  // (d_w * d_a) * sumi + m * s
  template <class Wt>
  static float32x4_t term_with_min(float32x4_t f, const Wt* const w[4], const A* const a[4]) {
    const float32x4_t dd = vmulq_f32(f16_fields_x4(w[0]->d, w[1]->d, w[2]->d, w[3]->d),
                                     f16_fields_x4(a[0]->d, a[1]->d, a[2]->d, a[3]->d));
    const float32x4_t ms = vmulq_f32(f16_fields_x4(w[0]->m, w[1]->m, w[2]->m, w[3]->m),
                                     f16_fields_x4(a[0]->s, a[1]->s, a[2]->s, a[3]->s));
    return vaddq_f32(vmulq_f32(dd, f), ms);
  }
  static float32x4_t term(float32x4_t f, const W* const w[4], const A* const a[4]) {
    return term_with_min(f, w, a);
  }
};

struct Q5_0 {
  using W = BlockQ5_0;
  using A = BlockQ8_0;
  static void unpack(const W& w, int8x16_t* lo, int8x16_t* hi) {
    uint8x16_t l, h, bl, bh;
    nibbles_16(w.qs, &l, &h);
    fifth_bits_32(w.qh, &bl, &bh);
    *lo = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(l, bl)), vdupq_n_s8(16));
    *hi = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(h, bh)), vdupq_n_s8(16));
  }
  // (d_w * d_a) * sumi
  static float32x4_t term(float32x4_t f, const W* const w[4], const A* const a[4]) {
    const float32x4_t dd = vmulq_f32(f16_fields_x4(w[0]->d, w[1]->d, w[2]->d, w[3]->d),
                                     f16_fields_x4(a[0]->d, a[1]->d, a[2]->d, a[3]->d));
    return vmulq_f32(dd, f);
  }
};

struct Q5_1 {
  using W = BlockQ5_1;
  using A = BlockQ8_1;
  static void unpack(const W& w, int8x16_t* lo, int8x16_t* hi) {
    uint8x16_t l, h, bl, bh;
    nibbles_16(w.qs, &l, &h);
    fifth_bits_32(w.qh, &bl, &bh);
    *lo = vreinterpretq_s8_u8(vorrq_u8(l, bl));
    *hi = vreinterpretq_s8_u8(vorrq_u8(h, bh));
  }
  static float32x4_t term(float32x4_t f, const W* const w[4], const A* const a[4]) {
    return Q4_1::term_with_min(f, w, a);
  }
};

struct Q8_0 {
  using W = BlockQ8_0;
  using A = BlockQ8_0;
  static void unpack(const W& w, int8x16_t* lo, int8x16_t* hi) {
    *lo = vld1q_s8(w.qs);
    *hi = vld1q_s8(w.qs + 16);
  }
  // sumi * (d_w * d_a)
  static float32x4_t term(float32x4_t f, const W* const w[4], const A* const a[4]) {
    return vmulq_f32(f, vmulq_f32(f16_fields_x4(w[0]->d, w[1]->d, w[2]->d, w[3]->d),
                                  f16_fields_x4(a[0]->d, a[1]->d, a[2]->d, a[3]->d)));
  }
};

// The exact integer dot products of four (weight block, activation block) pairs, lane k from
// pair k. |sum| <= 32 * 128 * 127 per block.
template <class Dot, class T>
inline int32x4_t block_sums_x4(const typename T::W* const w[4], const typename T::A* const a[4]) {
  int32x4_t p[4];
  for (int k = 0; k < 4; ++k) {
    int8x16_t lo, hi;
    T::unpack(*w[k], &lo, &hi);
    p[k] = Dot::acc(Dot::acc(vdupq_n_s32(0), lo, vld1q_s8(a[k]->qs)), hi, vld1q_s8(a[k]->qs + 16));
  }
  return vpaddq_s32(vpaddq_s32(p[0], p[1]), vpaddq_s32(p[2], p[3]));
}

template <class Dot, class T>
inline float32x4_t terms_x4(const typename T::W* const w[4], const typename T::A* const a[4]) {
  return T::term(vcvtq_f32_s32(block_sums_x4<Dot, T>(w, a)), w, a);
}

template <class Dot, class T>
void dot_one(int64_t n, const void* w, const void* a, float* out) {
  const auto* x = static_cast<const typename T::W*>(w);
  const auto* y = static_cast<const typename T::A*>(a);
  const int64_t nb = n / 32;
  float sum = 0.0f;
  for (int64_t b = 0; b < nb; b += 4) {
    // Past the last block, lanes repeat it and their terms are not added.
    const int64_t m = nb - b < 4 ? nb - b : 4;
    const typename T::W* ws[4];
    const typename T::A* as[4];
    for (int k = 0; k < 4; ++k) {
      ws[k] = x + b + (k < m ? k : m - 1);
      as[k] = y + b + (k < m ? k : m - 1);
    }
    float t[4];
    vst1q_f32(t, terms_x4<Dot, T>(ws, as));
    for (int64_t k = 0; k < m; ++k) sum += t[k];  // the reference's order
  }
  *out = sum;
}

template <class Dot, class T>
void dot_rows(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* a, float* out) {
  const auto* y = static_cast<const typename T::A*>(a);
  const char* base = static_cast<const char*>(w);
  const int64_t nb = n / 32;
  for (int64_t r0 = 0; r0 < n_rows; r0 += 4) {
    // Lane k is row r0 + k; past the last row, lanes repeat it and are not stored.
    const int64_t m = n_rows - r0 < 4 ? n_rows - r0 : 4;
    const typename T::W* rows[4];
    for (int k = 0; k < 4; ++k) {
      const size_t r = static_cast<size_t>(r0 + (k < m ? k : m - 1));
      rows[k] = reinterpret_cast<const typename T::W*>(base + r * w_stride);
    }
    float32x4_t acc = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < nb; ++b) {
      const typename T::W* const ws[4] = {rows[0] + b, rows[1] + b, rows[2] + b, rows[3] + b};
      const typename T::A* const as[4] = {y + b, y + b, y + b, y + b};
      acc = vaddq_f32(acc, terms_x4<Dot, T>(ws, as));
    }
    float t[4];
    vst1q_f32(t, acc);
    for (int64_t k = 0; k < m; ++k) out[r0 + k] = t[k];
  }
}

// The k-quants, per 256-element super-block: the exact integer sums of the scalar reference,
// sumi = sum_s sc[s] * (q . q8)_s and (q4_k, q5_k) summ = sum_s m[s] * (sum of q8 over s); bounds
// beside the scalar kernels (|sumi| < 2^27). The float part is the reference's, per super-block.
struct KSums {
  int32_t sumi;
  int32_t summ;
};

// The 12 packed scale bytes of q4_k/q5_k -> sc[0..7] in bytes 0-7, m[0..7] in bytes 8-15.
inline void unpack_scales_mins(const uint8_t* scales, uint8_t out[16]) {
  constexpr uint32_t kmask1 = 0x3f3f3f3f, kmask2 = 0x0f0f0f0f, kmask3 = 0x03030303;
  uint32_t u[4];
  std::memcpy(u, scales, 12);
  u[3] = ((u[2] >> 4) & kmask2) | (((u[1] >> 6) & kmask3) << 4);
  const uint32_t m_lo = u[1] & kmask1;
  u[1] = (u[2] & kmask2) | (((u[0] >> 6) & kmask3) << 4);
  u[2] = m_lo;
  u[0] &= kmask1;
  std::memcpy(out, u, 16);
}

// sum_s m[s] * (bsums[2s] + bsums[2s + 1]) over the 8 sub-blocks of 32; |pair sum| <= 32 * 127.
inline int32_t mins_dot_bsums(const uint8_t* mins, const int16_t* bsums) {
  const int16x8_t pairs = vpaddq_s16(vld1q_s16(bsums), vld1q_s16(bsums + 8));
  const int16x8_t m = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(mins)));
  const int32x4_t p =
      vmlal_s16(vmull_s16(vget_low_s16(m), vget_low_s16(pairs)), vget_high_s16(m), vget_high_s16(pairs));
  return vaddvq_s32(p);
}

// One 64-element chunk c of q4_k/q5_k: sub-block 2c is q[0..1] (elements 64c + l, l < 32),
// 2c + 1 is q[2..3] (64c + 32 + l), both unsigned (< 32) against 64 bytes of q8.
template <class Dot>
inline int32x4_t chunk_sum(int32x4_t acc, const uint8x16_t q[4], const int8_t* q8, int sc0, int sc1) {
  const int32x4_t zero = vdupq_n_s32(0);
  const int32x4_t d0 = Dot::acc(Dot::acc(zero, vreinterpretq_s8_u8(q[0]), vld1q_s8(q8)),
                                vreinterpretq_s8_u8(q[1]), vld1q_s8(q8 + 16));
  const int32x4_t d1 = Dot::acc(Dot::acc(zero, vreinterpretq_s8_u8(q[2]), vld1q_s8(q8 + 32)),
                                vreinterpretq_s8_u8(q[3]), vld1q_s8(q8 + 48));
  return vmlaq_n_s32(vmlaq_n_s32(acc, d0, sc0), d1, sc1);
}

template <class Dot>
inline KSums k_sums(const BlockQ4_K& x, const BlockQ8_K& y) {
  uint8_t sm[16];
  unpack_scales_mins(x.scales, sm);
  const uint8x16_t m4 = vdupq_n_u8(0x0f);
  int32x4_t acc = vdupq_n_s32(0);
  for (int c = 0; c < kQK_K / 64; ++c) {
    const uint8x16_t v0 = vld1q_u8(x.qs + 32 * c), v1 = vld1q_u8(x.qs + 32 * c + 16);
    const uint8x16_t q[4] = {vandq_u8(v0, m4), vandq_u8(v1, m4), vshrq_n_u8(v0, 4), vshrq_n_u8(v1, 4)};
    acc = chunk_sum<Dot>(acc, q, y.qs + 64 * c, sm[2 * c], sm[2 * c + 1]);
  }
  return {vaddvq_s32(acc), mins_dot_bsums(sm + 8, y.bsums)};
}

// q5_k: the 5th bit of element 64c + l is bit 2c of qh[l], of 64c + 32 + l bit 2c + 1.
template <class Dot>
inline KSums k_sums(const BlockQ5_K& x, const BlockQ8_K& y) {
  uint8_t sm[16];
  unpack_scales_mins(x.scales, sm);
  const uint8x16_t m4 = vdupq_n_u8(0x0f), sixteen = vdupq_n_u8(0x10);
  const uint8x16_t h0 = vld1q_u8(x.qh), h1 = vld1q_u8(x.qh + 16);
  int32x4_t acc = vdupq_n_s32(0);
  for (int c = 0; c < kQK_K / 64; ++c) {
    const uint8x16_t b0 = vdupq_n_u8(static_cast<uint8_t>(1u << (2 * c)));
    const uint8x16_t b1 = vdupq_n_u8(static_cast<uint8_t>(2u << (2 * c)));
    const uint8x16_t v0 = vld1q_u8(x.qs + 32 * c), v1 = vld1q_u8(x.qs + 32 * c + 16);
    const uint8x16_t q[4] = {vorrq_u8(vandq_u8(v0, m4), vandq_u8(vtstq_u8(h0, b0), sixteen)),
                             vorrq_u8(vandq_u8(v1, m4), vandq_u8(vtstq_u8(h1, b0), sixteen)),
                             vorrq_u8(vshrq_n_u8(v0, 4), vandq_u8(vtstq_u8(h0, b1), sixteen)),
                             vorrq_u8(vshrq_n_u8(v1, 4), vandq_u8(vtstq_u8(h1, b1), sixteen))};
    acc = chunk_sum<Dot>(acc, q, y.qs + 64 * c, sm[2 * c], sm[2 * c + 1]);
  }
  return {vaddvq_s32(acc), mins_dot_bsums(sm + 8, y.bsums)};
}

// q6_k: per half h and l in [16i, 16i + 16), one load each of ql[64h + l], ql[64h + 32 + l] and
// qh[32h + l] gives 16 elements of each of the four 32-element groups g (element 128h + 32g + l,
// sub-block 8h + 2g + i), as q - 32 in [-32, 31] against 16 bytes of q8.
template <class Dot>
inline KSums k_sums(const BlockQ6_K& x, const BlockQ8_K& y) {
  const uint8x16_t m4 = vdupq_n_u8(0x0f), m2 = vdupq_n_u8(3);
  const int8x16_t m32 = vdupq_n_s8(32);
  int32x4_t acc = vdupq_n_s32(0);
  for (int h = 0; h < 2; ++h) {
    for (int i = 0; i < 2; ++i) {
      const uint8x16_t l0 = vld1q_u8(x.ql + 64 * h + 16 * i), l1 = vld1q_u8(x.ql + 64 * h + 32 + 16 * i);
      const uint8x16_t hb = vld1q_u8(x.qh + 32 * h + 16 * i);
      const uint8x16_t q[4] = {vorrq_u8(vandq_u8(l0, m4), vshlq_n_u8(vandq_u8(hb, m2), 4)),
                               vorrq_u8(vandq_u8(l1, m4), vshlq_n_u8(vandq_u8(vshrq_n_u8(hb, 2), m2), 4)),
                               vorrq_u8(vshrq_n_u8(l0, 4), vshlq_n_u8(vandq_u8(vshrq_n_u8(hb, 4), m2), 4)),
                               vorrq_u8(vshrq_n_u8(l1, 4), vshlq_n_u8(vshrq_n_u8(hb, 6), 4))};
      for (int g = 0; g < 4; ++g) {
        const int8x16_t v = vsubq_s8(vreinterpretq_s8_u8(q[g]), m32);
        const int32x4_t d = Dot::acc(vdupq_n_s32(0), v, vld1q_s8(y.qs + 128 * h + 32 * g + 16 * i));
        acc = vmlaq_n_s32(acc, d, x.scales[8 * h + 2 * g + i]);
      }
    }
  }
  return {vaddvq_s32(acc), 0};
}

template <class W>
constexpr bool kHasMins = !std::is_same_v<W, BlockQ6_K>;

// sum += d * d_a * sumi; sum -= dmin * d_a * summ, per super-block in order.
template <class Dot, class W>
void k_dot_one(int64_t n, const void* w, const void* a, float* out) {
  const auto* x = static_cast<const W*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  float sum = 0.0f;
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const KSums s = k_sums<Dot>(x[b], y[b]);
    sum += f16_to_f32(x[b].d) * y[b].d * static_cast<float>(s.sumi);
    if constexpr (kHasMins<W>) sum -= f16_to_f32(x[b].dmin) * y[b].d * static_cast<float>(s.summ);
  }
  *out = sum;
}

// Four rows at a time, lane k holding row k's sum; the same float operations per lane.
template <class Dot, class W>
void k_dot_rows(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* a, float* out) {
  const auto* y = static_cast<const BlockQ8_K*>(a);
  const char* base = static_cast<const char*>(w);
  for (int64_t r0 = 0; r0 < n_rows; r0 += 4) {
    const int64_t m = n_rows - r0 < 4 ? n_rows - r0 : 4;  // lanes past the last row repeat it
    const W* rows[4];
    for (int k = 0; k < 4; ++k) {
      const size_t r = static_cast<size_t>(r0 + (k < m ? k : m - 1));
      rows[k] = reinterpret_cast<const W*>(base + r * w_stride);
    }
    float32x4_t acc = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < n / kQK_K; ++b) {
      int32_t sumi[4], summ[4];
      for (int k = 0; k < 4; ++k) {
        const KSums s = k_sums<Dot>(rows[k][b], y[b]);
        sumi[k] = s.sumi;
        summ[k] = s.summ;
      }
      const float32x4_t da = vdupq_n_f32(y[b].d);
      const float32x4_t d = f16_fields_x4(rows[0][b].d, rows[1][b].d, rows[2][b].d, rows[3][b].d);
      acc = vaddq_f32(acc, vmulq_f32(vmulq_f32(d, da), vcvtq_f32_s32(vld1q_s32(sumi))));
      if constexpr (kHasMins<W>) {
        const float32x4_t dmin =
            f16_fields_x4(rows[0][b].dmin, rows[1][b].dmin, rows[2][b].dmin, rows[3][b].dmin);
        acc = vsubq_f32(acc, vmulq_f32(vmulq_f32(dmin, da), vcvtq_f32_s32(vld1q_s32(summ))));
      }
    }
    float t[4];
    vst1q_f32(t, acc);
    for (int64_t k = 0; k < m; ++k) out[r0 + k] = t[k];
  }
}

// The table entries of one Dot build.
template <class Dot>
void set_quant_dots_with(KernelTable& t) {
  const auto i = [](DType type) { return static_cast<size_t>(type); };
  t.vec_dot[i(DType::Q4_0)] = dot_one<Dot, Q4_0>;
  t.vec_dot[i(DType::Q4_1)] = dot_one<Dot, Q4_1>;
  t.vec_dot[i(DType::Q5_0)] = dot_one<Dot, Q5_0>;
  t.vec_dot[i(DType::Q5_1)] = dot_one<Dot, Q5_1>;
  t.vec_dot[i(DType::Q8_0)] = dot_one<Dot, Q8_0>;
  t.vec_dot[i(DType::Q4_K)] = k_dot_one<Dot, BlockQ4_K>;
  t.vec_dot[i(DType::Q5_K)] = k_dot_one<Dot, BlockQ5_K>;
  t.vec_dot[i(DType::Q6_K)] = k_dot_one<Dot, BlockQ6_K>;

  t.vec_dot_rows[i(DType::Q4_0)] = dot_rows<Dot, Q4_0>;
  t.vec_dot_rows[i(DType::Q4_1)] = dot_rows<Dot, Q4_1>;
  t.vec_dot_rows[i(DType::Q5_0)] = dot_rows<Dot, Q5_0>;
  t.vec_dot_rows[i(DType::Q5_1)] = dot_rows<Dot, Q5_1>;
  t.vec_dot_rows[i(DType::Q8_0)] = dot_rows<Dot, Q8_0>;
  t.vec_dot_rows[i(DType::Q4_K)] = k_dot_rows<Dot, BlockQ4_K>;
  t.vec_dot_rows[i(DType::Q5_K)] = k_dot_rows<Dot, BlockQ5_K>;
  t.vec_dot_rows[i(DType::Q6_K)] = k_dot_rows<Dot, BlockQ6_K>;
}

}  // namespace
}  // namespace minnow::kernels::neon
