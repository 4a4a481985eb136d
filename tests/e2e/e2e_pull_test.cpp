// `minnow pull`, `run` of a name not in the store, `ps` and `stop`, as a user runs them: the
// binary with MINNOW_MODELS in a fresh folder and MINNOW_HF_ENDPOINT at a local server with
// Hugging Face's layout (tests/fake_hub.h); `ps`/`stop` against a `minnow serve` started here.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <regex>

#include "e2e/cli_runner.h"
#include "fake_hub.h"
#include "tiny_model.h"

namespace minnow {
namespace {

namespace fs = std::filesystem;
using test::run_cli;

class PullCli : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("minnow_pull_cli_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "models");
    setenv("MINNOW_MODELS", (dir_ / "models").c_str(), 1);
    setenv("MINNOW_HF_ENDPOINT", hub_.endpoint().c_str(), 1);
    test::TinyLlamaSpec spec;
    q4_ = test::make_tiny_llama(spec);
    spec.seed = 3;
    q8_ = test::make_tiny_llama(spec);
    hub_.add_repo("test-org/tiny-GGUF", {{"tiny-Q4_K_M.gguf", q4_}, {"tiny-Q8_0.gguf", q8_}});
  }
  void TearDown() override {
    unsetenv("MINNOW_MODELS");
    unsetenv("MINNOW_HF_ENDPOINT");
    unsetenv("MINNOW_HOST");
    fs::remove_all(dir_);
  }

