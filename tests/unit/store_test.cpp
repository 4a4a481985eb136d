// The model store: name rules, Modelfile parsing, and the store's manifests and shared blobs.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "minnow/store.h"

namespace minnow {
namespace {

namespace fs = std::filesystem;

TEST(ModelName, ParsesNameAndTag) {
  struct Case {
    const char* text;
    const char* name;
    const char* tag;
  } ok[] = {
      {"smollm2", "smollm2", "latest"},
      {"smollm2:135m", "smollm2", "135m"},
      {"hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M", "hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF", "Q4_K_M"},
      {"my-model_v1.2:v2", "my-model_v1.2", "v2"},
  };
  for (const Case& c : ok) {
    auto n = ModelName::parse(c.text);
    ASSERT_TRUE(n.ok()) << c.text << ": " << n.error().message;
    EXPECT_EQ(n->name, c.name);
    EXPECT_EQ(n->tag, c.tag);
  }
  for (const char* bad : {"", "a:", "../etc/passwd", "a/../b", "/abs", "a//b", "a b", "a:b/c:", "a:.hidden", "x:t@g",
                          "name\n"}) {
    auto n = ModelName::parse(bad);
    EXPECT_FALSE(n.ok()) << "'" << bad << "' was accepted";
  }
}

TEST(Modelfile, ParsesInstructions) {
  auto mf = Modelfile::parse(
      "# a comment\n"
      "FROM ./weights/model.gguf\n"
      "parameter temperature 0.2\n"
      "PARAMETER num_ctx 2048\n"
      "SYSTEM \"You are terse.\"\n"
      "TEMPLATE \"\"\"{% for m in messages %}\n"
      "{{ m.content }}{% endfor %}\"\"\"\n"
      "LICENSE MIT\n");
  ASSERT_TRUE(mf.ok()) << mf.error().message;
  EXPECT_EQ(mf->from, "./weights/model.gguf");
  ASSERT_EQ(mf->parameters.size(), 2u);
  EXPECT_EQ(mf->parameters[0], (std::pair<std::string, std::string>{"temperature", "0.2"}));
  EXPECT_EQ(mf->parameters[1], (std::pair<std::string, std::string>{"num_ctx", "2048"}));
  EXPECT_EQ(mf->system, "You are terse.");
  EXPECT_EQ(mf->chat_template, "{% for m in messages %}\n{{ m.content }}{% endfor %}");
  EXPECT_EQ(mf->license, "MIT");
}

TEST(Modelfile, ErrorsNameTheLine) {
  struct Case {
    const char* text;
    const char* error;
  } cases[] = {
      {"PARAMETER temperature 1\n", "no FROM"},
      {"FROM a\nFROBNICATE x\n", "line 2: unknown instruction 'FROBNICATE'"},
      {"FROM a\n\nSYSTEM \"\"\"never closed\nstill open\n", "line 3: \"\"\" is never closed"},
      {"FROM a\nPARAMETER temperature\n", "line 2: PARAMETER needs a name and a value"},
      {"FROM\n", "line 1: FROM needs a model"},
      {"FROM a\nFROM b\n", "line 2: a second FROM"},
  };
  for (const Case& c : cases) {
    auto mf = Modelfile::parse(c.text);
    ASSERT_FALSE(mf.ok()) << c.text;
    EXPECT_NE(mf.error().message.find(c.error), std::string::npos) << mf.error().message;
  }
}

TEST(Sha256, KnownVector) {
  const fs::path p = fs::temp_directory_path() / ("minnow_sha_" + std::to_string(getpid()));
  std::ofstream(p) << "abc";
  auto h = sha256_file(p.string());
  fs::remove(p);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(*h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_FALSE(sha256_file("/nonexistent/file").ok());
}

class StoreTest : public testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("minnow_store_" + std::to_string(getpid()));
    fs::remove_all(root_);
    auto s = Store::open(root_.string());
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::make_unique<Store>(std::move(*s));
  }
  void TearDown() override { fs::remove_all(root_); }

