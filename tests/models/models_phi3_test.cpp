// The phi3 forward pass on tiny random models from our own writer: the model-test invariants
// (finite, deterministic, batched prefill equal to token-by-token, thread-count independent,
// SIMD equal to scalar, F16 cache close to F32), fused q/k/v and gate/up read as the separate
// matrices they stack, LongRoPE factors chosen by the context, its attention factor, partial
// rotary, and loader errors that name the tensor and the expected shape.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "models/model_test_util.h"
#include "tiny_qwen2_phi3.h"

namespace minnow {
namespace {

using test::run_tokens;

test::TinyArchSpec phi3() {
  test::TinyArchSpec s;
  s.arch = "phi3";
  return s;
}

std::unique_ptr<test::Loaded> load(const test::TinyArchSpec& s) {
  return test::load_bytes(test::make_tiny_arch(s));
}

// The weight types, and partial rotary (8 of 16 dims) with LongRoPE factors and attention factor.
struct Phi3Case {
  DType wtype;
  bool long_rope;
};

class Phi3Types : public testing::TestWithParam<Phi3Case> {
 protected:
  test::TinyArchSpec spec() const {
    test::TinyArchSpec s = phi3();
    s.wtype = GetParam().wtype;
    if (dtype_info(s.wtype).block_size == 256) s.n_embd = 256, s.n_ff = 256;
    if (GetParam().long_rope) {
      s.n_rot = 8;
      s.rope_short = {1.0f, 1.5f, 2.0f, 3.0f};
      s.rope_long = {2.0f, 4.0f, 8.0f, 16.0f};
      s.n_ctx_orig = 32;  // the runs' context of 64 exceeds it: the long factors apply
      s.attn_factor = 1.2f;
    }
    return s;
  }
};

TEST_P(Phi3Types, FiniteAndDeterministic) {
  auto l = load(spec());
  ASSERT_TRUE(l->model);
  test::expect_finite_and_deterministic(*l->model);
}

TEST_P(Phi3Types, BatchedPrefillEqualsTokenByToken) {
  auto l = load(spec());
  ASSERT_TRUE(l->model);
  test::expect_batched_prefill_equals_token_by_token(*l->model);
}

TEST_P(Phi3Types, IdenticalAcrossThreadCounts) {
  auto l = load(spec());
  ASSERT_TRUE(l->model);
  test::expect_identical_across_thread_counts(*l->model);
}

TEST_P(Phi3Types, SimdMatchesScalar) {
  if (test::simd_isas().empty()) GTEST_SKIP() << "CPU has no SIMD kernel set";
  auto l = load(spec());
  ASSERT_TRUE(l->model);
  test::expect_simd_matches_scalar(*l->model, GetParam().wtype);
}

TEST_P(Phi3Types, F16CacheCloseToF32) {
  auto l = load(spec());
  ASSERT_TRUE(l->model);
  test::expect_f16_cache_close_to_f32(*l->model, dtype_info(GetParam().wtype).block_size > 1);
}

INSTANTIATE_TEST_SUITE_P(Weights, Phi3Types,
                         testing::Values(Phi3Case{DType::F32, false}, Phi3Case{DType::F16, false},
                                         Phi3Case{DType::Q8_0, false}, Phi3Case{DType::Q4_0, false},
                                         Phi3Case{DType::Q4_K, false}, Phi3Case{DType::F32, true},
                                         Phi3Case{DType::Q8_0, true}),
                         [](const testing::TestParamInfo<Phi3Case>& i) {
                           return std::string(dtype_name(i.param.wtype)) +
                                  (i.param.long_rope ? "_LongRope" : "");
                         });

// The generator draws the same matrices for both architectures; qwen2 with zero biases and the
// same RoPE base is then phi3 with its fused matrices split, so logits agree exactly. Reading
// the fused rows in another order (up before gate, v before k) would not.
TEST(Phi3Load, FusedMatricesAreTheSeparateOnesStacked) {
  for (DType t : {DType::F32, DType::Q8_0}) {
    test::TinyArchSpec p = phi3(), q;
    p.wtype = q.wtype = t;
    q.q_bias = q.k_bias = q.v_bias = 0.0f;
    q.rope_base = p.rope_base = 10000.0f;
    auto lp = load(p), lq = load(q);
    ASSERT_TRUE(lp->model && lq->model);
    EXPECT_EQ(run_tokens(*lp->model, kernels::active(), {}), run_tokens(*lq->model, kernels::active(), {}))
        << dtype_name(t);
  }
}

TEST(Phi3Load, LongRopeFactorsChosenByContext) {
  const test::TinyArchSpec plain = phi3();  // head_dim 16: 8 factors
  test::TinyArchSpec short_ones = plain, long_ones = plain, no_orig = plain;
  short_ones.rope_short.assign(8, 1.0f);
  short_ones.rope_long.assign(8, 3.0f);
  short_ones.n_ctx_orig = 32;
  long_ones.rope_short.assign(8, 3.0f);
  long_ones.rope_long.assign(8, 1.0f);
  long_ones.n_ctx_orig = 32;
  no_orig.rope_short = short_ones.rope_short;  // the original context defaults to context_length (256)
  no_orig.rope_long = short_ones.rope_long;
  auto l0 = load(plain), ls = load(short_ones), ll = load(long_ones), ln = load(no_orig);
  ASSERT_TRUE(l0->model && ls->model && ll->model && ln->model);
  const auto& kt = kernels::active();
  // Factors of 1 are no factors: whichever set the context selects shows in the logits.
  const auto ref32 = run_tokens(*l0->model, kt, {.n_ctx = 32});
  const auto ref64 = run_tokens(*l0->model, kt, {.n_ctx = 64});
  EXPECT_EQ(run_tokens(*ls->model, kt, {.n_ctx = 32}), ref32)
      << "context 32 <= 32 must use the short factors";
  EXPECT_GT(test::max_rel_diff(run_tokens(*ls->model, kt, {.n_ctx = 64}), ref64), 1e-3)
      << "context 64 > 32 must use the long factors";
  EXPECT_EQ(run_tokens(*ll->model, kt, {.n_ctx = 64}), ref64) << "context 64 > 32 must use the long factors";
  EXPECT_GT(test::max_rel_diff(run_tokens(*ll->model, kt, {.n_ctx = 32}), ref32), 1e-3)
      << "context 32 <= 32 must use the short factors";
  EXPECT_EQ(run_tokens(*ln->model, kt, {.n_ctx = 64}), ref64)
      << "context 64 <= 256 must use the short factors";
}

// Layer 0's q after RoPE, through the trace hook.
std::vector<float> traced_q0(const models::Model& m) {
  std::vector<float> q;
  const nn::TraceFn trace = [&](const char* name, int layer, const float* data, int64_t n) {
    if (layer == 0 && std::string(name) == "q") q.assign(data, data + n);
  };
  ThreadPool pool(1);
  const nn::Compute c{kernels::active(), pool, &trace};
  const auto& hp = m.hparams();
  auto cache = KvCache::create(hp.n_layer, 64, hp.n_head_kv * hp.head_dim, DType::F32);
  EXPECT_TRUE(cache.ok());
  std::vector<float> logits(hp.n_vocab);
  const int32_t tokens[3] = {1, 260, 45}, positions[3] = {0, 1, 2};
  EXPECT_TRUE(m.forward(c, tokens, positions, 3, *cache, false, logits.data()).ok());
  return q;
}

TEST(Phi3Load, AttnFactorScalesTheRotatedDimsOnly) {
  test::TinyArchSpec plain = phi3();
  plain.n_rot = 8;  // of head_dim 16: dims 8..15 of each head pass through
  test::TinyArchSpec one = plain, scaled = plain;
  one.attn_factor = 1.0f;
  scaled.attn_factor = 1.25f;
  auto l0 = load(plain), l1 = load(one), l2 = load(scaled);
  ASSERT_TRUE(l0->model && l1->model && l2->model);
  EXPECT_EQ(run_tokens(*l1->model, kernels::active(), {}), run_tokens(*l0->model, kernels::active(), {}));
  const auto q = traced_q0(*l0->model), qs = traced_q0(*l2->model);
  ASSERT_EQ(q.size(), 3u * 4 * 16);  // [3 tokens][4 heads][16]
  ASSERT_EQ(qs.size(), q.size());
  for (size_t i = 0; i < q.size(); ++i) {
    if (i % 16 < 8) {
      EXPECT_NEAR(qs[i], 1.25f * q[i], 1e-5f * (1 + std::fabs(q[i]))) << "rotated dim " << i;
    } else {
      EXPECT_EQ(qs[i], q[i]) << "pass-through dim " << i;
    }
  }
  EXPECT_GT(test::max_rel_diff(run_tokens(*l2->model, kernels::active(), {}),
                               run_tokens(*l0->model, kernels::active(), {})),
            1e-3);
}

TEST(Phi3Load, PartialRotaryDiffersFromFull) {
  test::TinyArchSpec partial = phi3();
  partial.n_rot = 8;
  auto lf = load(phi3()), lp = load(partial);
  ASSERT_TRUE(lf->model && lp->model);
  EXPECT_EQ(lp->model->hparams().rope.n_rot, 8);
  EXPECT_GT(test::max_rel_diff(run_tokens(*lp->model, kernels::active(), {}),
                               run_tokens(*lf->model, kernels::active(), {})),
            1e-3);
}

TEST(Phi3Load, ErrorsNameTheTensorAndExpectedShape) {
  // n_embd 64, 4 heads of 16, 2 kv heads: attn_qkv has 64 + 32 + 32 rows; n_ff 128.
  const std::map<std::string, std::string> cases = {
      {"blk.0.attn_qkv.weight", "missing tensor 'blk.0.attn_qkv.weight' (expected shape [64, 128])"},
      {"blk.1.ffn_up.weight", "missing tensor 'blk.1.ffn_up.weight' (expected shape [64, 256])"},
  };
  for (const auto& [tensor, message] : cases) {
    test::TinyArchSpec s = phi3();
    s.drop = tensor;
    auto e = test::load_error_of(test::make_tiny_arch(s));
    ASSERT_TRUE(e.ok());
    EXPECT_NE(e->find(message), std::string::npos) << *e;
  }
  const std::map<std::string, std::string> shapes = {
      {"blk.1.attn_qkv.weight",
       "tensor 'blk.1.attn_qkv.weight' has shape [64, 129], expected [64, 128] (rows of q 64 + k 32 + v 32 "
       "fused)"},
      {"blk.0.ffn_up.weight",
       "tensor 'blk.0.ffn_up.weight' has shape [64, 257], expected [64, 256] (rows of gate 128 + up 128 "
       "fused)"},
      {"rope_factors_long.weight", "tensor 'rope_factors_long.weight' has shape [9], expected [8]"},
  };
  for (const auto& [tensor, message] : shapes) {
    test::TinyArchSpec s = phi3();
    s.rope_short.assign(8, 1.0f);
    s.rope_long.assign(8, 2.0f);
    s.misshape = tensor;
    auto e = test::load_error_of(test::make_tiny_arch(s));
    ASSERT_TRUE(e.ok());
    EXPECT_NE(e->find(message), std::string::npos) << *e;
  }
  test::TinyArchSpec s = phi3();  // long factors without short ones
  s.rope_long.assign(8, 2.0f);
  auto e = test::load_error_of(test::make_tiny_arch(s));
  ASSERT_TRUE(e.ok());
  EXPECT_NE(e->find("missing tensor 'rope_factors_short.weight' (expected shape [8])"), std::string::npos)
      << *e;
}

}  // namespace
}  // namespace minnow
