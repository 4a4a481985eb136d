// Grammar-constrained generation through the public API: with stories260K and a tiny
// random-weight model (whose free output is never JSON), every schema of tests/data/schemas.json
// yields text that parses as JSON and is a sentence of the schema's grammar, within a small
// token budget (the generation heads for the end when the budget runs short); an enum schema
// gives exactly one label; a batch gives what a session alone gives; bad grammars are errors.
// (ajv checks the same outputs against the schemas themselves in tests/js/structured.test.mjs.)
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "grammar/grammar.h"
#include "grammar/matcher.h"
#include "minnow/engine.h"
#include "minnow/structured.h"

namespace minnow {
namespace {

const std::string kStories = std::string(MINNOW_SHARED_DIR) + "/models/stories260K.gguf";
const std::string kTiny = std::string(MINNOW_SHARED_DIR) + "/reference/tiny-llama-q8_0.gguf";

std::shared_ptr<Model> load(const std::string& path) {
  auto m = Model::load(path, LoadOptions{.n_threads = 1, .isa = "", .chat_template = "", .repack = true});
  EXPECT_TRUE(m.ok()) << m.error().message;
  return m.ok() ? *m : nullptr;
}

nlohmann::ordered_json corpus() {
  std::ifstream in(std::string(MINNOW_TEST_DATA) + "/schemas.json");
  std::stringstream ss;
  ss << in.rdbuf();
  return nlohmann::ordered_json::parse(ss.str());
}

std::string generate(Model& model, const std::string& prompt, GenerateOptions o, GenerateStats* stats = nullptr) {
  auto session = model.new_session({});
  EXPECT_TRUE(session.ok());
  std::string out;
  auto s = (*session)->generate(prompt, o, [&](std::string_view t) {
    out += t;
    return true;
  });
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
  if (stats && s.ok()) *stats = *s;
  return out;
}

bool sentence(const std::string& gbnf, const std::string& text) {
  auto g = grammar::Grammar::parse(gbnf);
  if (!g.ok()) return false;
  grammar::Matcher m(std::make_shared<const grammar::Grammar>(std::move(*g)));
  return m.accept(text) && m.complete();
}

TEST(EngineGrammar, EverySchemaOfTheCorpusGivesItsJsonWithinTheBudget) {
  if (!std::filesystem::exists(kStories) || !std::filesystem::exists(kTiny)) GTEST_SKIP() << "needs ../shared models";
  std::shared_ptr<Model> models[] = {load(kStories), load(kTiny)};
  ASSERT_TRUE(models[0] && models[1]);
  int runs = 0;
  for (const auto& entry : corpus()) {
    auto gbnf = grammar_for_json_schema(entry["schema"].dump());
    ASSERT_TRUE(gbnf.ok()) << gbnf.error().message;
    for (uint64_t seed = 1; seed <= 4; ++seed) {
      GenerateOptions o;
      o.grammar = *gbnf;
      o.sampling.temperature = 1.0f;
      o.sampling.seed = seed;
      o.num_predict = 96;
      GenerateStats stats;
      const std::string out = generate(*models[seed % 2], "Once upon a time", o, &stats);
      ++runs;
      EXPECT_TRUE(nlohmann::json::accept(out)) << entry["name"] << " seed " << seed << ": " << out;
      EXPECT_TRUE(sentence(*gbnf, out)) << entry["name"] << " seed " << seed << ": " << out;
      EXPECT_LE(stats.generated_tokens, 96);
    }
  }
  EXPECT_GE(runs, 120);
}

TEST(EngineGrammar, AnEnumSchemaGivesExactlyOneLabelAndEndsThere) {
  if (!std::filesystem::exists(kTiny)) GTEST_SKIP() << "needs " << kTiny;
  auto model = load(kTiny);
  ASSERT_TRUE(model);
  auto gbnf = grammar_for_json_schema(R"({"enum": ["spam", "ham", "unsure"]})");
  ASSERT_TRUE(gbnf.ok());
  for (uint64_t seed = 0; seed < 10; ++seed) {
    GenerateOptions o;
    o.grammar = *gbnf;
    o.sampling.seed = seed;
    GenerateStats stats;
    const std::string out = generate(*model, "Classify: buy now!", o, &stats);
    EXPECT_TRUE(out == "\"spam\"" || out == "\"ham\"" || out == "\"unsure\"") << out;
    EXPECT_EQ(stats.done_reason, "stop");
  }
}

TEST(EngineGrammar, ARawGrammarAndGreedyDecodingAreDeterministic) {
  if (!std::filesystem::exists(kStories)) GTEST_SKIP() << "needs " << kStories;
  auto model = load(kStories);
  ASSERT_TRUE(model);
  GenerateOptions o;
  o.grammar = "root ::= (\"Lily\" | \"Tom\") \" \" [a-z]+ \".\"";
  o.sampling.temperature = 0;
  o.num_predict = 30;
  const std::string a = generate(*model, "Once upon a time", o);
  const std::string b = generate(*model, "Once upon a time", o);
  EXPECT_EQ(a, b);
  EXPECT_TRUE(sentence(o.grammar, a)) << a;
}

TEST(EngineGrammar, ABatchGivesWhatASessionAloneGives) {
  if (!std::filesystem::exists(kTiny)) GTEST_SKIP() << "needs " << kTiny;
  auto model = load(kTiny);
  ASSERT_TRUE(model);
  auto gbnf = grammar_for_json_schema(R"({"type": "object", "properties": {"a": {"type": "string"}, "n": {"type": "integer"}}, "required": ["a", "n"]})");
  ASSERT_TRUE(gbnf.ok());
  auto prompt = model->tokenize("hello", true, false);
  ASSERT_TRUE(prompt.ok());
  std::vector<std::string> alone;
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    GenerateOptions o;
    o.grammar = *gbnf;
    o.sampling.seed = seed;
    o.num_predict = 48;
    auto session = model->new_session({});
    ASSERT_TRUE(session.ok());
    std::string out;
    ASSERT_TRUE((*session)->generate(*prompt, o, [&](std::string_view t) { return out += t, true; }).ok());
    alone.push_back(out);
  }
  auto batch = BatchGenerator::create(model, BatchOptions{});
  ASSERT_TRUE(batch.ok()) << batch.error().message;
  std::vector<std::string> together(3);
  std::vector<std::thread> threads;
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    threads.emplace_back([&, seed] {
      GenerateOptions o;
      o.grammar = *gbnf;
      o.sampling.seed = seed;
      o.num_predict = 48;
      auto r = (*batch)->generate(*prompt, o, [&](const GeneratedPiece& p) {
        together[seed - 1] += p.text;
        return true;
      });
      EXPECT_TRUE(r.ok());
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(together, alone);
}

TEST(EngineGrammar, GrammarsThatCannotRunAreErrorsBeforeAnyWork) {
  if (!std::filesystem::exists(kTiny)) GTEST_SKIP() << "needs " << kTiny;
  auto model = load(kTiny);
  ASSERT_TRUE(model);
  auto session = model->new_session({});
  ASSERT_TRUE(session.ok());
  GenerateOptions o;
  o.grammar = "root ::= \"a\" undefined";
  auto r = (*session)->generate("x", o, [](std::string_view) { return true; });
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("rule 'undefined' is used but not defined"), std::string::npos) << r.error().message;
  auto bad_schema = grammar_for_json_schema("{\"type\": \"integer\", \"multipleOf\": 2}");
  ASSERT_FALSE(bad_schema.ok());
  EXPECT_NE(bad_schema.error().message.find("multipleOf"), std::string::npos);
  EXPECT_FALSE(grammar_for_json_schema("{not json").ok());
}

}  // namespace
}  // namespace minnow
