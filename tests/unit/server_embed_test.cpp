// The embedding endpoints of the server in-process on a free loopback port, driven with
// cpp-httplib's client: Ollama's /api/embed (string and array input, truncate, dimensions) and
// /api/embeddings, OpenAI's /v1/embeddings (float and base64, token-id input), each equal to the
// engine's own embedding of the same text; a BERT model and a decoder; unknown models 404 and
// malformed requests 400 in each API's error shape; generation refused on an embedding model;
// embeddings and generations on one model at once.
#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "minnow/engine.h"
#include "minnow/store.h"
#include "server/server.h"
#include "server_fixture.h"
#include "tiny_bert.h"
#include "tiny_model.h"

namespace minnow {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class ServerEmbed : public test::ServerTest {
 protected:
  static void SetUpTestSuite() {
    root_ = test::fresh_dir("server_embed_test");
    auto store = Store::open((root_ / "models").string());
    ASSERT_TRUE(store.ok());
    for (const auto& [name, bytes] : {std::pair{std::string("bert"), test::make_tiny_bert({})},
                                      std::pair{std::string("tiny"), test::make_tiny_llama({})}}) {
      const std::string path = (root_ / (name + ".gguf")).string();
      std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
      ASSERT_TRUE(store->add(name, path, StoredModel{}, false).ok());
    }
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }
  void SetUp() override { start_server(root_ / "models"); }

  // The engine's embeddings of texts with the model file behind a store name, directly.
  static std::vector<std::vector<float>> direct(const std::string& name,
                                                const std::vector<std::string>& texts, EmbedOptions o = {}) {
    auto m = Model::load((root_ / (name + ".gguf")).string(),
                         LoadOptions{.n_threads = 1, .isa = "", .chat_template = "", .repack = true});
    EXPECT_TRUE(m.ok());
    auto s = (*m)->new_session({});
    EXPECT_TRUE(s.ok());
    auto e = (*s)->embed_texts(texts, o);
    EXPECT_TRUE(e.ok()) << e.error().message;
    std::vector<std::vector<float>> out;
    for (const Embedding& x : *e) out.push_back(x.values);
    return out;
  }

