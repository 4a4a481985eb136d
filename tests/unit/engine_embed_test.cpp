// Session::embed through the public API. Decoders (tiny llama and gemma3 models, stories260K):
// the embedding is the mean of the final normed hidden states, checked against those states
// taken another way (the last layer's output from the forward pass's trace hook, normed here);
// unit norm, deterministic, chunked like a whole pass, texts differ, cls/last pooling, too-long
// inputs refused or truncated, the context left empty. BERT (tiny random models): mean, cls and
// last pooling of the encoder's states, a batch equal to each text alone, truncation that keeps
// [SEP], dimensions, and generation refused.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "minnow/engine.h"
#include "models/forward_harness.h"
#include "test_util.h"
#include "tiny_bert.h"
#include "tiny_gemma.h"
#include "tiny_model.h"

namespace minnow {
namespace {

std::shared_ptr<Model> load_model_file(const std::string& path, int n_threads = 2) {
  auto m =
      Model::load(path, LoadOptions{.n_threads = n_threads, .isa = "", .chat_template = "", .repack = true});
  EXPECT_TRUE(m.ok()) << m.error().message;
  return m.ok() ? *m : nullptr;
}

// The model in `bytes`, loaded through the engine from a temporary file.
std::shared_ptr<Model> load_bytes_as_model(const std::vector<uint8_t>& bytes) {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("minnow_embed_" + std::to_string(getpid()) + ".gguf"))
          .string();
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  auto m = load_model_file(path);
  std::filesystem::remove(path);  // the mapping keeps the bytes
  return m;
}

std::unique_ptr<Session> new_session(Model& m, int n_ctx = 0, int n_batch = 512) {
  auto s = m.new_session(SessionOptions{.n_ctx = n_ctx, .kv_f32 = false, .n_batch = n_batch});
  EXPECT_TRUE(s.ok()) << s.error().message;
  return s.ok() ? std::move(*s) : nullptr;
}

std::vector<float> embed_text(Session& s, const std::string& text, EmbedOptions o = {}) {
  auto e = s.embed_texts({text}, o);
  EXPECT_TRUE(e.ok()) << e.error().message;
  return e.ok() ? e->front().values : std::vector<float>();
}

double norm(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += static_cast<double>(x) * x;
  return std::sqrt(s);
}

std::vector<double> normalized(std::vector<double> v) {
  double s = 0;
  for (double x : v) s += x * x;
  for (double& x : v) x /= std::sqrt(s);
  return v;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
  return worst;
}

// A decoder's final normed hidden states of tokens taken another way: the last layer's output
// ("ffn_out" from the trace hook of an ordinary logits pass), RMS-normed here in double with
// output_norm.weight.  [n_tokens][n_embd]
std::vector<std::vector<double>> traced_states(const gguf::File& file, const std::vector<int32_t>& tokens) {
  auto m = models::load_model(file, models::LoadConfig{&kernels::active(), nullptr});
  EXPECT_TRUE(m.ok()) << m.error().message;
  if (!m.ok()) return {};
  const models::HParams& hp = (*m)->hparams();
  const int E = hp.n_embd;
  std::vector<float> last_layer;
  const nn::TraceFn trace = [&](const char* name, int layer, const float* data, int64_t n) {
    if (std::strcmp(name, "ffn_out") == 0 && layer == hp.n_layer - 1) last_layer.assign(data, data + n);
  };
  ThreadPool pool(2);
  const nn::Compute c{kernels::active(), pool, &trace};
  auto cache = KvCache::create(hp.n_layer, static_cast<int>(tokens.size()), hp.n_head_kv * hp.head_dim,
                               DType::F16, hp.layer_window);
  EXPECT_TRUE(cache.ok());
  std::vector<int32_t> positions(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) positions[i] = static_cast<int32_t>(i);
  std::vector<float> logits(hp.n_vocab);
  EXPECT_TRUE((*m)->forward(c, tokens.data(), positions.data(), static_cast<int64_t>(tokens.size()), *cache,
                            false, logits.data())
                  .ok());
  const gguf::TensorInfo* w = file.find_tensor("output_norm.weight");
  EXPECT_TRUE(w && w->type == DType::F32);
  const auto* g = reinterpret_cast<const float*>(w->data);
  const size_t n = tokens.size();
  EXPECT_EQ(last_layer.size(), n * E);
  std::vector<std::vector<double>> out;
  for (size_t t = 0; t < n && last_layer.size() == n * E; ++t) {
    double ss = 0;
    for (int i = 0; i < E; ++i) ss += static_cast<double>(last_layer[t * E + i]) * last_layer[t * E + i];
    const double inv = 1.0 / std::sqrt(ss / E + hp.rms_eps);
    out.emplace_back(E);
    for (int i = 0; i < E; ++i) out.back()[i] = last_layer[t * E + i] * inv * g[i];
  }
  return out;
}

std::vector<double> mean_of(const std::vector<std::vector<double>>& rows) {
  std::vector<double> m(rows.empty() ? 0 : rows[0].size(), 0.0);
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i) m[i] += r[i] / static_cast<double>(rows.size());
  return normalized(m);
}

