// pull_model against a local server with Hugging Face's URL layout (tests/fake_hub.h) serving
// tiny GGUF models: a pull stores a model that loads, under the name given, with the listed
// digest; a cut connection resumes with a Range request for the rest only; a server that
// ignores Range starts over; a checksum mismatch and a full disk store nothing; a stalled server
// times out; wrong quants, missing and gated repositories and split models give clear errors;
// short names and the mirror endpoint settings resolve.
#include "minnow/pull.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "fake_hub.h"
#include "minnow/engine.h"
#include "minnow/store.h"
#include "tiny_model.h"

namespace minnow {
namespace {

namespace fs = std::filesystem;
using test::FakeHub;
using test::HubFile;

std::vector<uint8_t> tiny_gguf(uint64_t seed) {
  test::TinyLlamaSpec s;
  s.seed = seed;
  return test::make_tiny_llama(s);
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class Pull : public testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("minnow_pull_test_" + std::to_string(getpid()));
    fs::remove_all(root_);
    auto s = Store::open(root_.string());
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::make_unique<Store>(std::move(*s));
    q4_ = tiny_gguf(1);
    q8_ = tiny_gguf(2);
    hub_.add_repo("test-org/tiny-GGUF", {{"README.md", {'h', 'i'}, false},
                                         {"tiny-Q4_K_M.gguf", q4_},
                                         {"tiny-Q8_0.gguf", q8_},
                                         {"mmproj-tiny-f16.gguf", {'x'}}});
    unsetenv("MINNOW_HF_ENDPOINT");
    unsetenv("HF_ENDPOINT");
  }
  void TearDown() override { fs::remove_all(root_); }

  // A pull from the hub, its progress reports kept.
  Result<StoredModel> pull(const std::string& name, PullOptions o = {}) {
    if (o.endpoint.empty()) o.endpoint = hub_.endpoint();
    progress_.clear();
    o.progress = [this](const PullProgress& p) {
      progress_.push_back(p);
      return true;
    };
    return pull_model(*store_, name, o);
  }
  std::string partial_path(const std::vector<uint8_t>& bytes) const {
    return (root_ / "partial" / ("sha256-" + test::sha256_hex(bytes) + ".partial")).string();
  }
  size_t blobs() const {
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(root_ / "blobs")) n += e.path().filename().string().starts_with("sha256-");
    return n;
  }

  fs::path root_;
  std::unique_ptr<Store> store_;
  FakeHub hub_;
  std::vector<uint8_t> q4_, q8_;
  std::vector<PullProgress> progress_;
};

TEST_F(Pull, StoresTheQuantUnderTheNameGiven) {
  PullOptions o;
  o.token = "hf_secret";
  auto m = pull("hf.co/test-org/tiny-GGUF:q8_0", o);  // the quant matches case-insensitively
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->name, "hf.co/test-org/tiny-GGUF:q8_0");
  EXPECT_EQ(m->digest, "sha256:" + test::sha256_hex(q8_));
  EXPECT_EQ(m->size, q8_.size());
  EXPECT_EQ(read_bytes(m->model_path), q8_);
  auto found = store_->find("hf.co/test-org/tiny-GGUF:q8_0");
  ASSERT_TRUE(found.ok()) << found.error().message;
  auto model = Model::load(found->model_path, LoadOptions{.n_threads = 1, .isa = "", .chat_template = "", .repack = false});
  ASSERT_TRUE(model.ok()) << model.error().message;
  EXPECT_EQ((*model)->info().architecture, "llama");
  EXPECT_FALSE(fs::exists(partial_path(q8_)));

  // Ollama's progress: manifest, bytes rising to the total, verify, manifest, success.
  ASSERT_GE(progress_.size(), 5u);
  EXPECT_EQ(progress_.front().status, "pulling manifest");
  const std::string digest = "sha256:" + test::sha256_hex(q8_);
  uint64_t last = 0, byte_reports = 0;
  for (const PullProgress& p : progress_) {
    if (p.digest.empty()) continue;
    EXPECT_EQ(p.status, "pulling " + digest.substr(7, 12));
    EXPECT_EQ(p.digest, digest);
    EXPECT_EQ(p.total, q8_.size());
    EXPECT_GE(p.completed, last);
    last = p.completed;
    ++byte_reports;
  }
  EXPECT_GE(byte_reports, 2u);
  EXPECT_EQ(last, q8_.size());
  const size_t n = progress_.size();
  EXPECT_EQ(progress_[n - 3].status, "verifying sha256 digest");
  EXPECT_EQ(progress_[n - 2].status, "writing manifest");
  EXPECT_EQ(progress_[n - 1].status, "success");

  // The token goes to the hub, never to the CDN it redirects to; one download, from the start.
  for (const auto& r : hub_.api_requests()) EXPECT_EQ(r.authorization, "Bearer hf_secret") << r.path;
  ASSERT_EQ(hub_.downloads().size(), 1u);
  EXPECT_EQ(hub_.downloads()[0]->authorization, "");
  EXPECT_EQ(hub_.downloads()[0]->range, "");
  EXPECT_EQ(hub_.downloads()[0]->served, q8_.size());
}

