// Kernel throughput, reported as bytes/s of weights (generation reads every weight once per
// token, so this is the number to hold against memory bandwidth). vec_dot runs on one row that
// stays in L1 (compute bound); matmul on a 4096 x 4096 matrix (larger than most L2 and often L3).
//   build-kernels/bench/kernels_bench --benchmark_filter=VecDot
#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "base/thread_pool.h"
#include "kernels/kernel_table.h"
#include "kernels/packed.h"
#include "tensor/fp16.h"
#include "tensor/quants.h"

namespace minnow::kernels {
namespace {

constexpr DType kTypes[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q4_0, DType::Q4_1, DType::Q5_0,
                            DType::Q5_1, DType::Q8_0, DType::Q4_K, DType::Q5_K, DType::Q6_K};

std::vector<float> random_floats(int64_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = nd(rng);
  return v;
}

std::vector<uint8_t> quantized(DType t, const std::vector<float>& f) {
  std::vector<uint8_t> q(*row_bytes(t, static_cast<int64_t>(f.size())));
  quantize_row(t, f.data(), q.data(), static_cast<int64_t>(f.size()));
  return q;
}

void vec_dot_bench(benchmark::State& state, Isa isa, DType t) {
  if (!isa_available(isa)) {
    state.SkipWithError("ISA not available");
    return;
  }
  constexpr int64_t n = 4096;
  const std::vector<uint8_t> w = quantized(t, random_floats(n, 1));
  const std::vector<float> x = random_floats(n, 2);
  const KernelTable& kt = table(isa);
  const DType at = activation_type(t);
  std::vector<uint8_t> a(*row_bytes(at, n));
  kt.quantize_act[static_cast<size_t>(at)](x.data(), a.data(), n);
  const VecDotFn fn = kt.vec_dot[static_cast<size_t>(t)];
  float out = 0.0f;
  for (auto _ : state) {
    fn(n, w.data(), a.data(), &out);
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(w.size()));
}

// vec_dot_rows on 32 rows of 4096 (at most 140 KB: L2-resident, so compute bound).
void vec_dot_rows_bench(benchmark::State& state, Isa isa, DType t) {
  if (!isa_available(isa) || table(isa).vec_dot_rows[static_cast<size_t>(t)] == nullptr) {
    state.SkipWithError("no vec_dot_rows for this ISA and type");
    return;
  }
  constexpr int64_t n = 4096, n_rows = 32;
  const std::vector<uint8_t> row = quantized(t, random_floats(n, 1));
  std::vector<uint8_t> w(row.size() * n_rows);
  for (int64_t r = 0; r < n_rows; ++r) std::copy(row.begin(), row.end(), w.begin() + r * row.size());
  const std::vector<float> x = random_floats(n, 2);
  const KernelTable& kt = table(isa);
  const DType at = activation_type(t);
  std::vector<uint8_t> a(*row_bytes(at, n));
  kt.quantize_act[static_cast<size_t>(at)](x.data(), a.data(), n);
  std::vector<float> out(n_rows);
  for (auto _ : state) {
    kt.vec_dot_rows[static_cast<size_t>(t)](n, w.data(), row.size(), n_rows, a.data(), out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(w.size()));
}

// The GEMM kernel alone on 64 rows of 1024 x 128 packed tokens (~200 KB: L2), in
// multiply-adds per second.
// A 64-byte aligned run of n bytes inside buf, as the library's buffers are (a tile row across
// two cache lines doubles the time of a tile load).
uint8_t* aligned64(std::vector<uint8_t>& buf, size_t n) {
  buf.assign(n + 64, 0);
  return buf.data() + (64 - reinterpret_cast<uintptr_t>(buf.data()) % 64) % 64;
}

void gemm_bench(benchmark::State& state, Isa isa, DType t) {
  const GemmFns& g = isa_available(isa) ? table(isa).gemm[static_cast<size_t>(t)] : GemmFns{};
  if (g.gemm == nullptr) {
    state.SkipWithError("no GEMM for this ISA and type");
    return;
  }
  constexpr int64_t n = 1024, n_rows = 64, n_tokens = 128;
  const std::vector<uint8_t> row = quantized(t, random_floats(n, 1));
  std::vector<uint8_t> w(row.size() * n_rows);
  for (int64_t r = 0; r < n_rows; ++r) std::copy(row.begin(), row.end(), w.begin() + r * row.size());
  const DType at = activation_type(t);
  const size_t a_row = *row_bytes(at, n);
  std::vector<uint8_t> a(a_row * n_tokens);
  const std::vector<float> x = random_floats(n * n_tokens, 2);
  for (int64_t i = 0; i < n_tokens; ++i)
    table(isa).quantize_act[static_cast<size_t>(at)](x.data() + i * n, a.data() + i * a_row, n);
  std::vector<uint8_t> packed_buf;
  uint8_t* packed = aligned64(packed_buf, g.tile_bytes(n) * (n_tokens / kGemmTokens));
  for (int64_t i = 0; i < n_tokens / kGemmTokens; ++i)
    g.pack_tile(n, a.data() + i * kGemmTokens * a_row, a_row, kGemmTokens, packed + i * g.tile_bytes(n));
  std::vector<uint8_t> work(g.work_bytes(n));
  std::vector<float> y(n_rows * n_tokens);
  for (auto _ : state) {
    g.gemm(n, w.data(), row.size(), n_rows, packed, n_tokens, y.data(), n_rows, work.data());
    benchmark::ClobberMemory();
  }
  state.counters["MAC/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * n * n_rows * n_tokens, benchmark::Counter::kIsRate);
}

// The packed-weight GEMM alone (one thread) on n_rows x 576 weights (SmolLM2-135M's width)
// against a batch of tokens, in multiply-adds per second: 16 rows x 256 tokens is one prompt
// work unit (~100 KB of activation tiles: L2); 576 / 49152 rows x 8 tokens are a decoding
// batch's step with the weights in L2 / streaming, to compare with PackedMatmul.
void packed_gemm_bench(benchmark::State& state, Isa isa, DType t) {
  const int64_t n_rows = state.range(0), n_tokens = state.range(1);
  const KernelTable& kt = table(isa);
  const PackedGemmFn gemm = kt.packed_gemm[static_cast<size_t>(t)];
  constexpr int64_t n = 576;
  const std::vector<uint8_t> row = quantized(t, random_floats(n, 1));
  std::vector<uint8_t> w(row.size() * n_rows);
  for (int64_t r = 0; r < n_rows; ++r) std::copy(row.begin(), row.end(), w.begin() + r * row.size());
  std::vector<uint8_t> packed_buf;
  void* aligned = aligned64(packed_buf, *packed_bytes(t, n, n_rows));
  pack_groups(t, w.data(), n, n_rows, 0, (n_rows + kPackRows - 1) / kPackRows, aligned);
  const GemmFns& g = kt.gemm[static_cast<size_t>(t)];
  const DType at = activation_type(t);
  const size_t a_row = *row_bytes(at, n);
  std::vector<uint8_t> a(a_row * n_tokens);
  const std::vector<float> x = random_floats(n * n_tokens, 2);
  for (int64_t i = 0; i < n_tokens; ++i)
    kt.quantize_act[static_cast<size_t>(at)](x.data() + i * n, a.data() + i * a_row, n);
  const int64_t n_tiles = (n_tokens + kGemmTokens - 1) / kGemmTokens;
  std::vector<uint8_t> tile_buf;
  uint8_t* tiles = aligned64(tile_buf, g.tile_bytes(n) * n_tiles);
  for (int64_t i = 0; i < n_tiles; ++i)
    g.pack_tile(n, a.data() + i * kGemmTokens * a_row, a_row, std::min(kGemmTokens, n_tokens - i * kGemmTokens),
                tiles + i * g.tile_bytes(n));
  std::vector<float> y(static_cast<size_t>(n_rows * n_tokens));
  for (auto _ : state) {
    gemm(n, aligned, n_rows, tiles, n_tokens, y.data(), n_rows);
    benchmark::ClobberMemory();
  }
  state.counters["MAC/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * n * n_rows * n_tokens, benchmark::Counter::kIsRate);
}

// The packed decode kernel alone (one thread) on n_rows x 576 weights (SmolLM2-135M's width)
// against a batch of tokens, in multiply-adds per second: 576 rows stay in L2, 49152 rows (its
// output matrix) stream from memory, so the two show the compute and the memory side.
void packed_matmul_bench(benchmark::State& state, Isa isa, DType t) {
  const int64_t n_rows = state.range(0), n_tokens = state.range(1);
  constexpr int64_t n = 576;
  const KernelTable& kt = table(isa);
  const PackedMatmulFn fn = kt.packed_matmul[static_cast<size_t>(t)];
  const std::vector<uint8_t> row = quantized(t, random_floats(n, 1));
  std::vector<uint8_t> w(row.size() * n_rows);
  for (int64_t r = 0; r < n_rows; ++r) std::copy(row.begin(), row.end(), w.begin() + r * row.size());
  std::vector<uint8_t> packed_buf;
  void* aligned = aligned64(packed_buf, *packed_bytes(t, n, n_rows));
  pack_groups(t, w.data(), n, n_rows, 0, (n_rows + kPackRows - 1) / kPackRows, aligned);
  const DType at = activation_type(t);
  const size_t a_row = *row_bytes(at, n);
  std::vector<uint8_t> a(a_row * n_tokens);
  const std::vector<float> x = random_floats(n * n_tokens, 2);
  std::vector<PackedActBlock> info(static_cast<size_t>(n_tokens * (n / 32)));
  for (int64_t i = 0; i < n_tokens; ++i) {
    kt.quantize_act[static_cast<size_t>(at)](x.data() + i * n, a.data() + i * a_row, n);
    packed_act_info(a.data() + i * a_row, n, info.data() + i * (n / 32));
  }
  std::vector<float> y(static_cast<size_t>(n_rows * n_tokens));
  for (auto _ : state) {
    fn(n, aligned, n_rows, a.data(), a_row, info.data(), n_tokens, y.data(), n_rows);
    benchmark::ClobberMemory();
  }
  state.counters["MAC/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * n * n_rows * n_tokens, benchmark::Counter::kIsRate);
}

void quantize_bench(benchmark::State& state, Isa isa, DType at) {
  if (!isa_available(isa)) {
    state.SkipWithError("ISA not available");
    return;
  }
  constexpr int64_t n = 4096;
  const std::vector<float> x = random_floats(n, 3);
  std::vector<uint8_t> a(*row_bytes(at, n));
  const QuantizeRowFn fn = table(isa).quantize_act[static_cast<size_t>(at)];
  for (auto _ : state) {
    fn(x.data(), a.data(), n);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * n * 4);
}

void matmul_bench(benchmark::State& state, DType t) {
  constexpr int64_t n_in = 4096, n_out = 4096;
  const int64_t n_tokens = state.range(0);
  const int threads = static_cast<int>(state.range(1));
  const std::vector<float> wf = random_floats(n_in, 4);
  const std::vector<uint8_t> row = quantized(t, wf);
  std::vector<uint8_t> w(row.size() * n_out);
  for (int64_t r = 0; r < n_out; ++r) std::copy(row.begin(), row.end(), w.begin() + r * row.size());
  const std::vector<float> x = random_floats(n_in * n_tokens, 5);
  std::vector<float> y(static_cast<size_t>(n_out * n_tokens));
  ThreadPool pool(threads);
  const KernelTable& kt = active();
  for (auto _ : state) {
    matmul(kt, pool, t, w.data(), n_out, n_in, x.data(), n_tokens, y.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(w.size()));
  state.SetLabel(isa_name(kt.isa));
}

// One decoding token's attention tile (3 query heads of 64 dims against their KV head, the
// shape of SmolLM2-135M) over ctx keys of an f16 cache whose rows hold 3 KV heads, as a batch of
// decoding sequences reads them: 64 MB of caches taken in turn, so the keys and values come
// from memory (hot: one cache, in L2). Bytes/s of K and V rows read (this head's part of each
// row).
void attn_decode_bench(benchmark::State& state, Isa isa) {
  const KernelTable& kt = table(isa);
  if (!isa_available(isa) || kt.attn_tile_f16 == nullptr) {
    state.SkipWithError("no attention tile kernel");
    return;
  }
  const int ctx = static_cast<int>(state.range(0));
  constexpr int64_t hd = 64, kv_stride = 3 * hd;
  constexpr int heads = 3;
  const size_t cache_halfs = static_cast<size_t>(ctx) * kv_stride;
  const size_t n_caches =
      state.range(1) ? 1 : std::max<size_t>(2, (size_t{64} << 20) / (cache_halfs * 2 * sizeof(uint16_t)));
  std::vector<uint16_t> kv(2 * cache_halfs * n_caches);
  const std::vector<float> f = random_floats(4096, 5);
  for (size_t i = 0; i < kv.size(); ++i) kv[i] = fp32_to_fp16(f[i % f.size()] * 0.5f);
  const std::vector<float> q = random_floats(heads * hd, 6);
  std::vector<float> out(heads * hd);
  std::vector<float> work(static_cast<size_t>(attn_tile_work_floats(hd, heads)));
  const int32_t first = 0, last = ctx - 1;
  size_t next = 0;
  for (auto _ : state) {
    AttnTile<uint16_t> a{};
    a.head_dim = hd;
    a.n_tokens = 1;
    a.n_heads = heads;
    a.q = q.data();
    a.out = out.data();
    a.q_stride = heads * hd;
    a.first = &first;
    a.last = &last;
    a.k = kv.data() + 2 * cache_halfs * next;
    a.v = a.k + cache_halfs;
    a.kv_stride = kv_stride;
    a.ring = ctx;
    a.scale = 0.125f;
    kt.attn_tile_f16(a, work.data());
    next = (next + 1) % n_caches;
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * ctx * 2 * hd * 2);
}

int register_all() {
  for (Isa isa : all_isas()) {
    for (DType t : kTypes) {
      benchmark::RegisterBenchmark((std::string("VecDot/") + isa_name(isa) + "/" + dtype_name(t)).c_str(),
                                   [isa, t](benchmark::State& s) { vec_dot_bench(s, isa, t); });
    }
    for (DType t : kTypes) {
      if (table(Isa::kScalar).vec_dot[static_cast<size_t>(t)] == nullptr) continue;
      benchmark::RegisterBenchmark((std::string("VecDotRows/") + isa_name(isa) + "/" + dtype_name(t)).c_str(),
                                   [isa, t](benchmark::State& s) { vec_dot_rows_bench(s, isa, t); });
    }
    for (DType t : kTypes) {
      if (isa == Isa::kScalar) continue;
      benchmark::RegisterBenchmark((std::string("Gemm/") + isa_name(isa) + "/" + dtype_name(t)).c_str(),
                                   [isa, t](benchmark::State& s) { gemm_bench(s, isa, t); });
    }
    for (DType t : {DType::Q4_0, DType::Q8_0}) {
      if (!isa_available(isa) || table(isa).packed_gemm[static_cast<size_t>(t)] == nullptr) continue;
      benchmark::RegisterBenchmark((std::string("PackedGemm/") + isa_name(isa) + "/" + dtype_name(t)).c_str(),
                                   [isa, t](benchmark::State& s) { packed_gemm_bench(s, isa, t); })
          ->ArgNames({"rows", "tokens"})
          ->Args({16, 256})
          ->Args({576, 64})
          ->Args({16384, 64})
          ->Args({576, 8})
          ->Args({49152, 8});
    }
    for (DType t : {DType::Q4_0, DType::Q8_0}) {
      if (!isa_available(isa) || table(isa).packed_matmul[static_cast<size_t>(t)] == nullptr) continue;
      benchmark::RegisterBenchmark((std::string("PackedMatmul/") + isa_name(isa) + "/" + dtype_name(t)).c_str(),
                                   [isa, t](benchmark::State& s) { packed_matmul_bench(s, isa, t); })
          ->ArgNames({"rows", "tokens"})
          ->Args({576, 1})
          ->Args({576, 8})
          ->Args({49152, 1})
          ->Args({49152, 8});
    }
    benchmark::RegisterBenchmark((std::string("AttnDecode/") + isa_name(isa)).c_str(),
                                 [isa](benchmark::State& s) { attn_decode_bench(s, isa); })
        ->ArgNames({"ctx", "hot"})
        ->Args({128, 0})
        ->Args({1024, 0})
        ->Args({1024, 1});
    for (DType at : {DType::Q8_0, DType::Q8_1, DType::Q8_K}) {
      benchmark::RegisterBenchmark(
          (std::string("QuantizeAct/") + isa_name(isa) + "/" + dtype_name(at)).c_str(),
          [isa, at](benchmark::State& s) { quantize_bench(s, isa, at); });
    }
  }
  for (DType t : kTypes) {
    benchmark::RegisterBenchmark((std::string("Matmul/") + dtype_name(t)).c_str(),
                                 [t](benchmark::State& s) { matmul_bench(s, t); })
        ->ArgNames({"tokens", "threads"})
        ->Args({1, 1})
        ->Args({32, 1})
        ->Args({1, 2})
        ->UseRealTime();
  }
  return 0;
}

const int registered = register_all();

}  // namespace
}  // namespace minnow::kernels

BENCHMARK_MAIN();