// The f32 pipeline (rms_norm in f32, one f32 rounding of each normed value, a double mean)
// against this double one: each value within a few ulps of O(1) values, 1e-6 is ample; a
// missing or misplaced norm, a pooled logit row or a skipped token errs by order 0.01 or more.
constexpr double kTracedTolerance = 1e-6;

TEST(DecoderEmbed, TinyModelsAreTheMeanOfTheirNormedFinalStates) {
  const std::vector<std::pair<std::string, std::vector<uint8_t>>> models = {
      {"llama", test::make_tiny_llama({})}, {"gemma3", test::make_tiny_gemma({})}};
  for (const auto& [name, bytes] : models) {
    SCOPED_TRACE(name);
    auto model = load_bytes_as_model(bytes);
    ASSERT_TRUE(model);
    EXPECT_EQ(model->info().pooling, "mean");
    EXPECT_FALSE(model->info().embedding_only);
    auto file = gguf::File::parse(bytes);
    ASSERT_TRUE(file.ok());
    const std::string text = "the cat sat on a mat in the sun";
    auto tokens = model->tokenize(text, true, false);
    ASSERT_TRUE(tokens.ok());
    const std::vector<double> want = mean_of(traced_states(*file, *tokens));

    auto whole = new_session(*model);
    const std::vector<float> e = embed_text(*whole, text);
    EXPECT_LE(max_abs_diff(e, want), kTracedTolerance);
    EXPECT_NEAR(norm(e), 1.0, 1e-6);
    EXPECT_EQ(embed_text(*whole, text), e) << "deterministic";
    // In passes of 3 tokens through the KV cache: the same states up to batched-prefill rounding.
    auto chunked = new_session(*model, 0, 3);
    EXPECT_LE(max_abs_diff(embed_text(*chunked, text), want), 1e-5);
    // From token ids, as the text gives them.
    auto by_ids = whole->embed(*tokens, {});
    ASSERT_TRUE(by_ids.ok()) << by_ids.error().message;
    EXPECT_EQ(by_ids->values, e);
    EXPECT_EQ(by_ids->n_tokens, static_cast<int>(tokens->size()));
    const std::vector<float> other = embed_text(*whole, "a dog ran");
    EXPECT_GT(max_abs_diff(other, std::vector<double>(e.begin(), e.end())), 1e-3) << "different texts differ";
  }
}

TEST(DecoderEmbed, ClsAndLastPoolingTakeOneTokensState) {
  const std::string text = "hello there, the cat";
  for (int pooling : {2, 3}) {
    test::TinyLlamaSpec spec;
    spec.pooling_type = pooling;
    const std::vector<uint8_t> bytes = test::make_tiny_llama(spec);
    auto m = load_bytes_as_model(bytes);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->info().pooling, pooling == 2 ? "cls" : "last");
    auto tokens = m->tokenize(text, true, false);
    ASSERT_TRUE(tokens.ok());
    auto file = gguf::File::parse(bytes);
    ASSERT_TRUE(file.ok());
    const auto states = traced_states(*file, *tokens);
    ASSERT_EQ(states.size(), tokens->size());
    const std::vector<double> want = normalized(pooling == 2 ? states.front() : states.back());
    for (int n_batch : {512, 3}) {  // whole, and in passes that split the input
      auto s = new_session(*m, 0, n_batch);
      const std::vector<float> e = embed_text(*s, text);
      EXPECT_NEAR(norm(e), 1.0, 1e-6);
      // Passes of 3 tokens round the last token's keys and values like batched prefill does.
      EXPECT_LE(max_abs_diff(e, want), n_batch == 512 ? kTracedTolerance : 1e-5) << "n_batch " << n_batch;
      EXPECT_GT(max_abs_diff(e, mean_of(states)), 1e-3) << "not the mean";
    }
  }
}

