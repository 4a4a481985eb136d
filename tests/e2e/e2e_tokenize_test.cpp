// `minnow tokenize --no-special` against every vocabulary in ../shared/tokenizer-tests: each
// test string, passed byte for byte through a file, gives exactly the reference ids.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "e2e/cli_runner.h"
#include "test_util.h"

namespace minnow {
namespace {

// Strings of a .inp file: separated by "\n__ggml_vocab_test__\n" (FORMAT.md).
std::vector<std::string> split_inputs(const std::string& s) {
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> out;
  size_t pos = 0;
  for (;;) {
    const size_t next = s.find(sep, pos);
    if (next == std::string::npos) {
      if (pos < s.size()) out.push_back(s.substr(pos));
      return out;
    }
    out.push_back(s.substr(pos, next - pos));
    pos = next + sep.size();
  }
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

std::vector<long> ids_of(const std::string& line) {
  std::vector<long> ids;
  std::istringstream in(line);
  long v;
  while (in >> v) ids.push_back(v);
  return ids;
}

class TokenizeCli : public testing::TestWithParam<std::string> {};

TEST_P(TokenizeCli, MatchesReferenceIds) {
  const std::string vocab = "tokenizer-tests/ggml-vocab-" + GetParam() + ".gguf";
  MINNOW_REQUIRE_SHARED(vocab);
  const std::vector<std::string> inputs = split_inputs(test::read_file(test::shared_path(vocab + ".inp")));
  const std::vector<std::string> expected = lines(test::read_file(test::shared_path(vocab + ".out")));
  ASSERT_EQ(inputs.size(), expected.size());
  const std::string text_path =
      (std::filesystem::temp_directory_path() / ("minnow_tok_" + std::to_string(getpid()))).string();
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::ofstream(text_path, std::ios::binary) << inputs[i];
    auto r = test::run_cli({"tokenize", test::shared_path(vocab), "--no-special", "--file", text_path});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_FALSE(r.out.empty());
    EXPECT_EQ(r.out.back(), '\n');  // one line
    EXPECT_EQ(ids_of(r.out), ids_of(expected[i])) << GetParam() << " case " << i << ": '" << inputs[i] << "'";
  }
  std::filesystem::remove(text_path);
}

INSTANTIATE_TEST_SUITE_P(Vocabularies, TokenizeCli,
                         testing::Values("llama-spm", "phi-3", "llama-bpe", "qwen2", "smollm2", "gpt-2",
                                         "deepseek-llm", "falcon", "starcoder", "bert-bge"),
                         [](const testing::TestParamInfo<std::string>& i) {
                           std::string s = i.param;
                           for (char& c : s) {
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return s;
                         });

TEST(TokenizeCli, DefaultAddsBosAndParsesSpecials) {
  MINNOW_REQUIRE_SHARED("models/stories260K.gguf");
  auto r = test::run_cli({"tokenize", test::shared_path("models/stories260K.gguf"), "Once upon a time"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "1 403 407 261 378\n");
  r = test::run_cli({"tokenize", test::shared_path("models/stories260K.gguf"), "Once upon a time", "--no-special"});
  EXPECT_EQ(r.out, "403 407 261 378\n");
}

TEST(TokenizeCli, BadInputIsACleanError) {
  auto r = test::run_cli({"tokenize", "/nonexistent.gguf", "hi"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("No such file"), std::string::npos) << r.err;
  r = test::run_cli({"tokenize", "/nonexistent.gguf", "--file", "/nonexistent.txt"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot read"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace minnow
