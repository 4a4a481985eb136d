// AVX-512 VNNI dot products of the 32-element block types (q4_0, q4_1, q5_0, q5_1, q8_0) with
// q8_0 / q8_1 activations, one row (vec_dot) or many rows against one activation row
// (vec_dot_rows, decoding). Bit-identical to the scalar reference, as the AVX2 kernels are and
// for the same reason (avx2/quant_kernels.cpp): each block's integer sum is exact, and each
// output's float terms are formed with the reference's expression and added in its order.
//
// Shape of the work: a 512-bit register holds 4 blocks, one per 128-bit lane, as two vectors
// (elements 0-15, elements 16-31) of unsigned bytes; vpdpbusd against the activations leaves 4
// partial sums per lane, and reduce_4x4 folds four such registers into the 16 block sums of 16
// outputs. vec_dot_rows gives each lane its own row (16 rows per step, the activation block
// broadcast), so the float terms are vertical: lane r adds its rows' terms in block order.
// vec_dot gives each lane a block of the one row, and adds the 16 terms in order afterwards.
//
// vpdpbusd multiplies unsigned by signed bytes, so weights enter as u8 = q + offset and the
// exact correction offset * sum(a) is subtracted (q8_0: q + 128 by flipping the sign bit;
// q4_0/q5_0: the stored nibble is already q + 8 / q + 16; q4_1/q5_1 are unsigned).
// Layouts are drawn above the scalar reference kernels in scalar/quant_kernels.cpp.
#include <cassert>

#include "kernels/avx512/avx512_kernels.h"
#include "kernels/avx512/simd.h"
#include "tensor/blocks.h"

namespace minnow::kernels::avx512 {
namespace {

// Lanes 0..3 of the (lo, hi) byte vectors from blocks p0..p3, one per 128-bit lane.
inline void nibbles_x4(const uint8_t* p0, const uint8_t* p1, const uint8_t* p2, const uint8_t* p3,
                       __m512i* lo, __m512i* hi) {
  const __m512i v = load_x4(p0, p1, p2, p3);
  const __m512i m4 = _mm512_set1_epi8(0x0f);
  *lo = _mm512_and_si512(v, m4);
  *hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
}

// The 5th bits of four q5 blocks as byte masks: bit 16k + j of lo = element j of block k,
// of hi = element 16 + j.
inline void high_bits_x4(const uint8_t* q0, const uint8_t* q1, const uint8_t* q2, const uint8_t* q3,
                         __mmask64* lo, __mmask64* hi) {
  uint32_t h[4];
  std::memcpy(&h[0], q0, 4);
  std::memcpy(&h[1], q1, 4);
  std::memcpy(&h[2], q2, 4);
  std::memcpy(&h[3], q3, 4);
  uint64_t l = 0, u = 0;
  for (int k = 0; k < 4; ++k) {
    l |= static_cast<uint64_t>(h[k] & 0xffffu) << (16 * k);
    u |= static_cast<uint64_t>(h[k] >> 16) << (16 * k);
  }
  *lo = _cvtu64_mask64(l);
  *hi = _cvtu64_mask64(u);
}

// Per type: W/A the weight and activation blocks, kOffset the u8 offset of the weights, unpack()
// the (lo, hi) bytes of four weight blocks, term() the block's float term in the reference's
// expression from the exact sum and the first 4 bytes of each block (d, and m or s).

struct Q4_0 {
  using W = BlockQ4_0;
  using A = BlockQ8_0;
  static constexpr int kOffset = 8;
  static void unpack(const W* w0, const W* w1, const W* w2, const W* w3, __m512i* lo, __m512i* hi) {
    nibbles_x4(w0->qs, w1->qs, w2->qs, w3->qs, lo, hi);
  }
  // sumi * d_w * d_a, left to right
  static __m512 term(__m512 f, __m512i wd, __m512i ad) {
    return _mm512_mul_ps(_mm512_mul_ps(f, f16_lo_to_f32(wd)), f16_lo_to_f32(ad));
  }
};

struct Q4_1 {
  using W = BlockQ4_1;
  using A = BlockQ8_1;
  static constexpr int kOffset = 0;
  static void unpack(const W* w0, const W* w1, const W* w2, const W* w3, __m512i* lo, __m512i* hi) {
    nibbles_x4(w0->qs, w1->qs, w2->qs, w3->qs, lo, hi);
  }
  // (d_w * d_a) * sumi + m * s
  static __m512 term(__m512 f, __m512i wd, __m512i ad) {
    const __m512 dd = _mm512_mul_ps(f16_lo_to_f32(wd), f16_lo_to_f32(ad));
    return _mm512_add_ps(_mm512_mul_ps(dd, f), _mm512_mul_ps(f16_hi_to_f32(wd), f16_hi_to_f32(ad)));
  }
};

struct Q5_0 {
  using W = BlockQ5_0;
  using A = BlockQ8_0;
  static constexpr int kOffset = 16;
  static void unpack(const W* w0, const W* w1, const W* w2, const W* w3, __m512i* lo, __m512i* hi) {
    nibbles_x4(w0->qs, w1->qs, w2->qs, w3->qs, lo, hi);
    __mmask64 mlo, mhi;
    high_bits_x4(w0->qh, w1->qh, w2->qh, w3->qh, &mlo, &mhi);
    const __m512i sixteen = _mm512_set1_epi8(0x10);  // nibble | 16 where the bit is set
    *lo = _mm512_mask_add_epi8(*lo, mlo, *lo, sixteen);
    *hi = _mm512_mask_add_epi8(*hi, mhi, *hi, sixteen);
  }
  // (d_w * d_a) * sumi
  static __m512 term(__m512 f, __m512i wd, __m512i ad) {
    return _mm512_mul_ps(_mm512_mul_ps(f16_lo_to_f32(wd), f16_lo_to_f32(ad)), f);
  }
};

struct Q5_1 {
  using W = BlockQ5_1;
  using A = BlockQ8_1;
  static constexpr int kOffset = 0;
  static void unpack(const W* w0, const W* w1, const W* w2, const W* w3, __m512i* lo, __m512i* hi) {
    nibbles_x4(w0->qs, w1->qs, w2->qs, w3->qs, lo, hi);
    __mmask64 mlo, mhi;
    high_bits_x4(w0->qh, w1->qh, w2->qh, w3->qh, &mlo, &mhi);
    const __m512i sixteen = _mm512_set1_epi8(0x10);  // nibble | 16 where the bit is set
    *lo = _mm512_mask_add_epi8(*lo, mlo, *lo, sixteen);
    *hi = _mm512_mask_add_epi8(*hi, mhi, *hi, sixteen);
  }
  static __m512 term(__m512 f, __m512i wd, __m512i ad) { return Q4_1::term(f, wd, ad); }
};

struct Q8_0 {
  using W = BlockQ8_0;
  using A = BlockQ8_0;
  static constexpr int kOffset = 128;
  static void unpack(const W* w0, const W* w1, const W* w2, const W* w3, __m512i* lo, __m512i* hi) {
    const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));  // q + 128 as u8
    *lo = _mm512_xor_si512(load_x4(w0->qs, w1->qs, w2->qs, w3->qs), flip);
    *hi = _mm512_xor_si512(load_x4(w0->qs + 16, w1->qs + 16, w2->qs + 16, w3->qs + 16), flip);
  }
  // sumi * (d_w * d_a)
  static __m512 term(__m512 f, __m512i wd, __m512i ad) {
    return _mm512_mul_ps(f, _mm512_mul_ps(f16_lo_to_f32(wd), f16_lo_to_f32(ad)));
  }
};

