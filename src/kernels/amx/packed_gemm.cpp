// AMX GEMM on packed weights (kernels/packed.h) for prompt batches of q8_0 / q4_0, each output
// bit-identical to the scalar reference's vec_dot.
//
// One tdpbssd gives the exact block sums of 16 tokens x a group's 16 rows for one block:
//   A: [16 tokens][32 bytes]  the tokens' q8 values from the activation tiles of this table's
//      row-major GEMM (amx/gemm.cpp pack_tile: per block 16 x 32 bytes, then d [16] f32)
//   B: [8 dword groups][16 rows][4 bytes]  the packed quants as signed bytes: q8_0's u8 q + 128
//      flipped back, q4_0's nibbles split and less 8, prepared per chunk of blocks on the stack
//      and reused by every 16-token tile (the packed layout is already B's)
//   C: [16 tokens][16 rows] int32
// Each token's C row then forms the block's float terms with the reference's expression (four
// vector instructions per token: convert, two multiplies, add) and adds them to its running sums
// in block order. Four blocks go through tiles before their C tiles are read back, so a tile
// store is not waited on right after its multiply. Sums of a tile live in registers across a
// chunk and in y between chunks (adding on to a stored float is the same float sequence).
// Tile rows past the last token repeat it and are not stored. No standard-library templates
// here (see avx512/simd.h).
#include <utility>

#include "kernels/amx/amx_kernels.h"
#include "kernels/avx512/gemm_blocks.h"
#include "kernels/packed.h"
#include "tensor/blocks.h"

