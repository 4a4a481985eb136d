// `minnow embed` and `minnow show` end to end: a tiny BERT with the real bge WordPiece vocabulary
// (../shared/tokenizer-tests) and random weights, and stories260K: unit-length vectors, texts that
// tokenize alike embed alike, the length of the context enforced unless --truncate, and running
// an embedding model to generate text refused with one clear line.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "e2e/cli_runner.h"
#include "test_util.h"
#include "tiny_bert.h"

namespace minnow {
namespace {

using nlohmann::json;
using test::run_cli;

const char* kBgeVocab = "tokenizer-tests/ggml-vocab-bert-bge.gguf";

// A tiny BERT (32 wide, 2 layers, 64 positions) speaking bge's vocabulary, written to a temporary file.
class BgeBert : public ::testing::Test {
 protected:
  void SetUp() override {
    MINNOW_REQUIRE_SHARED(kBgeVocab);
    auto vocab = gguf::File::open(test::shared_path(kBgeVocab));
    ASSERT_TRUE(vocab.ok()) << vocab.error().message;
    test::TinyBertSpec spec;
    spec.vocab = &*vocab;
    spec.n_embd = 32;
    spec.n_ff = 64;
    spec.n_ctx = 64;
    spec.pooling_type = 2;  // cls, as bge
    const std::vector<uint8_t> bytes = test::make_tiny_bert(spec);
    path_ = (std::filesystem::temp_directory_path() / ("minnow_bge_" + std::to_string(getpid()) + ".gguf"))
                .string();
    std::ofstream(path_, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
  void TearDown() override {
    if (!path_.empty()) std::filesystem::remove(path_);
  }
  std::string path_;
};

double norm(const json& v) {
  double s = 0;
  for (const json& x : v) s += x.get<double>() * x.get<double>();
  return std::sqrt(s);
}

TEST_F(BgeBert, ShowDescribesAnEmbeddingModel) {
  const test::CliResult r = run_cli({"show", path_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("architecture         bert"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("embedding model"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("embedding pooling    cls"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("model                bert"), std::string::npos) << r.out;  // the tokenizer
}

TEST_F(BgeBert, EmbedPrintsUnitVectors) {
  // bge's vocabulary is uncased: the first two texts are the same tokens.
  const test::CliResult r = run_cli({"embed", path_, "Hello, World!", "hello, world!", "a different text"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json out = json::parse(r.out);
  ASSERT_EQ(out.size(), 3u);
  for (const json& v : out) {
    EXPECT_EQ(v.size(), 32u);
    EXPECT_NEAR(norm(v), 1.0, 1e-5);
  }
  EXPECT_EQ(out[0], out[1]);
  EXPECT_NE(out[0], out[2]);
  const test::CliResult cut = run_cli({"embed", path_, "Hello, World!", "--dimensions", "8"});
  ASSERT_EQ(cut.exit_code, 0) << cut.err;
  EXPECT_EQ(json::parse(cut.out)[0].size(), 8u);
}

TEST_F(BgeBert, ContextLengthAndGeneration) {
  std::string text;
  for (int i = 0; i < 40; ++i) text += "hello world ";
  test::CliResult r = run_cli({"embed", path_, text});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("longer than the context of 64"), std::string::npos) << r.err;
  r = run_cli({"embed", path_, text, "--truncate"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = run_cli({"run", path_, "hello"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("embedding model"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST(EmbedCli, Stories260K) {
  MINNOW_REQUIRE_SHARED("models/stories260K.gguf");
  const std::string path = test::shared_path("models/stories260K.gguf");
  const test::CliResult r = run_cli({"embed", path, "Once upon a time", "Once upon a time"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json out = json::parse(r.out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].size(), 64u);
  EXPECT_NEAR(norm(out[0]), 1.0, 1e-5);
  EXPECT_EQ(out[0], out[1]);
  const test::CliResult missing = run_cli({"embed", "/nonexistent/model.gguf", "x"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.err.rfind("minnow: ", 0), 0u) << missing.err;
}

}  // namespace
}  // namespace minnow