  fs::path dir_;
  test::FakeHub hub_;
  std::vector<uint8_t> q4_, q8_;
};

TEST_F(PullCli, PullThenRun) {
  auto r = run_cli({"pull", "hf.co/test-org/tiny-GGUF:Q4_K_M"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string pulled = "pulled hf.co/test-org/tiny-GGUF:Q4_K_M (sha256:" + test::sha256_hex(q4_).substr(0, 12);
  EXPECT_EQ(r.out.rfind(pulled, 0), 0u) << r.out;
  // Not a terminal: each step on a line, the bytes by tenths.
  for (const char* line : {"pulling manifest\n", "pulling " , ": 0% (", ": 100% (", "verifying sha256 digest\n",
                           "writing manifest\n", "success\n"}) {
    EXPECT_NE(r.err.find(line), std::string::npos) << line << " in:\n" << r.err;
  }
  r = run_cli({"list"});
  EXPECT_NE(r.out.find("hf.co/test-org/tiny-GGUF:Q4_K_M"), std::string::npos) << r.out;

  r = run_cli({"run", "hf.co/test-org/tiny-GGUF:Q4_K_M", "hello", "-n", "3", "--temperature", "0", "--verbose"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("generation:       3 tokens"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("pulling"), std::string::npos) << r.err;  // it was in the store
  EXPECT_EQ(hub_.downloads().size(), 1u);
}

TEST_F(PullCli, RunPullsANameNotInTheStore) {
  auto r = run_cli({"run", "hf.co/test-org/tiny-GGUF:Q8_0", "hello", "-n", "2", "--temperature", "0", "--verbose"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("minnow: hf.co/test-org/tiny-GGUF:Q8_0 is not in the store; pulling it from " + hub_.endpoint()),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("success\n"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("generation:       2 tokens"), std::string::npos) << r.err;
  EXPECT_NE(run_cli({"list"}).out.find("hf.co/test-org/tiny-GGUF:Q8_0"), std::string::npos);

  r = run_cli({"run", "hf.co/test-org/missing", "hi"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("minnow: test-org/missing: not found on " + hub_.endpoint()), std::string::npos) << r.err;
  r = run_cli({"run", "nosuchmodel", "hi"});  // not pullable: the store's error, no pull
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.find("pulling"), std::string::npos) << r.err;
}

TEST_F(PullCli, PullResumesAfterACutConnection) {
  hub_.fault_next({.cut_after = 100000});
  auto r = run_cli({"pull", "hf.co/test-org/tiny-GGUF:Q8_0"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("the download stopped at 100000 of " + std::to_string(q8_.size()) + " bytes"), std::string::npos)
      << r.err;
  r = run_cli({"pull", "hf.co/test-org/tiny-GGUF:Q8_0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The first report is where the first pull stopped.
  const int tenth = static_cast<int>(static_cast<double>(100000) / static_cast<double>(q8_.size()) * 10);
  ASSERT_GT(tenth, 0);
  EXPECT_NE(r.err.find(": " + std::to_string(tenth * 10) + "% ("), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(": 0% ("), std::string::npos) << r.err;
  ASSERT_EQ(hub_.downloads().size(), 2u);
  EXPECT_EQ(hub_.downloads()[1]->range, "bytes=100000-");
}

// `minnow serve` as a child process; its address from the line it prints.
class Serve {
 public:
  Serve() {
    int fds[2];
    if (pipe(fds) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], 2);
      close(fds[0]);
      close(fds[1]);
      execl(MINNOW_BINARY, MINNOW_BINARY, "serve", "--port", "0", "--threads", "1", static_cast<char*>(nullptr));
      _exit(127);
    }
    close(fds[1]);
    std::string err;
    char buf[256];
    const std::regex listening("listening on http://([0-9.]+:[0-9]+)");
    std::smatch m;
    while (!std::regex_search(err, m, listening)) {
      const ssize_t n = read(fds[0], buf, sizeof buf);
      if (n <= 0) break;
      err.append(buf, static_cast<size_t>(n));
    }
    close(fds[0]);
    if (std::regex_search(err, m, listening)) address_ = m[1];
  }
  ~Serve() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  const std::string& address() const { return address_; }  // "" when it did not start

 private:
  pid_t pid_ = -1;
  std::string address_;
};

TEST_F(PullCli, PsAndStop) {
  setenv("MINNOW_HOST", "127.0.0.1:1", 1);
  auto r = run_cli({"ps"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no minnow server answers at 127.0.0.1:1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("minnow serve"), std::string::npos) << r.err;
  r = run_cli({"stop", "tiny"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no minnow server answers"), std::string::npos) << r.err;

  ASSERT_EQ(run_cli({"pull", "hf.co/test-org/tiny-GGUF:Q4_K_M"}).exit_code, 0);
  Serve serve;
  ASSERT_FALSE(serve.address().empty());
  setenv("MINNOW_HOST", serve.address().c_str(), 1);
  r = run_cli({"ps"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("NAME", 0), 0u) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << "nothing loaded yet:\n" << r.out;

  // Load the model through the API, kept for the default 5 minutes, then forever.
  httplib::Client cli("http://" + serve.address());
  const nlohmann::json load = {{"model", "hf.co/test-org/tiny-GGUF:Q4_K_M"}};
  ASSERT_EQ(cli.Post("/api/generate", load.dump(), "application/json")->status, 200);
  r = run_cli({"ps"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string id = test::sha256_hex(q4_).substr(0, 12);
  EXPECT_TRUE(std::regex_search(r.out, std::regex("hf.co/test-org/tiny-GGUF:Q4_K_M +" + id +
                                                  " +[0-9.]+ MB +100% CPU +[0-9]+ +[45] minutes from now\n")))
      << r.out;
  nlohmann::json forever = load;
  forever["keep_alive"] = -1;
  ASSERT_EQ(cli.Post("/api/generate", forever.dump(), "application/json")->status, 200);
  EXPECT_NE(run_cli({"ps"}).out.find("Forever"), std::string::npos);

  r = run_cli({"stop", "hf.co/test-org/tiny-GGUF:Q4_K_M"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_cli({"ps"});
  EXPECT_EQ(r.out.find("tiny-GGUF"), std::string::npos) << r.out;
  r = run_cli({"stop", "hf.co/test-org/tiny-GGUF:Q4_K_M"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("model 'hf.co/test-org/tiny-GGUF:Q4_K_M' is not loaded"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace minnow
