// `minnow bench` end to end on a tiny random llama: the JSON report carries every test the
// issue names (prompt, generation, time to first token) with their repetitions, medians inside
// their ranges, rates consistent with the model's bytes and FLOPs per token, peak RSS, and the
// bandwidth given or measured in the run; the text report states the same; --parallel compares
// sequences decoding together with one alone; bad arguments are one-line errors. Speeds
// themselves are not asserted (benchmarks, not timed tests).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "e2e/cli_runner.h"
#include "tiny_model.h"

namespace minnow {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::run_cli;

class BenchCli : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (fs::temp_directory_path() / ("minnow_e2e_bench_" + std::to_string(getpid()) + ".gguf")).string();
    const auto bytes = test::make_tiny_llama({});
    std::ofstream(path_, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
  void TearDown() override { fs::remove(path_); }
  std::string path_;
};

const json* find_test(const json& report, const std::string& name) {
  for (const json& t : report["tests"])
    if (t["test"] == name) return &t;
  return nullptr;
}

void expect_series(const json& t, const char* unit, size_t repetitions) {
  ASSERT_TRUE(t.contains(unit)) << t.dump();
  EXPECT_EQ(t["samples"].size(), repetitions) << t.dump();
  const double m = t[unit], lo = t["min"], hi = t["max"];
  EXPECT_GT(lo, 0);
  EXPECT_LE(lo, m);
  EXPECT_LE(m, hi);
  for (const json& s : t["samples"]) {
    EXPECT_GE(s.get<double>(), lo);
    EXPECT_LE(s.get<double>(), hi);
  }
}

TEST_F(BenchCli, JsonReportsEveryTestAgainstTheGivenLimits) {
  const auto r = run_cli({"bench", path_, "--prompt-tokens", "16", "--gen-tokens", "8", "--ttft-tokens", "8",
                          "--repetitions", "3", "--threads", "2", "--bandwidth", "10", "--peak-gflops", "100",
                          "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["threads"], 2);
  EXPECT_EQ(j["repetitions"], 3);
  EXPECT_EQ(j["architecture"], "llama");
  EXPECT_EQ(j["bandwidth_gbs"], 10.0);
  EXPECT_EQ(j["bandwidth_measured"], false);
  EXPECT_GT(j["peak_rss_mib"].get<double>(), 1.0);
  const double bytes = j["weight_bytes_per_token"], flops = j["flops_per_token"];
  EXPECT_GT(bytes, 0);
  EXPECT_GT(flops, 0);

  const json* pp = find_test(j, "pp16");
  const json* tg = find_test(j, "tg8");
  const json* ttft = find_test(j, "ttft8");
  ASSERT_TRUE(pp && tg && ttft) << j.dump();
  expect_series(*pp, "tokens_per_s", 3);
  expect_series(*tg, "tokens_per_s", 3);
  expect_series(*ttft, "ms", 3);
  // Rates follow from the medians and the model's per-token bytes and FLOPs.
  const double tg_rate = (*tg)["tokens_per_s"], pp_rate = (*pp)["tokens_per_s"];
  EXPECT_NEAR((*tg)["gbs"].get<double>(), tg_rate * bytes / 1e9, 1e-9 * tg_rate * bytes);
  EXPECT_NEAR((*tg)["fraction_of_bandwidth"].get<double>(), (*tg)["gbs"].get<double>() / 10, 1e-12);
  EXPECT_NEAR((*pp)["gflops"].get<double>(), pp_rate * flops / 1e9, 1e-9 * pp_rate * flops);
  EXPECT_NEAR((*pp)["fraction_of_peak"].get<double>(), (*pp)["gflops"].get<double>() / 100, 1e-12);
}

TEST_F(BenchCli, MeasuresTheBandwidthWhenNotGiven) {
  const auto r = run_cli({"bench", path_, "-p", "0", "-n", "4", "--ttft-tokens", "0", "-r", "1", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["bandwidth_measured"], true);
  // Any machine that runs this reads memory faster than 0.1 GB/s and slower than 10 TB/s.
  EXPECT_GT(j["bandwidth_gbs"].get<double>(), 0.1);
  EXPECT_LT(j["bandwidth_gbs"].get<double>(), 10000);
  ASSERT_EQ(j["tests"].size(), 1u) << j.dump();  // only what was asked for
  EXPECT_EQ(j["tests"][0]["test"], "tg4");
  EXPECT_GT(j["tests"][0]["fraction_of_bandwidth"].get<double>(), 0);
}

TEST_F(BenchCli, TextReportNamesEachTest) {
  const auto r = run_cli({"bench", path_, "-p", "8", "-n", "4", "--ttft-tokens", "4", "-r", "1", "--bandwidth", "20"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* s : {"kernels: ", "threads: ", "read bandwidth: 20.0 GB/s (given)", "pp8 ", "tg4 ",
                        "time to first token (4-token prompt): ", "peak RSS: "})
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
}

TEST_F(BenchCli, ParallelSetsSequencesTogetherAgainstOneAlone) {
  const auto r = run_cli({"bench", path_, "--parallel", "3", "-n", "6", "-r", "2", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["parallel"], 3);
  const json* one = find_test(j, "tg6x1");
  const json* many = find_test(j, "tg6x3");
  ASSERT_TRUE(one && many) << j.dump();
  expect_series(*one, "tokens_per_s", 2);
  expect_series(*many, "tokens_per_s", 2);
  EXPECT_EQ((*one)["sequences"], 1);
  EXPECT_EQ((*many)["sequences"], 3);
  // Up to 6 tokens per sequence and timed round (fewer when one ends early).
  EXPECT_GT((*one)["tokens"].get<int>(), 0);
  EXPECT_LE((*one)["tokens"].get<int>(), 6 * 2);
  EXPECT_GT((*many)["tokens"].get<int>(), (*one)["tokens"].get<int>());
  EXPECT_LE((*many)["tokens"].get<int>(), 3 * 6 * 2);
  EXPECT_DOUBLE_EQ(j["parallel_speedup"].get<double>(),
                   (*many)["tokens_per_s"].get<double>() / (*one)["tokens_per_s"].get<double>());

  const auto text = run_cli({"bench", path_, "--parallel", "2", "-n", "4", "-r", "1"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  for (const char* s : {"tg4x1 ", "tg4x2 ", "aggregate generation with 2 sequences: "})
    EXPECT_NE(text.out.find(s), std::string::npos) << s << "\n" << text.out;
  EXPECT_NE(run_cli({"bench", path_, "--parallel", "0"}).exit_code, 0);
}

TEST_F(BenchCli, BadArgumentsAreOneLineErrors) {
  const auto missing = run_cli({"bench", path_ + ".absent", "-r", "1"});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find(".absent"), std::string::npos) << missing.err;
  EXPECT_EQ(std::count(missing.err.begin(), missing.err.end(), '\n'), 1) << missing.err;
  const auto range = run_cli({"bench", path_, "--prompt-tokens", "-5"});
  EXPECT_NE(range.exit_code, 0);
  EXPECT_FALSE(range.err.empty());
  const auto reps = run_cli({"bench", path_, "--repetitions", "0"});
  EXPECT_NE(reps.exit_code, 0);
}

}  // namespace
}  // namespace minnow