TEST_F(Pull, DefaultQuantIsQ4KMElseTheOnlyGguf) {
  auto m = pull("hf.co/test-org/tiny-GGUF");
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->name, "hf.co/test-org/tiny-GGUF:latest");
  EXPECT_EQ(m->digest, "sha256:" + test::sha256_hex(q4_));

  hub_.add_repo("other/one-GGUF", {{"model.Q5_K_S.gguf", q8_}, {"mmproj-model-f16.gguf", {'x'}}});
  m = pull("huggingface.co/other/one-GGUF");
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->digest, "sha256:" + test::sha256_hex(q8_));

  hub_.add_repo("other/two-GGUF", {{"m-Q5_K_S.gguf", q4_}, {"m-UD-Q4_K_XL.gguf", q8_}});
  m = pull("hf.co/other/two-GGUF");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find("no Q4_K_M"), std::string::npos) << m.error().message;
  EXPECT_NE(m.error().message.find("Q5_K_S, UD-Q4_K_XL"), std::string::npos) << m.error().message;
  // A quant of several tokens (Unsloth's UD-...) names its file too.
  m = pull("hf.co/other/two-GGUF:UD-Q4_K_XL");
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->digest, "sha256:" + test::sha256_hex(q8_));
}

TEST_F(Pull, ResumesAfterACutConnection) {
  const size_t cut = q4_.size() * 2 / 5;
  hub_.fault_next({.cut_after = cut});
  auto first = pull("hf.co/test-org/tiny-GGUF:Q4_K_M");
  ASSERT_FALSE(first.ok());
  EXPECT_NE(first.error().message.find("stopped at " + std::to_string(cut) + " of " + std::to_string(q4_.size())),
            std::string::npos)
      << first.error().message;
  EXPECT_NE(first.error().message.find("pull again to resume"), std::string::npos) << first.error().message;
  EXPECT_FALSE(store_->find("hf.co/test-org/tiny-GGUF:Q4_K_M").ok());
  EXPECT_EQ(fs::file_size(partial_path(q4_)), cut);

  auto second = pull("hf.co/test-org/tiny-GGUF:Q4_K_M");
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(read_bytes(second->model_path), q4_);
  const auto downloads = hub_.downloads();
  ASSERT_EQ(downloads.size(), 2u);
  EXPECT_EQ(downloads[0]->served, cut);
  EXPECT_EQ(downloads[1]->range, "bytes=" + std::to_string(cut) + "-");
  EXPECT_EQ(downloads[1]->served, q4_.size() - cut);  // the remainder only
  // The resumed pull's progress starts where the first one stopped.
  for (const PullProgress& p : progress_) {
    if (!p.digest.empty()) {
      EXPECT_GE(p.completed, cut);
    }
  }
  EXPECT_FALSE(fs::exists(partial_path(q4_)));
}

TEST_F(Pull, StartsOverWhenTheServerIgnoresRange) {
  hub_.fault_next({.cut_after = 1000});
  ASSERT_FALSE(pull("hf.co/test-org/tiny-GGUF:Q4_K_M").ok());
  hub_.fault_next({.ignore_range = true});
  auto m = pull("hf.co/test-org/tiny-GGUF:Q4_K_M");
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(read_bytes(m->model_path), q4_);
  ASSERT_EQ(hub_.downloads().size(), 2u);
  EXPECT_EQ(hub_.downloads()[1]->range, "bytes=1000-");
  EXPECT_EQ(hub_.downloads()[1]->served, q4_.size());
}

TEST_F(Pull, ChecksumMismatchStoresNothing) {
  hub_.fault_next({.corrupt = true});
  auto m = pull("hf.co/test-org/tiny-GGUF:Q8_0");
  ASSERT_FALSE(m.ok());
  std::vector<uint8_t> served = q8_;
  served[served.size() / 2] ^= 1;
  EXPECT_NE(m.error().message.find("sha256 mismatch"), std::string::npos) << m.error().message;
  EXPECT_NE(m.error().message.find(test::sha256_hex(q8_)), std::string::npos) << m.error().message;
  EXPECT_NE(m.error().message.find(test::sha256_hex(served)), std::string::npos) << m.error().message;
  EXPECT_TRUE(store_->list().empty());
  EXPECT_EQ(blobs(), 0u);
  EXPECT_FALSE(fs::exists(partial_path(q8_)));
}

