// Quantized matrix x activations: quantize each activation row once, then split weight rows
// across the pool. Each output is one vec_dot call, or comes from a kernel that gives each
// output bit-identical to it (vec_dot_rows, gemm), so the result never depends on the thread
// count or on how tokens are batched.
#include <algorithm>
#include <cassert>
#include <cstdint>
#include <span>
#include <vector>

#include "base/thread_pool.h"
#include "kernels/kernel_table.h"
#include "kernels/packed.h"

namespace minnow::kernels {
namespace {

// Prompt batches: for each chunk of weight rows, walk the tokens in tiles, and for each row in
// the chunk dot it against every token of the tile (or, with a many-rows kernel, each token of
// the tile against the chunk's rows). A chunk of <= 16 rows (16 x 2.3 KB for a
// 4096-wide q4_0 row) plus a tile of 32 quantized tokens (32 x 4.3 KB of q8_0) is ~180 KB,
// which stays in a core's L2, so each weight byte comes from DRAM once per 32 tokens rather
// than once per token.
constexpr int64_t kTokenTile = 32;

// Quantizing a 4096-float row to q8_0 takes ~4 us with AVX2 (bench/kernels_bench, QuantizeAct);
// below this many rows, waking the pool costs about what it saves.
constexpr int64_t kParallelQuantizeMinRows = 4;

// Below this many multiply-adds a product takes under ~10 us on one core, about what waking and
// joining the pool's workers costs: run it on the calling thread. Every matrix of a 135M-param
// model is above it (576 x 576 = 330K); tiny test models like stories260K (64 x 64) are below.
constexpr int64_t kParallelMinMacs = int64_t{1} << 16;

// Rows per pool chunk: enough chunks (4 per thread) to balance, few enough that the shared
// atomic counter is touched rarely; 64 rows of a 4096-wide matrix is >= 100 KB of weights.
int64_t row_grain(int64_t n_out, int64_t n_tokens, int n_threads) {
  const int64_t cap = n_tokens > 1 ? 16 : 64;
  return std::clamp<int64_t>(n_out / (4 * static_cast<int64_t>(n_threads)), 1, cap);
}

// Decoding with a many-rows kernel (vec_dot_rows, 16 rows per step on AVX-512): whole steps per
// chunk, and ~8 chunks per thread, so that when the last chunk is handed out the threads'
// remaining work differs by at most 1/8 of a share (a 576-row matrix on 2 threads: 12 chunks of
// 48 rows, 6 each). 256 rows of even a 576-wide q8_0 matrix are 156 KB of weights, so the
// shared counter is touched once per ~10 us or more.
constexpr int64_t kRowsStep = 16;
int64_t rows_kernel_grain(int64_t n_out, int n_threads) {
  const int64_t per_chunk = n_out / (8 * static_cast<int64_t>(n_threads));
  return std::clamp<int64_t>((per_chunk + kRowsStep - 1) / kRowsStep * kRowsStep, kRowsStep, 256);
}

// With a GEMM kernel (GemmFns), batches of at least this many tokens use it. On AVX-512 a
// 16-row step costs about 75 vector instructions per block and token with vec_dot_rows, and
// ~190 per block for a whole tile of up to 16 tokens with the GEMM, plus its repacking: the
// GEMM wins from ~3 tokens on.
constexpr int64_t kGemmMinTokens = 4;
constexpr int64_t kGemmTokenGroup = 16 * kGemmTokens;

// Packed weights with a packed GEMM (AMX tiles of 16 tokens): a tile costs about the same for
// 1 to 16 tokens, while the packed_matmul kernels' cost grows with the tokens up to 8 and then
// jumps to a 16-token pass. One thread, a 4864 x 896 Q4_0 matrix (bench of matmul, best of 200):
// packed_matmul 259 / 501 / 501 / 1006 / 1084 us for 4 / 6 / 8 / 9 / 16 tokens, the AMX GEMM
// 714 / 722 / 728 / 729 / 653 us. Below 9 tokens, as a batch of decoding sequences is, the
// packed_matmul kernels are faster.
constexpr int64_t kPackedGemmMinTokens = 9;

// A buffer of at least n bytes aligned to 64 (a cache line, and a 512-bit register), owned by
// the calling thread and only growing.
char* thread_buffer(std::vector<char>& buf, size_t n) {
  if (buf.size() < n + 64) buf.resize(n + 64);
  const auto p = reinterpret_cast<uintptr_t>(buf.data());
  return buf.data() + ((64 - p % 64) % 64);
}

// Calls fn(part, r0, r1) for the rows [r0, r1) of each part that the rows [g0, g1) of the
// parts' concatenation cover.
template <class Fn>
void for_part_rows(std::span<const MatmulOut> parts, int64_t g0, int64_t g1, const Fn& fn) {
  int64_t base = 0;
  for (const MatmulOut& part : parts) {
    const int64_t r0 = std::max(g0 - base, int64_t{0}), r1 = std::min(g1 - base, part.n_out);
    if (r0 < r1) fn(part, r0, r1);
    base += part.n_out;
    if (base >= g1) break;
  }
}

// The quantized activations repacked in the GEMM's tiles, in parallel: [n_tiles][tile_bytes]
// bytes in a buffer of the calling thread.
const char* pack_tiles(const GemmFns& g, ThreadPool& pool, int64_t n_in, const char* xq, size_t a_row,
                       int64_t n_tokens) {
  const int64_t n_tiles = (n_tokens + kGemmTokens - 1) / kGemmTokens;
  const size_t tile = g.tile_bytes(n_in);
  thread_local std::vector<char> packed_buf;  // [n_tiles][tile] bytes
  char* packed = thread_buffer(packed_buf, tile * static_cast<size_t>(n_tiles));
  pool.parallel_for(n_tiles, 1, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t t0 = i * kGemmTokens;
      g.pack_tile(n_in, xq + static_cast<size_t>(t0) * a_row, a_row, std::min(kGemmTokens, n_tokens - t0),
                  packed + static_cast<size_t>(i) * tile);
    }
  });
  return packed;
}

