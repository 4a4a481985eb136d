// BatchGenerator: many calls at once on one model, each answered as a fresh Session answers it
// alone (text, tokens, log-probabilities bit for bit, stats), for tiny llama (float and q4_0) and
// gemma3 (sliding window) models on every kernel set this CPU has; a call that stops leaves the
// others as they were; calls beyond the slots wait their turn; a slot's kept tokens are reused
// by the next prompt sharing them (prompt_cached_tokens) with the result of starting over;
// errors go to their own call only.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <thread>

#include "kernels/kernel_table.h"
#include "minnow/engine.h"
#include "tiny_gemma.h"
#include "tiny_model.h"

namespace minnow {
namespace {

enum class Tiny { kLlama, kLlamaQ4, kGemma3 };

std::shared_ptr<Model> load(Tiny kind, const std::string& isa = "") {
  std::vector<uint8_t> bytes;
  if (kind == Tiny::kGemma3) {
    test::TinyGemmaSpec s;
    s.wtype = DType::Q8_0;  // window 8: a ring of 39 rows
    bytes = test::make_tiny_gemma(s);
  } else {
    test::TinyLlamaSpec s;
    s.wtype = kind == Tiny::kLlamaQ4 ? DType::Q4_0 : DType::F32;
    s.zero_output_rows = {2};  // no end of generation under greedy decoding: long runs stay long
    bytes = test::make_tiny_llama(s);
  }
  const std::string path =
      (std::filesystem::temp_directory_path() / ("minnow_batch_" + std::to_string(getpid()))).string();
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  auto m = Model::load(path, LoadOptions{.n_threads = 2, .isa = isa, .chat_template = "", .repack = true});
  std::filesystem::remove(path);
  EXPECT_TRUE(m.ok()) << m.error().message;
  return m.ok() ? *m : nullptr;
}

// What a call hands on, and its stats.
struct Outcome {
  std::vector<std::string> pieces;
  std::vector<GeneratedToken> tokens;
  GenerateStats stats;
  std::string error;
};

void expect_same(const Outcome& got, const Outcome& want, const std::string& what) {
  EXPECT_EQ(got.error, want.error) << what;
  EXPECT_EQ(got.pieces, want.pieces) << what;
  ASSERT_EQ(got.tokens.size(), want.tokens.size()) << what;
  for (size_t i = 0; i < want.tokens.size(); ++i) {
    const GeneratedToken &a = got.tokens[i], &b = want.tokens[i];
    EXPECT_EQ(a.id, b.id) << what << " token " << i;
    EXPECT_EQ(std::memcmp(&a.logprob, &b.logprob, sizeof(float)), 0) << what << " token " << i;
    ASSERT_EQ(a.top.size(), b.top.size()) << what << " token " << i;
    for (size_t j = 0; j < a.top.size(); ++j) {
      EXPECT_EQ(a.top[j].id, b.top[j].id) << what << " token " << i;
      EXPECT_EQ(std::memcmp(&a.top[j].logprob, &b.top[j].logprob, sizeof(float)), 0) << what << " token " << i;
    }
  }
  EXPECT_EQ(got.stats.generated_tokens, want.stats.generated_tokens) << what;
  EXPECT_EQ(got.stats.done_reason, want.stats.done_reason) << what;
  EXPECT_EQ(got.stats.prompt_tokens, want.stats.prompt_tokens) << what;
}

// Collects pieces; after stop_after pieces (if >= 0) answers false.
std::function<bool(const GeneratedPiece&)> collector(Outcome& o, int stop_after = -1) {
  return [&o, stop_after](const GeneratedPiece& p) {
    o.pieces.emplace_back(p.text);
    o.tokens.insert(o.tokens.end(), p.tokens.begin(), p.tokens.end());
    return stop_after < 0 || static_cast<int>(o.pieces.size()) < stop_after;
  };
}

Outcome alone(Model& m, int n_ctx, const std::vector<int32_t>& prompt, const GenerateOptions& o, int stop_after = -1) {
  Outcome out;
  auto s = m.new_session(SessionOptions{.n_ctx = n_ctx, .kv_f32 = false, .n_batch = 512});
  EXPECT_TRUE(s.ok());
  if (!s.ok()) return out;
  auto st = (*s)->generate(prompt, o, collector(out, stop_after));
  if (st.ok()) out.stats = *st;
  else out.error = st.error().message;
  return out;
}

Outcome batched(BatchGenerator& g, const std::vector<int32_t>& prompt, const GenerateOptions& o, int stop_after = -1) {
  Outcome out;
  auto st = g.generate(prompt, o, collector(out, stop_after));
  if (st.ok()) out.stats = *st;
  else out.error = st.error().message;
  return out;
}

std::vector<int32_t> prompt_of(int n, int n_vocab, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int32_t> d(3, n_vocab - 1);
  std::vector<int32_t> p = {1};
  while (static_cast<int>(p.size()) < n) p.push_back(d(rng));
  return p;
}

GenerateOptions greedy(int n) {
  GenerateOptions o;
  o.sampling.temperature = 0;
  o.num_predict = n;
  return o;
}

constexpr int kCtx = 64;

// A mix of requests: greedy and sampled, logprobs, penalties, stop strings, num_predict 0,
// and one that runs until the context is full.
struct Call {
  std::vector<int32_t> prompt;
  GenerateOptions options;
};
std::vector<Call> mixed_calls(int n_vocab) {
  std::vector<Call> calls;
  calls.push_back({prompt_of(5, n_vocab, 1), greedy(20)});
  GenerateOptions sampled;
  sampled.sampling.temperature = 0.9f;
  sampled.sampling.top_k = 20;
  sampled.sampling.seed = 7;
  sampled.num_predict = 16;
  sampled.logprobs = true;
  sampled.top_logprobs = 2;
  calls.push_back({prompt_of(17, n_vocab, 2), sampled});
  calls.push_back({prompt_of(30, n_vocab, 3), greedy(-1)});  // until the context is full
  GenerateOptions penalized;
  penalized.sampling.temperature = 1.2f;
  penalized.sampling.seed = 3;
  penalized.sampling.repeat_penalty = 1.3f;
  penalized.num_predict = 12;
  calls.push_back({prompt_of(1, n_vocab, 4), penalized});
  GenerateOptions stops = greedy(24);
  stops.stop = {"in", "on", "e"};
  calls.push_back({prompt_of(9, n_vocab, 5), stops});
  calls.push_back({prompt_of(12, n_vocab, 6), greedy(0)});
  calls.push_back({prompt_of(40, n_vocab, 8), greedy(10)});
  return calls;
}

class Batch : public testing::TestWithParam<std::tuple<Tiny, kernels::Isa>> {};

TEST_P(Batch, ConcurrentCallsAnswerAsEachAlone) {
  const auto [kind, isa] = GetParam();
  if (!kernels::isa_available(isa)) GTEST_SKIP() << kernels::isa_name(isa) << " not available on this CPU";
  auto m = load(kind, kernels::isa_name(isa));
  ASSERT_TRUE(m);
  const std::vector<Call> calls = mixed_calls(static_cast<int>(m->info().n_vocab));
  std::vector<Outcome> want;
  for (const Call& c : calls) want.push_back(alone(*m, kCtx, c.prompt, c.options));
  EXPECT_EQ(want[2].stats.done_reason, "length");  // the context filled up
  EXPECT_EQ(want[5].stats.generated_tokens, 0);

  // Three slots for seven calls, eight tokens per step: prompts go in chunks beside others'
  // decoding, and calls join at different steps.
  auto g = BatchGenerator::create(m, BatchOptions{.n_slots = 3, .n_ctx = kCtx, .n_batch = 8});
  ASSERT_TRUE(g.ok()) << g.error().message;
  for (int round = 0; round < 2; ++round) {  // the second with the slots' kept tokens
    std::vector<Outcome> got(calls.size());
    std::vector<std::thread> threads;
    for (size_t i = 0; i < calls.size(); ++i) {
      threads.emplace_back([&, i] {
        std::this_thread::sleep_for(std::chrono::microseconds(300 * i));
        got[i] = batched(**g, calls[i].prompt, calls[i].options);
      });
    }
    for (std::thread& t : threads) t.join();
    for (size_t i = 0; i < calls.size(); ++i) expect_same(got[i], want[i], "call " + std::to_string(i));
  }
  EXPECT_EQ((*g)->running(), 0);
  EXPECT_EQ((*g)->waiting(), 0);
}

TEST_P(Batch, StoppingOneCallLeavesTheOthers) {
  const auto [kind, isa] = GetParam();
  if (!kernels::isa_available(isa)) GTEST_SKIP() << kernels::isa_name(isa) << " not available on this CPU";
  auto m = load(kind, kernels::isa_name(isa));
  ASSERT_TRUE(m);
  const int n_vocab = static_cast<int>(m->info().n_vocab);
  std::vector<Call> calls;
  for (int i = 0; i < 4; ++i) calls.push_back({prompt_of(4 + 5 * i, n_vocab, 20 + i), greedy(24)});
  constexpr size_t kStopper = 1;
  constexpr int kStopAfter = 3;
  std::vector<Outcome> want;
  for (size_t i = 0; i < calls.size(); ++i)
    want.push_back(alone(*m, kCtx, calls[i].prompt, calls[i].options, i == kStopper ? kStopAfter : -1));
  ASSERT_EQ(want[kStopper].pieces.size(), static_cast<size_t>(kStopAfter));
  EXPECT_EQ(want[kStopper].stats.done_reason, "stop");

  auto g = BatchGenerator::create(m, BatchOptions{.n_slots = 4, .n_ctx = kCtx, .n_batch = 16});
  ASSERT_TRUE(g.ok()) << g.error().message;
  std::vector<Outcome> got(calls.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < calls.size(); ++i) {
    threads.emplace_back([&, i] {
      const std::thread::id caller = std::this_thread::get_id();
      Outcome& o = got[i];
      auto collect = collector(o, i == kStopper ? kStopAfter : -1);
      auto st = (*g)->generate(calls[i].prompt, calls[i].options, [&](const GeneratedPiece& p) {
        EXPECT_EQ(std::this_thread::get_id(), caller);  // on_piece runs on the calling thread
        return collect(p);
      });
      if (st.ok()) o.stats = *st;
      else o.error = st.error().message;
    });
  }
  for (std::thread& t : threads) t.join();
  for (size_t i = 0; i < calls.size(); ++i) expect_same(got[i], want[i], "call " + std::to_string(i));
}

TEST_P(Batch, CallsBeyondTheSlotsWait) {
  const auto [kind, isa] = GetParam();
  if (kind == Tiny::kGemma3) GTEST_SKIP() << "the llama models stand for this";
  if (!kernels::isa_available(isa)) GTEST_SKIP() << kernels::isa_name(isa) << " not available on this CPU";
  auto m = load(kind, kernels::isa_name(isa));
  ASSERT_TRUE(m);
  const int n_vocab = static_cast<int>(m->info().n_vocab);
  constexpr int kLongCtx = 512;
  // Two long calls (greedy, and no end of generation: they run to the full context) hold both
  // slots while four more arrive.
  std::vector<Call> calls;
  for (int i = 0; i < 2; ++i) calls.push_back({prompt_of(3 + i, n_vocab, 40 + i), greedy(-1)});
  for (int i = 0; i < 4; ++i) calls.push_back({prompt_of(6 + i, n_vocab, 50 + i), greedy(8)});
  std::vector<Outcome> want;
  for (const Call& c : calls) want.push_back(alone(*m, kLongCtx, c.prompt, c.options));
  ASSERT_EQ(want[0].stats.generated_tokens, kLongCtx - 3 + 1);

  auto g = BatchGenerator::create(m, BatchOptions{.n_slots = 2, .n_ctx = kLongCtx, .n_batch = 512});
  ASSERT_TRUE(g.ok()) << g.error().message;
  std::vector<Outcome> got(calls.size());
  std::atomic<int> most_running{0};
  std::vector<std::thread> threads;
  auto start = [&](size_t i) {
    threads.emplace_back([&, i] {
      Outcome& o = got[i];
      auto collect = collector(o);
      auto st = (*g)->generate(calls[i].prompt, calls[i].options, [&](const GeneratedPiece& p) {
        const int seen = (*g)->running();
        int most = most_running;
        while (seen > most && !most_running.compare_exchange_weak(most, seen)) {
        }
        return collect(p);
      });
      if (st.ok()) o.stats = *st;
      else o.error = st.error().message;
    });
  };
  start(0);
  start(1);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while ((*g)->running() < 2 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  for (size_t i = 2; i < calls.size(); ++i) start(i);
  int most_waiting = 0;
  while (most_waiting < 4 && std::chrono::steady_clock::now() < deadline) {
    most_waiting = std::max(most_waiting, (*g)->waiting());
    std::this_thread::yield();
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(most_waiting, 4);
  EXPECT_LE(most_running.load(), 2);
  for (size_t i = 0; i < calls.size(); ++i) expect_same(got[i], want[i], "call " + std::to_string(i));
}

std::vector<kernels::Isa> isas() {
  return {kernels::all_isas().begin(), kernels::all_isas().end()};
}

INSTANTIATE_TEST_SUITE_P(Engine, Batch,
                         testing::Combine(testing::Values(Tiny::kLlama, Tiny::kLlamaQ4, Tiny::kGemma3),
                                          testing::ValuesIn(isas())),
                         [](const testing::TestParamInfo<std::tuple<Tiny, kernels::Isa>>& i) {
                           const Tiny k = std::get<0>(i.param);
                           return std::string(k == Tiny::kLlama ? "llama" : k == Tiny::kLlamaQ4 ? "llama_q4_0" : "gemma3") +
                                  "_" + kernels::isa_name(std::get<1>(i.param));
                         });

// A second prompt sharing a system prompt with the first evaluates only what follows it; the
// same prompt again only its last token; the answers are a fresh session's.
TEST(BatchPrefixCache, ReusesASharedSystemPrompt) {
  auto m = load(Tiny::kLlama);
  ASSERT_TRUE(m);
  const int n_vocab = static_cast<int>(m->info().n_vocab);
  const std::vector<int32_t> system = prompt_of(20, n_vocab, 60);
  auto with = [&](uint64_t seed) {
    std::vector<int32_t> p = system;
    p.push_back(static_cast<int32_t>(3 + seed));  // the questions differ from their first token
    const std::vector<int32_t> q = prompt_of(6, n_vocab, seed);
    p.insert(p.end(), q.begin() + 1, q.end());
    return p;
  };
  const std::vector<int32_t> a = with(61), b = with(62);
  auto g = BatchGenerator::create(m, BatchOptions{.n_slots = 2, .n_ctx = kCtx, .n_batch = 512});
  ASSERT_TRUE(g.ok()) << g.error().message;
  const Outcome a1 = batched(**g, a, greedy(8));
  EXPECT_EQ(a1.stats.prompt_cached_tokens, 0);
  const Outcome b1 = batched(**g, b, greedy(8));
  EXPECT_EQ(b1.stats.prompt_cached_tokens, static_cast<int>(system.size()));
  const Outcome b2 = batched(**g, b, greedy(8));
  EXPECT_EQ(b2.stats.prompt_cached_tokens, static_cast<int>(b.size()) - 1);
  // An unrelated prompt takes the other (empty) slot, so the system prompt stays cached.
  const Outcome c1 = batched(**g, prompt_of(10, n_vocab, 63), greedy(4));
  EXPECT_EQ(c1.stats.prompt_cached_tokens, 0);
  const Outcome a2 = batched(**g, a, greedy(8));
  EXPECT_EQ(a2.stats.prompt_cached_tokens, static_cast<int>(system.size()));
  g->reset();

  expect_same(a1, alone(*m, kCtx, a, greedy(8)), "a");
  expect_same(a2, a1, "a again");
  expect_same(b1, alone(*m, kCtx, b, greedy(8)), "b");
  expect_same(b2, b1, "b again");
}

// With a sliding window, a slot's ring may have dropped keys a shorter prefix needs: then the
// prompt starts over; a prefix near the slot's end is reused. Either way, a fresh answer.
TEST(BatchPrefixCache, SlidingWindowReusesOnlyWhatTheRingHolds) {
  auto m = load(Tiny::kGemma3);
  ASSERT_TRUE(m);
  const int n_vocab = static_cast<int>(m->info().n_vocab);
  const std::vector<int32_t> first = prompt_of(50, n_vocab, 70);
  std::vector<int32_t> near = first;  // shares 49 tokens: the ring still holds their window
  near.back() = near.back() == 5 ? 6 : 5;
  std::vector<int32_t> far = first;  // shares 10: the ring (39 rows) has dropped that window
  far.resize(12);
  far[10] = far[10] == 5 ? 6 : 5;
  auto g = BatchGenerator::create(m, BatchOptions{.n_slots = 1, .n_ctx = kCtx, .n_batch = 512});
  ASSERT_TRUE(g.ok()) << g.error().message;
  const Outcome o1 = batched(**g, first, greedy(6));
  const Outcome o2 = batched(**g, near, greedy(6));
  EXPECT_EQ(o2.stats.prompt_cached_tokens, 49);
  const Outcome o3 = batched(**g, far, greedy(6));
  EXPECT_EQ(o3.stats.prompt_cached_tokens, 0);
  g->reset();
  expect_same(o1, alone(*m, kCtx, first, greedy(6)), "first");
  expect_same(o2, alone(*m, kCtx, near, greedy(6)), "near");
  expect_same(o3, alone(*m, kCtx, far, greedy(6)), "far");
}

// Errors are the erring call's: a prompt longer than a slot's context, an id outside the
// vocabulary, bad options, a callback that throws; the calls running meanwhile are not disturbed.
TEST(BatchErrors, GoToTheirCallOnly) {
  auto m = load(Tiny::kLlama);
  ASSERT_TRUE(m);
  const int n_vocab = static_cast<int>(m->info().n_vocab);
  const std::vector<int32_t> ok_prompt = prompt_of(8, n_vocab, 80);
  const Outcome want = alone(*m, kCtx, ok_prompt, greedy(30));
  auto g = BatchGenerator::create(m, BatchOptions{.n_slots = 2, .n_ctx = kCtx, .n_batch = 512});
  ASSERT_TRUE(g.ok()) << g.error().message;
  Outcome got;
  std::thread runner([&] { got = batched(**g, ok_prompt, greedy(30)); });
  const Outcome too_long = batched(**g, prompt_of(kCtx + 1, n_vocab, 81), greedy(4));
  EXPECT_NE(too_long.error.find("longer than the context of 64"), std::string::npos) << too_long.error;
  std::vector<int32_t> bad_id = ok_prompt;
  bad_id[3] = n_vocab;
  const Outcome outside = batched(**g, bad_id, greedy(4));
  EXPECT_NE(outside.error.find("outside the vocabulary"), std::string::npos) << outside.error;
  GenerateOptions bad_top = greedy(4);
  bad_top.top_logprobs = kMaxTopLogprobs + 1;
  EXPECT_NE(batched(**g, ok_prompt, bad_top).error.find("top_logprobs"), std::string::npos);
  EXPECT_NE(batched(**g, {}, greedy(4)).error.find("empty"), std::string::npos);
  // A callback that throws: its call ends (and rethrows) without leaving its sequence behind.
  EXPECT_THROW((void)(*g)->generate(prompt_of(6, n_vocab, 82), greedy(20),
                                    [](const GeneratedPiece&) -> bool { throw std::runtime_error("the client broke"); }),
               std::runtime_error);
  runner.join();
  expect_same(got, want, "the running call");
  EXPECT_EQ((*g)->running(), 0);
  expect_same(batched(**g, ok_prompt, greedy(30)), want, "a call after them");

  EXPECT_FALSE(BatchGenerator::create(m, BatchOptions{.n_slots = 0}).ok());
  EXPECT_FALSE(BatchGenerator::create(nullptr, BatchOptions{}).ok());
}

}  // namespace
}  // namespace minnow
