// Runs a model's forward pass on GGUF bytes for the model tests: load (or the load error), all
// logits of a token sequence fed in batches of a given size over a given KV cache, and the
// relative difference the invariants are stated in.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "base/thread_pool.h"
#include "gguf/gguf.h"
#include "kernels/kernel_table.h"
#include "models/model.h"

namespace minnow::test {

struct Loaded {
  std::vector<uint8_t> bytes;
  std::optional<gguf::File> file;
  std::unique_ptr<models::Model> model;
};

inline std::unique_ptr<Loaded> load_bytes(std::vector<uint8_t> bytes) {
  auto l = std::make_unique<Loaded>();
  l->bytes = std::move(bytes);
  auto f = gguf::File::parse(l->bytes);
  EXPECT_TRUE(f.ok()) << f.error().message;
  if (!f.ok()) return l;
  l->file.emplace(std::move(*f));
  // Packed for the active kernels (where they have packed ones), as the engine loads models;
  // the tests run the same model with every table.
  auto m = models::load_model(*l->file, models::LoadConfig{&kernels::active(), nullptr});
  EXPECT_TRUE(m.ok()) << m.error().message;
  if (m.ok()) l->model = std::move(*m);
  return l;
}

// The loader's error message, or an error when the model loads fine.
inline Result<std::string> load_error_of(const std::vector<uint8_t>& bytes) {
  auto f = gguf::File::parse(bytes);
  if (!f) return f.error().message;
  auto m = models::load_model(*f);
  if (m) return Error{"loaded fine"};
  return m.error().message;
}

// n token ids in [3, n_vocab), fixed by the seed.
inline std::vector<int32_t> random_tokens(int n, int n_vocab, uint64_t seed = 7) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int32_t> d(3, n_vocab - 1);
  std::vector<int32_t> out(n);
  for (int32_t& t : out) t = d(rng);
  return out;
}

struct RunOptions {
  int threads = 2;
  int batch = 4;
  DType kv = DType::F16;
  int n_ctx = 64;
  bool windowed_cache = true;                // false: every layer keeps the whole context
  const kernels::KernelTable* kt = nullptr;  // null: the active kernels
};

// Logits [tokens.size()][n_vocab] of every position, fed in batches of o.batch tokens.
inline std::vector<float> run_logits(const models::Model& m, const std::vector<int32_t>& tokens,
                                     const RunOptions& o = {}) {
  ThreadPool pool(o.threads);
  nn::Scratch scratch;  // reused across the batches, as a session does (the last may be shorter)
  const nn::Compute c{o.kt ? *o.kt : kernels::active(), pool, nullptr, &scratch};
  const auto& hp = m.hparams();
  const std::vector<int> no_windows;
  auto cache = KvCache::create(hp.n_layer, o.n_ctx, hp.n_head_kv * hp.head_dim, o.kv,
                               o.windowed_cache ? hp.layer_window : no_windows);
  EXPECT_TRUE(cache.ok()) << cache.error().message;
  std::vector<float> logits(tokens.size() * hp.n_vocab);
  if (!cache.ok()) return logits;
  for (size_t b = 0; b < tokens.size(); b += o.batch) {
    const size_t n = std::min<size_t>(o.batch, tokens.size() - b);
    std::vector<int32_t> pos(n);
    for (size_t i = 0; i < n; ++i) pos[i] = static_cast<int32_t>(b + i);
    auto st = m.forward(c, tokens.data() + b, pos.data(), static_cast<int64_t>(n), *cache, true,
                        logits.data() + b * hp.n_vocab);
    EXPECT_TRUE(st.ok()) << st.error().message;
  }
  return logits;
}

// max |a - b| over max |b|.
inline double max_rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double mx = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    mx = std::max(mx, static_cast<double>(std::fabs(a[i] - b[i])));
    scale = std::max(scale, static_cast<double>(std::fabs(b[i])));
  }
  return mx / scale;
}

// How far SIMD logits may lie from scalar ones, by weight type. With f32 weights only the f32
// summation order differs: a few ulps per dot product, well under 1e-4 of the logit range. Other
// weights take activations rounded to f16, bf16 or q8 blocks before each matmul, as the F16 cache
// rounds keys and values: scalar and SIMD round alike until a value lands within an ulp of a
// rounding boundary, and over 60 positions and several layers some do. That input then moves by
// a whole quantum (2^-11 relative for f16, up to 2^-7 of a block's maximum for bf16 and q8),
// which moves the row's logits by ~1e-3, up to ~1% once it spreads through later layers' keys
// (the largest seen: 1.0e-2, gemma2 with q4_k). A broken kernel errs by order 1.
inline double simd_tolerance(DType weights) {
  return weights == DType::F32 ? 1e-4 : 5e-2;
}

// Row p of [n][n_vocab] logits.
inline std::vector<float> row(const std::vector<float>& logits, int n_vocab, int p) {
  return std::vector<float>(logits.begin() + static_cast<int64_t>(p) * n_vocab,
                            logits.begin() + static_cast<int64_t>(p + 1) * n_vocab);
}

// For each position, whether its logits change at all when the token at t0 is replaced: what
// the position can see of t0 through the layers' windows.
inline std::vector<bool> influenced_by(const models::Model& m, std::vector<int32_t> tokens, int t0,
                                       const RunOptions& o = {}) {
  const int n_vocab = m.hparams().n_vocab;
  const std::vector<float> a = run_logits(m, tokens, o);
  tokens[t0] = tokens[t0] == 5 ? 6 : 5;
  const std::vector<float> b = run_logits(m, tokens, o);
  std::vector<bool> out(tokens.size());
  for (size_t p = 0; p < tokens.size(); ++p) {
    out[p] = row(a, n_vocab, static_cast<int>(p)) != row(b, n_vocab, static_cast<int>(p));
  }
  return out;
}

}  // namespace minnow::test
