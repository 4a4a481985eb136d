// AVX-512 VNNI products of packed weights (kernels/packed.h) with q8_0 activations, for decoding
// (one token) and prompt batches alike: each output bit-identical to the scalar vec_dot.
//
// A register's 16 int32 lanes are a group's 16 rows. Per block, the group's 8 quant vectors
// (dword group g of every row) are loaded once and held while each token of a tile of up to 16
// takes 8 vpdpbusd against its activation dword g, broadcast from the row-major q8_0 block:
// lane r then holds row r's exact block sum, plus offset * (sum of the activation's quants),
// which the accumulator starts out subtracting (offset 128 for q8_0's q + 128 bytes, 8 for
// q4_0's nibbles). Each lane forms the block's float term with the reference's expression and
// adds it to the token's running sum in block order, exactly as the scalar loop does.
//
// The weights stream once per tile of tokens, contiguously (one group is one run of bytes), and
// no horizontal reduction or gather is needed. No standard-library templates here (simd.h).
#include "kernels/avx512/avx512_kernels.h"
#include "kernels/avx512/gemm_blocks.h"
#include "kernels/avx512/simd.h"
#include "kernels/packed.h"
#include "tensor/blocks.h"

namespace minnow::kernels::avx512 {
namespace {

constexpr int kMaxTokens = 16;
// Decoding streams each weight byte from DRAM once; software prefetches this far ahead in the
// group's run (8 blocks of q8_0) lifted one core's rate on a 49152 x 576 q8_0 matrix from
// ~11-12 to ~12-13 GB/s (2048 to 8192 were alike; 1024 no better than none).
constexpr int kPrefetchAhead = 4096;  // per tile: 16 running sums + 8 weights + 1 scale + temporaries

// Per type: kOffset the weights' u8 offset, kQuantBytes a block's quants per group, weights()
// the 8 vectors of dword groups, Term the float term (gemm_blocks.h).
struct PackedQ8_0 {
  static constexpr int kOffset = 128;
  static constexpr size_t kQuantBytes = 512;
  using Term = GemmQ8_0;
  [[gnu::always_inline]] static inline void weights(const uint8_t* q, __m512i* w) {
    for (int g = 0; g < 8; ++g) w[g] = _mm512_load_si512(q + 64 * g);
  }
};

struct PackedQ4_0 {
  static constexpr int kOffset = 8;
  static constexpr size_t kQuantBytes = 256;
  using Term = GemmQ4_0;
  [[gnu::always_inline]] static inline void weights(const uint8_t* q, __m512i* w) {
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    for (int g = 0; g < 4; ++g) {
      const __m512i v = _mm512_load_si512(q + 64 * g);
      w[g] = _mm512_and_si512(v, m4);
      w[g + 4] = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
    }
  }
};

inline __m512i broadcast_dword(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

// One group's sums for NT tokens: sum[t] lane r = vec_dot(row r, token t). a[t] and info[t]
// are token t's q8_0 blocks and block info.
template <class T, int NT>
[[gnu::always_inline]] inline void group_tile(int64_t nb, const uint8_t* group, size_t scales_bytes,
                                              const BlockQ8_0* const* a, const PackedActBlock* const* info,
                                              __m512* sum) {
  for (int t = 0; t < NT; ++t) sum[t] = _mm512_setzero_ps();
  const auto* scales = reinterpret_cast<const __m256i*>(group);  // [nb] x 16 f16
  const uint8_t* quants = group + scales_bytes;
  for (int64_t b = 0; b < nb; ++b) {
    __m512i w[8];
    if constexpr (NT <= 8) {  // decoding batches; prompt tiles (16) reuse each block for many tokens
      const char* ahead =
          reinterpret_cast<const char*>(quants + static_cast<size_t>(b) * T::kQuantBytes) + kPrefetchAhead;
      for (size_t l = 0; l < T::kQuantBytes; l += 64) _mm_prefetch(ahead + l, _MM_HINT_T0);
    }
    T::weights(quants + static_cast<size_t>(b) * T::kQuantBytes, w);
    const __m512 dw = _mm512_cvtph_ps(_mm256_load_si256(scales + b));
#pragma GCC unroll 16
    for (int t = 0; t < NT; ++t) {
      const int8_t* q = a[t][b].qs;
      // Two chains of 4, so one token's 8 dependent vpdpbusd do not serialize decoding.
      __m512i acc0 = _mm512_set1_epi32(-T::kOffset * info[t][b].sum), acc1 = _mm512_setzero_si512();
      for (int g = 0; g < 8; g += 2) {
        acc0 = _mm512_dpbusd_epi32(acc0, w[g], broadcast_dword(q + 4 * g));
        acc1 = _mm512_dpbusd_epi32(acc1, w[g + 1], broadcast_dword(q + 4 * g + 4));
      }
      const __m512 f = _mm512_cvtepi32_ps(_mm512_add_epi32(acc0, acc1));
      const __m512 dy = _mm512_set1_ps(info[t][b].d);
      sum[t] = _mm512_add_ps(sum[t], T::Term::term(f, dw, dw, dy, dy));
    }
  }
}

// Tokens [t0, t0 + n_tok) against one group, n_tok <= NT; tokens past n_tok repeat the last
// and are not stored.
template <class T, int NT>
void group_tokens(int64_t nb, const uint8_t* group, size_t scales_bytes, const char* a, size_t a_stride,
                  const PackedActBlock* info, int64_t t0, int64_t n_tok, float* y, int64_t y_stride,
                  __mmask16 row_mask) {
  const BlockQ8_0* at[NT];
  const PackedActBlock* it[NT];
  for (int t = 0; t < NT; ++t) {
    const int64_t tok = t0 + (t < n_tok ? t : n_tok - 1);
    at[t] = reinterpret_cast<const BlockQ8_0*>(a + static_cast<size_t>(tok) * a_stride);
    it[t] = info + tok * nb;
  }
  __m512 sum[NT];
  group_tile<T, NT>(nb, group, scales_bytes, at, it, sum);
#pragma GCC unroll 16
  for (int t = 0; t < NT; ++t)
    if (t < n_tok) _mm512_mask_storeu_ps(y + (t0 + t) * y_stride, row_mask, sum[t]);
}

template <class T>
void packed_matmul(int64_t n, const void* packed, int64_t n_rows, const void* a, size_t a_stride,
                   const PackedActBlock* info, int64_t n_tokens, float* y, int64_t y_stride) {
  const int64_t nb = n / 32;
  const size_t scales_bytes = packed_scales_bytes(n), group_bytes = scales_bytes + nb * T::kQuantBytes;
  const char* ab = static_cast<const char*>(a);
  for (int64_t r0 = 0; r0 < n_rows; r0 += kPackRows) {
    const uint8_t* group =
        static_cast<const uint8_t*>(packed) + static_cast<size_t>(r0 / kPackRows) * group_bytes;
    const int64_t rows = n_rows - r0 < kPackRows ? n_rows - r0 : kPackRows;
    const auto mask = static_cast<__mmask16>((1u << rows) - 1);
    for (int64_t t0 = 0; t0 < n_tokens; t0 += kMaxTokens) {
      const int64_t nt = n_tokens - t0 < kMaxTokens ? n_tokens - t0 : kMaxTokens;
      float* yg = y + r0;
      if (nt == 1) {
        group_tokens<T, 1>(nb, group, scales_bytes, ab, a_stride, info, t0, nt, yg, y_stride, mask);
      } else if (nt <= 2) {
        group_tokens<T, 2>(nb, group, scales_bytes, ab, a_stride, info, t0, nt, yg, y_stride, mask);
      } else if (nt <= 4) {
        group_tokens<T, 4>(nb, group, scales_bytes, ab, a_stride, info, t0, nt, yg, y_stride, mask);
      } else if (nt <= 8) {
        group_tokens<T, 8>(nb, group, scales_bytes, ab, a_stride, info, t0, nt, yg, y_stride, mask);
      } else {
        group_tokens<T, 16>(nb, group, scales_bytes, ab, a_stride, info, t0, nt, yg, y_stride, mask);
      }
    }
  }
}

}  // namespace

PackedMatmulFn packed_matmul_fn(DType w) {
  switch (w) {
    case DType::Q8_0:
      return packed_matmul<PackedQ8_0>;
    case DType::Q4_0:
      return packed_matmul<PackedQ4_0>;
    default:
      return nullptr;
  }
}

}  // namespace minnow::kernels::avx512