TEST(DecoderEmbed, TooLongInputsAreRefusedOrTruncatedAndTheContextIsLeftEmpty) {
  auto model = load_bytes_as_model(test::make_tiny_llama({}));
  ASSERT_TRUE(model);
  auto s = new_session(*model, 8, 4);
  const std::string text = "the cat sat on a mat and then the dog ran";
  auto tokens = model->tokenize(text, true, false);
  ASSERT_TRUE(tokens.ok());
  ASSERT_GT(tokens->size(), 8u);
  auto refused = s->embed_texts({text}, {});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("longer than the context of 8"), std::string::npos)
      << refused.error().message;
  auto cut = s->embed_texts({text}, EmbedOptions{.truncate = true, .dimensions = 0});
  ASSERT_TRUE(cut.ok()) << cut.error().message;
  EXPECT_TRUE(cut->front().truncated);
  EXPECT_EQ(cut->front().n_tokens, 8);
  auto first8 = s->embed(std::span<const int32_t>(tokens->data(), 8), {});
  ASSERT_TRUE(first8.ok());
  EXPECT_EQ(cut->front().values, first8->values);
  EXPECT_FALSE(first8->truncated);

  // Embedding after a generation empties the context; generating after it starts afresh.
  GenerateOptions g;
  g.sampling.temperature = 0;
  g.num_predict = 3;
  std::string a, b;
  ASSERT_TRUE(s->generate("hi", g, [&](std::string_view t) { return a += t, true; }).ok());
  EXPECT_GT(s->n_past(), 0);
  ASSERT_TRUE(s->embed_texts({"hi"}, {}).ok());
  EXPECT_EQ(s->n_past(), 0);
  auto stats = s->generate("hi", g, [&](std::string_view t) { return b += t, true; });
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->prompt_cached_tokens, 0);
  EXPECT_EQ(a, b);
  // Bad requests.
  EXPECT_FALSE(s->embed(std::vector<int32_t>{}, {}).ok());
  EXPECT_FALSE(s->embed(std::vector<int32_t>{1, 100000}, {}).ok());
  EXPECT_FALSE(s->embed_texts({"hi"}, EmbedOptions{.truncate = false, .dimensions = 65}).ok());
}

TEST(DecoderEmbed, Stories260K) {
  MINNOW_REQUIRE_SHARED("models/stories260K.gguf");
  const std::string path = test::shared_path("models/stories260K.gguf");
  auto model = load_model_file(path);
  ASSERT_TRUE(model);
  auto s = new_session(*model);
  const std::string text = "Once upon a time, there was a little girl named Lily.";
  const std::vector<float> e = embed_text(*s, text);
  ASSERT_EQ(e.size(), static_cast<size_t>(model->info().embedding_length));
  EXPECT_NEAR(norm(e), 1.0, 1e-6);
  EXPECT_EQ(embed_text(*s, text), e);
  auto file = gguf::File::open(path);
  ASSERT_TRUE(file.ok());
  auto tokens = model->tokenize(text, true, false);
  ASSERT_TRUE(tokens.ok());
  EXPECT_LE(max_abs_diff(e, mean_of(traced_states(*file, *tokens))), kTracedTolerance);
  const std::vector<float> other = embed_text(*s, "The dog barked at the moon.");
  EXPECT_GT(max_abs_diff(other, std::vector<double>(e.begin(), e.end())), 1e-3);

  auto small = new_session(*model, 8);
  EXPECT_FALSE(small->embed_texts({text}, {}).ok());
  auto cut = small->embed_texts({text}, EmbedOptions{.truncate = true, .dimensions = 0});
  ASSERT_TRUE(cut.ok()) << cut.error().message;
  EXPECT_EQ(cut->front().n_tokens, 8);
  EXPECT_EQ(cut->front().values, small->embed(std::span<const int32_t>(tokens->data(), 8), {})->values);
}

