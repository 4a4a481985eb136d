// forward_batch with several sequences, each in its own KV cache: sequences of different prompt
// lengths join at different steps, their prompts go in chunks beside the others' decoding
// tokens, and each row's logits equal, bit for bit, those of its sequence run alone in one
// pass, for every architecture (llama with float, 32-block and 256-block quantized weights,
// qwen2's biases, phi3's LongRoPE, gemma2's soft-caps, gemma3's sliding window) on every kernel
// set this CPU has. A cache named twice and an empty sequence are errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "models/forward_harness.h"
#include "tiny_gemma.h"
#include "tiny_qwen2_phi3.h"

namespace minnow {
namespace {

using models::LogitRows;
using models::SeqTokens;

constexpr int kCtx = 64;

struct ModelCase {
  std::string name;
  std::vector<uint8_t> (*make)();
};

std::vector<uint8_t> llama_with(DType t) {
  test::TinyLlamaSpec s;
  s.wtype = t;
  if (dtype_info(t).block_size == 256) s.n_embd = 256, s.n_ff = 256;
  return test::make_tiny_llama(s);
}

const ModelCase kModels[] = {
    {"llama_f32", [] { return llama_with(DType::F32); }},
    {"llama_q4_0", [] { return llama_with(DType::Q4_0); }},
    {"llama_q8_0", [] { return llama_with(DType::Q8_0); }},
    {"llama_q4_k", [] { return llama_with(DType::Q4_K); }},
    {"llama_f16_wide",  // matrices large enough for the kernels' parallel paths
     [] {
       test::TinyLlamaSpec s;
       s.wtype = DType::F16;
       s.n_embd = 256, s.n_ff = 512, s.n_head = 8, s.n_head_kv = 2;
       return test::make_tiny_llama(s);
     }},
    {"mistral_window",
     [] {
       test::TinyLlamaSpec s;
       s.sliding_window = 8;
       return test::make_tiny_llama(s);
     }},
    {"qwen2_q8_0",
     [] {
       test::TinyArchSpec s;
       s.wtype = DType::Q8_0;
       return test::make_tiny_arch(s);
     }},
    {"phi3_long_rope",
     [] {
       test::TinyArchSpec s;
       s.arch = "phi3";
       s.n_rot = 8;
       s.rope_short = {1.0f, 1.5f, 2.0f, 3.0f};
       s.rope_long = {2.0f, 4.0f, 8.0f, 16.0f};
       s.n_ctx_orig = 32;  // the caches' 64 positions exceed it: the long factors apply
       s.attn_factor = 1.2f;
       return test::make_tiny_arch(s);
     }},
    {"gemma2_softcap",
     [] {
       test::TinyGemmaSpec s;
       s.arch = "gemma2";
       s.n_layer = 4;
       s.attn_softcap = 50.0f;
       s.final_softcap = 30.0f;
       return test::make_tiny_gemma(s);
     }},
    {"gemma3_window_q4_0",
     [] {
       test::TinyGemmaSpec s;
       s.wtype = DType::Q4_0;
       return test::make_tiny_gemma(s);  // window 8: a ring of 39 rows in a 64-position cache
     }},
};

// A sequence of the schedule: it joins at step `join`, its prompt goes in chunks as the step's
// token budget allows, then one token per step.
struct Plan {
  int join;
  int prompt;     // prompt tokens
  int total;      // prompt + decoded tokens
  bool all_rows;  // logits of every prompt row (else of the prompt's last row only)
};
const Plan kPlans[] = {
    {0, 13, 23, true},  // prompt in two chunks beside the others
    {0, 5, 25, false},
    {2, 40, 48, false},  // a long prompt in chunks, past gemma3's ring of 39 rows
    {5, 1, 7, false},
    {9, 20, 23, true},
};
constexpr int kStepTokens = 12;  // the batch's budget: decoding tokens first, then prompt chunks

// Each sequence's logits by position, from running the plans together.
using RowsByPos = std::map<int, std::vector<float>>;

struct Together {
  std::vector<RowsByPos> rows;
  int max_seqs_in_a_step = 0;
  bool mixed_a_step = false;  // some step held prompt chunks and decoding tokens
};

Together run_together(const models::Model& m, const kernels::KernelTable& kt,
                      const std::vector<std::vector<int32_t>>& tokens) {
  const models::HParams& hp = m.hparams();
  ThreadPool pool(2);
  nn::Scratch scratch;
  const nn::Compute c{kt, pool, nullptr, &scratch};
  const size_t n = std::size(kPlans);
  std::vector<KvCache> caches;
  for (size_t i = 0; i < n; ++i) {
    auto cache = KvCache::create(hp.n_layer, kCtx, hp.n_head_kv * hp.head_dim, DType::F16, hp.layer_window);
    EXPECT_TRUE(cache.ok()) << cache.error().message;
    if (!cache.ok()) return {};
    caches.push_back(std::move(*cache));
  }
  Together out;
  out.rows.resize(n);
  std::vector<int> fed(n, 0);
  for (int step = 0;; ++step) {
    std::vector<int32_t> batch, positions;
    std::vector<SeqTokens> seqs;
    std::vector<size_t> who;
    int budget = kStepTokens;
    bool decoding = false, prompting = false;
    // Decoding sequences first (one token each), then prompt chunks in the plans' order.
    for (int pass = 0; pass < 2; ++pass) {
      for (size_t i = 0; i < n; ++i) {
        const Plan& p = kPlans[i];
        if (step < p.join || fed[i] == p.total || (fed[i] >= p.prompt) != (pass == 0)) continue;
        const int take = pass == 0 ? 1 : std::min(p.prompt - fed[i], budget);
        if (take <= 0) continue;
        budget -= take;
        (pass == 0 ? decoding : prompting) = true;
        const bool ends_prompt = fed[i] + take >= p.prompt;
        const LogitRows want = pass == 0 ? LogitRows::kLast
                               : p.all_rows ? LogitRows::kAll
                               : ends_prompt ? LogitRows::kLast
                                             : LogitRows::kNone;
        for (int j = 0; j < take; ++j) {
          batch.push_back(tokens[i][fed[i] + j]);
          positions.push_back(fed[i] + j);
        }
        seqs.push_back({&caches[i], take, want});
        who.push_back(i);
        fed[i] += take;
      }
    }
    if (seqs.empty()) {
      bool all_done = true;
      for (size_t i = 0; i < n; ++i) all_done = all_done && fed[i] == kPlans[i].total;
      if (all_done) break;
      continue;  // a step before anyone joined
    }
    out.max_seqs_in_a_step = std::max(out.max_seqs_in_a_step, static_cast<int>(seqs.size()));
    out.mixed_a_step = out.mixed_a_step || (decoding && prompting);
    int64_t n_rows = 0;
    for (const SeqTokens& s : seqs)
      n_rows += s.logits == LogitRows::kAll ? s.n_tokens : s.logits == LogitRows::kLast ? 1 : 0;
    std::vector<float> logits(static_cast<size_t>(n_rows * hp.n_vocab), std::nanf(""));
    const Status st = m.forward_batch(c, batch.data(), positions.data(), seqs, logits.data());
    EXPECT_TRUE(st.ok()) << st.error().message;
    if (!st.ok()) return {};
    int64_t row = 0;
    for (size_t k = 0; k < seqs.size(); ++k) {
      const size_t i = who[k];
      EXPECT_EQ(caches[i].n_past(), fed[i]);
      const int64_t first = seqs[k].logits == LogitRows::kAll ? 0 : seqs[k].n_tokens - 1;
      const int64_t count = seqs[k].logits == LogitRows::kNone ? 0 : seqs[k].n_tokens - first;
      for (int64_t r = 0; r < count; ++r, ++row) {
        const int pos = fed[i] - static_cast<int>(seqs[k].n_tokens) + static_cast<int>(first + r);
        out.rows[i][pos] = test::row(logits, hp.n_vocab, static_cast<int>(row));
      }
    }
  }
  return out;
}

class BatchForward : public testing::TestWithParam<std::tuple<size_t, kernels::Isa>> {};

TEST_P(BatchForward, EachSequenceEqualsItselfAlone) {
  const auto [model_index, isa] = GetParam();
  if (!kernels::isa_available(isa)) GTEST_SKIP() << kernels::isa_name(isa) << " not available on this CPU";
  const kernels::KernelTable& kt = kernels::table(isa);
  auto l = test::load_bytes(kModels[model_index].make());
  ASSERT_TRUE(l->model);
  const models::Model& m = *l->model;
  std::vector<std::vector<int32_t>> tokens;
  for (size_t i = 0; i < std::size(kPlans); ++i)
    tokens.push_back(test::random_tokens(kPlans[i].total, m.hparams().n_vocab, 100 + i));

  const Together together = run_together(m, kt, tokens);
  ASSERT_EQ(together.rows.size(), std::size(kPlans));
  // The schedule does what it is for: steps with several sequences, prompts beside decoding.
  EXPECT_GE(together.max_seqs_in_a_step, 4);
  EXPECT_TRUE(together.mixed_a_step);
  for (size_t i = 0; i < std::size(kPlans); ++i) {
    // Alone: the whole sequence in one pass, a single sequence's forward.
    const std::vector<float> alone =
        test::run_logits(m, tokens[i], {.batch = kCtx, .n_ctx = kCtx, .kt = &kt});
    const Plan& p = kPlans[i];
    const int want_rows = (p.all_rows ? p.prompt : 1) + (p.total - p.prompt);
    EXPECT_EQ(static_cast<int>(together.rows[i].size()), want_rows) << "sequence " << i;
    for (const auto& [pos, got] : together.rows[i]) {
      const std::vector<float> want = test::row(alone, m.hparams().n_vocab, pos);
      ASSERT_EQ(std::memcmp(got.data(), want.data(), want.size() * sizeof(float)), 0)
          << "sequence " << i << " position " << pos;
    }
  }
}

std::vector<size_t> model_indices() {
  std::vector<size_t> out;
  for (size_t i = 0; i < std::size(kModels); ++i) out.push_back(i);
  return out;
}

INSTANTIATE_TEST_SUITE_P(Models, BatchForward,
                         testing::Combine(testing::ValuesIn(model_indices()),
                                          testing::ValuesIn(kernels::all_isas())),
                         [](const testing::TestParamInfo<std::tuple<size_t, kernels::Isa>>& i) {
                           return kModels[std::get<0>(i.param)].name + "_" +
                                  kernels::isa_name(std::get<1>(i.param));
                         });

TEST(BatchForwardErrors, SharedCacheAndEmptySequence) {
  auto l = test::load_bytes(llama_with(DType::F32));
  ASSERT_TRUE(l->model);
  const models::HParams& hp = l->model->hparams();
  ThreadPool pool(1);
  const nn::Compute c{kernels::active(), pool};
  auto cache = KvCache::create(hp.n_layer, kCtx, hp.n_head_kv * hp.head_dim, DType::F16);
  ASSERT_TRUE(cache.ok());
  const int32_t tokens[2] = {5, 6}, positions[2] = {0, 1};
  std::vector<float> logits(2 * static_cast<size_t>(hp.n_vocab));
  const SeqTokens twice[2] = {{&*cache, 1, LogitRows::kLast}, {&*cache, 1, LogitRows::kLast}};
  const Status shared = l->model->forward_batch(c, tokens, positions, twice, logits.data());
  ASSERT_FALSE(shared.ok());
  EXPECT_NE(shared.error().message.find("share a cache"), std::string::npos) << shared.error().message;
  const SeqTokens empty[1] = {{&*cache, 0, LogitRows::kLast}};
  const Status none = l->model->forward_batch(c, tokens, positions, empty, logits.data());
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message.find("no tokens"), std::string::npos) << none.error().message;
  EXPECT_EQ(cache->n_past(), 0);  // nothing was stored
}

}  // namespace
}  // namespace minnow
