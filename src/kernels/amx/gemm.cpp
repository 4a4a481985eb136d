// AMX GEMM for prompt batches of the 32-element block types (q4_0, q4_1, q5_0, q5_1, q8_0):
// each output bit-identical to the scalar reference's vec_dot, as the AVX-512 VNNI GEMM's are.
//
// One tile multiply (tdpbssd, signed x signed bytes) gives the exact block sums of 16 tokens x
// 16 weight rows for one 32-element block:
//   A (tile 0): [16 tokens][32 bytes]  the tokens' q8 values, repacked per tile of 16 tokens
//   B (tile 1): [8 groups][16 rows][4 bytes]  the rows' weights as signed bytes, prepared per
//               16-row group once per call (the VNNI layout tdpbssd wants)
//   C (tile 2): [16 tokens][16 rows] int32
// C is stored and each token's row of it (16 weight rows in 16 lanes) forms the block's float
// terms with the reference's expression, added to that token's running sums in block order;
// the sums land in y as they are, a token's 16 outputs being contiguous there.
//
// The integer work is ~1/30 of the VNNI kernel's instructions; the float terms (4 vector
// instructions per 16 outputs per block) now bound the kernel. No standard-library templates
// here (see avx512/simd.h).
#include <utility>

#include "kernels/amx/amx_kernels.h"
#include "kernels/avx512/gemm_blocks.h"

namespace minnow::kernels::amx {
namespace {

using avx512::f16_to_f32;
using avx512::kHasS;

constexpr int kRows = 16;
constexpr int kT = static_cast<int>(kGemmTokens);
static_assert(kT == 16, "one tile row per token");

constexpr size_t kQsBytes = kT * 32;  // per block and tile: [16 tokens][32 bytes]
template <bool kWithS>
constexpr size_t block_bytes = kQsBytes + 64 + (kWithS ? 64 : 0);  // + d (and s) [16] f32

template <bool kS>
size_t tile_bytes(int64_t n) {
  return static_cast<size_t>(n / 32) * block_bytes<kS>;
}

// One tile of activations (A = BlockQ8_0 or BlockQ8_1). Rows past n_tokens repeat the last
// token; their outputs are never stored.
template <class A>
void pack_tile(int64_t n, const void* a, size_t a_stride, int64_t n_tokens, void* tile) {
  const int64_t nb = n / 32;
  const char* base = static_cast<const char*>(a);
  auto* out = static_cast<uint8_t*>(tile);
  for (int64_t b = 0; b < nb; ++b, out += block_bytes<kHasS<A>>) {
    auto* d = reinterpret_cast<float*>(out + kQsBytes);
    for (int t = 0; t < kT; ++t) {
      const auto* blk =
          reinterpret_cast<const A*>(base + static_cast<size_t>(t < n_tokens ? t : n_tokens - 1) * a_stride) +
          b;
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 32 * t),
                          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk->qs)));
      d[t] = f16_to_f32(blk->d);
      if constexpr (kHasS<A>) d[kT + t] = f16_to_f32(blk->s);
    }
  }
}

// Per block of a 16-row group: B [8][16][4] signed bytes, then d [16] and m [16] f32.
constexpr size_t kPrepBytes = 512 + 2 * 64;

size_t work_bytes(int64_t n) {
  return static_cast<size_t>(n / 32) * kPrepBytes;
}

struct alignas(64) TileConfig {
  uint8_t palette_id;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};
static_assert(sizeof(TileConfig) == 64);

// Each token's block terms (C row t: its sums with the 16 weight rows) added to its running
// sums. p: the block's prepared weights (d and m after B), a: its packed activations (dy and sy
// after the bytes). Always inlined, so the 16 sums stay in registers.
template <class T, bool kS, size_t... I>
[[gnu::always_inline]] inline void add_terms(const int32_t (*c)[kRows], const uint8_t* p, const uint8_t* a,
                                             __m512* sum, std::index_sequence<I...>) {
  const auto* dm = reinterpret_cast<const float*>(p + 512);
  const __m512 d = _mm512_loadu_ps(dm), m = _mm512_loadu_ps(dm + kRows);
  const auto* dy = reinterpret_cast<const float*>(a + kQsBytes);
  const float* sy = kS ? dy + kT : dy;
  ((sum[I] = _mm512_add_ps(sum[I], T::term(_mm512_cvtepi32_ps(_mm512_load_si512(c[I])), d, m,
                                           _mm512_set1_ps(dy[I]), _mm512_set1_ps(sy[I])))),
   ...);
}