// Prompt batches with a GEMM kernel: repack the quantized activations in tiles, then hand out
// 16-row chunks, each multiplied against every tile.
void matmul_gemm(const GemmFns& g, ThreadPool& pool, std::span<const MatmulOut> parts, int64_t n_rows,
                 size_t w_row, int64_t n_in, const char* xq, size_t a_row, int64_t n_tokens) {
  const size_t tile = g.tile_bytes(n_in);
  const char* packed = pack_tiles(g, pool, n_in, xq, a_row, n_tokens);
  // Work units: a 16-row chunk against a group of at most kGemmTokenGroup tokens, whose packed
  // activations (36-40 bytes per token and block: 1.4 MB for 256 tokens of a 4864-wide matrix)
  // stay in a core's 2 MB L2 while the chunk's rows pass over them; all 512 tokens of such a
  // matrix would stream from L3 once per chunk. Each unit prepares its rows anew, which the
  // group's 256 tokens amortize.
  const int64_t n_groups = (n_tokens + kGemmTokenGroup - 1) / kGemmTokenGroup;
  const int64_t n_chunks = (n_rows + kRowsStep - 1) / kRowsStep;
  pool.parallel_for(n_chunks * n_groups, 1, [&](int64_t u0, int64_t u1) {
    thread_local std::vector<char> work_buf;
    char* work = thread_buffer(work_buf, g.work_bytes(n_in));
    for (int64_t u = u0; u < u1; ++u) {
      const int64_t g0 = (u / n_groups) * kRowsStep, t0 = (u % n_groups) * kGemmTokenGroup;
      const int64_t tokens = std::min(kGemmTokenGroup, n_tokens - t0);
      const char* tiles = packed + static_cast<size_t>(t0 / kGemmTokens) * tile;
      for_part_rows(parts, g0, std::min(g0 + kRowsStep, n_rows),
                    [&](const MatmulOut& part, int64_t r0, int64_t r1) {
                      g.gemm(n_in, static_cast<const char*>(part.w) + static_cast<size_t>(r0) * w_row, w_row,
                             r1 - r0, tiles, tokens, part.y + t0 * part.n_out + r0, part.n_out, work);
                    });
    }
  });
}

// Calls fn(part, g0, g1) for the 16-row groups [g0, g1) of each part that the groups [u0, u1)
// of the parts' concatenation cover (a part's last group may be partial).
template <class Fn>
void for_part_groups(std::span<const MatmulOut> parts, int64_t u0, int64_t u1, const Fn& fn) {
  int64_t base = 0;
  for (const MatmulOut& part : parts) {
    const int64_t groups = (part.n_out + kPackRows - 1) / kPackRows;
    const int64_t g0 = std::max(u0 - base, int64_t{0}), g1 = std::min(u1 - base, groups);
    if (g0 < g1) fn(part, g0, g1);
    base += groups;
    if (base >= u1) break;
  }
}

