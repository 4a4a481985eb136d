// The gemma2 forward pass on tiny random models from our own writer: the invariants of every
// architecture, and Gemma 2's own: even layers local and odd global, the window respected and
// window-sized in the KV cache, attention and final soft-capping (with the reference's defaults
// when the keys are absent), no QK-norm tensors needed, loader errors naming tensor and shape.
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
constexpr int kSeq = 60;  // past the window and the 39-row ring of a 64-position cache

TinyGemmaSpec gemma2_spec() {
  TinyGemmaSpec s;
  s.arch = "gemma2";
  s.n_layer = 4;
  s.window = kWindow;
  return s;
}

std::vector<int32_t> seq(const models::Model& m, int n = kSeq) {
  return test::random_tokens(n, m.hparams().n_vocab);
}

class Gemma2Types : public testing::TestWithParam<DType> {
 protected:
  TinyGemmaSpec spec() const {
    TinyGemmaSpec s = gemma2_spec();
    s.wtype = GetParam();
    if (dtype_info(s.wtype).block_size == 256) s.n_embd = 256, s.n_ff = 256, s.head_dim = 64;
    return s;
  }
};

TEST_P(Gemma2Types, FiniteAndDeterministic) {
  auto l = test::load_bytes(test::make_tiny_gemma(spec()));
  ASSERT_TRUE(l->model);
  const auto a = test::run_logits(*l->model, seq(*l->model));
  for (float v : a) ASSERT_TRUE(std::isfinite(v));
  EXPECT_EQ(a, test::run_logits(*l->model, seq(*l->model)));
}

TEST_P(Gemma2Types, BatchedPrefillEqualsTokenByToken) {
  auto l = test::load_bytes(test::make_tiny_gemma(spec()));
  ASSERT_TRUE(l->model);
  const auto tokens = seq(*l->model);
  const auto one = test::run_logits(*l->model, tokens, {.batch = 1});
  for (int batch : {3, 8, 17, 33, 60}) {
    EXPECT_LE(test::max_rel_diff(test::run_logits(*l->model, tokens, {.batch = batch}), one), 1e-5) << batch;
  }
  EXPECT_EQ(test::run_logits(*l->model, tokens, {.batch = 60}),
            test::run_logits(*l->model, tokens, {.batch = 60, .windowed_cache = false}));
}

TEST_P(Gemma2Types, IdenticalAcrossThreadCounts) {
  auto l = test::load_bytes(test::make_tiny_gemma(spec()));
  ASSERT_TRUE(l->model);
  const auto tokens = seq(*l->model);
  const auto ref = test::run_logits(*l->model, tokens, {.threads = 1, .batch = 5});
  for (int threads : {2, 3, 4}) {
    EXPECT_EQ(test::run_logits(*l->model, tokens, {.threads = threads, .batch = 5}), ref) << threads;
  }
}

