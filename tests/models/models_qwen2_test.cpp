// The qwen2 forward pass on tiny random models from our own writer: the model-test invariants
// (finite, deterministic, batched prefill equal to token-by-token, thread-count independent,
// SIMD equal to scalar, F16 cache close to F32), q/k/v biases that take effect, tied output,
// and loader errors that name the tensor and the expected shape.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "models/model_test_util.h"
#include "tiny_qwen2_phi3.h"

namespace minnow {
namespace {

using test::run_tokens;

std::unique_ptr<test::Loaded> load(const test::TinyArchSpec& s) {
  return test::load_bytes(test::make_tiny_arch(s));
}

class Qwen2Types : public testing::TestWithParam<DType> {
 protected:
  test::TinyArchSpec spec() const {
    test::TinyArchSpec s;
    s.arch = "qwen2";
    s.wtype = GetParam();
    if (dtype_info(s.wtype).block_size == 256) s.n_embd = 256, s.n_ff = 256;
    return s;
  }
};

TEST_P(Qwen2Types, FiniteAndDeterministic) {
  auto l = load(spec());
  ASSERT_TRUE(l->model);
  test::expect_finite_and_deterministic(*l->model);
}

TEST_P(Qwen2Types, BatchedPrefillEqualsTokenByToken) {
  auto l = load(spec());
  ASSERT_TRUE(l->model);
  test::expect_batched_prefill_equals_token_by_token(*l->model);
}

TEST_P(Qwen2Types, IdenticalAcrossThreadCounts) {
  auto l = load(spec());
  ASSERT_TRUE(l->model);
  test::expect_identical_across_thread_counts(*l->model);
}

TEST_P(Qwen2Types, SimdMatchesScalar) {
  if (test::simd_isas().empty()) GTEST_SKIP() << "CPU has no SIMD kernel set";
  auto l = load(spec());
  ASSERT_TRUE(l->model);
  test::expect_simd_matches_scalar(*l->model, GetParam());
}

TEST_P(Qwen2Types, F16CacheCloseToF32) {
  auto l = load(spec());
  ASSERT_TRUE(l->model);
  test::expect_f16_cache_close_to_f32(*l->model, dtype_info(GetParam()).block_size > 1);
}

INSTANTIATE_TEST_SUITE_P(Weights, Qwen2Types,
                         testing::Values(DType::F32, DType::F16, DType::Q8_0, DType::Q4_0, DType::Q4_K),
                         [](const testing::TestParamInfo<DType>& i) {
                           return std::string(dtype_name(i.param));
                         });

TEST(Qwen2Load, EachBiasTakesEffect) {
  test::TinyArchSpec with;  // biases ~ N(0, 0.5); the matrices do not depend on them
  auto lw = load(with);
  ASSERT_TRUE(lw->model);
  const auto ref = run_tokens(*lw->model, kernels::active(), {});
  for (const char* which : {"q", "k", "v"}) {
    test::TinyArchSpec without = with;
    (which[0] == 'q' ? without.q_bias : which[0] == 'k' ? without.k_bias : without.v_bias) = 0.0f;
    auto l = load(without);
    ASSERT_TRUE(l->model);
    EXPECT_GT(test::max_rel_diff(run_tokens(*l->model, kernels::active(), {}), ref), 1e-3)
        << "zeroing the " << which << " bias changed nothing";
  }
}

TEST(Qwen2Load, TiedOutputUsesEmbeddings) {
  test::TinyArchSpec tied, untied;
  tied.tied = true;
  auto lt = load(tied), lu = load(untied);
  ASSERT_TRUE(lt->model && lu->model);
  const auto a = run_tokens(*lt->model, kernels::active(), {});
  for (float v : a) ASSERT_TRUE(std::isfinite(v));
  EXPECT_GT(test::max_rel_diff(a, run_tokens(*lu->model, kernels::active(), {})), 1e-2);
}

TEST(Qwen2Load, ErrorsNameTheTensorAndExpectedShape) {
  test::TinyArchSpec s;  // n_embd 64, 4 heads of 16, 2 kv heads: q_dim 64, kv_dim 32
  s.drop = "blk.1.attn_k.bias";
  auto e = test::load_error_of(test::make_tiny_arch(s));
  ASSERT_TRUE(e.ok());
  EXPECT_NE(e->find("missing tensor 'blk.1.attn_k.bias' (expected shape [32])"), std::string::npos) << *e;

  s = {};
  s.misshape = "blk.0.attn_q.bias";
  e = test::load_error_of(test::make_tiny_arch(s));
  ASSERT_TRUE(e.ok());
  EXPECT_NE(e->find("tensor 'blk.0.attn_q.bias' has shape [65], expected [64]"), std::string::npos) << *e;

  s = {};
  s.misshape = "blk.1.attn_v.weight";
  e = test::load_error_of(test::make_tiny_arch(s));
  ASSERT_TRUE(e.ok());
  EXPECT_NE(e->find("tensor 'blk.1.attn_v.weight' has shape [64, 33], expected [64, 32]"), std::string::npos)
      << *e;
}

TEST(Qwen2Forward, RejectsBadTokensAndPositions) {
  auto l = load({});
  ASSERT_TRUE(l->model);
  ThreadPool pool(1);
  const nn::Compute c{kernels::active(), pool};
  const auto& hp = l->model->hparams();
  auto cache = KvCache::create(hp.n_layer, 8, hp.n_head_kv * hp.head_dim, DType::F16);
  ASSERT_TRUE(cache.ok());
  std::vector<float> logits(hp.n_vocab);
  const int32_t bad_token[1] = {hp.n_vocab}, pos0[1] = {0};
  auto st = l->model->forward(c, bad_token, pos0, 1, *cache, false, logits.data());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("out of range"), std::string::npos) << st.error().message;
  const int32_t token[1] = {5}, pos_far[1] = {8};
  st = l->model->forward(c, token, pos_far, 1, *cache, false, logits.data());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("outside the context"), std::string::npos) << st.error().message;
}

}  // namespace
}  // namespace minnow