  std::string file(const std::string& name, const std::string& bytes) {
    const fs::path p = root_.parent_path() / (name + std::to_string(getpid()));
    std::ofstream(p, std::ios::binary) << bytes;
    files_.push_back(p);
    return p.string();
  }
  size_t blobs() const {
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(root_ / "blobs")) n += e.path().filename().string().starts_with("sha256-");
    return n;
  }

  fs::path root_;
  std::unique_ptr<Store> store_;
  std::vector<fs::path> files_;
};

TEST_F(StoreTest, AddFindListCopyRemove) {
  StoredModel defaults;
  defaults.system = "be brief";
  defaults.parameters = {{"temperature", "0"}};
  auto a = store_->add("tiny", file("w1", "weights one"), defaults, false);
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->name, "tiny:latest");
  EXPECT_EQ(a->size, 11u);
  EXPECT_EQ(a->system, "be brief");
  ASSERT_EQ(a->parameters.size(), 1u);
  EXPECT_EQ(a->digest.substr(0, 7), "sha256:");
  std::ifstream blob(a->model_path);
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(blob)), std::istreambuf_iterator<char>()), "weights one");

  // The same bytes under another name share the blob; other bytes get their own.
  ASSERT_TRUE(store_->add("org/other:v1", file("w2", "weights one"), {}, true).ok());
  ASSERT_TRUE(store_->add("third:x", file("w3", "weights three"), {}, false).ok());
  EXPECT_EQ(blobs(), 2u);
  ASSERT_TRUE(store_->copy("tiny", "tiny:copy").ok());
  auto copied = store_->find("tiny:copy");
  ASSERT_TRUE(copied.ok());
  EXPECT_EQ(copied->system, "be brief");

  std::vector<std::string> names;
  for (const StoredModel& m : store_->list()) names.push_back(m.name);
  EXPECT_EQ(names, (std::vector<std::string>{"org/other:v1", "third:x", "tiny:copy", "tiny:latest"}));

  // A blob goes only with the last name using it.
  ASSERT_TRUE(store_->remove("tiny").ok());
  ASSERT_TRUE(store_->remove("tiny:copy").ok());
  EXPECT_EQ(blobs(), 2u);
  ASSERT_TRUE(store_->remove("org/other:v1").ok());
  EXPECT_EQ(blobs(), 1u);
  EXPECT_FALSE(fs::exists(root_ / "manifests" / "org"));  // empty folders go too
  auto gone = store_->remove("tiny");
  ASSERT_FALSE(gone.ok());
  EXPECT_NE(gone.error().message.find("not found"), std::string::npos);
  EXPECT_NE(store_->find("nothing").error().message.find("model 'nothing:latest' not found"), std::string::npos);
  for (const auto& f : files_) fs::remove(f);
}

TEST_F(StoreTest, DamagedManifestsAndMissingBlobsAreClearErrors) {
  auto a = store_->add("m", file("w", "bytes"), {}, false);
  ASSERT_TRUE(a.ok());
  fs::remove(a->model_path);
  auto r = store_->find("m");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("weights"), std::string::npos) << r.error().message;

  for (const char* bad : {"not json", "{\"model\": 3}", "{\"model\": {\"digest\": \"sha256:../../../etc/passwd\"}}", "[]"}) {
    std::ofstream(root_ / "manifests" / "m" / "latest", std::ios::trunc) << bad;
    r = store_->find("m");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().message.find("manifest"), std::string::npos) << r.error().message;
  }
  EXPECT_TRUE(store_->list().empty());  // damaged entries are skipped, not fatal
  EXPECT_TRUE(store_->remove("m").ok());  // and can still be removed
  StoredModel bogus;
  bogus.digest = "sha256:../../x";
  EXPECT_FALSE(store_->name_blob("n", bogus).ok());
  for (const auto& f : files_) fs::remove(f);
}

}  // namespace
}  // namespace minnow