  static fs::path root_;
};
fs::path ServerEmbed::root_;

std::vector<float> floats(const json& a) {
  std::vector<float> v;
  for (const json& x : a) v.push_back(x.get<float>());
  return v;
}

std::vector<float> from_base64(const std::string& s) {
  auto value = [](char c) -> uint32_t {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    return c == '+' ? 62 : 63;
  };
  std::string bytes;
  for (size_t i = 0; i + 4 <= s.size(); i += 4) {
    uint32_t g = 0;
    int pad = 0;
    for (int j = 0; j < 4; ++j) {
      g = g << 6 | (s[i + j] == '=' ? 0 : value(s[i + j]));
      pad += s[i + j] == '=';
    }
    for (int j = 0; j < 3 - pad; ++j) bytes += static_cast<char>((g >> (16 - 8 * j)) & 0xFF);
  }
  std::vector<float> v(bytes.size() / 4);
  std::memcpy(v.data(), bytes.data(), v.size() * 4);  // little-endian float32, as OpenAI sends
  return v;
}

TEST_F(ServerEmbed, OllamaEmbedStringAndArray) {
  const std::vector<std::string> texts = {"hello world", "the cat sat on the mat."};
  const auto want = direct("bert", texts);
  const json one = post_json("/api/embed", {{"model", "bert"}, {"input", texts[0]}});
  EXPECT_EQ(one["model"], "bert:latest");
  ASSERT_EQ(one["embeddings"].size(), 1u) << one.dump();
  EXPECT_EQ(floats(one["embeddings"][0]), want[0]);  // float32 text reads back the same floats
  EXPECT_EQ(one["prompt_eval_count"], 4);            // [CLS] hello world [SEP]
  EXPECT_GT(one["total_duration"].get<int64_t>(), 0);
  EXPECT_TRUE(one.contains("load_duration"));
  const json both = post_json("/api/embed", {{"model", "bert"}, {"input", texts}, {"keep_alive", "1m"}});
  ASSERT_EQ(both["embeddings"].size(), 2u);
  EXPECT_EQ(floats(both["embeddings"][0]), want[0]);
  EXPECT_EQ(floats(both["embeddings"][1]), want[1]);
  EXPECT_EQ(both["prompt_eval_count"], 4 + 9);
  // dimensions: the first values, renormalized.
  const json cut = post_json("/api/embed", {{"model", "bert"}, {"input", texts[0]}, {"dimensions", 16}});
  EXPECT_EQ(floats(cut["embeddings"][0]), direct("bert", {texts[0]}, EmbedOptions{false, 16})[0]);
  // A decoder's embeddings, and the legacy endpoint.
  const json dec = post_json("/api/embed", {{"model", "tiny"}, {"input", "hello there"}});
  EXPECT_EQ(floats(dec["embeddings"][0]), direct("tiny", {"hello there"})[0]);
  const json legacy = post_json("/api/embeddings", {{"model", "bert"}, {"prompt", texts[1]}});
  EXPECT_EQ(floats(legacy["embedding"]), want[1]);
  // No input only loads the model.
  const json load = post_json("/api/embed", {{"model", "bert"}});
  EXPECT_TRUE(load["embeddings"].empty());
}

TEST_F(ServerEmbed, OllamaTruncation) {
  std::string text;
  for (int i = 0; i < 30; ++i) text += "hello world ";  // 62 tokens, 48 positions
  const json cut = post_json("/api/embed", {{"model", "bert"}, {"input", text}});
  EXPECT_EQ(cut["prompt_eval_count"], 48);
  EXPECT_EQ(floats(cut["embeddings"][0]), direct("bert", {text}, EmbedOptions{true, 0})[0]);
  const json refused =
      post_json("/api/embed", {{"model", "bert"}, {"input", text}, {"truncate", false}}, 400);
  EXPECT_NE(refused["error"].get<std::string>().find("longer than the context"), std::string::npos);
  // num_ctx below the input's length cuts there.
  const json small = post_json(
      "/api/embed", {{"model", "tiny"}, {"input", "the cat sat on the mat"}, {"options", {{"num_ctx", 4}}}});
  EXPECT_EQ(small["prompt_eval_count"], 4);
}

TEST_F(ServerEmbed, OpenAiFloatBase64AndTokenIds) {
  const std::vector<std::string> texts = {"hello world", "a dog ran"};
  const auto want = direct("bert", texts);
  const json f = post_json("/v1/embeddings", {{"model", "bert"}, {"input", texts}});
  EXPECT_EQ(f["object"], "list");
  EXPECT_EQ(f["model"], "bert:latest");
  ASSERT_EQ(f["data"].size(), 2u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(f["data"][i]["object"], "embedding");
    EXPECT_EQ(f["data"][i]["index"], i);
    EXPECT_EQ(floats(f["data"][i]["embedding"]), want[i]);
  }
  EXPECT_EQ(f["usage"]["prompt_tokens"], 4 + 5);
  EXPECT_EQ(f["usage"]["total_tokens"], 4 + 5);
  const json b =
      post_json("/v1/embeddings", {{"model", "bert"}, {"input", texts[0]}, {"encoding_format", "base64"}});
  ASSERT_TRUE(b["data"][0]["embedding"].is_string());
  EXPECT_EQ(from_base64(b["data"][0]["embedding"]), want[0]);
  // Token ids are taken as given: with [CLS] and [SEP] they are the text's.
  const std::vector<int32_t> ids = {2, 5, 6, 3};
  const json t = post_json("/v1/embeddings", {{"model", "bert"}, {"input", ids}});
  EXPECT_EQ(floats(t["data"][0]["embedding"]), want[0]);
  EXPECT_EQ(t["usage"]["prompt_tokens"], 4);
  const json tt =
      post_json("/v1/embeddings", {{"model", "bert"}, {"input", {ids, std::vector<int32_t>{2, 5, 3}}}});
  ASSERT_EQ(tt["data"].size(), 2u);
  EXPECT_EQ(floats(tt["data"][0]["embedding"]), want[0]);
  EXPECT_NE(floats(tt["data"][1]["embedding"]), want[0]);
  const json d = post_json("/v1/embeddings", {{"model", "bert"}, {"input", texts[0]}, {"dimensions", 8}});
  EXPECT_EQ(d["data"][0]["embedding"].size(), 8u);
}

TEST_F(ServerEmbed, ErrorsInEachApisShape) {
  // Unknown models.
  json e = post_json("/api/embed", {{"model", "nope"}, {"input", "x"}}, 404);
  EXPECT_TRUE(e["error"].is_string());
  e = post_json("/api/embeddings", {{"model", "nope"}, {"prompt", "x"}}, 404);
  EXPECT_TRUE(e["error"].is_string());
  e = post_json("/v1/embeddings", {{"model", "nope"}, {"input", "x"}}, 404);
  EXPECT_EQ(e["error"]["code"], "model_not_found");
  EXPECT_EQ(e["error"]["type"], "invalid_request_error");
  // Malformed bodies and inputs: 400, the message naming the problem.
  const std::vector<std::pair<json, std::string>> ollama_bad = {
      {{{"model", "bert"}, {"input", ""}}, "empty"},
      {{{"model", "bert"}, {"input", json::array()}}, "empty"},
      {{{"model", "bert"}, {"input", {"a", ""}}}, "'input'[1] is empty"},
      {{{"model", "bert"}, {"input", 7}}, "string or an array of strings"},
      {{{"model", "bert"}, {"input", {"a", 1}}}, "string or an array of strings"},
      {{{"model", "bert"}, {"input", "a"}, {"truncate", "yes"}}, "truncate"},
      {{{"model", "bert"}, {"input", "a"}, {"dimensions", -1}}, "dimensions"},
      {{{"model", "bert"}, {"input", "a"}, {"dimensions", 65}}, "dimensions"},
      {{{"model", "bert"}, {"input", "a"}, {"options", {{"num_ctx", "big"}}}}, "num_ctx"},
      {{{"input", "a"}}, "'model' is required"},
  };
  for (const auto& [body, why] : ollama_bad) {
    e = post_json("/api/embed", body, 400);
    ASSERT_TRUE(e["error"].is_string()) << body.dump();
    EXPECT_NE(e["error"].get<std::string>().find(why), std::string::npos)
        << body.dump() << " -> " << e.dump();
  }
  e = post_json("/api/embeddings", {{"model", "bert"}, {"prompt", ""}}, 400);
  EXPECT_NE(e["error"].get<std::string>().find("empty"), std::string::npos);
  e = post_raw("/api/embed", "{\"model\": \"bert\", \"input\": [", 400);
  EXPECT_NE(e["error"].get<std::string>().find("not valid JSON"), std::string::npos);

  const std::vector<std::pair<json, std::string>> openai_bad = {
      {{{"model", "bert"}}, "'input' is required"},
      {{{"model", "bert"}, {"input", ""}}, "empty"},
      {{{"model", "bert"}, {"input", {1, "a"}}}, "token ids"},
      {{{"model", "bert"}, {"input", {-1}}}, "token ids"},
      {{{"model", "bert"}, {"input", {1.5}}}, "token ids"},
      {{{"model", "bert"}, {"input", {json::array()}}}, "no tokens"},
      {{{"model", "bert"}, {"input", {99999}}}, "token id 99999"},
      {{{"model", "bert"}, {"input", "a"}, {"encoding_format", "hex"}}, "encoding_format"},
      {{{"model", "bert"}, {"input", "a"}, {"dimensions", 0}}, "dimensions"},
  };
  for (const auto& [body, why] : openai_bad) {
    e = post_json("/v1/embeddings", body, 400);
    ASSERT_TRUE(e["error"].is_object()) << body.dump();
    EXPECT_EQ(e["error"]["type"], "invalid_request_error");
    EXPECT_NE(e["error"]["message"].get<std::string>().find(why), std::string::npos)
        << body.dump() << " -> " << e.dump();
  }
  // OpenAI refuses an input longer than the context rather than cutting it.
  std::vector<int32_t> long_ids(60, 5);
  e = post_json("/v1/embeddings", {{"model", "bert"}, {"input", long_ids}}, 400);
  EXPECT_NE(e["error"]["message"].get<std::string>().find("longer than the context"), std::string::npos);
  // The server still serves.
  EXPECT_EQ(post_json("/v1/embeddings", {{"model", "bert"}, {"input", "hello"}})["data"].size(), 1u);
}

TEST_F(ServerEmbed, AnEmbeddingModelDoesNotGenerate) {
  json e = post_json("/api/generate", {{"model", "bert"}, {"prompt", "hello"}, {"stream", false}}, 400);
  EXPECT_NE(e["error"].get<std::string>().find("embedding model"), std::string::npos) << e.dump();
  e = post_json("/v1/chat/completions",
                {{"model", "bert"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}}, 400);
  EXPECT_NE(e["error"]["message"].get<std::string>().find("embedding model"), std::string::npos) << e.dump();
  const json show = post_json("/api/show", {{"model", "bert"}});
  EXPECT_EQ(show["capabilities"], json::array({"embedding"}));
  EXPECT_EQ(show["details"]["family"], "bert");
}

TEST_F(ServerEmbed, EmbeddingsAndGenerationsShareAModel) {
  const auto want = direct("tiny", {"the cat sat"});
  const json generate = {{"model", "tiny"},
                         {"prompt", "hello"},
                         {"stream", false},
                         {"options", {{"temperature", 0}, {"num_predict", 10}}}};
  // The generation's answer alone (a random model may end it early at its end token on some ISA).
  const json alone = post_json("/api/generate", generate);
  ASSERT_TRUE(alone.contains("response")) << alone.dump();
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  std::mutex mu;
  std::vector<std::string> failures;
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&, i] {
      httplib::Client c("127.0.0.1", server_->port());
      c.set_read_timeout(120, 0);
      std::string failure;
      if (i % 2 == 0) {
        auto r = c.Post("/api/embed", json{{"model", "tiny"}, {"input", "the cat sat"}}.dump(),
                        "application/json");
        if (!r || r->status != 200) {
          failure = "embed: " + (r ? std::to_string(r->status) + " " + r->body : httplib::to_string(r.error()));
        } else if (floats(json::parse(r->body)["embeddings"][0]) != want[0]) {
          failure = "embed: another vector than the session's";
        }
      } else {
        auto r = c.Post("/api/generate", generate.dump(), "application/json");
        if (!r || r->status != 200) {
          failure = "generate: " + (r ? std::to_string(r->status) + " " + r->body : httplib::to_string(r.error()));
        } else {
          const json got = json::parse(r->body);
          if (got["response"] != alone["response"] || got["eval_count"] != alone["eval_count"]) {
            failure = "generate: " + got.dump() + " differs from the answer alone " + alone.dump();
          }
        }
      }
      std::lock_guard lk(mu);
      if (failure.empty()) {
        ++ok;
      } else {
        failures.push_back(failure);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 6);
  for (const std::string& f : failures) ADD_FAILURE() << f;
}

}  // namespace
}  // namespace minnow
