// The llama forward pass on tiny random models from our own writer: finite and deterministic,
// batched prefill equal to token-by-token decoding, identical for every thread count, SIMD
// equal to scalar within tolerance, and loader errors for malformed models.
#include <gtest/gtest.h>

#include <cmath>

#include "base/thread_pool.h"
#include "gguf/gguf.h"
#include "kernels/kernel_table.h"
#include "models/model.h"
#include "simd_isas.h"
#include "test_util.h"
#include "tiny_model.h"

namespace minnow {
namespace {

struct Loaded {
  std::vector<uint8_t> bytes;
  std::optional<gguf::File> file;
  std::unique_ptr<models::Model> model;
};

std::unique_ptr<Loaded> load(const test::TinyLlamaSpec& spec) {
  auto l = std::make_unique<Loaded>();
  l->bytes = test::make_tiny_llama(spec);
  auto f = gguf::File::parse(l->bytes);
  EXPECT_TRUE(f.ok()) << f.error().message;
  l->file.emplace(std::move(*f));
  auto m = models::load_model(*l->file, models::LoadConfig{&kernels::active(), nullptr});  // as the engine does
  EXPECT_TRUE(m.ok()) << m.error().message;
  if (m.ok()) l->model = std::move(*m);
  return l;
}

Result<std::string> load_error(const test::TinyLlamaSpec& spec) {
  const std::vector<uint8_t> bytes = test::make_tiny_llama(spec);
  auto f = gguf::File::parse(bytes);
  if (!f) return f.error().message;
  auto m = models::load_model(*f);
  if (m) return Error{"loaded fine"};
  return m.error().message;
}

const std::vector<int32_t> kTokens = {1, 260, 45, 270, 101, 3, 280, 7, 290, 33, 120, 64, 265, 2, 77, 200, 18};

// Logits of every token, fed in batches of `batch` tokens.
std::vector<float> run(const models::Model& m, const kernels::KernelTable& kt, int threads, int batch,
                       DType kv = DType::F16, nn::Scratch* scratch = nullptr) {
  ThreadPool pool(threads);
  const nn::Compute c{kt, pool, nullptr, scratch};
  const auto& hp = m.hparams();
  auto cache = KvCache::create(hp.n_layer, 64, hp.n_head_kv * hp.head_dim, kv);
  EXPECT_TRUE(cache.ok());
  std::vector<float> logits(kTokens.size() * hp.n_vocab);
  for (size_t b = 0; b < kTokens.size(); b += batch) {
    const size_t n = std::min<size_t>(batch, kTokens.size() - b);
    std::vector<int32_t> pos(n);
    for (size_t i = 0; i < n; ++i) pos[i] = static_cast<int32_t>(b + i);
    auto st = m.forward(c, kTokens.data() + b, pos.data(), static_cast<int64_t>(n), *cache, true,
                        logits.data() + b * hp.n_vocab);
    EXPECT_TRUE(st.ok()) << st.error().message;
  }
  return logits;
}

double max_rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double mx = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    mx = std::max(mx, static_cast<double>(std::fabs(a[i] - b[i])));
    scale = std::max(scale, static_cast<double>(std::fabs(b[i])));
  }
  return mx / scale;
}

class LlamaTypes : public testing::TestWithParam<DType> {
 protected:
  test::TinyLlamaSpec spec() const {
    test::TinyLlamaSpec s;
    s.wtype = GetParam();
    if (dtype_info(s.wtype).block_size == 256) s.n_embd = 256, s.n_ff = 256;
    return s;
  }
};

TEST_P(LlamaTypes, FiniteAndDeterministic) {
  auto l = load(spec());
  ASSERT_TRUE(l->model);
  const auto a = run(*l->model, kernels::active(), 2, 4);
  const auto b = run(*l->model, kernels::active(), 2, 4);
  for (float v : a) ASSERT_TRUE(std::isfinite(v));
  EXPECT_EQ(a, b);
}

TEST_P(LlamaTypes, BatchedPrefillEqualsTokenByToken) {
  auto l = load(spec());
  ASSERT_TRUE(l->model);
  const auto one = run(*l->model, kernels::active(), 2, 1);
  for (int batch : {3, 8, 17}) {
    EXPECT_LE(max_rel_diff(run(*l->model, kernels::active(), 2, batch), one), 1e-5) << "batch " << batch;
  }
}

TEST_P(LlamaTypes, IdenticalAcrossThreadCounts) {
  auto l = load(spec());
  ASSERT_TRUE(l->model);
  const auto ref = run(*l->model, kernels::active(), 1, 5);
  for (int threads : {2, 3, 4}) EXPECT_EQ(run(*l->model, kernels::active(), threads, 5), ref) << threads;
}

TEST_P(LlamaTypes, ReusedScratchChangesNothing) {
  auto l = load(spec());
  ASSERT_TRUE(l->model);
  nn::Scratch scratch;
  // The 17-token batch leaves its values in the scratch; the 3-token batches after it (and the
  // 2-token tail) read only what they wrote.
  EXPECT_EQ(run(*l->model, kernels::active(), 2, 17, DType::F16, &scratch),
            run(*l->model, kernels::active(), 2, 17));
  EXPECT_EQ(run(*l->model, kernels::active(), 2, 3, DType::F16, &scratch),
            run(*l->model, kernels::active(), 2, 3));
}