// A full disk, as a file-size limit: writes past it fail with EFBIG (SIGXFSZ ignored, as its
// default would kill the test).
TEST_F(Pull, DiskFullStoresNothingAndKeepsThePartForAResume) {
  constexpr rlim_t kLimit = 64 * 1024;
  ASSERT_GT(q4_.size(), kLimit);
  rlimit old{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
  rlimit small = old;
  small.rlim_cur = kLimit;
  auto old_handler = signal(SIGXFSZ, SIG_IGN);
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  auto m = pull("hf.co/test-org/tiny-GGUF:Q4_K_M");
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &old), 0);
  signal(SIGXFSZ, old_handler);

  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find("disk full writing " + partial_path(q4_)), std::string::npos) << m.error().message;
  EXPECT_TRUE(store_->list().empty());
  EXPECT_EQ(blobs(), 0u);
  EXPECT_EQ(fs::file_size(partial_path(q4_)), kLimit);

  auto again = pull("hf.co/test-org/tiny-GGUF:Q4_K_M");
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(read_bytes(again->model_path), q4_);
  EXPECT_EQ(hub_.downloads().back()->range, "bytes=" + std::to_string(kLimit) + "-");
}

TEST_F(Pull, StalledServerTimesOut) {
  hub_.fault_next({.stall_after = 5000});
  PullOptions o;
  o.read_timeout_s = 1;
  const auto t0 = std::chrono::steady_clock::now();
  auto m = pull("hf.co/test-org/tiny-GGUF:Q8_0", o);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find("stalled for 1 s"), std::string::npos) << m.error().message;
  EXPECT_LT(secs, 4.5);
  EXPECT_EQ(fs::file_size(partial_path(q8_)), 5000u);
}

TEST_F(Pull, CancelKeepsWhatWasDownloaded) {
  PullOptions o;
  o.endpoint = hub_.endpoint();
  o.progress = [](const PullProgress& p) { return p.status != "verifying sha256 digest"; };
  auto m = pull_model(*store_, "hf.co/test-org/tiny-GGUF:Q8_0", o);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find("cancelled"), std::string::npos) << m.error().message;
  EXPECT_TRUE(store_->list().empty());
  EXPECT_EQ(fs::file_size(partial_path(q8_)), q8_.size());
  // The next pull finds the whole file there: verified and stored, nothing downloaded again.
  auto again = pull("hf.co/test-org/tiny-GGUF:Q8_0");
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(read_bytes(again->model_path), q8_);
  EXPECT_EQ(hub_.downloads().size(), 1u);
}

TEST_F(Pull, ClearErrors) {
  hub_.add_repo("gated-org/secret-GGUF", {{"s-Q4_K_M.gguf", q4_}}, 401);
  hub_.add_repo("gated-org/terms-GGUF", {{"s-Q4_K_M.gguf", q4_}}, 403);
  hub_.add_repo("big/split-GGUF", {{"Q4_K_M/big-Q4_K_M-00001-of-00002.gguf", q4_},
                                   {"Q4_K_M/big-Q4_K_M-00002-of-00002.gguf", q8_},
                                   {"big-Q8_0.gguf", q8_}});
  hub_.add_repo("nolfs/tiny-GGUF", {{"t-Q4_K_M.gguf", q4_, false}});
  hub_.add_repo("empty/repo", {{"README.md", {'x'}}});
  struct Case {
    std::string name;
    std::vector<std::string> want;
  } cases[] = {
      {"hf.co/test-org/tiny-GGUF:Q5_K_M", {"test-org/tiny-GGUF has no Q5_K_M GGUF; it has Q4_K_M, Q8_0"}},
      {"hf.co/test-org/missing", {"test-org/missing: not found on " + hub_.endpoint(), "Repository not found"}},
      {"hf.co/gated-org/secret-GGUF", {"private or gated", "HF_TOKEN"}},
      {"hf.co/gated-org/terms-GGUF", {"gated", "accept its terms", "HF_TOKEN"}},
      {"hf.co/big/split-GGUF:Q4_K_M", {"split into several files", "big-Q4_K_M-00001-of-00002.gguf", "Q4_K_M, Q8_0"}},
      {"hf.co/nolfs/tiny-GGUF", {"no SHA-256"}},
      {"hf.co/empty/repo", {"no GGUF files"}},
      {"hf.co/just-a-repo", {"hf.co/ORG/REPO[:QUANT]"}},
      {"nosuchmodel:1b", {"not a name minnow can pull", "smollm2"}},
  };
  for (const Case& c : cases) {
    auto m = pull(c.name);
    ASSERT_FALSE(m.ok()) << c.name;
    for (const std::string& w : c.want) EXPECT_NE(m.error().message.find(w), std::string::npos) << c.name << ": " << m.error().message;
  }
  EXPECT_TRUE(store_->list().empty());
  EXPECT_TRUE(hub_.downloads().empty());
  PullOptions dead;
  dead.endpoint = "http://127.0.0.1:1";
  auto m = pull("hf.co/test-org/tiny-GGUF", dead);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find("cannot connect"), std::string::npos) << m.error().message;
}