// Packed weights: the same split as the row-major kernels (decoding: chunks of groups; prompt
// batches: a group against a token group per work unit), on 16-row groups. With a packed GEMM
// (use_gemm), the activations go in the table's GEMM tiles first and info is not read.
void matmul_packed(const KernelTable& kt, ThreadPool& pool, DType wtype, std::span<const MatmulOut> parts,
                   int64_t n_in, const char* xq, size_t a_row, const PackedActBlock* info, int64_t n_tokens,
                   bool use_gemm) {
  const size_t group_bytes = packed_group_bytes(wtype, n_in);
  int64_t n_groups = 0, n_rows = 0;
  for (const MatmulOut& part : parts) {
    n_groups += (part.n_out + kPackRows - 1) / kPackRows;
    n_rows += part.n_out;
  }
  const GemmFns& g = kt.gemm[static_cast<size_t>(wtype)];
  const PackedGemmFn gemm = kt.packed_gemm[static_cast<size_t>(wtype)];
  const PackedMatmulFn fn = kt.packed_matmul[static_cast<size_t>(wtype)];
  const char* tiles = use_gemm ? pack_tiles(g, pool, n_in, xq, a_row, n_tokens) : nullptr;
  const size_t tile = use_gemm ? g.tile_bytes(n_in) : 0;
  const int64_t nb = n_in / 32;
  auto run = [&](const MatmulOut& part, int64_t g0, int64_t g1, int64_t t0, int64_t tokens) {
    const int64_t r0 = g0 * kPackRows, r1 = std::min(g1 * kPackRows, part.n_out);
    const char* w = static_cast<const char*>(part.packed) + static_cast<size_t>(g0) * group_bytes;
    float* y = part.y + t0 * part.n_out + r0;
    if (use_gemm) {
      gemm(n_in, w, r1 - r0, tiles + static_cast<size_t>(t0 / kGemmTokens) * tile, tokens, y, part.n_out);
    } else {
      fn(n_in, w, r1 - r0, xq + static_cast<size_t>(t0) * a_row, a_row, info + t0 * nb, tokens, y,
         part.n_out);
    }
  };
  if (n_rows * n_in * n_tokens < kParallelMinMacs) {
    for_part_groups(parts, 0, n_groups,
                    [&](const MatmulOut& p, int64_t g0, int64_t g1) { run(p, g0, g1, 0, n_tokens); });
  } else if (n_tokens < kGemmMinTokens || (!use_gemm && n_tokens <= kGemmTokens)) {
    // Decoding, and batches of decoding sequences (one pass of the kernel's token tile): runs of
    // consecutive groups per thread, so each thread streams its own stretch of the weights (the
    // kernel prefetches ahead within it) rather than every other group.
    pool.parallel_for(
        n_groups, rows_kernel_grain(n_rows, pool.size()) / kPackRows, [&](int64_t u0, int64_t u1) {
          for_part_groups(parts, u0, u1,
                          [&](const MatmulOut& p, int64_t g0, int64_t g1) { run(p, g0, g1, 0, n_tokens); });
        });
  } else {
    const int64_t n_tgroups = (n_tokens + kGemmTokenGroup - 1) / kGemmTokenGroup;
    pool.parallel_for(n_groups * n_tgroups, 1, [&](int64_t u0, int64_t u1) {
      for (int64_t u = u0; u < u1; ++u) {
        const int64_t gi = u / n_tgroups, t0 = (u % n_tgroups) * kGemmTokenGroup;
        for_part_groups(parts, gi, gi + 1, [&](const MatmulOut& p, int64_t g0, int64_t g1) {
          run(p, g0, g1, t0, std::min(kGemmTokenGroup, n_tokens - t0));
        });
      }
    });
  }
}

}  // namespace

void matmul(const KernelTable& kt, ThreadPool& pool, DType wtype, const void* w, int64_t n_out, int64_t n_in,
            const float* x, int64_t n_tokens, float* y, const void* packed) {
  const MatmulOut part{w, n_out, y, packed};
  matmul(kt, pool, wtype, std::span<const MatmulOut>(&part, 1), n_in, x, n_tokens);
}