namespace minnow::kernels::amx {
namespace {

constexpr int kT = 16;                       // tokens per tile
constexpr int kChunk = 32;                   // blocks per chunk: 16 KB of prepared B on the stack
constexpr int kInFlight = 4;                 // blocks between a multiply and the read of its C tile
constexpr size_t kBBytes = 512;              // one block's B tile
constexpr size_t kTileBlock = 16 * 32 + 64;  // one block of an activation tile: A, then d [16] f32

struct PackedQ8_0 {
  static constexpr size_t kQuantBytes = 512;
  using Term = avx512::GemmQ8_0;
  static void prepare(const uint8_t* q, int8_t* b) {
    const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
    for (int g = 0; g < 8; ++g)
      _mm512_store_si512(b + 64 * g, _mm512_xor_si512(_mm512_load_si512(q + 64 * g), flip));
  }
};

struct PackedQ4_0 {
  static constexpr size_t kQuantBytes = 256;
  using Term = avx512::GemmQ4_0;
  static void prepare(const uint8_t* q, int8_t* b) {
    const __m512i m4 = _mm512_set1_epi8(0x0f), eight = _mm512_set1_epi8(8);
    for (int g = 0; g < 4; ++g) {
      const __m512i v = _mm512_load_si512(q + 64 * g);
      _mm512_store_si512(b + 64 * g, _mm512_sub_epi8(_mm512_and_si512(v, m4), eight));
      _mm512_store_si512(b + 64 * (g + 4),
                         _mm512_sub_epi8(_mm512_and_si512(_mm512_srli_epi16(v, 4), m4), eight));
    }
  }
};

struct alignas(64) TileConfig {
  uint8_t palette_id;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};
static_assert(sizeof(TileConfig) == 64);

// Block b's terms for the tile's 16 tokens (C row t), added to their sums. Always inlined, so
// the sums stay in registers.
template <class T, size_t... I>
[[gnu::always_inline]] inline void add_terms(const int32_t (*c)[16], __m512 dw, const float* dy, __m512* sum,
                                             std::index_sequence<I...>) {
  ((sum[I] = _mm512_add_ps(sum[I], T::Term::term(_mm512_cvtepi32_ps(_mm512_load_si512(c[I])), dw, dw,
                                                 _mm512_set1_ps(dy[I]), dw))),
   ...);
}

template <class T>
void gemm(int64_t n, const void* packed, int64_t n_rows, const void* tiles, int64_t n_tokens, float* y,
          int64_t y_stride) {
  const int64_t nb = n / 32;
  const size_t scales_bytes = packed_scales_bytes(n), group_bytes = scales_bytes + nb * T::kQuantBytes;

  TileConfig cfg = {};
  cfg.palette_id = 1;
  for (int i = 0; i < 2; ++i) {
    cfg.rows[i] = kT, cfg.colsb[i] = 32;         // A
    cfg.rows[2 + i] = 8, cfg.colsb[2 + i] = 64;  // B
  }
  for (int i = 0; i < kInFlight; ++i) cfg.rows[4 + i] = kT, cfg.colsb[4 + i] = 64;  // C
  _tile_loadconfig(&cfg);
  alignas(64) int8_t prep[kChunk * kBBytes];
  alignas(64) int32_t c[kInFlight][kT][16];

  for (int64_t r0 = 0; r0 < n_rows; r0 += kPackRows) {
    const uint8_t* group =
        static_cast<const uint8_t*>(packed) + static_cast<size_t>(r0 / kPackRows) * group_bytes;
    const auto* scales = reinterpret_cast<const __m256i*>(group);
    const uint8_t* quants = group + scales_bytes;
    const int64_t rows = n_rows - r0 < kPackRows ? n_rows - r0 : kPackRows;
    const auto mask = static_cast<__mmask16>((1u << rows) - 1);
    for (int64_t b0 = 0; b0 < nb; b0 += kChunk) {
      const int64_t b1 = nb - b0 < kChunk ? nb : b0 + kChunk;
      for (int64_t b = b0; b < b1; ++b)
        T::prepare(quants + static_cast<size_t>(b) * T::kQuantBytes, prep + (b - b0) * kBBytes);
      for (int64_t t0 = 0; t0 < n_tokens; t0 += kT) {
        const int64_t tokens = n_tokens - t0 < kT ? n_tokens - t0 : kT;
        float* yt = y + t0 * y_stride + r0;
        __m512 sum[kT];
#pragma GCC unroll 16
        for (int t = 0; t < kT; ++t)
          sum[t] =
              b0 == 0 || t >= tokens ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(mask, yt + t * y_stride);
        const uint8_t* at =
            static_cast<const uint8_t*>(tiles) + static_cast<size_t>(t0 / kT * nb) * kTileBlock;
        for (int64_t b = b0; b < b1; b += kInFlight) {
          const int64_t m = b1 - b < kInFlight ? b1 - b : kInFlight;
          // Tile numbers must be literal tokens (GCC's tile intrinsics paste them into asm).
#define MINNOW_AMX_STEP(i, ta, tb, tc)                  \
  if (i < m) {                                          \
    _tile_loadd(ta, at + (b + i) * kTileBlock, 32);     \
    _tile_loadd(tb, prep + (b + i - b0) * kBBytes, 64); \
    _tile_zero(tc);                                     \
    _tile_dpbssd(tc, ta, tb);                           \
  }
          MINNOW_AMX_STEP(0, 0, 2, 4)
          MINNOW_AMX_STEP(1, 1, 3, 5)
          MINNOW_AMX_STEP(2, 0, 2, 6)
          MINNOW_AMX_STEP(3, 1, 3, 7)
#undef MINNOW_AMX_STEP
          _tile_stored(4, c[0], 64);
          if (m > 1) _tile_stored(5, c[1], 64);
          if (m > 2) _tile_stored(6, c[2], 64);
          if (m > 3) _tile_stored(7, c[3], 64);
          for (int64_t i = 0; i < m; ++i) {
            const __m512 dw = _mm512_cvtph_ps(_mm256_load_si256(scales + b + i));
            const auto* dy = reinterpret_cast<const float*>(at + (b + i) * kTileBlock + 16 * 32);
            add_terms<T>(c[i], dw, dy, sum, std::make_index_sequence<kT>());
          }
        }
#pragma GCC unroll 16
        for (int t = 0; t < kT; ++t)
          if (t < tokens) _mm512_mask_storeu_ps(yt + t * y_stride, mask, sum[t]);
      }
    }
  }
  _tile_release();
}

}  // namespace

PackedGemmFn packed_gemm_fn(DType w) {
  switch (w) {
    case DType::Q8_0:
      return gemm<PackedQ8_0>;
    case DType::Q4_0:
      return gemm<PackedQ4_0>;
    default:
      return nullptr;
  }
}

}  // namespace minnow::kernels::amx
