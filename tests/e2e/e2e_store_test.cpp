// The store through the CLI (MINNOW_MODELS points at a fresh folder): create from a GGUF file
// and from a Modelfile, list, show, run by name with the Modelfile's defaults, cp, rm; and the
// errors for bad Modelfiles and unknown names.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "e2e/cli_runner.h"
#include "e2e/hf_folder.h"
#include "tiny_model.h"

namespace minnow {
namespace {

namespace fs = std::filesystem;
using test::run_cli;

class StoreCli : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("minnow_store_cli_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "models");
    setenv("MINNOW_MODELS", (dir_ / "models").c_str(), 1);
    test::TinyLlamaSpec s;
    s.control_tokens = {"<|im_start|>", "<|im_end|>"};
    const auto bytes = test::make_tiny_llama(s);
    gguf_ = (dir_ / "tiny.gguf").string();
    std::ofstream(gguf_, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
  void TearDown() override {
    unsetenv("MINNOW_MODELS");
    fs::remove_all(dir_);
  }
  std::string write(const std::string& name, const std::string& text) {
    const fs::path p = dir_ / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p.string();
  }

  fs::path dir_;
  std::string gguf_;
};

TEST_F(StoreCli, CreateListShowRunCopyRemove) {
  auto r = run_cli({"create", "tiny", "--from", gguf_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("created tiny:latest"), std::string::npos) << r.out;

  // A Modelfile beside the weights: FROM is relative to it; its defaults are kept.
  const std::string mf = write("sub/Modelfile",
                               "FROM ../tiny.gguf\n"
                               "PARAMETER num_predict 3\n"
                               "PARAMETER temperature 0\n"
                               "SYSTEM You answer in three tokens.\n"
                               "TEMPLATE \"\"\"{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}\"\"\"\n");
  r = run_cli({"create", "org/tiny:brief", "-f", mf});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  r = run_cli({"list"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("org/tiny:brief"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tiny:latest"), std::string::npos) << r.out;
  // Same weights: one blob, one ID.
  size_t blobs = 0;
  for (const auto& e : fs::directory_iterator(dir_ / "models" / "blobs")) blobs += e.path().filename().string().starts_with("sha256-");
  EXPECT_EQ(blobs, 1u);

  r = run_cli({"show", "org/tiny:brief"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("You answer in three tokens."), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("parameter num_predict"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[{{ m.role }}]"), std::string::npos) << r.out;  // the Modelfile's template is in use

  // run by name: the stored num_predict applies; a flag overrides it.
  r = run_cli({"run", "org/tiny:brief", "hello", "--verbose"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("generation:       3 tokens"), std::string::npos) << r.err;
  r = run_cli({"run", "org/tiny:brief", "hello", "--verbose", "-n", "5"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("generation:       5 tokens"), std::string::npos) << r.err;
  // The prompt is the stored system message and the user's, in the stored template.
  auto ids = run_cli({"tokenize", gguf_, "[system] You answer in three tokens.\n[user] hello\n"});
  ASSERT_EQ(ids.exit_code, 0) << ids.err;
  const size_t n_ids = std::count(ids.out.begin(), ids.out.end(), ' ') + 1;  // "1 5 9\n"
  EXPECT_NE(r.err.find("prompt eval:      " + std::to_string(n_ids) + " tokens"), std::string::npos)
      << n_ids << " tokens expected:\n" << r.err;

  r = run_cli({"cp", "org/tiny:brief", "brief2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_cli({"rm", "org/tiny:brief", "tiny"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_cli({"run", "brief2", "hi", "--verbose"});  // the copy still has the weights and defaults
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("generation:       3 tokens"), std::string::npos) << r.err;
  r = run_cli({"rm", "brief2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  blobs = 0;
  for (const auto& e : fs::directory_iterator(dir_ / "models" / "blobs")) blobs += e.path().filename().string().starts_with("sha256-");
  EXPECT_EQ(blobs, 0u);
}

// A Hugging Face folder converts on create (--from DIR, or FROM in a Modelfile), and the
// store model answers like the same folder converted by hand.
TEST_F(StoreCli, CreateFromHuggingFaceFolder) {
  test::HfModelSpec spec;
  spec.family = "llama";
  const test::HfModel hf = test::make_hf_model(spec);
  test::write_hf_folder(hf, dir_ / "hf");
  auto r = run_cli({"create", "conv", "--from", (dir_ / "hf").string(), "--type", "f32"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  write("Modelfile", "FROM ./hf\nPARAMETER num_predict 6\n");
  r = run_cli({"create", "conv:mf", "-f", (dir_ / "Modelfile").string(), "--type", "f32"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_cli({"convert", (dir_ / "hf").string(), (dir_ / "by_hand.gguf").string(), "--type", "f32"});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  auto a = run_cli({"run", "conv", "hello", "--temperature", "0", "-n", "6"});
  auto b = run_cli({"run", "conv:mf", "hello", "--temperature", "0"});
  auto c = run_cli({"run", (dir_ / "by_hand.gguf").string(), "hello", "--temperature", "0", "-n", "6"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(b.exit_code, 0) << b.err;
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_FALSE(c.out.empty());
  EXPECT_EQ(a.out, c.out);
  EXPECT_EQ(b.out, c.out);
  r = run_cli({"show", "conv"});
  EXPECT_NE(r.out.find("llama"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(test::kTinyTemplate), std::string::npos) << r.out;  // the folder's chat template

  r = run_cli({"create", "broken", "--from", (dir_ / "missing_dir").string()});
  EXPECT_EQ(r.exit_code, 1);
  std::filesystem::remove(dir_ / "hf" / "config.json");
  r = run_cli({"create", "broken", "--from", (dir_ / "hf").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("config.json"), std::string::npos) << r.err;
  EXPECT_EQ(run_cli({"list"}).out.find("broken"), std::string::npos);
}

TEST_F(StoreCli, ClearErrors) {
  struct Case {
    std::vector<std::string> args;
    std::string error;
  } cases[] = {
      {{"run", "nosuchmodel", "hi"}, "model 'nosuchmodel:latest' not found"},
      {{"show", "nosuchmodel"}, "not found"},
      {{"rm", "nosuchmodel"}, "not found"},
      {{"create", "bad name", "--from", gguf_}, "names hold only"},
      {{"create", "x", "--from", (dir_ / "missing.gguf").string()}, "missing.gguf"},
      {{"create", "x", "-f", write("m1", "FROM " + gguf_ + "\nPARAMETER temperature hot\n")}, "'hot' is not a number"},
      {{"create", "x", "-f", write("m2", "FROM " + gguf_ + "\nPARAMETER tempurature 1\n")}, "unknown parameter 'tempurature'"},
      {{"create", "x", "-f", write("m3", "FROM " + gguf_ + "\nTEMPLATE {% for %}\n")}, "TEMPLATE"},
      {{"create", "x", "-f", write("m4", "FROM " + gguf_ + "\nADAPTER ./lora.gguf\n")}, "ADAPTER"},
      {{"create", "x", "-f", write("m5", "PARAMETER top_k 3\n")}, "no FROM"},
      {{"create", "x", "--from", write("notgguf.gguf", "hello")}, "gguf"},
  };
  for (const Case& c : cases) {
    auto r = run_cli(c.args);
    EXPECT_EQ(r.exit_code, 1) << c.args[0] << " " << c.args[1] << "\n" << r.err;
    EXPECT_NE(r.err.find(c.error), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
  }
  EXPECT_TRUE(run_cli({"list"}).out.find("x:latest") == std::string::npos);  // nothing half-created
}

}  // namespace
}  // namespace minnow
