// AVX-512 VNNI matrix-matrix products for prompt batches: the 32-element block types (q4_0,
// q4_1, q5_0, q5_1, q8_0) against q8_0 / q8_1 activations, each output bit-identical to the
// scalar reference's vec_dot.
//
// A register's 16 int32 lanes are 16 tokens. Activations are repacked once per matmul into
// tiles of 16 tokens; per block of 32 elements a tile holds
//
//   qs: [8 groups of 4 elements][16 tokens][4 bytes], u8 = q8 + 128  (512 B)
//   d:  [16 tokens] f32                                                (64 B)
//   s:  [16 tokens] f32, q8_1 only                                     (64 B)
//
// so that vpdpbusd of group g's 64 bytes with the 4 signed weight bytes of one row, broadcast,
// adds that row's 4 products to every token's lane. 8 such steps give a row's exact block sums
// for 16 tokens, plus 128 * (sum of the row's weights), which the accumulator starts out
// subtracting. Each lane then forms the block's float term with the reference's expression and
// adds it to its running sum in block order, exactly as the scalar loop does for that output.
//
// Weights are prepared per 16-row group (as signed bytes in element order, with the start
// values and the f32 scales) into the caller's work buffer, once per call, and reused for every
// token tile; 16 rows' running sums, the 8 activation registers and a few temporaries fill the
// 32 vector registers. No standard-library templates here (see avx512/simd.h: an out-of-line
// copy built with these flags could be linked into generic callers).
#include <utility>

#include "kernels/avx512/avx512_kernels.h"
#include "kernels/avx512/gemm_blocks.h"
#include "kernels/avx512/simd.h"
#include "kernels/kernel_table.h"
#include "tensor/blocks.h"

namespace minnow::kernels::avx512 {
namespace {

constexpr int kRows = 16;  // weight rows per register block
constexpr int kT = static_cast<int>(kGemmTokens);
static_assert(kT == 16, "one token per int32 lane of a 512-bit register");

constexpr size_t kQsBytes = 8 * 64;  // per block and tile
template <bool kWithS>
constexpr size_t block_bytes = kQsBytes + 64 + (kWithS ? 64 : 0);

// One tile of activations (A = BlockQ8_0 or BlockQ8_1). Lanes past n_tokens repeat the last
// token; their outputs are never stored.
template <class A>
void pack_tile(int64_t n, const void* a, size_t a_stride, int64_t n_tokens, void* tile) {
  const int64_t nb = n / 32;
  const char* base = static_cast<const char*>(a);
  alignas(64) int32_t off[kT];
  for (int t = 0; t < kT; ++t)
    off[t] = static_cast<int32_t>(static_cast<size_t>(t < n_tokens ? t : n_tokens - 1) * a_stride);
  const __m512i vindex = _mm512_load_si512(off);
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  auto* out = static_cast<uint8_t*>(tile);
  for (int64_t b = 0; b < nb; ++b, out += block_bytes<kHasS<A>>) {
    const char* blk = base + b * static_cast<int64_t>(sizeof(A));
    for (int g = 0; g < 8; ++g) {
      const __m512i q = _mm512_i32gather_epi32(vindex, blk + offsetof(A, qs) + 4 * g, 1);
      _mm512_storeu_si512(out + 64 * g, _mm512_xor_si512(q, flip));
    }
    const __m512i head = _mm512_i32gather_epi32(vindex, blk, 1);  // d, and s for q8_1
    _mm512_storeu_ps(out + kQsBytes, f16_lo_to_f32(head));
    if constexpr (kHasS<A>) _mm512_storeu_ps(out + kQsBytes + 64, f16_hi_to_f32(head));
  }
}

// Weight rows prepared for the kernel, per block b and row r of a 16-row group, carved from
// the caller's work buffer (work_bytes).
struct Prepared {
  int8_t* q;       // [nb][16][32] the weights as signed bytes, element order
  int32_t* start;  // [nb][16] -128 * the sum of those bytes
  float* d;        // [nb][16] scale
  float* m;        // [nb][16] min (q4_1, q5_1)
  Prepared(void* work, int64_t nb) {
    const size_t n = static_cast<size_t>(nb) * kRows;
    q = static_cast<int8_t*>(work);
    start = reinterpret_cast<int32_t*>(q + 32 * n);
    d = reinterpret_cast<float*>(start + n);
    m = d + n;
  }
};

size_t work_bytes(int64_t n) {
  return static_cast<size_t>(n / 32) * kRows * (32 + 3 * 4);
}

// Stores the 32 signed weights and -128 * their sum.
inline void put_weights(__m256i q, int8_t* dst, int32_t* start) {
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), q);
  // sum of (q + 128) by sad against zero, in 4 64-bit lanes
  const __m256i s =
      _mm256_sad_epu8(_mm256_xor_si256(q, _mm256_set1_epi8(static_cast<char>(0x80))), _mm256_setzero_si256());
  const __m128i s2 = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
  const int64_t sum = _mm_cvtsi128_si64(_mm_add_epi64(s2, _mm_unpackhi_epi64(s2, s2))) - 32 * 128;
  *start = static_cast<int32_t>(-128 * sum);
}

