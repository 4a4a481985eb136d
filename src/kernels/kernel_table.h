// The kernel table: one set of function pointers per ISA, picked once at run time from the
// CPU's features (or MINNOW_ISA=scalar|avx2|avx512|amx|neon for tests and benchmarks). The scalar
// table is the reference that defines every kernel; ISA tables override entries and fall back to it.
//
// Matrix-vector products quantize the activations first to the weight type's partner type
// (q8_0 for q4_0/q5_0/q8_0, q8_1 for q4_1/q5_1, q8_k for the k-quants, f16 for f16 and bf16
// for bf16 weights, f32 for f32),
// as the reference engine does, then take integer dot products block by block.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "kernels/packed.h"
#include "tensor/dtype.h"

namespace minnow {
class ThreadPool;
}

namespace minnow::kernels {

// kAmx is the AVX-512 table with AMX tile GEMMs for prompt batches; kNeon is aarch64's (x86-64
// builds never have it available, aarch64 builds never the x86 ones).
enum class Isa { kScalar, kAvx2, kAvx512, kAmx, kNeon };
const char* isa_name(Isa isa);
// The ISA a name ("scalar", "avx2", "avx512", "amx", "neon") stands for, whether or not this CPU has it.
std::optional<Isa> isa_from_name(std::string_view name);
// Every ISA minnow has kernels for, best first (tests iterate it; isa_available filters).
std::span<const Isa> all_isas();

// out = sum over the row of w[i] * a[i], for n elements. w is a row of weight type, a the same
// row length already quantized to activation_type(weight type).
using VecDotFn = void (*)(int64_t n, const void* w, const void* a, float* out);
// Converts n floats to a row of the activation type.
using QuantizeRowFn = void (*)(const float* x, void* out, int64_t n);
// Dequantizes a row of n elements to floats.
using ToFloatFn = void (*)(const void* src, float* dst, int64_t n);
// out[r] = vec_dot(W row r, a) for r < n_rows, rows w_stride bytes apart: one activation row
// against several weight rows at once (decoding). Each out[r] is bit-identical to the table's
// vec_dot of that row.
using VecDotRowsFn = void (*)(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* a,
                              float* out);

// Prompt batches: a matrix-matrix product of weight rows and token rows. The quantized
// activations are repacked once per matmul, kGemmTokens tokens per tile (pack_tile: tile_bytes
// bytes from the tile's n_tokens <= kGemmTokens rows, a_stride bytes apart); then gemm computes
// any chunk of weight rows against all tiles: y[t * y_stride + r] for t < n_tokens, r < n_rows,
// using work_bytes(n) bytes of the calling thread's work memory. Every output is bit-identical
// to vec_dot of its row and token.
constexpr int64_t kGemmTokens = 16;
struct GemmFns {
  size_t (*tile_bytes)(int64_t n) = nullptr;
  void (*pack_tile)(int64_t n, const void* a, size_t a_stride, int64_t n_tokens, void* tile) = nullptr;
  size_t (*work_bytes)(int64_t n) = nullptr;
  void (*gemm)(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* tiles, int64_t n_tokens,
               float* y, int64_t y_stride, void* work) = nullptr;
};

// Products of weights packed at load (kernels/packed.h) with quantized activations:
// y[t * y_stride + r] = vec_dot(row r, token t), bit for bit, for r < n_rows (the rows of the
// 16-row groups at `packed`) and t < n_tokens (rows of a, a_stride bytes apart, with their
// block info [n_tokens][n / 32] in info).
using PackedMatmulFn = void (*)(int64_t n, const void* packed, int64_t n_rows, const void* a, size_t a_stride,
                                const PackedActBlock* info, int64_t n_tokens, float* y, int64_t y_stride);

// Prompt batches on packed weights, with the activations in the table's GEMM tiles
// (gemm[w].pack_tile, kGemmTokens tokens each): y[t * y_stride + r] = vec_dot(row r, token t)
// bit for bit, for r < n_rows and t < n_tokens.
using PackedGemmFn = void (*)(int64_t n, const void* packed, int64_t n_rows, const void* tiles,
                              int64_t n_tokens, float* y, int64_t y_stride);

constexpr int64_t kAttnMaxHeadDim = 512;

// Flash attention of one tile: n_tokens consecutive query tokens x n_heads heads (rows (t, h),
// n_tokens * n_heads <= kAttnTileRows) of one GQA group against its KV head. Token t sees key
// positions [first[t], last[t]]; position p is at cache row p % ring (ring: the rows the layer
// keeps), kv_stride elements apart. Per row: out = softmax(x) . v over its keys, x_j =
// scale (q . k_j) or, with softcap > 0, softcap tanh(scale (q . k_j) / softcap).
// The arithmetic of a row is fixed by its own q and keys alone, never by the rows that share
// the tile (batching invariance): q . k_j sums each quarter of the dims (hd * i / 4 up to
// hd * (i + 1) / 4) as an FMA chain in order from 0 and adds the quarters in order; keys go
// in blocks of kAttnKeyBlock positions aligned at multiples of it, ascending; per block, the
// running max m grows to m' (rescaling o and l by e^(m - m') only when it grows), p_j =
// e^(x_j - m'), l = l e^(m - m') + the block's sum of p as the tree (j, j + 16), (j, j + 8), ...
// (p = 0 where the row does not see key j), and o = the FMA chain of p_j v_j over its keys in
// order; finally out = o / l. work: attn_tile_work_floats(head_dim, rows) floats.
constexpr int kAttnTileRows = 128;
constexpr int kAttnKeyBlock = 32;
template <class E>
struct AttnTile {
  int64_t head_dim = 0;  // <= kAttnMaxHeadDim
  int n_tokens = 0;
  int n_heads = 0;
  const float* q = nullptr;  // row (t, h) at q + t * q_stride + h * head_dim
  float* out = nullptr;      // row (t, h) at out + t * q_stride + h * head_dim
  int64_t q_stride = 0;
  const int32_t* first = nullptr;  // [n_tokens]
  const int32_t* last = nullptr;   // [n_tokens]
  const E* k = nullptr;  // the layer's row 0 at this KV head
  const E* v = nullptr;
  int64_t kv_stride = 0;
  int ring = 0;
  float scale = 1.0f;
  float softcap = 0.0f;
};
template <class E>
using AttnTileFn = void (*)(const AttnTile<E>& tile, float* work);
// Scratch floats of a tile of `rows` rows: queries and accumulators transposed ([head_dim]
// [rows rounded up to 16] each), a block's scores and widened K and V rows, 64-byte alignment.
constexpr int64_t attn_tile_work_floats(int64_t head_dim, int rows) {
  const int64_t r16 = (rows + 15) / 16 * 16;
  return 2 * head_dim * r16 + kAttnKeyBlock * r16 + 2 * kAttnKeyBlock * head_dim + 16;
}

struct KernelTable {
  Isa isa;
  VecDotFn vec_dot[kDTypeIdLimit];           // by weight type; nullptr where unsupported
  VecDotRowsFn vec_dot_rows[kDTypeIdLimit];  // by weight type; nullptr: matmul loops vec_dot
  GemmFns gemm[kDTypeIdLimit];               // by weight type; gemm == nullptr: no GEMM kernel
  // By weight type: the kernel for packed weights (nullptr: the table reads the row-major
  // data; a model packs the types its table has one for), and a prompt-batch one on GEMM
  // tiles (nullptr: packed_matmul for any batch).
  PackedMatmulFn packed_matmul[kDTypeIdLimit];
  PackedGemmFn packed_gemm[kDTypeIdLimit];
  QuantizeRowFn quantize_act[kDTypeIdLimit];  // by activation type (f32, q8_0, q8_1, q8_k)
  ToFloatFn to_float[kDTypeIdLimit];          // by weight type
  // f32 helpers for attention: dot product and y += a * x
  float (*dot_f32)(int64_t n, const float* x, const float* y);
  void (*axpy_f32)(int64_t n, float a, const float* x, float* y);
  // f16 KV cache rows: dot of f32 query with f16 key row, and y += a * f16 value row
  float (*dot_f16_f32)(int64_t n, const uint16_t* x, const float* y);
  void (*axpy_f16)(int64_t n, float a, const uint16_t* x, float* y);
  void (*f32_to_f16)(const float* x, uint16_t* y, int64_t n);
  // The attention softmax, in place: x[j] <- e^(scale x[j] - m) / sum_k e^(scale x[k] - m),
  // m the largest scale x[k], n > 0. nullptr: nn's scalar loop with std::exp.
  void (*softmax_scaled)(float* x, int64_t n, float scale);
  // SwiGLU in place: gate[i] <- gate[i] / (1 + e^-gate[i]) * up[i]. nullptr: nn's scalar loop.
  void (*swiglu)(float* gate, const float* up, int64_t n);
  // Flash attention over an f16 / f32 cache (above); nullptr: attention runs dot_f16_f32 /
  // axpy_f16 (or the f32 helpers) head by head.
  AttnTileFn<uint16_t> attn_tile_f16;
  AttnTileFn<float> attn_tile_f32;
};

// The partner type activations are quantized to before vec_dot with weights of type w.
DType activation_type(DType w);

bool isa_available(Isa isa);
const KernelTable& table(Isa isa);  // isa must be available

// The ISA for a requested name (isa_from_name): that ISA when known and available, else the
// best available one, with a warning through the log sink. nullptr or "" means the best.
Isa choose_isa(const char* requested);

// The table for this machine, chosen on first use: choose_isa(getenv("MINNOW_ISA")).
const KernelTable& active();

// y[t][r] = dot(W row r, x[t]) for t < n_tokens, r < n_out.
//   W: [n_out][n_in] rows of type wtype;  x: [n_tokens][n_in] f32;  y: [n_tokens][n_out] f32.
// packed: W's packed copy (kernels/packed.h) or null; used when the table has a packed kernel
// for wtype, else W is.
// n_in must be a multiple of wtype's block size. Rows are split across the pool; every output
// is one vec_dot call or bit-identical to one (vec_dot_rows), so results do not depend on the
// thread count, nor on n_tokens (a row of a batch equals that token computed alone). Must not be called from
// inside a parallel_for on the same pool (the pool is not reentrant).
void matmul(const KernelTable& kt, ThreadPool& pool, DType wtype, const void* w, int64_t n_out, int64_t n_in,
            const float* x, int64_t n_tokens, float* y, const void* packed = nullptr);

// Several matrices of one weight type with the same input (q, k and v; gate and up): the
// activations are quantized once and one parallel loop covers all their rows. Part i's output
// is [n_tokens][parts[i].n_out]; each equals matmul of that matrix alone, bit for bit.
struct MatmulOut {
  const void* w;  // [n_out][n_in] rows of the weight type
  int64_t n_out;
  float* y;                      // [n_tokens][n_out]
  const void* packed = nullptr;  // w packed (kernels/packed.h), or null
};
void matmul(const KernelTable& kt, ThreadPool& pool, DType wtype, std::span<const MatmulOut> parts,
            int64_t n_in, const float* x, int64_t n_tokens);

}  // namespace minnow::kernels
