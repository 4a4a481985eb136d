// /api/pull and /api/create on the server in-process, with pulls from a local server with
// Hugging Face's layout (tests/fake_hub.h) named by MINNOW_HF_ENDPOINT: pulls streamed (Ollama's
// progress objects) and not, creates from a store model with a system message and parameters
// (streamed and not, the JSON fields and the older Modelfile text), and malformed requests
// answered with 400 while the server goes on serving.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fake_hub.h"
#include "minnow/store.h"
#include "server/server.h"
#include "server_fixture.h"
#include "tiny_model.h"

namespace minnow {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

using test::ndjson;

class ServerStoreApi : public test::ServerTest {
 protected:
  void SetUp() override {
    root_ = test::fresh_dir("server_store_test");
    test::TinyLlamaSpec spec;
    q4_ = test::make_tiny_llama(spec);
    spec.seed = 7;
    q8_ = test::make_tiny_llama(spec);
    hub_.add_repo("test-org/tiny-GGUF", {{"tiny-Q4_K_M.gguf", q4_}, {"tiny-Q8_0.gguf", q8_}});
    gguf_ = (root_ / "local.gguf").string();
    std::ofstream(gguf_, std::ios::binary).write(reinterpret_cast<const char*>(q4_.data()), q4_.size());
    setenv("MINNOW_HF_ENDPOINT", hub_.endpoint().c_str(), 1);
    start_server(root_ / "models");
  }
  void TearDown() override {
    stop_server();
    unsetenv("MINNOW_HF_ENDPOINT");
    fs::remove_all(root_);
  }
  std::vector<std::string> tags() {
    auto r = client_->Get("/api/tags");
    std::vector<std::string> names;
    if (!r) return names;
    const json j = json::parse(r->body);
    for (const json& m : j["models"]) names.push_back(m["name"]);
    return names;
  }