// -kOffset * (sum of the activation bytes), as 4 partial sums per 128-bit lane: the start value
// of each lane's accumulator, so the lane's total is the signed dot product.
template <class T>
inline __m512i start_value(__m512i a_lo, __m512i a_hi) {
  if constexpr (T::kOffset == 0) {
    return _mm512_setzero_si512();
  } else {
    const __m512i off = _mm512_set1_epi8(static_cast<char>(T::kOffset));
    const __m512i s = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), off, a_lo), off, a_hi);
    return _mm512_sub_epi32(_mm512_setzero_si512(), s);
  }
}

inline int32_t first_dword(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

template <class T>
void dot_rows(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* a, float* out) {
  using W = typename T::W;
  const auto* y = static_cast<const typename T::A*>(a);
  const int64_t nb = n / 32;
  const char* base = static_cast<const char*>(w);
  assert(w_stride * 15 <= 0x7fffffffu);
  for (int64_t r0 = 0; r0 < n_rows; r0 += 16) {
    // Lane i is row r0 + i; past the last row, lanes repeat it and are not stored.
    const int64_t valid = n_rows - r0 < 16 ? n_rows - r0 : 16;
    alignas(64) int32_t off[16];
    const W* rows[16];
    for (int i = 0; i < 16; ++i) {
      off[i] = static_cast<int32_t>(static_cast<size_t>(i < valid ? i : valid - 1) * w_stride);
      rows[i] = reinterpret_cast<const W*>(base + static_cast<size_t>(r0) * w_stride + off[i]);
    }
    const __m512i vindex = _mm512_load_si512(off);
    // The next 16 rows, block by block in step with these: 16 short streams each advancing
    // 18-34 bytes per step defeat the hardware prefetchers on narrow matrices (a 576-wide q8_0
    // row is 10 cache lines), which left decoding at ~6 GB/s per core against ~11 streamed.
    const int64_t ahead = n_rows - r0 - 16 < 16 ? n_rows - r0 - 16 : 16;
    const char* next = base + static_cast<size_t>(r0 + 16) * w_stride;
    __m512 acc = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      for (int64_t i = 0; i < ahead; ++i)
        _mm_prefetch(next + static_cast<size_t>(i) * w_stride + static_cast<size_t>(b) * sizeof(W),
                     _MM_HINT_T0);
      const __m512i a_lo = broadcast_x4(y[b].qs), a_hi = broadcast_x4(y[b].qs + 16);
      const __m512i start = start_value<T>(a_lo, a_hi);
      __m512i g[4];
      for (int j = 0; j < 4; ++j) {  // 128-bit lane k of g[j] is row 4k + j
        __m512i lo, hi;
        T::unpack(rows[j] + b, rows[j + 4] + b, rows[j + 8] + b, rows[j + 12] + b, &lo, &hi);
        g[j] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(start, lo, a_lo), hi, a_hi);
      }
      const __m512i sumi = reduce_4x4(g[0], g[1], g[2], g[3]);
      const __m512i wd = _mm512_i32gather_epi32(vindex, rows[0] + b, 1);
      const __m512i ad = _mm512_set1_epi32(first_dword(&y[b]));
      acc = _mm512_add_ps(acc, T::term(_mm512_cvtepi32_ps(sumi), wd, ad));
    }
    _mm512_mask_storeu_ps(out + r0, static_cast<__mmask16>((1u << valid) - 1), acc);
  }
}

