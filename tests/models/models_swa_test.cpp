// Sliding-window attention in Mistral-style llama files (llama.attention.sliding_window: every
// layer local): the window read from the metadata, batched prefill == token by token across
// the window and the ring, the window respected layer by layer, a window-sized KV cache, and a
// cache that does not fit the model refused with a clear error.
#include <gtest/gtest.h>

#include "models/forward_harness.h"
#include "tiny_model.h"

namespace minnow {
namespace {

using test::RunOptions;

constexpr int kWindow = 6;

test::TinyLlamaSpec swa_spec(int window = kWindow, int n_layer = 2) {
  test::TinyLlamaSpec s;
  s.sliding_window = window;
  s.n_layer = n_layer;
  return s;
}

std::vector<int32_t> seq(const models::Model& m, int n) {
  return test::random_tokens(n, m.hparams().n_vocab);
}

TEST(LlamaSwa, WindowFromMetadataForEveryLayer) {
  auto l = test::load_bytes(test::make_tiny_llama(swa_spec(kWindow, 3)));
  ASSERT_TRUE(l->model);
  EXPECT_EQ(l->model->hparams().layer_window, (std::vector<int>{kWindow, kWindow, kWindow}));
  auto plain = test::load_bytes(test::make_tiny_llama({}));
  ASSERT_TRUE(plain->model);
  EXPECT_TRUE(plain->model->hparams().layer_window.empty());
}

TEST(LlamaSwa, BatchedPrefillEqualsTokenByToken) {
  auto l = test::load_bytes(test::make_tiny_llama(swa_spec()));
  ASSERT_TRUE(l->model);
  const auto tokens = seq(*l->model, 62);  // the ring holds 6 + 31 = 37 of the 64 positions
  const auto one = test::run_logits(*l->model, tokens, {.batch = 1});
  for (int batch : {2, 7, 32, 33, 62}) {
    EXPECT_LE(test::max_rel_diff(test::run_logits(*l->model, tokens, {.batch = batch}), one), 1e-5) << batch;
    EXPECT_EQ(test::run_logits(*l->model, tokens, {.batch = batch}),
              test::run_logits(*l->model, tokens, {.batch = batch, .windowed_cache = false}))
        << batch;
  }
}

TEST(LlamaSwa, EachLayerReachesWindowMinusOneFurther) {
  // Token t0 reaches position p through L local layers exactly when 0 <= p - t0 <= L (window - 1).
  for (int n_layer : {1, 2, 3}) {
    auto l = test::load_bytes(test::make_tiny_llama(swa_spec(kWindow, n_layer)));
    ASSERT_TRUE(l->model);
    const auto tokens = seq(*l->model, 40);
    for (int t0 : {0, 9}) {
      const std::vector<bool> seen = test::influenced_by(*l->model, tokens, t0);
      for (int p = 0; p < 40; ++p) {
        EXPECT_EQ(seen[p], p >= t0 && p - t0 <= n_layer * (kWindow - 1))
            << n_layer << " layers, token " << t0 << ", position " << p;
      }
    }
  }
}

TEST(LlamaSwa, WindowWiderThanTheSequenceIsFullAttention) {
  auto wide = test::load_bytes(test::make_tiny_llama(swa_spec(1000)));
  auto full = test::load_bytes(test::make_tiny_llama({}));
  ASSERT_TRUE(wide->model && full->model);
  const auto tokens = seq(*full->model, 30);
  EXPECT_EQ(test::run_logits(*wide->model, tokens, {.batch = 7}),
            test::run_logits(*full->model, tokens, {.batch = 7}));
  // and a window narrower than the sequence is not
  auto narrow = test::load_bytes(test::make_tiny_llama(swa_spec()));
  ASSERT_TRUE(narrow->model);
  EXPECT_GT(
      test::max_rel_diff(test::run_logits(*narrow->model, tokens), test::run_logits(*full->model, tokens)),
      1e-3);
}

TEST(LlamaSwa, CacheKeepsOnlyTheWindow) {
  auto l = test::load_bytes(test::make_tiny_llama(swa_spec()));
  ASSERT_TRUE(l->model);
  const auto& hp = l->model->hparams();
  const size_t kv_dim = static_cast<size_t>(hp.n_head_kv * hp.head_dim);
  auto cache = KvCache::create(hp.n_layer, 32768, static_cast<int>(kv_dim), DType::F16, hp.layer_window);
  ASSERT_TRUE(cache.ok());
  EXPECT_EQ(cache->bytes(), 2 * 2 * kv_dim * 2 * (kWindow + KvCache::kRingChunk - 1));
}

TEST(LlamaSwa, RefusesACacheThatCannotHoldTheWindow) {
  auto l = test::load_bytes(test::make_tiny_llama(swa_spec()));
  auto plain = test::load_bytes(test::make_tiny_llama({}));
  ASSERT_TRUE(l->model && plain->model);
  ThreadPool pool(1);
  const nn::Compute c{kernels::active(), pool};
  const auto& hp = l->model->hparams();
  const int kv_dim = hp.n_head_kv * hp.head_dim;
  std::vector<float> logits(hp.n_vocab);
  const int32_t token[1] = {5}, pos[1] = {0};

  const std::vector<int> narrower = {kWindow - 1, kWindow - 1};
  auto small = KvCache::create(hp.n_layer, 64, kv_dim, DType::F16, narrower);
  ASSERT_TRUE(small.ok());
  auto st = l->model->forward(c, token, pos, 1, *small, false, logits.data());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("keeps a window of 5 positions in layer 0, which attends to 6"),
            std::string::npos)
      << st.error().message;

  // A ring cache under a model whose layers attend to everything.
  auto ring = KvCache::create(hp.n_layer, 64, kv_dim, DType::F16, hp.layer_window);
  ASSERT_TRUE(ring.ok());
  st = plain->model->forward(c, token, pos, 1, *ring, false, logits.data());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("which attends to the whole context"), std::string::npos)
      << st.error().message;

  auto wrong_layers = KvCache::create(hp.n_layer + 1, 64, kv_dim, DType::F16);
  ASSERT_TRUE(wrong_layers.ok());
  st = l->model->forward(c, token, pos, 1, *wrong_layers, false, logits.data());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("the KV cache has 3 layers"), std::string::npos) << st.error().message;
}

}  // namespace
}  // namespace minnow