TEST_P(Gemma2Types, SimdMatchesScalar) {
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

TEST_P(Gemma2Types, F16CacheCloseToF32) {
  auto l = test::load_bytes(test::make_tiny_gemma(spec()));
  ASSERT_TRUE(l->model);
  const auto tokens = seq(*l->model);
  const auto f32 = test::run_logits(*l->model, tokens, {.kv = DType::F32});
  const auto f16 = test::run_logits(*l->model, tokens, {.kv = DType::F16});
  const bool quantized = dtype_info(GetParam()).block_size > 1;  // bounds argued in the gemma3 test
  EXPECT_LE(test::max_rel_diff(f16, f32), quantized ? 5e-2 : 1e-2);
}

INSTANTIATE_TEST_SUITE_P(Weights, Gemma2Types,
                         testing::Values(DType::F32, DType::F16, DType::Q8_0, DType::Q4_K),
                         [](const testing::TestParamInfo<DType>& i) {
                           return std::string(dtype_name(i.param));
                         });

TEST(Gemma2Layers, EvenLayersLocalOddGlobal) {
  auto l = test::load_bytes(test::make_tiny_gemma(gemma2_spec()));
  ASSERT_TRUE(l->model);
  EXPECT_EQ(l->model->hparams().layer_window, (std::vector<int>{kWindow, 0, kWindow, 0}));
  TinyGemmaSpec s = gemma2_spec();
  s.window = 0;  // the key absent: Gemma 2's 4096
  auto d = test::load_bytes(test::make_tiny_gemma(s));
  ASSERT_TRUE(d->model);
  EXPECT_EQ(d->model->hparams().layer_window, (std::vector<int>{4096, 0, 4096, 0}));
}

TEST(Gemma2Window, TokenBeyondTheWindowHasNoInfluenceOnALocalLayer) {
  TinyGemmaSpec s = gemma2_spec();
  s.n_layer = 1;  // layer 0: local
  auto l = test::load_bytes(test::make_tiny_gemma(s));
  ASSERT_TRUE(l->model);
  const auto tokens = seq(*l->model, 30);
  const std::vector<bool> seen = test::influenced_by(*l->model, tokens, 3);
  for (int p = 0; p < 30; ++p) EXPECT_EQ(seen[p], p >= 3 && p < 3 + kWindow) << p;

  s.n_layer = 2;  // layer 1 global: everything after token 3 sees it
  auto g = test::load_bytes(test::make_tiny_gemma(s));
  ASSERT_TRUE(g->model);
  const std::vector<bool> seen_g = test::influenced_by(*g->model, tokens, 3);
  for (int p = 0; p < 30; ++p) EXPECT_EQ(seen_g[p], p >= 3) << p;
}

TEST(Gemma2Window, LocalLayersKeepOnlyTheirWindow) {
  auto l = test::load_bytes(test::make_tiny_gemma(gemma2_spec()));
  ASSERT_TRUE(l->model);
  const auto& hp = l->model->hparams();
  const size_t kv_dim = static_cast<size_t>(hp.n_head_kv * hp.head_dim);
  auto cache = KvCache::create(hp.n_layer, 4096, static_cast<int>(kv_dim), DType::F32, hp.layer_window);
  ASSERT_TRUE(cache.ok());
  const size_t ring = kWindow + KvCache::kRingChunk - 1;
  // Keys and values, 4 bytes each: layers 1 and 3 keep 4096 rows, layers 0 and 2 their ring.
  EXPECT_EQ(cache->bytes(), 2 * 4 * kv_dim * (2 * 4096 + 2 * ring));
}

TEST(Gemma2Softcap, AbsentKeysMeanTheReferenceDefaults) {
  TinyGemmaSpec s = gemma2_spec();
  auto absent = test::load_bytes(test::make_tiny_gemma(s));
  s.attn_softcap = 50.0f;
  s.final_softcap = 30.0f;
  auto explicit_caps = test::load_bytes(test::make_tiny_gemma(s));
  s.attn_softcap = 0.0f;
  s.final_softcap = 0.0f;
  auto none = test::load_bytes(test::make_tiny_gemma(s));
  ASSERT_TRUE(absent->model && explicit_caps->model && none->model);
  const auto tokens = seq(*absent->model, 20);
  const auto a = test::run_logits(*absent->model, tokens);
  EXPECT_EQ(a, test::run_logits(*explicit_caps->model, tokens));
  EXPECT_NE(a, test::run_logits(*none->model, tokens));
}

TEST(Gemma2Softcap, FinalLogitsAreCapTimesTanh) {
  TinyGemmaSpec s = gemma2_spec();
  s.attn_softcap = 0.0f;
  s.final_softcap = 0.0f;
  auto plain = test::load_bytes(test::make_tiny_gemma(s));
  s.final_softcap = 3.0f;
  auto capped = test::load_bytes(test::make_tiny_gemma(s));
  ASSERT_TRUE(plain->model && capped->model);
  const auto tokens = seq(*plain->model, 12);
  const auto a = test::run_logits(*plain->model, tokens);
  const auto b = test::run_logits(*capped->model, tokens);
  double worst = 0, largest = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    worst = std::max(worst, std::fabs(b[i] - 3.0 * std::tanh(a[i] / 3.0)));
    largest = std::max(largest, static_cast<double>(std::fabs(a[i])));
  }
  EXPECT_GT(largest, 3.0);  // the cap binds somewhere
  EXPECT_LE(worst, 1e-5);
}

