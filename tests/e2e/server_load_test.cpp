// Load test of `minnow serve`: several client processes send thousands of requests, valid and
// malformed, streamed and not, through both APIs, to one server with stories260K. Every request
// must get the answer its kind calls for, the server must keep its memory (RSS after the run
// within a margin of RSS after a warm-up round) and still serve and shut down cleanly.
// (Named server_* so that it links the server library's cpp-httplib; it runs the built binary.)
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <httplib.h>
#include <string>
#include <thread>
#include <vector>

#include "e2e/cli_runner.h"

// Under AddressSanitizer freed memory sits in its quarantine, so RSS grows without a leak; there
// the server's exit status carries LeakSanitizer's verdict instead.
#if defined(__SANITIZE_ADDRESS__)
#define MINNOW_LOAD_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MINNOW_LOAD_TEST_ASAN 1
#endif
#endif
#ifdef MINNOW_LOAD_TEST_ASAN
constexpr bool kRssMeaningful = false;
#else
constexpr bool kRssMeaningful = true;
#endif

namespace minnow {
namespace {

namespace fs = std::filesystem;

const std::string kStories = std::string(MINNOW_SHARED_DIR) + "/models/stories260K.gguf";

// Resident set size of a process in KiB (VmRSS), -1 when it cannot be read.
long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// `minnow serve` on a free loopback port as a child process.
class ServerProcess {
 public:
  bool start(const std::string& store) {
    int err_pipe[2];
    if (pipe(err_pipe) != 0) return false;
    pid_ = fork();
    if (pid_ == 0) {
      setenv("MINNOW_MODELS", store.c_str(), 1);
      dup2(err_pipe[1], STDERR_FILENO);
      close(err_pipe[0]);
      std::string bin = MINNOW_BINARY;
      execl(bin.c_str(), bin.c_str(), "serve", "--port", "0", "--threads", "1", static_cast<char*>(nullptr));
      _exit(127);
    }
    close(err_pipe[1]);
    err_fd_ = err_pipe[0];
    std::string text;
    char buf[256];
    const std::string marker = "listening on http://127.0.0.1:";
    while (text.find('\n', text.find(marker)) == std::string::npos || text.find(marker) == std::string::npos) {
      const ssize_t n = read(err_fd_, buf, sizeof buf);
      if (n <= 0) return false;  // exited before listening
      text.append(buf, static_cast<size_t>(n));
    }
    port_ = std::stoi(text.substr(text.find(marker) + marker.size()));
    return true;
  }
  // SIGTERM and the exit status (128 + signal when killed by one).
  int stop() {
    if (pid_ <= 0) return -1;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    if (err_fd_ >= 0) close(err_fd_);
    err_fd_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  ~ServerProcess() { stop(); }
  pid_t pid() const { return pid_; }
  int port() const { return port_; }

 private:
  pid_t pid_ = -1;
  int err_fd_ = -1;
  int port_ = 0;
};

// One kind of request and the status it must get.
struct Case {
  const char* method;
  const char* path;
  std::string body;
  int status;
  const char* must_contain;  // in the response body
};

std::vector<Case> cases() {
  return {
      {"POST", "/api/generate",
       R"({"model":"stories","prompt":"Once upon a time","stream":false,"options":{"temperature":0,"num_predict":8}})",
       200, "\"done\":true"},
      {"POST", "/api/generate",
       R"({"model":"stories","prompt":"Lily","options":{"temperature":0.8,"seed":3,"num_predict":6}})", 200,
       "\"done\":true"},
      {"POST", "/api/chat",
       R"({"model":"stories","messages":[{"role":"user","content":"Hi"}],"options":{"num_predict":6}})", 200,
       "\"done\":true"},
      {"POST", "/v1/chat/completions",
       R"({"model":"stories","messages":[{"role":"user","content":"Tom"}],"max_tokens":6,"temperature":0})", 200,
       "\"choices\""},
      {"POST", "/v1/completions", R"({"model":"stories","prompt":"The cat","max_tokens":6,"stream":true})", 200,
       "data: [DONE]"},
      {"POST", "/api/generate", R"({"model":"stories","prompt":)", 400, "error"},                       // bad JSON
      {"POST", "/api/generate", R"({"model":"stories","prompt":42})", 400, "prompt"},                  // wrong type
      {"POST", "/api/generate", R"({"model":"stories","prompt":"a","options":{"num_predict":-5}})", 400,
       "num_predict"},                                                                                  // negative
      {"POST", "/v1/chat/completions", R"({"model":"stories","messages":[],"max_tokens":1e300})", 400, "error"},
      {"POST", "/v1/chat/completions", R"({"model":"nope","messages":[{"role":"user","content":"a"}]})", 404,
       "nope"},
      {"POST", "/api/chat", R"([1,2,3])", 400, "error"},
      {"POST", "/api/generate", R"({"model":"stories","prompt":"a","options":{"num_ctx":1e12}})", 400, "num_ctx"},
      {"GET", "/api/tags", "", 200, "stories:latest"},
      {"GET", "/health", "", 200, ""},
  };
}

// A client process's work: n requests cycling through the cases from offset `first`. Returns the
// number of requests that got the wrong answer (or none), printing the first few to stderr.
int client_run(int port, int n, int first) {
  const std::vector<Case> all = cases();
  httplib::Client cli("127.0.0.1", port);
  cli.set_read_timeout(120, 0);
  int bad = 0;
  for (int i = 0; i < n; ++i) {
    const Case& c = all[static_cast<size_t>(first + i) % all.size()];
    httplib::Result r = c.method[0] == 'G' ? cli.Get(c.path) : cli.Post(c.path, c.body, "application/json");
    const bool ok = r && r->status == c.status && r->body.find(c.must_contain) != std::string::npos;
    if (!ok && bad++ < 5) {
      std::fprintf(stderr, "request %d %s %s: %s\n", i, c.method, c.path,
                   r ? (std::to_string(r->status) + " " + r->body.substr(0, 200)).c_str()
                     : httplib::to_string(r.error()).c_str());
    }
  }
  return bad;
}

// Forks `procs` clients of n requests each; the total of their wrong answers (a client that
// crashed counts all its requests).
int run_clients(int port, int procs, int n) {
  std::vector<pid_t> pids;
  for (int p = 0; p < procs; ++p) {
    const pid_t pid = fork();
    if (pid == 0) _exit(std::min(client_run(port, n, p * 5), 255));
    pids.push_back(pid);
  }
  int bad = 0;
  for (pid_t pid : pids) {
    int status = 0;
    waitpid(pid, &status, 0);
    bad += WIFEXITED(status) ? WEXITSTATUS(status) : n;
  }
  return bad;
}

TEST(ServerLoad, ThousandsOfRequestsFromSeveralClientsAllAnsweredMemoryStable) {
  if (!fs::exists(kStories)) GTEST_SKIP() << "needs " << kStories << " (../shared)";
  const fs::path store = fs::temp_directory_path() / ("minnow_load_" + std::to_string(getpid()));
  fs::create_directories(store);
  setenv("MINNOW_MODELS", store.c_str(), 1);
  {
    std::ofstream(store / "Modelfile") << "FROM " << kStories << "\n";
  }
  const test::CliResult created = test::run_cli({"create", "stories", "-f", (store / "Modelfile").string()});
  ASSERT_EQ(created.exit_code, 0) << created.err;

  ServerProcess server;
  ASSERT_TRUE(server.start(store.string()));
  constexpr int kProcs = 4;
  // Warm-up: every kind of request a few times, so the model is loaded and the allocator's
  // pools exist; then RSS is the baseline.
  ASSERT_EQ(run_clients(server.port(), kProcs, 50), 0);
  const long warm = rss_kib(server.pid());
  ASSERT_GT(warm, 0);
  // The load: 4 x 600 requests.
  EXPECT_EQ(run_clients(server.port(), kProcs, 600), 0);
  const long after = rss_kib(server.pid());
  std::printf("server RSS: %ld KiB after the warm-up, %ld KiB after 2400 more requests\n", warm, after);
  // Several thousand requests may grow the heap's high-water mark a little, never per request:
  // 2400 requests leaking even 4 KiB each would add ~9.4 MiB.
  if (kRssMeaningful) {
    EXPECT_LT(after, warm + warm / 10 + 4096) << "RSS grew from " << warm << " KiB to " << after << " KiB";
  }

  httplib::Client cli("127.0.0.1", server.port());
  httplib::Result health = cli.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(server.stop(), 0) << "the server did not shut down cleanly";
  fs::remove_all(store);
}

}  // namespace
}  // namespace minnow
