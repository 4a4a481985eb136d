// Session::eval refuses what it cannot do with a clear error: no tokens, a context overflow,
// all-position logits too large to hold; and works again afterwards. generate reuses the
// context's common prefix with the new prompt and answers as a fresh session would.
// prompt_logprobs scores each token as a fresh evaluation of those before it does.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <span>

#include "minnow/engine.h"
#include "tiny_model.h"

namespace minnow {
namespace {

Result<std::shared_ptr<Model>> load_tiny(int sliding_window = 0, const std::string& isa = "") {
  test::TinyLlamaSpec spec;
  spec.sliding_window = sliding_window;
  const auto bytes = test::make_tiny_llama(spec);
  const std::string path = (std::filesystem::temp_directory_path() / ("minnow_sess_" + std::to_string(getpid()))).string();
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  auto m = Model::load(path, LoadOptions{.n_threads = 1, .isa = isa, .chat_template = "", .repack = true});
  std::filesystem::remove(path);
  return m;
}

TEST(Session, RefusesWhatItCannotHold) {
  auto m = load_tiny();
  ASSERT_TRUE(m.ok()) << m.error().message;
  auto s = (*m)->new_session(SessionOptions{.n_ctx = 16, .kv_f32 = false, .n_batch = 8});
  ASSERT_TRUE(s.ok()) << s.error().message;

  EXPECT_NE((*s)->eval({}, false).error().message.find("no tokens"), std::string::npos);
  const std::vector<int32_t> many(20, 5);
  EXPECT_NE((*s)->eval(many, false).error().message.find("context full"), std::string::npos);
  // 2^28 floats of logits is the bound: this asks for more, and is refused before any work.
  const std::vector<int32_t> huge(static_cast<size_t>((int64_t{1} << 28) / (*m)->info().n_vocab + 1), 5);
  EXPECT_NE((*s)->eval(huge, true).error().message.find("exceed 1 GiB"), std::string::npos);

  const std::vector<int32_t> ok(16, 5);
  ASSERT_TRUE((*s)->eval(ok, true).ok());
  EXPECT_EQ((*s)->n_past(), 16);
  EXPECT_EQ((*s)->logits(15).size(), static_cast<size_t>((*m)->info().n_vocab));
  EXPECT_TRUE((*s)->logits(16).empty());
}

TEST(Session, IsaByName) {
  auto scalar = load_tiny(0, "scalar");
  ASSERT_TRUE(scalar.ok()) << scalar.error().message;
  EXPECT_EQ((*scalar)->info().isa, "scalar");
  auto unknown = load_tiny(0, "avx9000");
  ASSERT_FALSE(unknown.ok());
  // The error names the request and every kernel set minnow knows.
  for (const char* s : {"avx9000", "scalar", "avx2", "avx512", "amx"})
    EXPECT_NE(unknown.error().message.find(s), std::string::npos) << unknown.error().message;
}

// Greedy text and stats of generating from prompt in session s.
std::pair<std::string, GenerateStats> greedy(Session& s, const std::vector<int32_t>& prompt, int n) {
  GenerateOptions o;
  o.sampling.temperature = 0;
  o.num_predict = n;
  std::string text;
  auto st = s.generate(prompt, o, [&](std::string_view t) {
    text += t;
    return true;
  });
  EXPECT_TRUE(st.ok()) << st.error().message;
  return {text, st.ok() ? *st : GenerateStats{}};
}

// Greedy generation with options o, collecting the pieces' text and tokens.
struct Pieces {
  std::string text;
  std::vector<GeneratedToken> tokens;
  GenerateStats stats;
};
Pieces generate_pieces(Session& s, const std::vector<int32_t>& prompt, const GenerateOptions& o) {
  Pieces out;
  auto st = s.generate(prompt, o, [&](const GeneratedPiece& p) {
    out.text += p.text;
    out.tokens.insert(out.tokens.end(), p.tokens.begin(), p.tokens.end());
    return true;
  });
  EXPECT_TRUE(st.ok()) << st.error().message;
  if (st.ok()) out.stats = *st;
  return out;
}

TEST(Session, StopStringsEndTheOutputBeforeThem) {
  auto m = load_tiny();
  ASSERT_TRUE(m.ok()) << m.error().message;
  auto s = (*m)->new_session(SessionOptions{.n_ctx = 128, .kv_f32 = true, .n_batch = 512});
  ASSERT_TRUE(s.ok());
  const std::vector<int32_t> prompt = {1, 260, 261, 262};
  auto [full, st] = greedy(**s, prompt, 24);
  ASSERT_GE(full.size(), 12u) << full;
  // A stop string taken from the middle of the free output: the output ends just before its
  // first occurrence.
  const std::string stop = full.substr(full.size() / 2, 3);
  GenerateOptions o;
  o.sampling.temperature = 0;
  o.num_predict = 24;
  o.stop = {"never appears \x01", stop};
  const Pieces cut = generate_pieces(**s, prompt, o);
  EXPECT_EQ(cut.text, full.substr(0, full.find(stop)));
  EXPECT_EQ(cut.stats.done_reason, "stop");
  EXPECT_LT(cut.stats.generated_tokens, 24);
  // Stop strings that never occur change nothing.
  o.stop = {"never appears \x01"};
  const Pieces same = generate_pieces(**s, prompt, o);
  EXPECT_EQ(same.text, full);
  EXPECT_EQ(same.stats.done_reason, st.done_reason);
}

TEST(Session, LogprobsAreTheModelsLogSoftmax) {
  auto m = load_tiny();
  ASSERT_TRUE(m.ok()) << m.error().message;
  auto s = (*m)->new_session(SessionOptions{.n_ctx = 128, .kv_f32 = true, .n_batch = 512});
  ASSERT_TRUE(s.ok());
  const std::vector<int32_t> prompt = {1, 260, 261, 262};
  GenerateOptions o;
  o.sampling.temperature = 0;
  o.num_predict = 8;
  o.logprobs = true;
  o.top_logprobs = 3;
  const Pieces p = generate_pieces(**s, prompt, o);
  ASSERT_EQ(p.tokens.size(), 8u);
  for (const GeneratedToken& t : p.tokens) {
    EXPECT_EQ(t.text, (*m)->token_to_piece(t.id));
    ASSERT_EQ(t.top.size(), 3u);
    // Greedy picks the likeliest token; alternatives come likeliest first; probabilities sum
    // to at most 1.
    EXPECT_EQ(t.top[0].id, t.id);
    EXPECT_FLOAT_EQ(t.top[0].logprob, t.logprob);
    EXPECT_LE(t.logprob, 0.0f);
    EXPECT_GE(t.top[0].logprob, t.top[1].logprob);
    EXPECT_GE(t.top[1].logprob, t.top[2].logprob);
    EXPECT_LE(std::exp(t.top[0].logprob) + std::exp(t.top[1].logprob) + std::exp(t.top[2].logprob), 1.0 + 1e-6);
  }

  // The first token's logprob from the logits of the prompt, computed here in double.
  auto fresh = (*m)->new_session(SessionOptions{.n_ctx = 128, .kv_f32 = true, .n_batch = 512});
  ASSERT_TRUE(fresh.ok());
  ASSERT_TRUE((*fresh)->eval(prompt, false).ok());
  const auto lg = (*fresh)->logits(0);
  double mx = -1e30, z = 0;
  for (float x : lg) mx = std::max(mx, static_cast<double>(x));
  for (float x : lg) z += std::exp(x - mx);
  EXPECT_NEAR(p.tokens[0].logprob, lg[p.tokens[0].id] - mx - std::log(z), 1e-5);

  // Without logprobs the tokens still come, with no alternatives; out-of-range requests fail.
  o.logprobs = false;
  o.top_logprobs = 0;
  const Pieces plain = generate_pieces(**s, prompt, o);
  EXPECT_EQ(plain.text, p.text);
  ASSERT_EQ(plain.tokens.size(), 8u);
  EXPECT_TRUE(plain.tokens[0].top.empty());
  o.top_logprobs = kMaxTopLogprobs + 1;
  auto bad = (*s)->generate(prompt, o, [](std::string_view) { return true; });
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("top_logprobs"), std::string::npos);
}

// log softmax(logits)[id], in double.
double log_softmax_at(std::span<const float> logits, int32_t id) {
  double mx = -1e30, z = 0;
  for (float x : logits) mx = std::max(mx, static_cast<double>(x));
  for (float x : logits) z += std::exp(x - mx);
  return logits[static_cast<size_t>(id)] - mx - std::log(z);
}

TEST(Session, PromptLogprobsScoreEachTokenGivenThoseBefore) {
  auto m = load_tiny();
  ASSERT_TRUE(m.ok()) << m.error().message;
  // n_batch 3: the prompt is scored in chunks, and a chunk's last row scores the next chunk's first token.
  auto s = (*m)->new_session(SessionOptions{.n_ctx = 128, .kv_f32 = true, .n_batch = 3});
  ASSERT_TRUE(s.ok());
  const std::string text = "the heron ate";
  auto tokens = (*m)->tokenize(text, true, false);
  ASSERT_TRUE(tokens.ok());
  ASSERT_GE(tokens->size(), 7u);
  auto lp = (*s)->prompt_logprobs(*tokens, 3);
  ASSERT_TRUE(lp.ok()) << lp.error().message;
  ASSERT_EQ(lp->size(), tokens->size());
  EXPECT_EQ((*s)->n_past(), static_cast<int>(tokens->size()));
  // The first token (BOS) has nothing before it; its text, a control token's, is empty.
  EXPECT_EQ((*lp)[0].id, 1);
  EXPECT_EQ((*lp)[0].logprob, 0.0f);
  EXPECT_TRUE((*lp)[0].top.empty());
  EXPECT_EQ((*lp)[0].text, "");
  std::string joined;
  for (const GeneratedToken& t : *lp) joined += t.text;
  EXPECT_EQ(joined, text);
  // Every other token against the last row of a fresh evaluation of the tokens before it.
  auto fresh = (*m)->new_session(SessionOptions{.n_ctx = 128, .kv_f32 = true, .n_batch = 512});
  ASSERT_TRUE(fresh.ok());
  for (size_t i = 1; i < tokens->size(); ++i) {
    const GeneratedToken& t = (*lp)[i];
    EXPECT_EQ(t.id, (*tokens)[i]);
    (*fresh)->reset();
    ASSERT_TRUE((*fresh)->eval(std::span<const int32_t>(*tokens).first(i), false).ok());
    const auto lg = (*fresh)->logits(0);
    EXPECT_NEAR(t.logprob, log_softmax_at(lg, t.id), 1e-4) << i;
    ASSERT_EQ(t.top.size(), 3u);
    EXPECT_EQ(t.top[0].id, static_cast<int32_t>(std::max_element(lg.begin(), lg.end()) - lg.begin()));
    EXPECT_GE(t.top[0].logprob, t.logprob);
    EXPECT_GE(t.top[0].logprob, t.top[1].logprob);
    EXPECT_GE(t.top[1].logprob, t.top[2].logprob);
    EXPECT_LE(t.top[0].logprob, 0.0f);
  }

  // Scoring a prompt and its greedy continuation gives the continuation the logprobs its
  // generation reported.
  GenerateOptions o;
  o.sampling.temperature = 0;
  o.num_predict = 6;
  o.logprobs = true;
  const Pieces gen = generate_pieces(**fresh, *tokens, o);
  ASSERT_EQ(gen.tokens.size(), 6u);
  std::vector<int32_t> both = *tokens;
  for (const GeneratedToken& t : gen.tokens) both.push_back(t.id);
  auto scored = (*s)->prompt_logprobs(both, 0);
  ASSERT_TRUE(scored.ok()) << scored.error().message;
  for (size_t k = 0; k < gen.tokens.size(); ++k) {
    const GeneratedToken& t = (*scored)[tokens->size() + k];
    EXPECT_EQ(t.text, gen.tokens[k].text);
    EXPECT_NEAR(t.logprob, gen.tokens[k].logprob, 1e-4) << k;
    EXPECT_TRUE(t.top.empty());
  }

  EXPECT_NE((*s)->prompt_logprobs({}, 0).error().message.find("no tokens"), std::string::npos);
  EXPECT_NE((*s)->prompt_logprobs(*tokens, kMaxTopLogprobs + 1).error().message.find("top_logprobs"),
            std::string::npos);
  const std::vector<int32_t> many(129, 5);
  EXPECT_NE((*s)->prompt_logprobs(many, 0).error().message.find("longer than the context"), std::string::npos);
  const std::vector<int32_t> outside = {1, static_cast<int32_t>((*m)->info().n_vocab)};
  EXPECT_FALSE((*s)->prompt_logprobs(outside, 0).ok());
}

TEST(Session, GenerateReusesTheCommonPrefix) {
  auto m = load_tiny();
  ASSERT_TRUE(m.ok()) << m.error().message;
  auto chat = (*m)->new_session(SessionOptions{.n_ctx = 128, .kv_f32 = true, .n_batch = 512});
  ASSERT_TRUE(chat.ok());
  const std::vector<int32_t> turn1 = {1, 260, 261, 262, 263, 264, 265};
  auto [a1, s1] = greedy(**chat, turn1, 6);
  EXPECT_EQ(s1.prompt_cached_tokens, 0);
  EXPECT_EQ((*chat)->n_past(), 7 + 5);  // the prompt and every answer token but the last

  // The next turn: the first prompt, its answer's tokens, new tokens. Only the new part and
  // the last answer token (never evaluated) are computed.
  std::vector<int32_t> turn2 = turn1;
  auto answer = (*m)->tokenize(a1, false, false);
  ASSERT_TRUE(answer.ok());
  turn2.insert(turn2.end(), answer->begin(), answer->end());
  turn2.insert(turn2.end(), {270, 271, 272});
  auto [a2, s2] = greedy(**chat, turn2, 6);
  EXPECT_GE(s2.prompt_cached_tokens, 7);
  EXPECT_EQ(s2.prompt_tokens, static_cast<int>(turn2.size()));

  auto fresh = (*m)->new_session(SessionOptions{.n_ctx = 128, .kv_f32 = true, .n_batch = 512});
  ASSERT_TRUE(fresh.ok());
  auto [f2, fs2] = greedy(**fresh, turn2, 6);
  EXPECT_EQ(fs2.prompt_cached_tokens, 0);
  EXPECT_EQ(a2, f2);

  // A prompt that diverges early keeps only the shared start; the same prompt again keeps
  // all but its last token.
  auto [a3, s3] = greedy(**chat, {1, 260, 280, 281}, 4);
  EXPECT_EQ(s3.prompt_cached_tokens, 2);
  auto [a4, s4] = greedy(**chat, {1, 260, 280, 281}, 4);
  EXPECT_EQ(s4.prompt_cached_tokens, 3);
  EXPECT_EQ(a3, a4);
  (*chat)->reset();
  auto [a5, s5] = greedy(**chat, {1, 260, 280, 281}, 4);
  EXPECT_EQ(s5.prompt_cached_tokens, 0);
  EXPECT_EQ(a5, a3);
}

// With a sliding window (a ring cache), a short rewind reuses the context; one further back
// than the ring still holds starts over. Either way the answer is a fresh session's.
TEST(Session, PrefixReuseWithASlidingWindow) {
  auto m = load_tiny(/*sliding_window=*/4);
  ASSERT_TRUE(m.ok()) << m.error().message;
  const SessionOptions so{.n_ctx = 128, .kv_f32 = true, .n_batch = 512};
  auto chat = (*m)->new_session(so);
  auto fresh = (*m)->new_session(so);
  ASSERT_TRUE(chat.ok() && fresh.ok());
  std::vector<int32_t> prompt = {1};
  for (int i = 0; i < 50; ++i) prompt.push_back(260 + i % 30);
  auto [a1, s1] = greedy(**chat, prompt, 10);
  EXPECT_EQ((*chat)->n_past(), 51 + 9);

  prompt.push_back(270);  // the same start, one token more: only the tail is evaluated
  auto [a2, s2] = greedy(**chat, prompt, 5);
  auto [f2, fs2] = greedy(**fresh, prompt, 5);
  EXPECT_EQ(s2.prompt_cached_tokens, 51);
  EXPECT_EQ(a2, f2);

  prompt[3] = 290;  // differs near the start: the ring no longer holds what a rewind needs
  auto [a3, s3] = greedy(**chat, prompt, 5);
  (*fresh)->reset();
  auto [f3, fs3] = greedy(**fresh, prompt, 5);
  EXPECT_EQ(s3.prompt_cached_tokens, 0);
  EXPECT_EQ(a3, f3);
}

// A model loaded from a mapped file with its weights repacked for the best kernels (file pages
// dropped, a tied token_embd's rows faulted back per lookup) gives the logits of the same file
// loaded without repacking, bit for bit, for a prompt batch and then token by token.
TEST(Session, RepackedLogitsEqualUnpacked) {
  for (const DType wtype : {DType::Q8_0, DType::Q4_0}) {
    test::TinyLlamaSpec spec;
    spec.wtype = wtype;
    spec.tied = wtype == DType::Q8_0;
    const auto bytes = test::make_tiny_llama(spec);
    const std::string path =
        (std::filesystem::temp_directory_path() / ("minnow_repack_" + std::to_string(getpid()))).string();
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    std::vector<std::vector<float>> logits[2];
    for (const bool repack : {false, true}) {
      auto m = Model::load(path, LoadOptions{.n_threads = 2, .isa = "", .chat_template = "", .repack = repack});
      ASSERT_TRUE(m.ok()) << m.error().message;
      auto s = (*m)->new_session(SessionOptions{.n_ctx = 64, .kv_f32 = false, .n_batch = 512});
      ASSERT_TRUE(s.ok()) << s.error().message;
      const std::vector<int32_t> prompt = {1, 260, 45, 270, 101, 3, 280, 7, 290, 33, 120, 64};
      ASSERT_TRUE((*s)->eval(prompt, true).ok());
      for (size_t i = 0; i < prompt.size(); ++i) {
        const auto row = (*s)->logits(static_cast<int64_t>(i));
        logits[repack].emplace_back(row.begin(), row.end());
      }
      for (const int32_t t : {5, 77, 200, 18}) {
        ASSERT_TRUE((*s)->eval(std::vector<int32_t>{t}, false).ok());
        const auto row = (*s)->logits(0);
        logits[repack].emplace_back(row.begin(), row.end());
      }
    }
    std::filesystem::remove(path);
    ASSERT_EQ(logits[0].size(), logits[1].size());
    for (size_t i = 0; i < logits[0].size(); ++i)
      EXPECT_EQ(std::memcmp(logits[0][i].data(), logits[1][i].data(), logits[0][i].size() * sizeof(float)), 0)
          << dtype_name(wtype) << " position " << i;
  }
}

}  // namespace
}  // namespace minnow