TEST(Gemma2Softcap, AttentionCapChangesTheScores) {
  // The exact formula is checked against a reference in the nn attention test; here a cap tight
  // enough to bind must change the model's output, and one far above the scores must not:
  // 1e4 tanh(s / 1e4) differs from s by (s / 1e4)^2 / 3 relative, ~1e-8, plus the f32 rounding
  // of the division, tanh and product, which the 4 layers carry to ~1e-5 of the logits.
  TinyGemmaSpec s = gemma2_spec();
  s.final_softcap = 0.0f;
  s.attn_softcap = 0.0f;
  auto none = test::load_bytes(test::make_tiny_gemma(s));
  s.attn_softcap = 0.3f;
  auto tight = test::load_bytes(test::make_tiny_gemma(s));
  s.attn_softcap = 1e4f;
  auto loose = test::load_bytes(test::make_tiny_gemma(s));
  ASSERT_TRUE(none->model && tight->model && loose->model);
  const auto tokens = seq(*none->model, 20);
  const auto ref = test::run_logits(*none->model, tokens);
  EXPECT_GT(test::max_rel_diff(test::run_logits(*tight->model, tokens), ref), 1e-2);
  EXPECT_LE(test::max_rel_diff(test::run_logits(*loose->model, tokens), ref), 1e-4);
}

TEST(Gemma2Scale, QueryPreAttnScalarOfGooglesConfigs) {
  models::HParams hp;
  // Gemma 2 27B: query_pre_attn_scalar = 144 = 4608 / 32, not its head size 128.
  hp.n_layer = 46, hp.n_embd = 4608, hp.n_head = 32, hp.head_dim = 128;
  EXPECT_FLOAT_EQ(models::gemma_attention_scale(hp, 46), 1.0f / 12.0f);
  // Gemma 2 9B: the head size, 256 (n_embd / n_head would be 224).
  hp.n_layer = 42, hp.n_embd = 3584, hp.n_head = 16, hp.head_dim = 256;
  EXPECT_FLOAT_EQ(models::gemma_attention_scale(hp, 46), 1.0f / 16.0f);
}

TEST(Gemma2Load, ClearErrors) {
  struct Case {
    std::string drop, misshape, expected;
  };
  const Case cases[] = {
      {"blk.1.post_attention_norm.weight", "", "missing tensor 'blk.1.post_attention_norm.weight'"},
      {"blk.3.ffn_up.weight", "", "missing tensor 'blk.3.ffn_up.weight'"},
      {"", "blk.0.ffn_gate.weight", "tensor 'blk.0.ffn_gate.weight' has shape [64, 129], expected [64, 128]"},
      {"", "blk.2.post_ffw_norm.weight", "tensor 'blk.2.post_ffw_norm.weight' has shape [65], expected [64]"},
  };
  for (const Case& c : cases) {
    TinyGemmaSpec s = gemma2_spec();
    s.drop = c.drop;
    s.misshape = c.misshape;
    auto e = test::load_error_of(test::make_tiny_gemma(s));
    ASSERT_TRUE(e.ok()) << c.expected;
    EXPECT_NE(e->find(c.expected), std::string::npos) << *e;
  }
  TinyGemmaSpec s = gemma2_spec();
  s.final_softcap = INFINITY;
  auto e = test::load_error_of(test::make_tiny_gemma(s));
  ASSERT_TRUE(e.ok());
  EXPECT_NE(e->find("gemma2.final_logit_softcapping"), std::string::npos) << *e;
}

}  // namespace
}  // namespace minnow