// ---- BERT ----

struct Bert {
  std::vector<uint8_t> bytes;
  std::shared_ptr<Model> model;
};

Bert load_bert(test::TinyBertSpec spec = {}) {
  Bert b;
  b.bytes = test::make_tiny_bert(spec);
  b.model = load_bytes_as_model(b.bytes);
  return b;
}

// The encoder's states of tokens through the model layer (forward_hidden), pooled here.
std::vector<double> pooled_states(const Bert& b, const std::vector<int32_t>& tokens,
                                  const std::string& pooling) {
  auto l = test::load_bytes(b.bytes);
  EXPECT_TRUE(l->model);
  if (!l->model) return {};
  const int E = l->model->hparams().n_embd;
  ThreadPool pool(2);
  const nn::Compute c{kernels::active(), pool};
  std::vector<int32_t> positions(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) positions[i] = static_cast<int32_t>(i);
  KvCache unused;
  std::vector<float> h(tokens.size() * E);
  EXPECT_TRUE(l->model
                  ->forward_hidden(c, tokens.data(), positions.data(), static_cast<int64_t>(tokens.size()),
                                   unused, h.data())
                  .ok());
  std::vector<double> out(E, 0.0);
  const size_t n = tokens.size();
  for (int i = 0; i < E; ++i) {
    if (pooling == "cls")
      out[i] = h[i];
    else if (pooling == "last")
      out[i] = h[(n - 1) * E + i];
    else
      for (size_t t = 0; t < n; ++t) out[i] += h[t * E + i] / static_cast<double>(n);
  }
  return normalized(out);
}

TEST(BertEmbed, PoolsAsItsMetadataSays) {
  const std::string text = "hello world, the cat sat";
  std::vector<std::vector<float>> seen;
  for (int pooling_type : {-1, 1, 2, 3}) {
    test::TinyBertSpec spec;
    spec.pooling_type = pooling_type;
    Bert b = load_bert(spec);
    ASSERT_TRUE(b.model);
    const std::string name = pooling_type == 2 ? "cls" : pooling_type == 3 ? "last" : "mean";
    EXPECT_EQ(b.model->info().pooling, name);
    EXPECT_TRUE(b.model->info().embedding_only);
    // [CLS] hello world , the cat sat [SEP], as the WordPiece vocabulary spells them.
    auto tokens = b.model->tokenize(text, true, false);
    ASSERT_TRUE(tokens.ok());
    EXPECT_EQ(*tokens, (std::vector<int32_t>{2, 5, 6, 15, 7, 8, 9, 3}));
    auto s = new_session(*b.model);
    const std::vector<float> e = embed_text(*s, text);
    EXPECT_NEAR(norm(e), 1.0, 1e-6);
    // Pooling and normalizing in double here and in the engine: equal to float rounding.
    EXPECT_LE(max_abs_diff(e, pooled_states(b, *tokens, name)), 1e-6) << name;
    seen.push_back(e);
  }
  EXPECT_EQ(seen[0], seen[1]) << "no pooling key means mean";
  EXPECT_GT(max_abs_diff(seen[1], std::vector<double>(seen[2].begin(), seen[2].end())), 1e-2)
      << "mean vs cls";
  EXPECT_GT(max_abs_diff(seen[2], std::vector<double>(seen[3].begin(), seen[3].end())), 1e-2)
      << "cls vs last";
}