void matmul(const KernelTable& kt, ThreadPool& pool, DType wtype, std::span<const MatmulOut> parts,
            int64_t n_in, const float* x, int64_t n_tokens) {
  int64_t n_rows = 0;  // of all parts together
  for (const MatmulOut& part : parts) n_rows += part.n_out;
  if (n_rows <= 0 || n_tokens <= 0) return;
  const DType atype = activation_type(wtype);
  const VecDotFn vec_dot = kt.vec_dot[static_cast<size_t>(wtype)];
  const QuantizeRowFn quantize = kt.quantize_act[static_cast<size_t>(atype)];
  const std::optional<size_t> w_row = row_bytes(wtype, n_in);
  const std::optional<size_t> a_row = row_bytes(atype, n_in);
  assert(vec_dot != nullptr && quantize != nullptr && w_row && a_row);

  // Packed weights where the table has kernels for them and every part has its copy.
  bool packed = kt.packed_matmul[static_cast<size_t>(wtype)] != nullptr;
  for (const MatmulOut& part : parts) packed = packed && part.packed != nullptr;
  const bool packed_gemm = packed && kt.packed_gemm[static_cast<size_t>(wtype)] != nullptr &&
                           n_tokens >= kPackedGemmMinTokens && n_rows * n_in * n_tokens >= kParallelMinMacs;
  // [n_tokens][n_in / 32] packed_matmul's activation block info.
  const bool want_info = packed && !packed_gemm;
  thread_local std::vector<PackedActBlock> info;
  if (want_info && info.size() < static_cast<size_t>(n_tokens * (n_in / 32)))
    info.resize(static_cast<size_t>(n_tokens * (n_in / 32)));
  // [n_tokens][a_row] bytes of atype. f32 activations are used in place. The buffers belong to
  // the calling thread and only grow, so steady-state decoding allocates nothing.
  const char* xq = reinterpret_cast<const char*>(x);
  if (atype != DType::F32) {
    thread_local std::vector<char> scratch;
    const size_t need = *a_row * static_cast<size_t>(n_tokens);
    if (scratch.size() < need) scratch.resize(need);
    char* q = scratch.data();
    PackedActBlock* inf = info.data();
    auto quantize_rows = [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        char* qt = q + static_cast<size_t>(t) * *a_row;
        quantize(x + t * n_in, qt, n_in);
        if (want_info) packed_act_info(qt, n_in, inf + t * (n_in / 32));
      }
    };
    if (n_tokens >= kParallelQuantizeMinRows) {
      pool.parallel_for(n_tokens, 1, quantize_rows);
    } else {
      quantize_rows(0, n_tokens);
    }
    xq = q;
  }

  const size_t wr = *w_row, ar = *a_row;
  if (packed) {
    matmul_packed(kt, pool, wtype, parts, n_in, xq, ar, info.data(), n_tokens, packed_gemm);
    return;
  }
  const GemmFns& gemm = kt.gemm[static_cast<size_t>(wtype)];
  if (gemm.gemm != nullptr && n_tokens >= kGemmMinTokens) {
    matmul_gemm(gemm, pool, parts, n_rows, wr, n_in, xq, ar, n_tokens);
    return;
  }
  const VecDotRowsFn vec_dot_rows = kt.vec_dot_rows[static_cast<size_t>(wtype)];
  auto part_rows = [&](const MatmulOut& part, int64_t r0, int64_t r1) {
    const char* wb = static_cast<const char*>(part.w);
    for (int64_t t0 = 0; t0 < n_tokens; t0 += kTokenTile) {
      const int64_t t1 = std::min(n_tokens, t0 + kTokenTile);
      if (vec_dot_rows != nullptr) {
        for (int64_t t = t0; t < t1; ++t)
          vec_dot_rows(n_in, wb + static_cast<size_t>(r0) * wr, wr, r1 - r0, xq + static_cast<size_t>(t) * ar,
                       part.y + t * part.n_out + r0);
        continue;
      }
      for (int64_t r = r0; r < r1; ++r) {
        const char* wrow = wb + static_cast<size_t>(r) * wr;
        for (int64_t t = t0; t < t1; ++t)
          vec_dot(n_in, wrow, xq + static_cast<size_t>(t) * ar, &part.y[t * part.n_out + r]);
      }
    }
  };
  auto rows = [&](int64_t g0, int64_t g1) { for_part_rows(parts, g0, g1, part_rows); };
  if (n_rows * n_in * n_tokens < kParallelMinMacs) {
    rows(0, n_rows);
  } else if (vec_dot_rows != nullptr && n_tokens == 1) {
    pool.parallel_for(n_rows, rows_kernel_grain(n_rows, pool.size()), rows);
  } else {
    pool.parallel_for(n_rows, row_grain(n_rows, n_tokens, pool.size()), rows);
  }
}

}  // namespace minnow::kernels
