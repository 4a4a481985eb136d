// `minnow import-tokenizer`: SmolLM2's tokenizer.json becomes a GGUF that `minnow tokenize`
// loads and tokenizes like llama.cpp's; bad arguments and files fail with a one-line error.
#include <gtest/gtest.h>

#include <filesystem>

#include "e2e/cli_runner.h"
#include "test_util.h"

namespace minnow {
namespace {

TEST(ImportTokenizerCli, ImportsSmolLM2) {
  const std::string json = "models/smollm2-135m-instruct/tokenizer.json";
  const std::string config = "models/smollm2-135m-instruct/config.json";
  MINNOW_REQUIRE_SHARED(json);
  MINNOW_REQUIRE_SHARED(config);
  const std::string out =
      (std::filesystem::temp_directory_path() / ("minnow_import_" + std::to_string(getpid()) + ".gguf"))
          .string();
  auto r = test::run_cli(
      {"import-tokenizer", test::shared_path(json), out, "--config", test::shared_path(config)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "wrote " + out + ": gpt2 (pre smollm), 49152 tokens, 48900 merges, bos 1, eos 2\n");
  // "Hello world" in ggml-vocab-smollm2.gguf.out.
  auto t = test::run_cli({"tokenize", out, "--no-special", "Hello world"});
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_EQ(t.out, "19556 905\n");
  std::filesystem::remove(out);
}

TEST(ImportTokenizerCli, FailsCleanly) {
  const std::string dir = std::filesystem::temp_directory_path().string();
  const std::string bad = dir + "/minnow_import_bad_" + std::to_string(getpid()) + ".json";
  std::ofstream(bad) << R"({"model": {"type": "Unigram", "vocab": []}})";
  auto r = test::run_cli({"import-tokenizer", bad, dir + "/minnow_import_never.gguf"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("not supported yet"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir + "/minnow_import_never.gguf"));
  r = test::run_cli({"import-tokenizer", dir + "/minnow_no_such.json", dir + "/minnow_import_never.gguf"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("minnow_no_such.json"), std::string::npos) << r.err;
  r = test::run_cli({"import-tokenizer"});
  EXPECT_NE(r.exit_code, 0);
  std::filesystem::remove(bad);
}

}  // namespace
}  // namespace minnow
