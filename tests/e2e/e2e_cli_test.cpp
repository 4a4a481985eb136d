// The minnow CLI end to end: real text from stories260K, logits through `minnow logits` against
// the reference files, and bad input (missing or corrupt files, unknown architectures and
// weight types, prompts longer than the context) giving one clear stderr line and exit 1.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "e2e/cli_runner.h"
#include "golden/golden_compare.h"
#include "test_util.h"
#include "tiny_model.h"

namespace minnow {
namespace {

using test::run_cli;

const char* kStories = "models/stories260K.gguf";

std::string temp_file(const std::string& name, const std::vector<uint8_t>& bytes) {
  const std::string path = (std::filesystem::temp_directory_path() / (std::to_string(getpid()) + "_" + name)).string();
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  return path;
}

// One line on stderr, naming the problem; nothing on stdout; exit code 1.
void expect_clean_failure(const test::CliResult& r, const std::string& needle) {
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << "stderr: " << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "stderr: " << r.err;
  EXPECT_EQ(r.err.rfind("minnow: ", 0), 0u) << r.err;
}

TEST(Cli, StoriesGreedyText) {
  MINNOW_REQUIRE_SHARED(kStories);
  auto r = run_cli({"run", test::shared_path(kStories), "Once upon a time", "--raw", "--temperature", "0",
                    "--num-predict", "40"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("Once upon a time, there was a little girl named Lily. She loved to play outside in the "
                        "park. One day, she saw a big, red ball.",
                        0),
            0u)
      << r.out;
  EXPECT_TRUE(r.err.empty()) << r.err;
}

TEST(Cli, StopStringsEndTheAnswer) {
  MINNOW_REQUIRE_SHARED(kStories);
  // The greedy story (above) goes on "... there was a little girl named Lily.": it ends before
  // the first stop string that occurs, which is not printed; one that never occurs is harmless.
  auto r = run_cli({"run", test::shared_path(kStories), "Once upon a time", "--raw", "--temperature", "0",
                    "-n", "40", "--stop", "no such text", "--stop", " named", "--verbose"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Once upon a time, there was a little girl\n");
  EXPECT_NE(r.err.find("done reason:      stop"), std::string::npos) << r.err;
}

TEST(Cli, VerboseStatsGoToStderr) {
  MINNOW_REQUIRE_SHARED(kStories);
  auto quiet = run_cli({"run", test::shared_path(kStories), "Once upon a time", "--raw", "--temperature", "0",
                        "-n", "16", "--threads", "1"});
  auto verbose = run_cli({"run", test::shared_path(kStories), "Once upon a time", "--raw", "--temperature", "0",
                          "-n", "16", "--threads", "2", "--verbose"});
  ASSERT_EQ(verbose.exit_code, 0) << verbose.err;
  EXPECT_EQ(quiet.out, verbose.out);
  EXPECT_NE(verbose.err.find("tokens/s"), std::string::npos) << verbose.err;
  EXPECT_NE(verbose.err.find("load time"), std::string::npos) << verbose.err;
}

TEST(Cli, SeededSamplingIsReproducible) {
  MINNOW_REQUIRE_SHARED(kStories);
  std::vector<std::string> args = {"run", test::shared_path(kStories), "Once upon a time", "--raw",
                                   "--temperature", "1.0", "-n", "40", "--seed", "7"};
  auto a = run_cli(args), b = run_cli(args);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  args.back() = "8";
  auto c = run_cli(args);
  auto d = run_cli({"run", test::shared_path(kStories), "Once upon a time", "--raw", "--temperature", "1.0", "-n",
                    "40", "--seed", "9"});
  EXPECT_TRUE(c.out != a.out || d.out != a.out) << "three seeds, one text: " << a.out;
}

TEST(Cli, PromptFromStdin) {
  MINNOW_REQUIRE_SHARED(kStories);
  const std::string prompt = "Once upon a time";
  auto r = run_cli({"run", test::shared_path(kStories), "--raw", "--temperature", "0", "-n", "8"}, &prompt);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("Once upon a time, there was", 0), 0u) << r.out;
}

TEST(Cli, ChatModeSaysOnceWhenTheModelHasNoTemplate) {
  MINNOW_REQUIRE_SHARED(kStories);
  auto r = run_cli({"run", test::shared_path(kStories), "Hello", "--temperature", "0", "-n", "8"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("has no chat template"), r.err.rfind("has no chat template")) << r.err;
  EXPECT_NE(r.err.find("has no chat template; using the ChatML default"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("Hello"), std::string::npos) << "chat mode must not echo the prompt: " << r.out;
}

TEST(Cli, MissingFile) {
  expect_clean_failure(run_cli({"run", "/nonexistent/model.gguf", "hi"}), "No such file");
}

TEST(Cli, NotAGgufFile) {
  const std::string path = temp_file("text.gguf", std::vector<uint8_t>{'h', 'e', 'l', 'l', 'o', '\n'});
  expect_clean_failure(run_cli({"run", path, "hi"}), "GGUF");
  expect_clean_failure(run_cli({"show", path}), "GGUF");
  std::filesystem::remove(path);
}

TEST(Cli, TruncatedModel) {
  MINNOW_REQUIRE_SHARED(kStories);
  std::string bytes = test::read_file(test::shared_path(kStories));
  for (size_t cut : {size_t{100}, bytes.size() / 2, bytes.size() - 1}) {
    const std::string path = temp_file("cut.gguf", std::vector<uint8_t>(bytes.begin(), bytes.begin() + cut));
    auto r = run_cli({"run", path, "hi"});
    expect_clean_failure(r, "gguf");
    std::filesystem::remove(path);
  }
}

TEST(Cli, UnsupportedArchitecture) {
  test::TinyLlamaSpec s;
  s.arch = "mamba9";
  const std::string path = temp_file("mamba.gguf", test::make_tiny_llama(s));
  expect_clean_failure(run_cli({"run", path, "hi"}), "unsupported architecture 'mamba9'");
  std::filesystem::remove(path);
}

TEST(Cli, UnsupportedWeightType) {
  test::TinyLlamaSpec s;
  s.n_embd = 256;
  s.raw_type_id = static_cast<uint32_t>(DType::IQ2_XXS);
  const std::string path = temp_file("iq2.gguf", test::make_tiny_llama(s));
  expect_clean_failure(run_cli({"run", path, "hi"}), "iq2_xxs");
  std::filesystem::remove(path);
}

TEST(Cli, PromptLongerThanContext) {
  MINNOW_REQUIRE_SHARED(kStories);
  auto r = run_cli({"run", test::shared_path(kStories), "Once upon a time there was a big dog who liked to run",
                    "--raw", "--ctx-size", "8"});
  expect_clean_failure(r, "longer than the context");
}

TEST(Cli, GenerationStopsAtFullContext) {
  MINNOW_REQUIRE_SHARED(kStories);
  auto r = run_cli({"run", test::shared_path(kStories), "Once upon a time", "--raw", "--ctx-size", "16",
                    "--temperature", "0", "--verbose"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // 5 prompt + 11 evaluated tokens fill the 16 positions; the last position's logits give a 12th.
  EXPECT_NE(r.err.find("generation:       12 tokens"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("done reason:      length"), std::string::npos) << r.err;
}

TEST(Cli, BadArguments) {
  auto r = run_cli({"run"});
  EXPECT_NE(r.exit_code, 0);
  r = run_cli({"logits", "/nonexistent.gguf", "--ids", "1 x 3"});
  expect_clean_failure(r, "'x' is not a token id");
  if (std::filesystem::exists(test::shared_path(kStories))) {
    std::string ids;
    for (int i = 0; i < 2049; ++i) ids += "5 ";  // stories260K's context is 2048
    expect_clean_failure(run_cli({"logits", test::shared_path(kStories), "--ids", ids}), "exceed the model's context");
  }
}

TEST(Cli, Show) {
  MINNOW_REQUIRE_SHARED(kStories);
  auto r = run_cli({"show", test::shared_path(kStories)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* s : {"architecture", "llama", "parameters", "quantization", "F32", "context length", "2048",
                        "tokenizer.ggml.model", "llama.block_count"}) {
    EXPECT_NE(r.out.find(s), std::string::npos) << s << " missing from:\n" << r.out;
  }
}

// `minnow logits` reproduces the reference files the same way the API does.
class CliLogits : public testing::TestWithParam<std::string> {};

TEST_P(CliLogits, MatchesReference) {
  const std::string name = GetParam();
  const std::string model_rel = name == "stories260K" ? kStories : "reference/" + name + ".gguf";
  MINNOW_REQUIRE_SHARED(model_rel);
  std::ifstream in(test::shared_path("reference/" + name + ".ref.json"));
  const nlohmann::json ref = nlohmann::json::parse(in);
  const test::Tolerance tol = test::tolerance_for(name);
  int ci = 0;
  for (const auto& c : ref["cases"]) {
    std::string ids;
    for (const auto& id : c["prompt"]) ids += std::to_string(id.get<int>()) + " ";
    // --top n_vocab lists every logit of every position: full rows to compare.
    const std::string n_vocab = std::to_string(ref["n_vocab"].get<int>());
    auto r = run_cli({"logits", test::shared_path(model_rel), "--ids", ids, "--top", n_vocab, "--kv-type", "f32"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const nlohmann::json out = nlohmann::json::parse(r.out);
    ASSERT_EQ(out["positions"].size(), c["prompt"].size());
    ASSERT_EQ(out["last_logits"].size(), ref["n_vocab"].get<size_t>());
    std::vector<std::vector<float>> rows;
    for (const auto& pos : out["positions"]) {
      ASSERT_EQ(pos.size(), ref["n_vocab"].get<size_t>());
      std::vector<float> row(pos.size());
      for (const auto& pair : pos) row[pair[0].get<size_t>()] = pair[1].get<float>();
      rows.push_back(std::move(row));
    }
    EXPECT_EQ(rows.back(), out["last_logits"].get<std::vector<float>>());
    test::expect_rows_match(c, rows, tol, name + " case " + std::to_string(ci));
    ++ci;
  }
}

INSTANTIATE_TEST_SUITE_P(Reference, CliLogits,
                         testing::Values("tiny-llama-f32", "tiny-llama-f16", "tiny-llama-q8_0",
                                         "tiny-llama-q4_0", "tiny-llama-tied-f32", "tiny256-llama-q4_k",
                                         "tiny256-llama-q6_k", "tiny-qwen2-f32", "tiny-phi3-f32",
                                         "stories260K"),
                         [](const testing::TestParamInfo<std::string>& i) {
                           std::string s = i.param;
                           for (char& ch : s) {
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return s;
                         });

}  // namespace
}  // namespace minnow
