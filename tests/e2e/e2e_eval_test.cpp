// `minnow eval` end to end: stories260K (in-process) against a test double of a cloud LLM on
// 127.0.0.1 that answers from the gold labels, on a 100-example dataset: the JSON result, its
// reproducibility with a seed, the report, and bad data (malformed lines, an unknown model, an
// upstream with nothing listening) giving clear messages while the run goes on.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "e2e/cli_runner.h"
#include "e2e/gold_upstream.h"
#include "test_util.h"

namespace minnow {
namespace {

using json = nlohmann::json;
using test::run_cli;

const char* kStories = "models/stories260K.gguf";

class EvalE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("minnow_eval_" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    data_ = test::parity_dataset();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  std::filesystem::path dir_;
  std::map<std::string, std::string> data_;
};

// The JSON without what changes from run to run (latencies).
json without_latencies(json j) {
  for (auto& m : j["models"]) {
    m.erase("latency_p50_s");
    m.erase("latency_p95_s");
  }
  return j;
}

TEST_F(EvalE2E, LocalModelAgainstGoldUpstream) {
  MINNOW_REQUIRE_SHARED(kStories);
  test::GoldUpstream gold(data_);
  test::write_upstreams(path("ups.json"), {{"gold", gold.port()}});
  // Line 101 is not JSON; line 102 has no label: both are named and skipped.
  test::write_jsonl(path("data.jsonl"), data_, "{\"prompt\": \"broken\n{\"prompt\": \"Is 0 even?\"}\n");
  const std::vector<std::string> args = {"eval", "--data", path("data.jsonl"), "--model", test::shared_path(kStories),
                                         "--model", "gold", "--upstreams", path("ups.json"), "--seed", "11",
                                         "--num-predict", "4", "--threads", "2", "--json", "--report",
                                         path("report.html"), "--write-router", path("parity.json")};
  auto r = run_cli(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("line 101: not valid JSON"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("line 102: none of 'expected', 'answer', 'label'"), std::string::npos) << r.err;
  EXPECT_EQ(gold.requests(), 100);

  json j = json::parse(r.out);
  EXPECT_EQ(j["metric"], "label");  // every example has a label
  EXPECT_EQ(j["examples"], 100);
  ASSERT_EQ(j["skipped"].size(), 2u);
  EXPECT_EQ(j["skipped"][0]["line"], 101);
  ASSERT_EQ(j["models"].size(), 2u);
  for (const json& m : j["models"]) {
    const double s = m["score"];
    EXPECT_GE(s, 0);
    EXPECT_LE(s, 1);
    EXPECT_LE(m["ci95"][0].get<double>(), s);
    EXPECT_GE(m["ci95"][1].get<double>(), s);
    EXPECT_EQ(m["errors"], 0);
    EXPECT_GT(m["prompt_tokens"].get<int>(), 0);
  }
  EXPECT_EQ(j["models"][0]["kind"], "local");
  EXPECT_EQ(j["models"][0]["cost_usd"], 0.0);
  EXPECT_EQ(j["models"][1]["kind"], "upstream");
  EXPECT_EQ(j["models"][1]["score"], 1.0);
  EXPECT_NEAR(j["models"][1]["cost_usd"].get<double>(), 100 * (20 * 1.0 + 2 * 4.0) / 1e6, 1e-12);

  ASSERT_EQ(j["verdicts"].size(), 1u);
  const json& v = j["verdicts"][0];
  EXPECT_EQ(v["reference"], "gold");
  // The story model cannot classify parity: 100 examples show it.
  EXPECT_EQ(v["decision"], "do not switch") << v.dump();
  EXPECT_FALSE(v["text"].get<std::string>().empty());

  const json& c = j["threshold_curve"];
  EXPECT_EQ(c["large"], "gold");
  ASSERT_GE(c["points"].size(), 2u);
  EXPECT_EQ(c["points"].front()["share_escalated"], 0.0);
  EXPECT_EQ(c["points"].front()["score"], j["models"][0]["score"]);
  EXPECT_EQ(c["points"].back()["share_escalated"], 1.0);
  EXPECT_EQ(c["points"].back()["score"], 1.0);
  EXPECT_TRUE(c["reached"].get<bool>());

  // The calibrated router: the local model escalating to the upstream at the curve's threshold.
  const json router = json::parse(test::read_file(path("parity.json")));
  EXPECT_EQ(router["name"], "parity");
  EXPECT_EQ(router["local"], test::shared_path(kStories));
  EXPECT_EQ(router["upstream"], "gold");
  EXPECT_EQ(router["policy"], "cascade");
  EXPECT_EQ(router["threshold"].get<double>(), std::min(0.0, c["at_target"]["threshold"].get<double>()));
  EXPECT_NE(r.err.find("wrote router 'parity'"), std::string::npos) << r.err;

  const std::string html = test::read_file(path("report.html"));
  EXPECT_NE(html.find("<svg class=\"chart score\""), std::string::npos);
  EXPECT_NE(html.find("<svg class=\"chart curve\""), std::string::npos);
  EXPECT_NE(html.find("do not switch"), std::string::npos);

  // The same seed gives the same result, latencies aside.
  auto again = run_cli(args);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(without_latencies(json::parse(again.out)), without_latencies(j));
  // Another seed moves the intervals, not the scores.
  std::vector<std::string> other = args;
  other[10] = "12";
  auto third = run_cli(other);
  ASSERT_EQ(third.exit_code, 0) << third.err;
  json k = json::parse(third.out);
  EXPECT_EQ(k["models"][0]["score"], j["models"][0]["score"]);
}

TEST_F(EvalE2E, UnknownModelIsNamedBeforeAnyWork) {
  test::GoldUpstream gold(data_);
  test::write_upstreams(path("ups.json"), {{"gold", gold.port()}});
  test::write_jsonl(path("data.jsonl"), data_);
  auto r = run_cli({"eval", "--data", path("data.jsonl"), "--model", "gold", "--model", "no-such-model",
                    "--upstreams", path("ups.json")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("unknown model 'no-such-model'"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_EQ(gold.requests(), 0);
}

TEST_F(EvalE2E, UnreachableUpstreamCountsErrorsAndFinishes) {
  // A socket bound but not listening (httplib's servers listen as they bind): connections to its
  // port are refused at once, and no other process can take the port meanwhile.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), len), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int port = ntohs(addr.sin_port);
  test::GoldUpstream gold(data_);
  test::write_upstreams(path("ups.json"), {{"gold", gold.port()}, {"down", port}});
  test::write_jsonl(path("data.jsonl"), data_);
  auto r = run_cli({"eval", "--data", path("data.jsonl"), "--model", "down", "--model", "gold", "--upstreams",
                    path("ups.json"), "--json", "--report", path("report.html")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("down: 100 of 100 examples failed (first: upstream 'down'"), std::string::npos) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["models"][0]["errors"], 100);
  EXPECT_EQ(j["models"][0]["score"], 0.0);
  EXPECT_NE(j["models"][0]["first_error"].get<std::string>().find("cannot connect"), std::string::npos);
  EXPECT_EQ(j["models"][1]["errors"], 0);
  EXPECT_EQ(j["models"][1]["score"], 1.0);
  EXPECT_TRUE(std::filesystem::exists(path("report.html")));
  close(fd);
}

// The judge metric with stories260K as the judge: its grammar-constrained {"score": N} is read
// on every example and scaled to 0..1 in quarters.
TEST_F(EvalE2E, JudgeScoresUnderItsSchema) {
  MINNOW_REQUIRE_SHARED(kStories);
  std::map<std::string, std::string> few;
  for (const auto& [prompt, label] : data_)
    if (few.size() < 10) few[prompt] = label;
  test::GoldUpstream gold(few);
  test::write_upstreams(path("ups.json"), {{"gold", gold.port()}});
  test::write_jsonl(path("data.jsonl"), few);
  auto r = run_cli({"eval", "--data", path("data.jsonl"), "--model", "gold", "--upstreams", path("ups.json"),
                    "--metric", "judge", "--judge", test::shared_path(kStories), "--rubric", "5 if it matches",
                    "--threads", "2", "--json", "--per-example"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["metric"], "judge");
  ASSERT_EQ(j["models"][0]["per_example"].size(), 10u);
  EXPECT_EQ(j["models"][0]["errors"], 0) << j["models"][0].value("first_error", "");
  for (const json& e : j["models"][0]["per_example"]) {
    const double s = e["score"];
    EXPECT_EQ(s * 4, std::round(s * 4)) << s;
    EXPECT_GE(s, 0);
    EXPECT_LE(s, 1);
  }
}

TEST_F(EvalE2E, NoUsableExamplesIsAnError) {
  test::write_jsonl(path("data.jsonl"), {}, "not json\n{\"label\": \"x\"}\n");
  auto r = run_cli({"eval", "--data", path("data.jsonl"), "--model", "whatever"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("line 1: not valid JSON"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("line 2: neither 'messages' nor 'prompt'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("no usable examples (2 lines skipped)"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace minnow