inline __m512i broadcast_dword(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

// Row r of a register block: this block's term for 16 tokens, added to sum. Always inlined, so
// that the activations and the 16 sums stay in registers across the unrolled rows.
template <class T>
[[gnu::always_inline]] inline void row_step(const __m512i* act, __m512 dy, __m512 sy, const int8_t* q,
                                            const int32_t* start, const float* d, const float* m,
                                            __m512& sum) {
  __m512i acc0 = _mm512_set1_epi32(*start), acc1 = _mm512_setzero_si512();
  for (int g = 0; g < 8; g += 2) {
    acc0 = _mm512_dpbusd_epi32(acc0, act[g], broadcast_dword(q + 4 * g));
    acc1 = _mm512_dpbusd_epi32(acc1, act[g + 1], broadcast_dword(q + 4 * g + 4));
  }
  sum = _mm512_add_ps(sum, T::term(_mm512_cvtepi32_ps(_mm512_add_epi32(acc0, acc1)), _mm512_set1_ps(*d),
                                   _mm512_set1_ps(*m), dy, sy));
}

template <class T, size_t... R>
[[gnu::always_inline]] inline void rows_step(const __m512i* act, __m512 dy, __m512 sy, const int8_t* q,
                                             const int32_t* start, const float* d, const float* m,
                                             __m512* sum, std::index_sequence<R...>) {
  (row_step<T>(act, dy, sy, q + 32 * R, start + R, d + R, m + R, sum[R]), ...);
}

template <class T>
void gemm(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* tiles, int64_t n_tokens,
          float* y, int64_t y_stride, void* work) {
  using W = typename T::W;
  constexpr bool kS = kHasS<typename T::A>;
  const int64_t nb = n / 32;
  const size_t tile_bytes = static_cast<size_t>(nb) * block_bytes<kS>;
  const Prepared prep(work, nb);
  const char* wbase = static_cast<const char*>(w);
  for (int64_t r0 = 0; r0 < n_rows; r0 += kRows) {
    const int64_t rows = n_rows - r0 < kRows ? n_rows - r0 : kRows;
    for (int r = 0; r < kRows; ++r) {  // rows past the last repeat it; their sums are not stored
      const int64_t row = r0 + (r < rows ? r : rows - 1);
      const auto* x = reinterpret_cast<const W*>(wbase + static_cast<size_t>(row) * w_stride);
      for (int64_t b = 0; b < nb; ++b) {
        const size_t i = static_cast<size_t>(b) * kRows + r;
        put_weights(T::weights(x[b]), &prep.q[32 * i], &prep.start[i]);
        block_scales<T>(x[b], &prep.d[i], &prep.m[i]);
      }
    }
    for (int64_t t0 = 0; t0 < n_tokens; t0 += kT) {
      const auto* tile = static_cast<const uint8_t*>(tiles) + static_cast<size_t>(t0 / kT) * tile_bytes;
      __m512 sum[kRows];
      for (__m512& s : sum) s = _mm512_setzero_ps();
      for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* p = tile + static_cast<size_t>(b) * block_bytes<kS>;
        __m512i act[8];
        for (int g = 0; g < 8; ++g) act[g] = _mm512_loadu_si512(p + 64 * g);
        const __m512 dy = _mm512_loadu_ps(p + kQsBytes);
        const __m512 sy = kS ? _mm512_loadu_ps(p + kQsBytes + 64) : _mm512_setzero_ps();
        const size_t i = static_cast<size_t>(b) * kRows;
        rows_step<T>(act, dy, sy, &prep.q[32 * i], &prep.start[i], &prep.d[i], &prep.m[i], sum,
                     std::make_index_sequence<kRows>());
      }
      // sum[r] lane t -> y[t0 + t][r0 + r]
      alignas(64) float out[kRows][kT];
      for (int r = 0; r < kRows; ++r) _mm512_store_ps(out[r], sum[r]);
      const int64_t tokens = n_tokens - t0 < kT ? n_tokens - t0 : kT;
      for (int64_t t = 0; t < tokens; ++t) {
        float* yt = y + (t0 + t) * y_stride + r0;
        for (int64_t r = 0; r < rows; ++r) yt[r] = out[r][t];
      }
    }
  }
}

template <bool kS>
size_t tile_bytes(int64_t n) {
  return static_cast<size_t>(n / 32) * block_bytes<kS>;
}

}  // namespace

GemmFns gemm_fns(DType w) {
  GemmFns f;
  switch (w) {
    case DType::Q4_0:
      f = {tile_bytes<false>, pack_tile<BlockQ8_0>, work_bytes, gemm<GemmQ4_0>};
      break;
    case DType::Q4_1:
      f = {tile_bytes<true>, pack_tile<BlockQ8_1>, work_bytes, gemm<GemmQ4_1>};
      break;
    case DType::Q5_0:
      f = {tile_bytes<false>, pack_tile<BlockQ8_0>, work_bytes, gemm<GemmQ5_0>};
      break;
    case DType::Q5_1:
      f = {tile_bytes<true>, pack_tile<BlockQ8_1>, work_bytes, gemm<GemmQ5_1>};
      break;
    case DType::Q8_0:
      f = {tile_bytes<false>, pack_tile<BlockQ8_0>, work_bytes, gemm<GemmQ8_0>};
      break;
    default:
      break;
  }
  return f;
}

}  // namespace minnow::kernels::avx512
