// Helpers the per-architecture model tests share: load a model from GGUF bytes (or get the
// loader's error), run a fixed token sequence in batches, and compare logit arrays.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/thread_pool.h"
#include "gguf/gguf.h"
#include "kernels/kernel_table.h"
#include "models/model.h"
#include "simd_isas.h"

namespace minnow::test {

struct LoadedModel {
  std::vector<uint8_t> bytes;
  std::optional<gguf::File> file;
  std::unique_ptr<models::Model> model;  // null when loading failed (the test has failed then)
};

inline std::unique_ptr<LoadedModel> load_model_bytes(std::vector<uint8_t> bytes) {
  auto l = std::make_unique<LoadedModel>();
  l->bytes = std::move(bytes);
  auto f = gguf::File::parse(l->bytes);
  EXPECT_TRUE(f.ok()) << f.error().message;
  if (!f.ok()) return l;
  l->file.emplace(std::move(*f));
  auto m = models::load_model(*l->file);
  EXPECT_TRUE(m.ok()) << m.error().message;
  if (m.ok()) l->model = std::move(*m);
  return l;
}

// The loader's error message for a file that must not load.
inline Result<std::string> load_error_of(const std::vector<uint8_t>& bytes) {
  auto f = gguf::File::parse(bytes);
  if (!f) return f.error().message;
  auto m = models::load_model(*f);
  if (m) return Error{"loaded fine"};
  return m.error().message;
}

inline const std::vector<int32_t> kTestTokens = {1,  260, 45, 270, 101, 3,  280, 7, 290,
                                                 33, 120, 64, 265, 2,   77, 200, 18};

struct RunOptions {
  int threads = 2;
  int batch = 4;
  DType kv = DType::F16;
  int n_ctx = 64;  // the cache's context (LongRoPE picks its factors by it)
};

// Logits of every token of kTestTokens ([n_tokens][n_vocab]), fed in batches of o.batch.
inline std::vector<float> run_tokens(const models::Model& m, const kernels::KernelTable& kt,
                                     const RunOptions& o) {
  ThreadPool pool(o.threads);
  nn::Scratch scratch;  // reused across the batches, as a session does (the last may be shorter)
  const nn::Compute c{kt, pool, nullptr, &scratch};
  const auto& hp = m.hparams();
  auto cache = KvCache::create(hp.n_layer, o.n_ctx, hp.n_head_kv * hp.head_dim, o.kv);
  EXPECT_TRUE(cache.ok());
  if (!cache.ok()) return {};
  const std::vector<int32_t>& tokens = kTestTokens;
  std::vector<float> logits(tokens.size() * hp.n_vocab);
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

// max |a - b| relative to max |b|.
inline double max_rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double mx = 0, scale = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    mx = std::max(mx, static_cast<double>(std::fabs(a[i] - b[i])));
    scale = std::max(scale, static_cast<double>(std::fabs(b[i])));
  }
  return mx / scale;
}

// The invariants every architecture's forward pass keeps, as the llama model tests state them.

inline void expect_finite_and_deterministic(const models::Model& m) {
  const auto a = run_tokens(m, kernels::active(), {});
  const auto b = run_tokens(m, kernels::active(), {});
  for (float v : a) ASSERT_TRUE(std::isfinite(v));
  EXPECT_EQ(a, b);
}

inline void expect_batched_prefill_equals_token_by_token(const models::Model& m) {
  const auto one = run_tokens(m, kernels::active(), {.batch = 1});
  for (int batch : {3, 8, 17}) {
    EXPECT_LE(max_rel_diff(run_tokens(m, kernels::active(), {.batch = batch}), one), 1e-5)
        << "batch " << batch;
  }
}

inline void expect_identical_across_thread_counts(const models::Model& m) {
  const auto ref = run_tokens(m, kernels::active(), {.threads = 1, .batch = 5});
  for (int threads : {2, 3, 4}) {
    EXPECT_EQ(run_tokens(m, kernels::active(), {.threads = threads, .batch = 5}), ref)
        << threads << " threads";
  }
}

// Float weights and the 32-element quants: the same products summed in another f32 order at
// most (the q4_0/q8_0 dots are bit-identical to scalar), a few ulps grown through 2 layers; 1e-4
// of the logit range leaves ample margin (as for llama). The k-quant AVX2 dots convert each
// super-block's integer sum in another order than the scalar reference, and an ulp difference
// can round a downstream q8_K activation the other way, each such flip moving a random tiny
// model's logits by ~1% (0.97% seen with a qwen2 model whose q bias was dropped): 3e-2. A broken
// SIMD path gives errors of order 1 either way.
inline void expect_simd_matches_scalar(const models::Model& m, DType wtype) {
  const auto scalar = run_tokens(m, kernels::table(kernels::Isa::kScalar), {});
  for (kernels::Isa isa : simd_isas()) {
    const auto simd = run_tokens(m, kernels::table(isa), {});
    EXPECT_LE(max_rel_diff(simd, scalar), dtype_info(wtype).block_size == 256 ? 3e-2 : 1e-4)
        << kernels::isa_name(isa);
  }
}

// F16 keys and values carry 11 significant bits; the bounds and their reasons are the llama
// test's: 1e-2 of the logit range with float weights, 5e-2 where quantized activations can
// cross rounding boundaries. A broken f16 path gives errors of order 1.
inline void expect_f16_cache_close_to_f32(const models::Model& m, bool quantized_weights) {
  const auto f32 = run_tokens(m, kernels::active(), {.kv = DType::F32});
  const auto f16 = run_tokens(m, kernels::active(), {.kv = DType::F16});
  EXPECT_LE(max_rel_diff(f16, f32), quantized_weights ? 5e-2 : 1e-2);
}

}  // namespace minnow::test