TEST_P(LlamaTypes, SimdMatchesScalar) {
  if (test::simd_isas().empty()) GTEST_SKIP() << "CPU has no SIMD kernel set";
  auto l = load(spec());
  ASSERT_TRUE(l->model);
  const auto scalar = run(*l->model, kernels::table(kernels::Isa::kScalar), 2, 4);
  for (kernels::Isa isa : test::simd_isas()) {
    const auto simd = run(*l->model, kernels::table(isa), 2, 4);
    // Same quantized activations, different f32 summation order: differences of a few ulps per
    // dot product, grown through 2 layers; 1e-4 of the logit range leaves ample margin.
    EXPECT_LE(max_rel_diff(simd, scalar), 1e-4) << kernels::isa_name(isa);
  }
}

TEST_P(LlamaTypes, F16CacheCloseToF32) {
  auto l = load(spec());
  ASSERT_TRUE(l->model);
  const auto f32 = run(*l->model, kernels::active(), 2, 4, DType::F32);
  const auto f16 = run(*l->model, kernels::active(), 2, 4, DType::F16);
  // F16 keys and values carry 11 significant bits (relative error <= 2^-11 = 4.9e-4). With float
  // weights that moves logits by a few 1e-3 of their range here. With quantized weights the
  // perturbed activations also cross q8 rounding boundaries downstream, each crossing moving a
  // random tiny model's logits by ~1% (see kernels/avx2/quant_kernels.cpp), so they get 5e-2.
  // A broken f16 path (wrong conversion, wrong row) gives errors of order 1 either way.
  const bool quantized = dtype_info(GetParam()).block_size > 1;
  EXPECT_LE(max_rel_diff(f16, f32), quantized ? 5e-2 : 1e-2);
}

INSTANTIATE_TEST_SUITE_P(Weights, LlamaTypes,
                         testing::Values(DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0, DType::Q4_1,
                                         DType::Q5_0, DType::Q5_1, DType::Q4_K, DType::Q5_K, DType::Q6_K),
                         [](const testing::TestParamInfo<DType>& i) { return std::string(dtype_name(i.param)); });

TEST(LlamaLoad, TiedOutputUsesEmbeddings) {
  test::TinyLlamaSpec s;
  s.tied = true;
  auto l = load(s);
  ASSERT_TRUE(l->model);
  for (float v : run(*l->model, kernels::active(), 1, 4)) ASSERT_TRUE(std::isfinite(v));
}

TEST(LlamaLoad, RopeFreqsScaleFrequencies) {
  const test::TinyLlamaSpec base;  // head_dim 16: 8 factors
  test::TinyLlamaSpec ones = base, twos = base, short_list = base;
  ones.rope_freqs.assign(8, 1.0f);
  twos.rope_freqs.assign(8, 2.0f);
  short_list.rope_freqs.assign(3, 1.0f);
  auto l0 = load(base), l1 = load(ones), l2 = load(twos);
  ASSERT_TRUE(l0->model && l1->model && l2->model);
  const auto r0 = run(*l0->model, kernels::active(), 1, 4);
  EXPECT_EQ(run(*l1->model, kernels::active(), 1, 4), r0);
  EXPECT_GT(max_rel_diff(run(*l2->model, kernels::active(), 1, 4), r0), 1e-3);
  auto e = load_error(short_list);
  ASSERT_TRUE(e.ok());
  EXPECT_NE(e->find("rope_freqs.weight"), std::string::npos) << *e;
}

TEST(LlamaLoad, ClearErrors) {
  test::TinyLlamaSpec s;
  s.arch = "mamba9";
  auto e = load_error(s);
  ASSERT_TRUE(e.ok());
  EXPECT_NE(e->find("unsupported architecture 'mamba9'"), std::string::npos) << *e;

  s = {};
  s.drop_output_norm = true;
  e = load_error(s);
  ASSERT_TRUE(e.ok());
  EXPECT_NE(e->find("missing tensor 'output_norm.weight'"), std::string::npos) << *e;

  s = {};
  s.raw_type_id = static_cast<uint32_t>(DType::IQ2_XXS);
  s.n_embd = 256;
  e = load_error(s);
  ASSERT_TRUE(e.ok());
  EXPECT_NE(e->find("iq2_xxs, which minnow does not support"), std::string::npos) << *e;

  s = {};
  s.n_head = 3;  // 64 does not split into 3 heads of equal size, and 3 heads don't group into 2
  e = load_error(s);
  ASSERT_TRUE(e.ok());
  EXPECT_NE(e->find("heads"), std::string::npos) << *e;
}

TEST(LlamaForward, RejectsBadTokensAndPositions) {
  auto l = load({});
  ASSERT_TRUE(l->model);
  ThreadPool pool(1);
  const nn::Compute c{kernels::active(), pool};
  const auto& hp = l->model->hparams();
  auto cache = KvCache::create(hp.n_layer, 8, hp.n_head_kv * hp.head_dim, DType::F16);
  ASSERT_TRUE(cache.ok());
  std::vector<float> logits(hp.n_vocab);
  const int32_t bad_token[1] = {hp.n_vocab};
  const int32_t pos0[1] = {0};
  auto st = l->model->forward(c, bad_token, pos0, 1, *cache, false, logits.data());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("out of range"), std::string::npos);
  const int32_t token[1] = {5};
  const int32_t pos_far[1] = {8};
  st = l->model->forward(c, token, pos_far, 1, *cache, false, logits.data());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("outside the context"), std::string::npos);
}

}  // namespace
}  // namespace minnow
