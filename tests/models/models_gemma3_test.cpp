// gemma3 on tiny random models from our own writer: every architecture's invariants (batched ==
// token by token across the window, threads, SIMD, F16 cache) and Gemma 3's own: five local layers
// per global one, the window respected and window-sized in the KV cache, local RoPE base 10000,
// optional logit soft-capping, loader errors naming tensor and shape.
#include <gtest/gtest.h>

#include <cmath>

#include "models/forward_harness.h"
#include "models/gemma.h"
#include "simd_isas.h"
#include "tiny_gemma.h"

namespace minnow {
namespace {

using test::RunOptions;
using test::TinyGemmaSpec;

constexpr int kWindow = 8;
// 60 positions in a 64-position cache: past the window and past the local layers' ring of
// kWindow + kRingChunk - 1 = 39 rows, so the ring wraps.
constexpr int kSeq = 60;

std::vector<int32_t> seq(const models::Model& m, int n = kSeq) {
  return test::random_tokens(n, m.hparams().n_vocab);
}

class Gemma3Types : public testing::TestWithParam<DType> {
 protected:
  TinyGemmaSpec spec() const {
    TinyGemmaSpec s;
    s.wtype = GetParam();
    s.window = kWindow;
    if (dtype_info(s.wtype).block_size == 256) s.n_embd = 256, s.n_ff = 256, s.head_dim = 64;  // q_dim 256
    return s;
  }
};

TEST_P(Gemma3Types, FiniteAndDeterministic) {
  auto l = test::load_bytes(test::make_tiny_gemma(spec()));
  ASSERT_TRUE(l->model);
  const auto a = test::run_logits(*l->model, seq(*l->model));
  const auto b = test::run_logits(*l->model, seq(*l->model));
  for (float v : a) ASSERT_TRUE(std::isfinite(v));
  EXPECT_EQ(a, b);
}

TEST_P(Gemma3Types, BatchedPrefillEqualsTokenByToken) {
  auto l = test::load_bytes(test::make_tiny_gemma(spec()));
  ASSERT_TRUE(l->model);
  const auto tokens = seq(*l->model);
  const auto one = test::run_logits(*l->model, tokens, {.batch = 1});
  // 33 and 60 exceed both the window and the ring's chunk: the local layers store and attend
  // in chunks inside one forward call.
  for (int batch : {3, 8, 17, 33, 60}) {
    EXPECT_LE(test::max_rel_diff(test::run_logits(*l->model, tokens, {.batch = batch}), one), 1e-5) << batch;
  }
}

TEST_P(Gemma3Types, RingCacheEqualsFullCache) {
  auto l = test::load_bytes(test::make_tiny_gemma(spec()));
  ASSERT_TRUE(l->model);
  const auto tokens = seq(*l->model);
  // The same keys are read in the same order whether the local layers keep a ring or every
  // position, so the logits are bit-identical.
  for (int batch : {1, 60}) {
    EXPECT_EQ(test::run_logits(*l->model, tokens, {.batch = batch}),
              test::run_logits(*l->model, tokens, {.batch = batch, .windowed_cache = false}))
        << batch;
  }
}

TEST_P(Gemma3Types, IdenticalAcrossThreadCounts) {
  auto l = test::load_bytes(test::make_tiny_gemma(spec()));
  ASSERT_TRUE(l->model);
  const auto tokens = seq(*l->model);
  const auto ref = test::run_logits(*l->model, tokens, {.threads = 1, .batch = 5});
  for (int threads : {2, 3, 4}) {
    EXPECT_EQ(test::run_logits(*l->model, tokens, {.threads = threads, .batch = 5}), ref) << threads;
  }
}

TEST_P(Gemma3Types, SimdMatchesScalar) {
  if (test::simd_isas().empty()) GTEST_SKIP() << "CPU has no SIMD kernel set";
  auto l = test::load_bytes(test::make_tiny_gemma(spec()));
  ASSERT_TRUE(l->model);
  const auto tokens = seq(*l->model);
  const auto scalar = test::run_logits(*l->model, tokens, {.kt = &kernels::table(kernels::Isa::kScalar)});
  for (kernels::Isa isa : test::simd_isas()) {
    const auto simd = test::run_logits(*l->model, tokens, {.kt = &kernels::table(isa)});
    EXPECT_LE(test::max_rel_diff(simd, scalar), test::simd_tolerance(GetParam())) << kernels::isa_name(isa);
  }
}

TEST_P(Gemma3Types, F16CacheCloseToF32) {
  auto l = test::load_bytes(test::make_tiny_gemma(spec()));
  ASSERT_TRUE(l->model);
  const auto tokens = seq(*l->model);
  const auto f32 = test::run_logits(*l->model, tokens, {.kv = DType::F32});
  const auto f16 = test::run_logits(*l->model, tokens, {.kv = DType::F16});
  // As in the llama tests: f16 keys and values (relative error 2^-11) move float-weight logits
  // by a few 1e-3 of their range; quantized weights add q8 rounding-boundary crossings
  // downstream (~1% each). A wrong f16 row or conversion gives errors of order 1.
  const bool quantized = dtype_info(GetParam()).block_size > 1;
  EXPECT_LE(test::max_rel_diff(f16, f32), quantized ? 5e-2 : 1e-2);
}

INSTANTIATE_TEST_SUITE_P(Weights, Gemma3Types,
                         testing::Values(DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0,
                                         DType::Q4_K, DType::Q6_K),
                         [](const testing::TestParamInfo<DType>& i) {
                           return std::string(dtype_name(i.param));
                         });

std::vector<int> layer_windows(TinyGemmaSpec s) {
  auto l = test::load_bytes(test::make_tiny_gemma(s));
  return l->model ? l->model->hparams().layer_window : std::vector<int>{-1};
}

TEST(Gemma3Layers, FiveLocalToEachGlobalUnlessTheFileSaysOtherwise) {
  TinyGemmaSpec s;
  s.window = 16;
  s.n_layer = 12;
  EXPECT_EQ(layer_windows(s), (std::vector<int>{16, 16, 16, 16, 16, 0, 16, 16, 16, 16, 16, 0}));
  s.n_layer = 4;
  s.pattern = 2;
  EXPECT_EQ(layer_windows(s), (std::vector<int>{16, 0, 16, 0}));
  s.pattern = 0;  // the reference's convention: every layer local
  EXPECT_EQ(layer_windows(s), (std::vector<int>{16, 16, 16, 16}));
  s.pattern = -1;
  s.pattern_array = {1, 0, 0, 1};  // per layer, true = local
  EXPECT_EQ(layer_windows(s), (std::vector<int>{16, 0, 0, 16}));
  s.pattern_array = {};
  s.window = 0;  // no window: every layer global
  EXPECT_EQ(layer_windows(s), std::vector<int>{});
}

TEST(Gemma3Window, TokenBeyondTheWindowHasNoInfluence) {
  // One layer, which the pattern makes local: position p sees tokens (p - window, p] only.
  TinyGemmaSpec s;
  s.window = kWindow;
  s.n_layer = 1;
  auto l = test::load_bytes(test::make_tiny_gemma(s));
  ASSERT_TRUE(l->model);
  const auto tokens = seq(*l->model, 40);
  for (int t0 : {0, 10}) {
    const std::vector<bool> seen = test::influenced_by(*l->model, tokens, t0);
    for (int p = 0; p < 40; ++p) {
      EXPECT_EQ(seen[p], p >= t0 && p < t0 + kWindow) << "token " << t0 << ", position " << p;
    }
  }
}

TEST(Gemma3Window, LocalLayersChainWhileAGlobalLayerSeesEverything) {
  TinyGemmaSpec s;
  s.window = kWindow;
  s.n_layer = 3;
  s.pattern = 0;  // three local layers: token 0 reaches 3 * (window - 1) positions further
  auto local = test::load_bytes(test::make_tiny_gemma(s));
  ASSERT_TRUE(local->model);
  const auto tokens = seq(*local->model, 40);
  std::vector<bool> seen = test::influenced_by(*local->model, tokens, 0);
  for (int p = 0; p < 40; ++p) EXPECT_EQ(seen[p], p <= 3 * (kWindow - 1)) << p;

  s.n_layer = 6;
  s.pattern = -1;  // layer 5 is global
  auto mixed = test::load_bytes(test::make_tiny_gemma(s));
  ASSERT_TRUE(mixed->model);
  seen = test::influenced_by(*mixed->model, tokens, 0);
  for (int p = 0; p < 40; ++p) EXPECT_TRUE(seen[p]) << p;
}

TEST(Gemma3Window, LocalLayersKeepOnlyTheirWindow) {
  TinyGemmaSpec s;
  s.window = kWindow;
  auto l = test::load_bytes(test::make_tiny_gemma(s));
  ASSERT_TRUE(l->model);
  const auto& hp = l->model->hparams();
  const int kv_dim = hp.n_head_kv * hp.head_dim;
  for (int n_ctx : {4096, 8192}) {
    auto cache = KvCache::create(hp.n_layer, n_ctx, kv_dim, DType::F16, hp.layer_window);
    ASSERT_TRUE(cache.ok());
    const size_t ring = kWindow + KvCache::kRingChunk - 1;
    for (int il = 0; il < 5; ++il) EXPECT_EQ(cache->capacity(il), static_cast<int>(ring)) << il;
    EXPECT_EQ(cache->capacity(5), n_ctx);
    // Keys and values, 2 bytes each: one global layer of n_ctx rows, five rings.
    EXPECT_EQ(cache->bytes(), 2 * 2 * static_cast<size_t>(kv_dim) * (n_ctx + 5 * ring)) << n_ctx;
  }
}

TEST(Gemma3Rope, LocalLayersUseBase10000WhateverTheFileSays) {
  TinyGemmaSpec s;
  s.window = kWindow;
  s.n_layer = 1;  // local only
  auto base = test::load_bytes(test::make_tiny_gemma(s));
  s.rope_base = 1e6f;
  auto other_base = test::load_bytes(test::make_tiny_gemma(s));
  s.rope_linear = 8;
  auto scaled = test::load_bytes(test::make_tiny_gemma(s));
  ASSERT_TRUE(base->model && other_base->model && scaled->model);
  const auto tokens = seq(*base->model, 30);
  const auto ref = test::run_logits(*base->model, tokens);
  EXPECT_EQ(test::run_logits(*other_base->model, tokens), ref);
  EXPECT_EQ(test::run_logits(*scaled->model, tokens), ref);

  // With a global layer, the file's base and scaling apply there.
  s = {};
  s.window = kWindow;
  s.n_layer = 2;
  s.pattern = 2;  // layer 1 global
  auto g_base = test::load_bytes(test::make_tiny_gemma(s));
  s.rope_base = 1e6f;
  auto g_other = test::load_bytes(test::make_tiny_gemma(s));
  s.rope_base = 10000.0f;
  s.rope_linear = 8;
  auto g_scaled = test::load_bytes(test::make_tiny_gemma(s));
  ASSERT_TRUE(g_base->model && g_other->model && g_scaled->model);
  const auto g_ref = test::run_logits(*g_base->model, tokens);
  EXPECT_GT(test::max_rel_diff(test::run_logits(*g_other->model, tokens), g_ref), 1e-3);
  EXPECT_GT(test::max_rel_diff(test::run_logits(*g_scaled->model, tokens), g_ref), 1e-3);
}

TEST(Gemma3Output, FinalSoftcappingWhenTheFileHasIt) {
  TinyGemmaSpec s;
  auto plain = test::load_bytes(test::make_tiny_gemma(s));
  s.final_softcap = 2.0f;
  auto capped = test::load_bytes(test::make_tiny_gemma(s));
  ASSERT_TRUE(plain->model && capped->model);
  const auto tokens = seq(*plain->model, 12);
  const auto a = test::run_logits(*plain->model, tokens);
  const auto b = test::run_logits(*capped->model, tokens);
  double worst = 0, largest = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    worst = std::max(worst, std::fabs(b[i] - 2.0 * std::tanh(a[i] / 2.0)));
    largest = std::max(largest, static_cast<double>(std::fabs(a[i])));
    ASSERT_LE(std::fabs(b[i]), 2.0f);
  }
  EXPECT_GT(largest, 2.0);  // the cap did bind somewhere
  EXPECT_LE(worst, 1e-5);
}

TEST(Gemma3Output, SeparateOutputMatrixWhenPresent) {
  TinyGemmaSpec s;
  auto tied = test::load_bytes(test::make_tiny_gemma(s));
  s.tied = false;  // output.weight is written last: every other weight is the same
  auto separate = test::load_bytes(test::make_tiny_gemma(s));
  ASSERT_TRUE(tied->model && separate->model);
  const auto tokens = seq(*tied->model, 8);
  EXPECT_GT(
      test::max_rel_diff(test::run_logits(*separate->model, tokens), test::run_logits(*tied->model, tokens)),
      1e-2);
}

TEST(Gemma3Scale, QueryPreAttnScalarOfGooglesConfigs) {
  models::HParams hp;
  // Gemma 3 27B: query_pre_attn_scalar = 168 = 5376 / 32, not its head size 128.
  hp.n_layer = 62, hp.n_embd = 5376, hp.n_head = 32, hp.head_dim = 128;
  EXPECT_FLOAT_EQ(models::gemma_attention_scale(hp, 62), 1.0f / std::sqrt(168.0f));
  // Gemma 3 4B: the head size, 256 (n_embd / n_head would be 320).
  hp.n_layer = 34, hp.n_embd = 2560, hp.n_head = 8, hp.head_dim = 256;
  EXPECT_FLOAT_EQ(models::gemma_attention_scale(hp, 62), 1.0f / 16.0f);
}

TEST(Gemma3Load, ClearErrors) {
  struct Case {
    std::string drop, misshape, expected;
  };
  const Case cases[] = {
      {"blk.3.attn_k_norm.weight", "", "missing tensor 'blk.3.attn_k_norm.weight'"},
      {"blk.5.post_ffw_norm.weight", "", "missing tensor 'blk.5.post_ffw_norm.weight'"},
      {"blk.0.post_attention_norm.weight", "", "missing tensor 'blk.0.post_attention_norm.weight'"},
      {"output_norm.weight", "", "missing tensor 'output_norm.weight'"},
      {"", "blk.0.attn_q_norm.weight", "tensor 'blk.0.attn_q_norm.weight' has shape [33], expected [32]"},
      {"", "blk.2.attn_k.weight", "tensor 'blk.2.attn_k.weight' has shape [64, 65], expected [64, 64]"},
      {"", "blk.1.ffn_down.weight", "tensor 'blk.1.ffn_down.weight' has shape [128, 65], expected [128, 64]"},
  };
  for (const Case& c : cases) {
    TinyGemmaSpec s;
    s.drop = c.drop;
    s.misshape = c.misshape;
    auto e = test::load_error_of(test::make_tiny_gemma(s));
    ASSERT_TRUE(e.ok()) << c.expected;
    EXPECT_NE(e->find(c.expected), std::string::npos) << *e;
  }
  TinyGemmaSpec s;
  s.pattern_array = {1, 0, 1};  // 3 entries for 6 layers
  auto e = test::load_error_of(test::make_tiny_gemma(s));
  ASSERT_TRUE(e.ok());
  EXPECT_NE(e->find("gemma3.attention.sliding_window_pattern has 3 entries for 6 layers"), std::string::npos)
      << *e;
}

}  // namespace
}  // namespace minnow