// The float terms of 16 consecutive blocks of one row (lane i: block i).
template <class T>
inline __m512 terms_16(const typename T::W* x, const typename T::A* y) {
  __m512i g[4];
  for (int j = 0; j < 4; ++j) {  // 128-bit lane k of g[j] is block 4k + j
    __m512i lo, hi;
    T::unpack(x + j, x + j + 4, x + j + 8, x + j + 12, &lo, &hi);
    const __m512i a_lo = load_x4(y[j].qs, y[j + 4].qs, y[j + 8].qs, y[j + 12].qs);
    const __m512i a_hi = load_x4(y[j].qs + 16, y[j + 4].qs + 16, y[j + 8].qs + 16, y[j + 12].qs + 16);
    g[j] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(start_value<T>(a_lo, a_hi), lo, a_lo), hi, a_hi);
  }
  const __m512i sumi = reduce_4x4(g[0], g[1], g[2], g[3]);
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i wd = _mm512_i32gather_epi32(_mm512_mullo_epi32(iota, _mm512_set1_epi32(sizeof(*x))), x, 1);
  const __m512i ad = _mm512_i32gather_epi32(_mm512_mullo_epi32(iota, _mm512_set1_epi32(sizeof(*y))), y, 1);
  return T::term(_mm512_cvtepi32_ps(sumi), wd, ad);
}

template <class T>
void dot_one(int64_t n, const void* w, const void* a, float* out) {
  using W = typename T::W;
  using A = typename T::A;
  const auto* x = static_cast<const W*>(w);
  const auto* y = static_cast<const A*>(a);
  const int64_t nb = n / 32;
  float sum = 0.0f;
  alignas(64) float t[16];
  int64_t b = 0;
  for (; b + 16 <= nb; b += 16) {
    _mm512_store_ps(t, terms_16<T>(x + b, y + b));
    for (int i = 0; i < 16; ++i) sum += t[i];  // the reference's order
  }
  if (b < nb) {  // the last < 16 blocks, zero padded (padding terms are not added)
    W xt[16] = {};
    A yt[16] = {};
    const int64_t m = nb - b;
    std::memcpy(xt, x + b, static_cast<size_t>(m) * sizeof(W));
    std::memcpy(yt, y + b, static_cast<size_t>(m) * sizeof(A));
    _mm512_store_ps(t, terms_16<T>(xt, yt));
    for (int64_t i = 0; i < m; ++i) sum += t[i];
  }
  *out = sum;
}

}  // namespace

void vec_dot_q4_0_q8_0(int64_t n, const void* w, const void* a, float* out) {
  dot_one<Q4_0>(n, w, a, out);
}
void vec_dot_q4_1_q8_1(int64_t n, const void* w, const void* a, float* out) {
  dot_one<Q4_1>(n, w, a, out);
}
void vec_dot_q5_0_q8_0(int64_t n, const void* w, const void* a, float* out) {
  dot_one<Q5_0>(n, w, a, out);
}
void vec_dot_q5_1_q8_1(int64_t n, const void* w, const void* a, float* out) {
  dot_one<Q5_1>(n, w, a, out);
}
void vec_dot_q8_0_q8_0(int64_t n, const void* w, const void* a, float* out) {
  dot_one<Q8_0>(n, w, a, out);
}

void vec_dot_rows_q4_0_q8_0(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* a,
                            float* out) {
  dot_rows<Q4_0>(n, w, w_stride, n_rows, a, out);
}
void vec_dot_rows_q4_1_q8_1(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* a,
                            float* out) {
  dot_rows<Q4_1>(n, w, w_stride, n_rows, a, out);
}
void vec_dot_rows_q5_0_q8_0(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* a,
                            float* out) {
  dot_rows<Q5_0>(n, w, w_stride, n_rows, a, out);
}
void vec_dot_rows_q5_1_q8_1(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* a,
                            float* out) {
  dot_rows<Q5_1>(n, w, w_stride, n_rows, a, out);
}
void vec_dot_rows_q8_0_q8_0(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* a,
                            float* out) {
  dot_rows<Q8_0>(n, w, w_stride, n_rows, a, out);
}

}  // namespace minnow::kernels::avx512
