// Golden tests of the forward pass: every file in ../shared/reference of an architecture minnow runs
// against the reference engine's logits and greedy continuations, through the public API,
// for every kernel set this CPU has (tiny-gemma3's 48-token prompt crosses its 16-token window).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "golden/golden_compare.h"
#include "kernels/kernel_table.h"
#include "minnow/engine.h"
#include "test_util.h"

namespace minnow {
namespace {

// The reference kept an F32 KV cache, so the README's tolerances apply to that configuration;
// the F16 cache (the default) is checked against F32 in the model tests and end to end.
struct GoldenCase {
  std::string model;  // file in ../shared/reference (or models/ for stories260K)
  std::string isa;
};

std::string case_name(const testing::TestParamInfo<GoldenCase>& info) {
  std::string s = info.param.model + "_" + info.param.isa;
  for (char& c : s) {
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return s;
}

class GoldenTest : public testing::TestWithParam<GoldenCase> {};

TEST_P(GoldenTest, MatchesReference) {
  const GoldenCase& gc = GetParam();
  const std::string model_rel = gc.model == "stories260K" ? "models/stories260K.gguf" : "reference/" + gc.model + ".gguf";
  MINNOW_REQUIRE_SHARED(model_rel);
  MINNOW_REQUIRE_SHARED("reference/" + gc.model + ".ref.json");
  const std::optional<kernels::Isa> isa = kernels::isa_from_name(gc.isa);
  ASSERT_TRUE(isa.has_value()) << gc.isa;
  if (!kernels::isa_available(*isa)) GTEST_SKIP() << "CPU has no " << gc.isa;
  std::ifstream in(test::shared_path("reference/" + gc.model + ".ref.json"));
  const nlohmann::json ref = nlohmann::json::parse(in);

  auto model = Model::load(test::shared_path(model_rel), LoadOptions{.n_threads = 2, .isa = gc.isa, .chat_template = "", .repack = true});
  ASSERT_TRUE(model.ok()) << model.error().message;
  ASSERT_EQ((*model)->info().n_vocab, ref["n_vocab"].get<int64_t>());
  auto session = (*model)->new_session(SessionOptions{.n_ctx = 256, .kv_f32 = true, .n_batch = 512});
  ASSERT_TRUE(session.ok()) << session.error().message;
  Session& s = **session;

  const test::Tolerance tol = test::tolerance_for(gc.model);

  int ci = 0;
  for (const auto& c : ref["cases"]) {
    const std::string what = gc.model + " case " + std::to_string(ci++);
    const std::vector<int32_t> prompt = c["prompt"].get<std::vector<int32_t>>();
    s.reset();
    ASSERT_TRUE(s.eval(prompt, true).ok());
    std::vector<std::vector<float>> rows;
    for (size_t p = 0; p < prompt.size(); ++p) {
      auto r = s.logits(static_cast<int64_t>(p));
      rows.emplace_back(r.begin(), r.end());
    }
    test::expect_rows_match(c, rows, tol, what);

    // Greedy continuation, one token at a time (the reference does not stop at EOS).
    std::vector<int32_t> greedy;
    std::vector<std::vector<float>> steps = {rows.back()};  // logits choosing each greedy token
    const size_t n_greedy = c["greedy"].size();
    for (size_t i = 0; i < n_greedy; ++i) {
      const int32_t next = static_cast<int32_t>(test::argmax(steps.back()));
      greedy.push_back(next);
      if (i + 1 == n_greedy) break;
      const int32_t one[1] = {next};
      ASSERT_TRUE(s.eval(one, false).ok());
      auto r = s.logits(0);
      steps.emplace_back(r.begin(), r.end());
    }
    test::expect_greedy_match(c, greedy, steps, tol, what);
  }
}

std::vector<GoldenCase> all_cases() {
  const char* models[] = {"tiny-llama-f32",     "tiny-llama-f16",     "tiny-llama-q8_0", "tiny-llama-q4_0",
                          "tiny-llama-tied-f32", "tiny256-llama-q4_k", "tiny256-llama-q6_k", "tiny-qwen2-f32",
                          "tiny-phi3-f32",      "tiny-gemma3-f32",    "stories260K"};
  std::vector<GoldenCase> out;
  for (const char* m : models) {
    for (kernels::Isa isa : kernels::all_isas()) out.push_back({m, kernels::isa_name(isa)});
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Reference, GoldenTest, testing::ValuesIn(all_cases()), case_name);

}  // namespace
}  // namespace minnow