TEST_F(Pull, ShortNames) {
  struct Case {
    const char* name;
    const char* repo;
    const char* quant;
  } cases[] = {
      {"smollm2:135m", "bartowski/SmolLM2-135M-Instruct-GGUF", "Q8_0"},
      {"smollm2", "bartowski/SmolLM2-1.7B-Instruct-GGUF", "Q4_K_M"},
      {"qwen2.5:0.5b", "bartowski/Qwen2.5-0.5B-Instruct-GGUF", "Q4_K_M"},
      {"qwen2.5:0.5b-instruct-q8_0", "bartowski/Qwen2.5-0.5B-Instruct-GGUF", "q8_0"},
      {"llama3.2:1b", "bartowski/Llama-3.2-1B-Instruct-GGUF", "Q4_K_M"},
      {"gemma3:1b", "unsloth/gemma-3-1b-it-GGUF", "Q4_K_M"},
      {"phi4-mini", "unsloth/Phi-4-mini-instruct-GGUF", "Q4_K_M"},
      {"hf.co/Org/Repo-GGUF:IQ4_XS", "Org/Repo-GGUF", "IQ4_XS"},
      {"hf.co/Org/Repo-GGUF", "Org/Repo-GGUF", ""},
  };
  for (const Case& c : cases) {
    auto s = resolve_pull_name(c.name);
    ASSERT_TRUE(s.ok()) << c.name << ": " << s.error().message;
    EXPECT_EQ(s->repo, c.repo) << c.name;
    EXPECT_EQ(s->quant, c.quant) << c.name;
    EXPECT_TRUE(is_pullable_name(c.name));
  }
  auto bad = resolve_pull_name("qwen2.5:9b");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("0.5b, 1.5b, 3b, 7b"), std::string::npos) << bad.error().message;
  EXPECT_FALSE(is_pullable_name("tiny"));
  EXPECT_FALSE(is_pullable_name("hf.co/a/b/c"));

  // A short name pulls its table entry and is stored under the short name.
  hub_.add_repo("bartowski/SmolLM2-135M-Instruct-GGUF",
                {{"SmolLM2-135M-Instruct-Q4_K_M.gguf", q4_}, {"SmolLM2-135M-Instruct-Q8_0.gguf", q8_}});
  auto m = pull("smollm2:135m");
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->name, "smollm2:135m");
  EXPECT_EQ(m->digest, "sha256:" + test::sha256_hex(q8_));
  // The same file under a second name: no second download.
  m = pull("hf.co/bartowski/SmolLM2-135M-Instruct-GGUF:Q8_0");
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(hub_.downloads().size(), 1u);
  EXPECT_EQ(store_->list().size(), 2u);
  EXPECT_EQ(blobs(), 1u);
}

TEST_F(Pull, MirrorEndpointFromTheEnvironment) {
  FakeHub mirror("/mirror");
  mirror.add_repo("test-org/tiny-GGUF", {{"tiny-Q4_K_M.gguf", q4_}});
  PullOptions none;
  EXPECT_EQ(pull_endpoint(none), "https://huggingface.co");
  setenv("HF_ENDPOINT", (mirror.endpoint() + "/").c_str(), 1);
  EXPECT_EQ(pull_endpoint(none), mirror.endpoint());
  setenv("MINNOW_HF_ENDPOINT", "http://127.0.0.1:1", 1);  // wins over HF_ENDPOINT
  EXPECT_EQ(pull_endpoint(none), "http://127.0.0.1:1");
  setenv("MINNOW_HF_ENDPOINT", mirror.endpoint().c_str(), 1);
  none.progress = nullptr;
  auto m = pull_model(*store_, "hf.co/test-org/tiny-GGUF", none);
  unsetenv("MINNOW_HF_ENDPOINT");
  unsetenv("HF_ENDPOINT");
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->digest, "sha256:" + test::sha256_hex(q4_));
  ASSERT_FALSE(mirror.api_requests().empty());
  EXPECT_EQ(mirror.api_requests()[0].path, "/mirror/api/models/test-org/tiny-GGUF/tree/main");
  EXPECT_TRUE(hub_.api_requests().empty());
}

}  // namespace
}  // namespace minnow