  fs::path root_;
  test::FakeHub hub_;
  std::vector<uint8_t> q4_, q8_;
  std::string gguf_;
};

TEST_F(ServerStoreApi, PullNotStreamed) {
  const json done = post_json("/api/pull", {{"model", "hf.co/test-org/tiny-GGUF:Q4_K_M"}, {"stream", false}});
  EXPECT_EQ(done, json({{"status", "success"}}));
  EXPECT_EQ(tags(), std::vector<std::string>{"hf.co/test-org/tiny-GGUF:Q4_K_M"});
  // The pulled model answers.
  const json gen = post_json("/api/generate", {{"model", "hf.co/test-org/tiny-GGUF:Q4_K_M"}, {"prompt", "hello"},
                                               {"stream", false}, {"options", {{"num_predict", 2}, {"temperature", 0}}}});
  EXPECT_EQ(gen["eval_count"], 2) << gen.dump();

  // A failed pull: its error, with a 500 (the request itself was well formed).
  const json missing = post_json("/api/pull", {{"model", "hf.co/test-org/missing"}, {"stream", false}}, 500);
  EXPECT_NE(missing["error"].get<std::string>().find("not found"), std::string::npos) << missing.dump();
}

TEST_F(ServerStoreApi, PullStreamedAsOllamaDoes) {
  auto r = post("/api/pull", {{"name", "hf.co/test-org/tiny-GGUF:Q8_0"}});  // the older "name"; streams by default
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/x-ndjson");
  const auto lines = ndjson(r->body);
  ASSERT_GE(lines.size(), 5u) << r->body;
  EXPECT_EQ(lines.front(), json({{"status", "pulling manifest"}}));
  const std::string digest = "sha256:" + test::sha256_hex(q8_);
  uint64_t completed = 0;
  for (const json& l : lines) {
    if (!l.contains("digest")) continue;
    EXPECT_EQ(l["status"], "pulling " + digest.substr(7, 12)) << l.dump();
    EXPECT_EQ(l["digest"], digest);
    EXPECT_EQ(l["total"], q8_.size());
    EXPECT_GE(l["completed"].get<uint64_t>(), completed);
    completed = l["completed"];
  }
  EXPECT_EQ(completed, q8_.size());
  const size_t n = lines.size();
  EXPECT_EQ(lines[n - 3], json({{"status", "verifying sha256 digest"}}));
  EXPECT_EQ(lines[n - 2], json({{"status", "writing manifest"}}));
  EXPECT_EQ(lines[n - 1], json({{"status", "success"}}));
  EXPECT_EQ(tags(), std::vector<std::string>{"hf.co/test-org/tiny-GGUF:Q8_0"});

  // An error once streaming has begun is the last line.
  r = post("/api/pull", {{"model", "hf.co/test-org/tiny-GGUF:Q2_K"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  const auto err = ndjson(r->body);
  ASSERT_FALSE(err.empty());
  EXPECT_NE(err.back().value("error", "").find("no Q2_K GGUF"), std::string::npos) << r->body;
}

TEST_F(ServerStoreApi, CreateFromAStoreModel) {
  post_json("/api/pull", {{"model", "hf.co/test-org/tiny-GGUF"}, {"stream", false}});
  const json created = post_json("/api/create", {{"model", "terse"},
                                                 {"from", "hf.co/test-org/tiny-GGUF"},
                                                 {"system", "You are terse."},
                                                 {"parameters", {{"num_predict", 3}, {"temperature", 0}, {"stop", {"<end1>", "<end2>"}}}},
                                                 {"stream", false}});
  EXPECT_EQ(created, json({{"status", "success"}}));
  const json show = post_json("/api/show", {{"model", "terse"}});
  EXPECT_EQ(show["system"], "You are terse.");
  const std::string params = show["parameters"];
  EXPECT_NE(params.find("num_predict 3"), std::string::npos) << params;
  EXPECT_NE(params.find("temperature 0"), std::string::npos) << params;
  EXPECT_NE(params.find("stop <end1>\nstop <end2>"), std::string::npos) << params;
  // The stored num_predict applies.
  const json gen = post_json("/api/generate", {{"model", "terse"}, {"prompt", "hello"}, {"stream", false}});
  EXPECT_EQ(gen["eval_count"], 3) << gen.dump();

  // Streamed, in the older shape: a Modelfile's text under "name".
  auto r = post("/api/create", {{"name", "brief:v2"}, {"modelfile", "FROM terse\nPARAMETER num_predict 2\nSYSTEM Brief.\n"}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const auto lines = ndjson(r->body);
  ASSERT_GE(lines.size(), 3u);
  EXPECT_EQ(lines.front(), json({{"status", "parsing modelfile"}}));
  EXPECT_EQ(lines[lines.size() - 2], json({{"status", "writing manifest"}}));
  EXPECT_EQ(lines.back(), json({{"status", "success"}}));
  const json brief = post_json("/api/show", {{"model", "brief:v2"}});
  EXPECT_EQ(brief["system"], "Brief.");
  EXPECT_NE(brief["parameters"].get<std::string>().find("num_predict 3\n"), std::string::npos);  // terse's first,
  EXPECT_NE(brief["parameters"].get<std::string>().find("num_predict 2\n"), std::string::npos);  // then its own
  EXPECT_EQ(post_json("/api/generate", {{"model", "brief:v2"}, {"prompt", "hello"}, {"stream", false}})["eval_count"], 2);

  // FROM a GGUF file on the server.
  post_json("/api/create", {{"model", "local"}, {"from", gguf_}, {"stream", false}});
  auto names = tags();
  EXPECT_EQ(names, (std::vector<std::string>{"brief:v2", "hf.co/test-org/tiny-GGUF:latest", "local:latest",
                                             "terse:latest"}));
}

TEST_F(ServerStoreApi, MalformedRequestsAre400s) {
  post_json("/api/pull", {{"model", "hf.co/test-org/tiny-GGUF"}, {"stream", false}});
  struct Case {
    const char* path;
    std::string body;
    const char* error;
  } cases[] = {
      {"/api/pull", "{not json", "not valid JSON"},
      {"/api/pull", "{}", "'name' is required"},
      {"/api/pull", R"({"model": 5})", "'model' must be a string"},
      {"/api/pull", R"({"model": "hf.co/test-org/tiny-GGUF", "stream": "yes"})", "'stream' must be true or false"},
      {"/api/pull", R"({"model": "hf.co/test-org/tiny-GGUF", "insecure": 1})", "'insecure' must be true or false"},
      {"/api/pull", R"({"model": "not pullable"})", "names hold only"},
      {"/api/pull", R"({"model": "tiny"})", "not a name minnow can pull"},
      {"/api/create", "[1]", "JSON object"},
      {"/api/create", R"({"from": "hf.co/test-org/tiny-GGUF"})", "'name' is required"},
      {"/api/create", R"({"model": "x"})", "'from' is required"},
      {"/api/create", R"({"model": "bad name", "from": "hf.co/test-org/tiny-GGUF"})", "names hold only"},
      {"/api/create", R"({"model": "x", "from": 3})", "'from' must be a string"},
      {"/api/create", R"({"model": "x", "from": "hf.co/test-org/tiny-GGUF", "parameters": [1]})", "'parameters' must be an object"},
      {"/api/create", R"({"model": "x", "from": "hf.co/test-org/tiny-GGUF", "parameters": {"temperature": "hot"}})", "'hot' is not a number"},
      {"/api/create", R"({"model": "x", "from": "hf.co/test-org/tiny-GGUF", "parameters": {"tempurature": 1}})", "unknown parameter 'tempurature'"},
      {"/api/create", R"({"model": "x", "from": "hf.co/test-org/tiny-GGUF", "parameters": {"stop": [{}]}})", "parameter 'stop' must be"},
      {"/api/create", R"({"model": "x", "from": "hf.co/test-org/tiny-GGUF", "template": "{% for %}", "stream": false})", "TEMPLATE"},
      {"/api/create", R"({"model": "x", "from": "hf.co/test-org/tiny-GGUF", "files": {"a.gguf": "sha256:00"}})", "not supported"},
      {"/api/create", R"({"model": "x", "from": "hf.co/test-org/tiny-GGUF", "quantize": "q4_0"})", "quantize"},
      {"/api/create", R"({"model": "x", "from": "nosuch", "stream": false})", "FROM nosuch: no such file or folder"},
      {"/api/create", R"({"model": "x", "from": "hf.co/test-org/tiny-GGUF", "modelfile": "FROM other\n"})", "a second FROM"},
      {"/api/create", R"({"model": "x", "modelfile": "PARAMETER top_k 3\n"})", "no FROM"},
  };
  for (const Case& c : cases) {
    auto r = client_->Post(c.path, c.body, "application/json");
    ASSERT_TRUE(r) << c.body;
    EXPECT_EQ(r->status, 400) << c.path << " " << c.body << ": " << r->body;
    const json j = json::parse(r->body, nullptr, false);
    ASSERT_TRUE(j.is_object() && j.contains("error")) << r->body;
    EXPECT_NE(j["error"].get<std::string>().find(c.error), std::string::npos) << c.body << ": " << r->body;
  }
  EXPECT_EQ(tags(), std::vector<std::string>{"hf.co/test-org/tiny-GGUF:latest"});  // nothing half-created
  EXPECT_EQ(client_->Get("/health")->status, 200);
}

}  // namespace
}  // namespace minnow