TEST(BertEmbed, ABatchOfTextsEqualsEachAlone) {
  Bert b = load_bert();
  ASSERT_TRUE(b.model);
  const std::vector<std::string> texts = {"hello world", "the cat sat on the mat.", "a",
                                          "dog ran on the mat, the cat sat"};
  auto s = new_session(*b.model, 0, 16);  // passes of up to max(16, 48) tokens: several texts each
  auto batch = s->embed_texts(texts, {});
  ASSERT_TRUE(batch.ok()) << batch.error().message;
  ASSERT_EQ(batch->size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    auto alone = new_session(*b.model)->embed_texts({texts[i]}, {});
    ASSERT_TRUE(alone.ok());
    EXPECT_EQ((*batch)[i].values, alone->front().values) << texts[i];
    EXPECT_EQ((*batch)[i].n_tokens, alone->front().n_tokens);
  }
  EXPECT_NE((*batch)[0].values, (*batch)[1].values);
}

TEST(BertEmbed, TruncationKeepsSepAndTheContextIsTheTrainedOne) {
  Bert b = load_bert();  // 48 positions
  ASSERT_TRUE(b.model);
  auto s = new_session(*b.model, 4096);
  EXPECT_EQ(s->n_ctx(), 48) << "an encoder has embeddings for its trained positions only";
  std::string text;
  for (int i = 0; i < 30; ++i) text += "hello world ";
  auto refused = s->embed_texts({text}, {});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("62 tokens, longer than the context of 48"), std::string::npos)
      << refused.error().message;
  auto cut = s->embed_texts({text}, EmbedOptions{.truncate = true, .dimensions = 0});
  ASSERT_TRUE(cut.ok()) << cut.error().message;
  EXPECT_EQ(cut->front().n_tokens, 48);
  EXPECT_TRUE(cut->front().truncated);
  // [CLS] hello world ... (46 tokens of the text) [SEP]
  std::vector<int32_t> want = {2};
  while (want.size() < 47) want.push_back(want.size() % 2 == 1 ? 5 : 6);
  want.push_back(3);
  auto same = s->embed(want, {});
  ASSERT_TRUE(same.ok()) << same.error().message;
  EXPECT_EQ(cut->front().values, same->values);
  // Token ids are cut as given.
  std::vector<int32_t> ids(60, 5);
  auto cut_ids = s->embed(ids, EmbedOptions{.truncate = true, .dimensions = 0});
  ASSERT_TRUE(cut_ids.ok());
  EXPECT_EQ(cut_ids->values, s->embed(std::span<const int32_t>(ids.data(), 48), {})->values);
}

TEST(BertEmbed, DimensionsCutAndRenormalize) {
  Bert b = load_bert();
  ASSERT_TRUE(b.model);
  auto s = new_session(*b.model);
  const std::vector<float> full = embed_text(*s, "the cat");
  const std::vector<float> cut = embed_text(*s, "the cat", EmbedOptions{.truncate = false, .dimensions = 8});
  ASSERT_EQ(cut.size(), 8u);
  EXPECT_NEAR(norm(cut), 1.0, 1e-6);
  const double scale = norm(std::vector<float>(full.begin(), full.begin() + 8));
  for (int i = 0; i < 8; ++i) EXPECT_NEAR(cut[i], full[i] / scale, 1e-6);
  for (int bad : {-1, 65}) {
    auto e = s->embed_texts({"the cat"}, EmbedOptions{.truncate = false, .dimensions = bad});
    ASSERT_FALSE(e.ok());
    EXPECT_NE(e.error().message.find("dimensions"), std::string::npos);
  }
}

TEST(BertEmbed, GenerationAndRankPoolingAreErrors) {
  Bert b = load_bert();
  ASSERT_TRUE(b.model);
  auto s = new_session(*b.model);
  auto g = s->generate("hello", GenerateOptions{}, [](std::string_view) { return true; });
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.error().message.find("embedding model"), std::string::npos) << g.error().message;
  EXPECT_FALSE(s->eval(std::vector<int32_t>{2, 5}, false).ok());
  test::TinyBertSpec rank;
  rank.pooling_type = 4;
  Bert r = load_bert(rank);
  ASSERT_TRUE(r.model);
  EXPECT_EQ(r.model->info().pooling, "rank");
  auto e = new_session(*r.model)->embed_texts({"hello"}, {});
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("not supported"), std::string::npos) << e.error().message;
}

}  // namespace
}  // namespace minnow
