// `minnow quantize` end to end: a tiny model into every type, each output shown and generating
// text; the per-tensor lines and the summary; bad arguments and inputs as one stderr line.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "e2e/cli_runner.h"
#include "tiny_model.h"

namespace minnow {
namespace {

namespace fs = std::filesystem;
using test::run_cli;

struct TempDir {
  fs::path path;
  TempDir() {
    static int counter = 0;
    path = fs::temp_directory_path() /
           ("minnow_e2e_quantize_" + std::to_string(getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string str(const std::string& rel) const { return (path / rel).string(); }
};

// One line on stderr, naming the problem; nothing on stdout; exit code 1.
void expect_clean_failure(const test::CliResult& r, const std::string& needle) {
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << "stderr: " << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "stderr: " << r.err;
  EXPECT_EQ(r.err.rfind("minnow: ", 0), 0u) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

// The value of a `minnow show` row ("    quantization         q4_k").
std::string show_row(const std::string& out, const std::string& key) {
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    const size_t at = line.find(key);
    if (at == 4) {
      const size_t v = line.find_first_not_of(' ', at + key.size());
      return v == std::string::npos ? "" : line.substr(v);
    }
  }
  return "";
}

std::string write_tiny(const TempDir& dir) {
  test::TinyLlamaSpec s;  // rows of 256, so the k-quants need no fallback
  s.n_embd = 256;
  s.n_ff = 256;
  s.n_layer = 4;
  const auto bytes = test::make_tiny_llama(s);
  const std::string path = dir.str("tiny.gguf");
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  return path;
}

TEST(CliQuantize, EveryTypeLoadsAndGenerates) {
  TempDir dir;
  const std::string in = write_tiny(dir);
  // `minnow show` names the quantization by general.file_type: the argument, whatever its case.
  const std::pair<const char*, const char*> types[] = {
      {"Q4_0", "Q4_0"},     {"Q4_1", "Q4_1"},     {"Q5_0", "Q5_0"},     {"Q5_1", "Q5_1"},
      {"Q8_0", "Q8_0"},     {"Q4_K_S", "Q4_K_S"}, {"q4_k_m", "Q4_K_M"}, {"Q5_K_S", "Q5_K_S"},
      {"Q5_K_M", "Q5_K_M"}, {"Q6_K", "Q6_K"},     {"F16", "F16"},       {"bf16", "BF16"},
      {"f32", "F32"},
  };
  const int n_tensors = 3 + 4 * 9;
  for (const auto& [type, shown] : types) {
    SCOPED_TRACE(type);
    const std::string out = dir.str(std::string(type) + ".gguf");
    auto q = run_cli({"quantize", in, out, type, "--threads", "2"});
    ASSERT_EQ(q.exit_code, 0) << q.err;
    EXPECT_TRUE(q.err.empty()) << q.err;
    EXPECT_EQ(std::count(q.out.begin(), q.out.end(), '\n'), n_tensors + 2) << q.out;  // + 2 summary lines
    EXPECT_NE(q.out.find("blk.3.ffn_down.weight"), std::string::npos) << q.out;
    EXPECT_NE(q.out.find("wrote " + out), std::string::npos) << q.out;
    auto show = run_cli({"show", out});
    ASSERT_EQ(show.exit_code, 0) << show.err;
    EXPECT_EQ(show_row(show.out, "quantization"), shown) << show.out;
    auto run = run_cli({"run", out, "the", "--raw", "--temperature", "0", "-n", "8"});
    ASSERT_EQ(run.exit_code, 0) << run.err;
    EXPECT_GT(run.out.size(), std::string("the").size()) << run.out;
  }
}

TEST(CliQuantize, PrintsEachTensorAndTheSizes) {
  TempDir dir;
  const std::string in = write_tiny(dir);
  auto q = run_cli({"quantize", in, dir.str("out.gguf"), "q4_k_m"});
  ASSERT_EQ(q.exit_code, 0) << q.err;
  // Name, shape, from -> to, sizes: attn_v of the last layer gets more bits.
  EXPECT_NE(q.out.find("blk.3.attn_v.weight"), std::string::npos);
  std::istringstream lines(q.out);
  std::string line, attn_v, norm;
  while (std::getline(lines, line)) {
    if (line.find("blk.3.attn_v.weight") != std::string::npos) attn_v = line;
    if (line.find("blk.3.ffn_norm.weight") != std::string::npos) norm = line;
  }
  EXPECT_NE(attn_v.find("[256, 128]"), std::string::npos) << attn_v;
  EXPECT_NE(attn_v.find("f32 -> q6_k"), std::string::npos) << attn_v;
  EXPECT_NE(attn_v.find("128.0 KiB ->"), std::string::npos) << attn_v;
  EXPECT_NE(norm.find("f32 -> f32"), std::string::npos) << norm;
  EXPECT_NE(q.out.find("wrote "), std::string::npos);
  EXPECT_NE(q.out.find("tensor data "), std::string::npos);
  EXPECT_EQ(q.out.find("warning"), std::string::npos);

  // Requantizing the result warns in the summary.
  auto re = run_cli({"quantize", dir.str("out.gguf"), dir.str("re.gguf"), "Q4_0"});
  ASSERT_EQ(re.exit_code, 0) << re.err;
  EXPECT_NE(re.out.find("(requantized)"), std::string::npos) << re.out;
  EXPECT_NE(re.out.find("warning: "), std::string::npos) << re.out;
}

TEST(CliQuantize, BadArgumentsAreOneLine) {
  TempDir dir;
  const std::string in = write_tiny(dir);
  expect_clean_failure(run_cli({"quantize", in, dir.str("o.gguf"), "Q3_X"}),
                       "unknown type 'Q3_X': expected one of Q4_0");
  expect_clean_failure(run_cli({"quantize", dir.str("missing.gguf"), dir.str("o.gguf"), "Q8_0"}),
                       "missing.gguf");
  std::ofstream(dir.str("junk.gguf")) << "not a model";
  expect_clean_failure(run_cli({"quantize", dir.str("junk.gguf"), dir.str("o.gguf"), "Q8_0"}), "junk.gguf");
  expect_clean_failure(run_cli({"quantize", in, dir.str("no/such/dir/o.gguf"), "Q8_0"}), "no/such/dir");
  EXPECT_FALSE(fs::exists(dir.str("o.gguf")));
  auto missing_type = run_cli({"quantize", in, dir.str("o.gguf")});
  EXPECT_NE(missing_type.exit_code, 0);
  EXPECT_NE(missing_type.err.find("type"), std::string::npos) << missing_type.err;
}

}  // namespace
}  // namespace minnow