template <class T>
void gemm(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* tiles, int64_t n_tokens,
          float* y, int64_t y_stride, void* work) {
  using W = typename T::W;
  constexpr bool kS = kHasS<typename T::A>;
  const int64_t nb = n / 32;
  const size_t tile = tile_bytes<kS>(n);
  auto* prep = static_cast<uint8_t*>(work);
  const char* wbase = static_cast<const char*>(w);

  // Two blocks at a time, in separate tiles, so that one's multiply overlaps the other's loads
  // and stores (tiles are not renamed): A in 0 and 1, B in 2 and 3, C in 4 and 5.
  TileConfig cfg = {};
  cfg.palette_id = 1;
  for (int i = 0; i < 2; ++i) {
    cfg.rows[i] = kT, cfg.colsb[i] = 32;                 // A
    cfg.rows[2 + i] = 8, cfg.colsb[2 + i] = 64;          // B
    cfg.rows[4 + i] = kT, cfg.colsb[4 + i] = 4 * kRows;  // C
  }
  _tile_loadconfig(&cfg);
  alignas(64) int32_t c[2][kT][kRows];
  // B's dword g of row r sits at dword 16 g + r.
  const __m256i scatter_idx = _mm256_setr_epi32(0, 16, 32, 48, 64, 80, 96, 112);

  for (int64_t r0 = 0; r0 < n_rows; r0 += kRows) {
    const int64_t rows = n_rows - r0 < kRows ? n_rows - r0 : kRows;
    for (int r = 0; r < kRows; ++r) {  // rows past the last repeat it; their sums are not stored
      const int64_t row = r0 + (r < rows ? r : rows - 1);
      const auto* x = reinterpret_cast<const W*>(wbase + static_cast<size_t>(row) * w_stride);
      for (int64_t b = 0; b < nb; ++b) {
        uint8_t* p = prep + static_cast<size_t>(b) * kPrepBytes;
        _mm256_i32scatter_epi32(p + 4 * r, scatter_idx, T::weights(x[b]), 4);
        auto* dm = reinterpret_cast<float*>(p + 512);
        avx512::block_scales<T>(x[b], &dm[r], &dm[kRows + r]);
      }
    }
    const __mmask16 row_mask = static_cast<__mmask16>((1u << rows) - 1);
    for (int64_t t0 = 0; t0 < n_tokens; t0 += kT) {
      const auto* act = static_cast<const uint8_t*>(tiles) + static_cast<size_t>(t0 / kT) * tile;
      __m512 sum[kT];
      for (__m512& s : sum) s = _mm512_setzero_ps();
      int64_t b = 0;
      for (; b + 2 <= nb; b += 2) {
        const uint8_t* a = act + static_cast<size_t>(b) * block_bytes<kS>;
        const uint8_t* p = prep + static_cast<size_t>(b) * kPrepBytes;
        _tile_loadd(0, a, 32);
        _tile_loadd(2, p, 64);
        _tile_loadd(1, a + block_bytes<kS>, 32);
        _tile_loadd(3, p + kPrepBytes, 64);
        _tile_zero(4);
        _tile_zero(5);
        _tile_dpbssd(4, 0, 2);
        _tile_dpbssd(5, 1, 3);
        _tile_stored(4, c[0], 4 * kRows);
        _tile_stored(5, c[1], 4 * kRows);
        add_terms<T, kS>(c[0], p, a, sum, std::make_index_sequence<kT>());
        add_terms<T, kS>(c[1], p + kPrepBytes, a + block_bytes<kS>, sum, std::make_index_sequence<kT>());
      }
      if (b < nb) {
        const uint8_t* a = act + static_cast<size_t>(b) * block_bytes<kS>;
        const uint8_t* p = prep + static_cast<size_t>(b) * kPrepBytes;
        _tile_loadd(0, a, 32);
        _tile_loadd(2, p, 64);
        _tile_zero(4);
        _tile_dpbssd(4, 0, 2);
        _tile_stored(4, c[0], 4 * kRows);
        add_terms<T, kS>(c[0], p, a, sum, std::make_index_sequence<kT>());
      }
      const int64_t tokens = n_tokens - t0 < kT ? n_tokens - t0 : kT;
      // A constant trip count keeps sum[] in registers (a variable index would pin it to memory).
#pragma GCC unroll 16
      for (int t = 0; t < kT; ++t)
        if (t < tokens) _mm512_mask_storeu_ps(y + (t0 + t) * y_stride + r0, row_mask, sum[t]);
    }
  }
  _tile_release();
}

}  // namespace

GemmFns gemm_fns(DType w) {
  GemmFns f;
  switch (w) {
    case DType::Q4_0:
      f = {tile_bytes<false>, pack_tile<BlockQ8_0>, work_bytes, gemm<avx512::GemmQ4_0>};
      break;
    case DType::Q4_1:
      f = {tile_bytes<true>, pack_tile<BlockQ8_1>, work_bytes, gemm<avx512::GemmQ4_1>};
      break;
    case DType::Q5_0:
      f = {tile_bytes<false>, pack_tile<BlockQ8_0>, work_bytes, gemm<avx512::GemmQ5_0>};
      break;
    case DType::Q5_1:
      f = {tile_bytes<true>, pack_tile<BlockQ8_1>, work_bytes, gemm<avx512::GemmQ5_1>};
      break;
    case DType::Q8_0:
      f = {tile_bytes<false>, pack_tile<BlockQ8_0>, work_bytes, gemm<avx512::GemmQ8_0>};
      break;
    default:
      break;
  }
  return f;
}

}  // namespace minnow::kernels::amx
