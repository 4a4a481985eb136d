// The server in-process on a free loopback port, driven over HTTP with cpp-httplib's client:
// every endpoint of both APIs, streamed and not (streams concatenate to the unstreamed answer
// at temperature 0), stop strings, logprobs, n > 1, keep_alive unloading, concurrent requests
// answering as each alone, the API key, CORS, and malformed requests answered with 4xx in the
// API's error shape while the server goes on serving. /v1/completions with echo and logprobs
// scores the prompt (log-likelihood evaluations): its tokens' logprobs are those generation
// reports for the same tokens, and a greedy continuation is judged greedy. The official
// JavaScript clients are driven against `minnow serve` in tests/js.
#include <httplib.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "minnow/engine.h"
#include "minnow/store.h"
#include "server/server.h"
#include "server_fixture.h"
#include "test_util.h"
#include "tiny_model.h"

namespace minnow {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class ServerApi : public test::ServerTest {
 protected:
  static void SetUpTestSuite() {
    root_ = test::fresh_dir("server_test");
    const auto bytes = test::make_tiny_llama({});
    const std::string gguf = (root_ / "tiny.gguf").string();
    std::ofstream(gguf, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    auto store = Store::open((root_ / "models").string());
    ASSERT_TRUE(store.ok());
    StoredModel defaults;
    ASSERT_TRUE(store->add("tiny", gguf, defaults, false).ok());
    defaults.system = "You are terse.";
    defaults.parameters = {{"temperature", "0"}, {"num_predict", "12"}};
    ASSERT_TRUE(store->add("tiny-greedy:v1", gguf, defaults, false).ok());
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }

  void start(server::ServerOptions o = {}) { start_server(root_ / "models", std::move(o)); }
  void SetUp() override { start(); }
  // A fresh server with other options.
  void restart(server::ServerOptions o) {
    stop_server();
    start(std::move(o));
  }

  static fs::path root_;
};
fs::path ServerApi::root_;

using test::ndjson;
using test::sse_data;

const json kGreedy = {{"temperature", 0}, {"num_predict", 10}};

TEST_F(ServerApi, VersionTagsAndHealth) {
  EXPECT_EQ(get_json("/api/version")["version"], "0.1.0");
  EXPECT_EQ(get_json("/health")["status"], "ok");
  const json tags = get_json("/api/tags");
  ASSERT_EQ(tags["models"].size(), 2u) << tags.dump();
  EXPECT_EQ(tags["models"][0]["name"], "tiny-greedy:v1");
  EXPECT_EQ(tags["models"][1]["name"], "tiny:latest");
  EXPECT_EQ(tags["models"][1]["digest"].get<std::string>().size(), 64u);
  EXPECT_GT(tags["models"][1]["size"].get<int64_t>(), 1000);
  const json models = get_json("/v1/models");
  EXPECT_EQ(models["object"], "list");
  ASSERT_EQ(models["data"].size(), 2u);
  EXPECT_EQ(models["data"][1]["id"], "tiny:latest");
  EXPECT_EQ(get_json("/v1/models/tiny:latest")["id"], "tiny:latest");
}

TEST_F(ServerApi, GenerateStreamedEqualsUnstreamed) {
  const json whole = post_json("/api/generate", {{"model", "tiny"}, {"prompt", "hello"}, {"stream", false},
                                                 {"options", kGreedy}});
  ASSERT_TRUE(whole["done"].get<bool>()) << whole.dump();
  EXPECT_EQ(whole["model"], "tiny:latest");
  EXPECT_EQ(whole["eval_count"], 10);
  EXPECT_EQ(whole["done_reason"], "length");
  EXPECT_GT(whole["prompt_eval_count"].get<int>(), 0);
  EXPECT_GT(whole["total_duration"].get<int64_t>(), whole["eval_duration"].get<int64_t>());
  EXPECT_FALSE(whole["response"].get<std::string>().empty());

  auto r = post("/api/generate", {{"model", "tiny"}, {"prompt", "hello"}, {"options", kGreedy}});
  ASSERT_TRUE(r && r->status == 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/x-ndjson");
  const auto lines = ndjson(r->body);
  ASSERT_GE(lines.size(), 2u);
  std::string text;
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    EXPECT_FALSE(lines[i]["done"].get<bool>());
    text += lines[i]["response"].get<std::string>();
  }
  EXPECT_TRUE(lines.back()["done"].get<bool>());
  EXPECT_EQ(lines.back()["eval_count"], 10);
  EXPECT_EQ(text, whole["response"]);
}

TEST_F(ServerApi, ChatUsesStoredDefaultsAndOptions) {
  // tiny-greedy's Modelfile says temperature 0 and num_predict 12; options override.
  const json a = post_json("/api/chat", {{"model", "tiny-greedy:v1"}, {"stream", false},
                                         {"messages", {{{"role", "user"}, {"content", "hi"}}}}});
  EXPECT_EQ(a["eval_count"], 12) << a.dump();
  EXPECT_EQ(a["message"]["role"], "assistant");
  const json b = post_json("/api/chat", {{"model", "tiny-greedy:v1"}, {"stream", false},
                                         {"messages", {{{"role", "user"}, {"content", "hi"}}}},
                                         {"options", {{"num_predict", 3}}}});
  EXPECT_EQ(b["eval_count"], 3);
  // Greedy: the 3 tokens begin the 12.
  EXPECT_EQ(a["message"]["content"].get<std::string>().rfind(b["message"]["content"].get<std::string>(), 0), 0u);
  // The same conversation again reuses the session's context.
  const json c = post_json("/api/chat", {{"model", "tiny-greedy:v1"}, {"stream", false},
                                         {"messages", {{{"role", "user"}, {"content", "hi"}}}}});
  EXPECT_EQ(c["message"]["content"], a["message"]["content"]);
  EXPECT_LT(c["prompt_eval_count"].get<int>(), a["prompt_eval_count"].get<int>());
}

TEST_F(ServerApi, OpenAiChatStreamedWithUsage) {
  const json req = {{"model", "tiny"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}, {"temperature", 0},
                    {"max_tokens", 8}};
  const json whole = post_json("/v1/chat/completions", req);
  EXPECT_EQ(whole["object"], "chat.completion");
  ASSERT_EQ(whole["choices"].size(), 1u);
  EXPECT_EQ(whole["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(whole["usage"]["completion_tokens"], 8);
  EXPECT_EQ(whole["usage"]["total_tokens"].get<int>(),
            whole["usage"]["prompt_tokens"].get<int>() + whole["usage"]["completion_tokens"].get<int>());

  json sreq = req;
  sreq["stream"] = true;
  sreq["stream_options"] = {{"include_usage", true}};
  auto r = post("/v1/chat/completions", sreq);
  ASSERT_TRUE(r && r->status == 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/event-stream");
  const auto events = sse_data(r->body);
  ASSERT_GE(events.size(), 4u);
  EXPECT_EQ(events.back(), "[DONE]");
  const json usage = json::parse(events[events.size() - 2]);
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["completion_tokens"], 8);
  std::string text;
  std::string finish;
  for (size_t i = 0; i + 2 < events.size(); ++i) {
    const json e = json::parse(events[i]);
    EXPECT_EQ(e["object"], "chat.completion.chunk");
    EXPECT_EQ(e["id"], json::parse(events[0])["id"]);
    if (e["choices"][0]["delta"].contains("content")) text += e["choices"][0]["delta"]["content"].get<std::string>();
    if (!e["choices"][0]["finish_reason"].is_null()) finish = e["choices"][0]["finish_reason"];
  }
  EXPECT_EQ(json::parse(events[0])["choices"][0]["delta"]["role"], "assistant");
  EXPECT_EQ(text, whole["choices"][0]["message"]["content"]);
  EXPECT_EQ(finish, "length");
}

TEST_F(ServerApi, OpenAiStopLogprobsAndSeveralChoices) {
  const json base = {{"model", "tiny"}, {"prompt", "abc"}, {"temperature", 0}, {"max_tokens", 12}};
  const json free = post_json("/v1/completions", base);
  EXPECT_EQ(free["object"], "text_completion");
  const std::string text = free["choices"][0]["text"];
  ASSERT_GE(text.size(), 6u);
  // A stop string from the middle of the free text ends it there.
  // (one whole UTF-8 character from the middle: the random model writes some multi-byte ones)
  size_t at = 3;
  while (at < text.size() && (static_cast<unsigned char>(text[at]) & 0xC0) == 0x80) ++at;
  size_t len = 1;
  while (at + len < text.size() && (static_cast<unsigned char>(text[at + len]) & 0xC0) == 0x80) ++len;
  const std::string stop = text.substr(at, len);
  json stopped = base;
  stopped["stop"] = json::array({stop});
  const json s = post_json("/v1/completions", stopped);
  EXPECT_EQ(s["choices"][0]["text"], text.substr(0, text.find(stop)));
  EXPECT_EQ(s["choices"][0]["finish_reason"], "stop");
  // echo puts the prompt first.
  json echo = base;
  echo["echo"] = true;
  EXPECT_EQ(post_json("/v1/completions", echo)["choices"][0]["text"], "abc" + text);
  // logprobs: one entry per completion token, top alternatives likeliest first.
  json lp = base;
  lp["logprobs"] = 2;
  const json l = post_json("/v1/completions", lp);
  const json& lps = l["choices"][0]["logprobs"];
  ASSERT_EQ(lps["tokens"].size(), 12u) << l.dump();
  ASSERT_EQ(lps["top_logprobs"].size(), 12u);
  for (size_t i = 0; i < 12; ++i) {
    EXPECT_LE(lps["token_logprobs"][i].get<double>(), 0.0);
    EXPECT_EQ(lps["top_logprobs"][i].size(), std::min<size_t>(2, lps["top_logprobs"][i].size()));
  }
  // Chat logprobs in the chat shape.
  const json c = post_json("/v1/chat/completions", {{"model", "tiny"}, {"messages", {{{"role", "user"}, {"content", "x"}}}},
                                                    {"temperature", 0}, {"max_tokens", 4}, {"logprobs", true},
                                                    {"top_logprobs", 3}});
  const json& content = c["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(content.size(), 4u) << c.dump();
  EXPECT_EQ(content[0]["top_logprobs"].size(), 3u);
  EXPECT_EQ(content[0]["top_logprobs"][0]["logprob"], content[0]["logprob"]);
  // n = 3 choices; seeded sampling repeats itself.
  json n3 = {{"model", "tiny"}, {"prompt", "abc"}, {"temperature", 1.0}, {"max_tokens", 6}, {"n", 3}, {"seed", 7}};
  const json a = post_json("/v1/completions", n3), b = post_json("/v1/completions", n3);
  ASSERT_EQ(a["choices"].size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(a["choices"][i]["index"], i);
    EXPECT_EQ(a["choices"][i]["text"], b["choices"][i]["text"]);
  }
  EXPECT_EQ(a["usage"]["completion_tokens"], 18);
}

// The legacy logprobs object of an echoed completion holds together as lm-evaluation-harness
// reads it: an entry per token in every array, null for the first token's logprob and
// alternatives (nothing precedes it), offsets that advance by each token's text, logprobs of at
// most 0, and alternatives (at most n_top) that are the likeliest: the token is among them or
// less likely than each. Returns the tokens' texts concatenated.
std::string expect_echo_logprobs(const json& lp, size_t n_top) {
  const size_t n = lp["tokens"].size();
  EXPECT_GT(n, 1u) << lp.dump();
  EXPECT_EQ(lp["token_logprobs"].size(), n);
  EXPECT_EQ(lp["top_logprobs"].size(), n);
  EXPECT_EQ(lp["text_offset"].size(), n);
  if (n < 2 || lp["token_logprobs"].size() != n || lp["top_logprobs"].size() != n || lp["text_offset"].size() != n)
    return "";
  EXPECT_TRUE(lp["token_logprobs"][0].is_null());
  EXPECT_TRUE(lp["top_logprobs"][0].is_null());
  std::string joined;
  for (size_t i = 0; i < n; ++i) {
    EXPECT_EQ(lp["text_offset"][i].get<size_t>(), joined.size()) << i;
    joined += lp["tokens"][i].get<std::string>();
    if (i == 0) continue;
    const double l = lp["token_logprobs"][i];
    EXPECT_LE(l, 0.0) << i;
    const json& top = lp["top_logprobs"][i];
    EXPECT_TRUE(top.is_object() && !top.empty() && top.size() <= n_top) << i << " " << top.dump();
    double least = 0, mass = 0;
    bool among = false;
    for (const auto& [piece, v] : top.items()) {
      const double x = v.get<double>();
      EXPECT_LE(x, 0.0) << i << " " << piece;
      least = std::min(least, x);
      mass += std::exp(x);
      among = among || std::fabs(x - l) < 1e-6;
    }
    EXPECT_TRUE(among || l <= least) << i << " " << l << " " << top.dump();
    EXPECT_LE(mass, 1.0 + 1e-5) << i;
  }
  return joined;
}

TEST_F(ServerApi, OpenAiEchoWithLogprobsScoresThePrompt) {
  const std::string prompt = "the heron";
  const json s = post_json("/v1/completions", {{"model", "tiny"}, {"prompt", prompt}, {"echo", true}, {"logprobs", 3},
                                               {"max_tokens", 0}});
  const json& c = s["choices"][0];
  EXPECT_EQ(c["text"], prompt);
  EXPECT_EQ(c["finish_reason"], "length");
  EXPECT_EQ(s["usage"]["completion_tokens"], 0);
  const json& scored = c["logprobs"];
  EXPECT_EQ(scored["tokens"].size(), s["usage"]["prompt_tokens"].get<size_t>()) << s.dump();
  EXPECT_EQ(scored["tokens"][0], "");  // BOS, which writes nothing
  EXPECT_EQ(expect_echo_logprobs(scored, 3), prompt);
  const size_t n_prompt = scored["tokens"].size();

  // max_tokens 0 without logprobs echoes the prompt alone, and without echo gives nothing.
  EXPECT_EQ(post_json("/v1/completions", {{"model", "tiny"}, {"prompt", prompt}, {"echo", true}, {"max_tokens", 0}})
                ["choices"][0]["text"],
            prompt);
  const json none = post_json("/v1/completions", {{"model", "tiny"}, {"prompt", prompt}, {"max_tokens", 0}});
  EXPECT_EQ(none["choices"][0]["text"], "");
  EXPECT_EQ(none["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(none["usage"]["completion_tokens"], 0);
  EXPECT_EQ(none["usage"]["prompt_tokens"], s["usage"]["prompt_tokens"]);

  // With a completion: the prompt's entries, then the completion's as the request without echo
  // reports them, their offsets after the prompt. (The random model writes characters split
  // across byte tokens, whose lone bytes JSON carries as U+FFFD: their offsets count the bytes.)
  json gen = {{"model", "tiny"}, {"prompt", prompt}, {"temperature", 0}, {"max_tokens", 6}, {"logprobs", 3}};
  const json plain = post_json("/v1/completions", gen);
  gen["echo"] = true;
  const json both = post_json("/v1/completions", gen);
  const json& b = both["choices"][0];
  EXPECT_EQ(b["text"], prompt + plain["choices"][0]["text"].get<std::string>());
  const json& p = plain["choices"][0]["logprobs"];
  const json& e = b["logprobs"];
  ASSERT_EQ(p["tokens"].size(), 6u) << plain.dump();
  ASSERT_EQ(e["tokens"].size(), n_prompt + 6) << both.dump();
  for (const char* key : {"tokens", "token_logprobs", "top_logprobs"}) {
    for (size_t i = 0; i < n_prompt; ++i) EXPECT_EQ(e[key][i], scored[key][i]) << key << " " << i;
    for (size_t i = 0; i < 6; ++i) EXPECT_EQ(e[key][n_prompt + i], p[key][i]) << key << " " << i;
  }
  for (size_t i = 0; i < 6; ++i)
    EXPECT_EQ(e["text_offset"][n_prompt + i].get<size_t>(), prompt.size() + p["text_offset"][i].get<size_t>()) << i;

  // Streamed: the prompt and its entries in the first event, then the completion's; together
  // the unstreamed answer.
  json streamed = gen;
  streamed["stream"] = true;
  auto r = post("/v1/completions", streamed);
  ASSERT_TRUE(r && r->status == 200);
  std::string text;
  json parts = {{"tokens", json::array()}, {"token_logprobs", json::array()}, {"top_logprobs", json::array()},
                {"text_offset", json::array()}};
  for (const std::string& d : sse_data(r->body)) {
    if (d == "[DONE]") break;
    const json ch = json::parse(d)["choices"][0];
    text += ch["text"].get<std::string>();
    if (ch["logprobs"].is_null()) continue;
    for (auto& [key, arr] : parts.items())
      for (const json& x : ch["logprobs"][key]) arr.push_back(x);
  }
  EXPECT_EQ(text, b["text"]);
  for (const auto& [key, arr] : parts.items()) EXPECT_EQ(arr, e[key]) << key;
}

// lm-evaluation-harness sends token ids, and several prompts per request: ids are taken as they
// are (the string's ids give the string's answer), and a batch answers each prompt as it is
// answered alone, its choices in prompt order.
TEST_F(ServerApi, OpenAiCompletionPromptsAsTokenIdsAndSeveralPrompts) {
  const std::string prompt = "the heron";
  auto model = Model::load((root_ / "tiny.gguf").string(), {});
  ASSERT_TRUE(model.ok());
  auto ids = (*model)->tokenize(prompt, true, false);
  ASSERT_TRUE(ids.ok());
  const json by_text = post_json("/v1/completions", {{"model", "tiny"}, {"prompt", prompt}, {"echo", true},
                                                     {"logprobs", 2}, {"max_tokens", 0}});
  for (const json& form : {json(*ids), json::array({*ids})}) {
    const json by_ids = post_json("/v1/completions", {{"model", "tiny"}, {"prompt", form}, {"echo", true},
                                                      {"logprobs", 2}, {"max_tokens", 0}});
    EXPECT_EQ(by_ids["choices"][0]["text"], prompt);
    EXPECT_EQ(by_ids["choices"][0]["logprobs"], by_text["choices"][0]["logprobs"]);
  }
  const json gen = {{"model", "tiny"}, {"temperature", 0}, {"max_tokens", 5}, {"n", 2}};
  json a = gen, b = gen, both = gen;
  a["prompt"] = prompt;
  b["prompt"] = "a crane";
  both["prompt"] = {prompt, "a crane"};
  const json ja = post_json("/v1/completions", a), jb = post_json("/v1/completions", b);
  const json jboth = post_json("/v1/completions", both);
  ASSERT_EQ(jboth["choices"].size(), 4u) << jboth.dump();
  for (int i = 0; i < 4; ++i) {
    const json& alone = (i < 2 ? ja : jb)["choices"][i % 2];
    EXPECT_EQ(jboth["choices"][i]["index"], i);
    EXPECT_EQ(jboth["choices"][i]["text"], alone["text"]) << i;
  }
  EXPECT_EQ(jboth["usage"]["prompt_tokens"], ja["usage"]["prompt_tokens"].get<int>() + jb["usage"]["prompt_tokens"].get<int>());
  EXPECT_EQ(jboth["usage"]["completion_tokens"], 20);
  // Token-id batches (one prompt's ids and the string's) answer alike.
  json mixed = gen;
  mixed["prompt"] = {*ids, *ids};
  const json jm = post_json("/v1/completions", mixed);
  ASSERT_EQ(jm["choices"].size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(jm["choices"][i]["text"], ja["choices"][i % 2]["text"]) << i;
  // Bad ids, a bad prompt among several, and streaming a batch are 400s.
  struct Bad {
    json prompt;
    bool stream;
    const char* needle;
  };
  for (const Bad& c : {Bad{json::array({1, -3}), false, "integers >= 0"},
                       Bad{json::array({1, 1 << 30}), false, "outside the vocabulary"},
                       Bad{json::array({"x", 42}), false, "must be a string, token ids"},
                       Bad{json::array({json::array({json::array({1}), json::array({1})}), json::array({1})}), false,
                           "must be a string, token ids"},
                       Bad{json::array({"x", "y"}), true, "several prompts"}}) {
    json body = {{"model", "tiny"}, {"prompt", c.prompt}, {"stream", c.stream}};
    const json e = post_json("/v1/completions", body, 400);
    EXPECT_NE(e["error"]["message"].get<std::string>().find(c.needle), std::string::npos) << e.dump();
  }
}

TEST_F(ServerApi, ModelManagement) {
  post_json("/api/generate", {{"model", "tiny"}, {"prompt", "x"}, {"options", kGreedy}, {"stream", false}});
  json ps = get_json("/api/ps");
  ASSERT_EQ(ps["models"].size(), 1u);
  EXPECT_EQ(ps["models"][0]["name"], "tiny:latest");
  EXPECT_EQ(ps["models"][0]["details"]["family"], "llama");
  // keep_alive 0 with no prompt unloads it.
  const json unload = post_json("/api/generate", {{"model", "tiny"}, {"keep_alive", 0}});
  EXPECT_EQ(unload["done_reason"], "unload");
  EXPECT_TRUE(get_json("/api/ps")["models"].empty());

  const json show = post_json("/api/show", {{"model", "tiny-greedy:v1"}});
  EXPECT_EQ(show["system"], "You are terse.");
  EXPECT_NE(show["parameters"].get<std::string>().find("num_predict 12"), std::string::npos) << show.dump();
  EXPECT_EQ(show["model_info"]["general.architecture"], "llama");
  EXPECT_EQ(show["capabilities"], json::array({"completion"})) << show.dump();  // ChatML renders no tools
  EXPECT_TRUE(get_json("/api/ps")["models"].empty());  // showing a model does not load it for serving

  auto r = post("/api/copy", {{"source", "tiny"}, {"destination", "tiny-copy"}});
  ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "");
  EXPECT_EQ(get_json("/api/tags")["models"].size(), 3u);
  auto d = client_->Delete("/api/delete", json{{"model", "tiny-copy"}}.dump(), "application/json");
  ASSERT_TRUE(d && d->status == 200) << (d ? d->body : "");
  EXPECT_EQ(get_json("/api/tags")["models"].size(), 2u);
  d = client_->Delete("/api/delete", json{{"model", "tiny-copy"}}.dump(), "application/json");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->status, 404);
}

TEST_F(ServerApi, MalformedRequestsAreClientErrors) {
  struct Case {
    std::string path, body;
    int status;
    std::string needle;
  };
  const std::vector<Case> cases = {
      {"/api/generate", "{not json", 400, "not valid JSON"},
      {"/api/generate", "[1,2]", 400, "JSON object"},
      {"/api/generate", "", 400, "empty"},
      {"/api/generate", R"({"prompt":"x"})", 400, "'model' is required"},
      {"/api/generate", R"({"model":5,"prompt":"x"})", 400, "'model' must be a string"},
      {"/api/generate", R"({"model":"nope","prompt":"x"})", 404, "not found"},
      {"/api/generate", R"({"model":"tiny","prompt":"x","stream":"yes"})", 400, "'stream' must be true or false"},
      {"/api/generate", R"({"model":"tiny","prompt":"x","options":{"temperature":"hot"}})", 400, "temperature"},
      {"/api/generate", R"({"model":"tiny","prompt":"x","options":{"num_predict":-5}})", 400, "num_predict"},
      {"/api/generate", R"({"model":"tiny","prompt":"x","options":{"num_ctx":1e12}})", 400, "num_ctx"},
      {"/api/generate", R"({"model":"tiny","prompt":"x","options":{"bogus":1}})", 400, "unknown parameter 'bogus'"},
      {"/api/generate", R"({"model":"tiny","prompt":"x","keep_alive":"soon"})", 400, "keep_alive"},
      {"/api/generate", R"({"model":"tiny","prompt":"x","format":"yaml"})", 400, "'format' must be \"json\" or a JSON Schema"},
      {"/api/generate", R"({"model":"tiny","prompt":"x","format":{"type":"integer","multipleOf":2}})", 400, "multipleOf"},
      {"/api/generate", R"({"model":"tiny","prompt":"x","grammar":"root ::= ("})", 400, "'grammar': grammar: line 1"},
      {"/api/generate", R"({"model":"tiny","prompt":"x","format":"json","grammar":"root ::= \"a\""})", 400,
       "cannot both be given"},
      {"/api/chat", R"({"model":"tiny","messages":"hi"})", 400, "'messages' must be an array"},
      {"/api/chat", R"({"model":"tiny","messages":[{"role":"wizard","content":"x"}]})", 400, "unknown role"},
      {"/api/chat", R"({"model":"tiny","messages":[{"role":"user","content":7}]})", 400, "content"},
      {"/v1/chat/completions", R"({"model":"tiny"})", 400, "'messages' is required"},
      {"/v1/chat/completions", R"({"model":"tiny","messages":[{"role":"user","content":"x"}],"response_format":{"type":"xml"}})",
       400, "'response_format' type 'xml'"},
      {"/v1/chat/completions", R"({"model":"tiny","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema"}})",
       400, "json_schema.schema' is required"},
      {"/v1/chat/completions", R"({"model":"tiny","messages":[]})", 400, "must not be empty"},
      {"/v1/chat/completions", R"({"model":"tiny","messages":[{"role":"user","content":"x"}],"temperature":-1})",
       400, "'temperature' must be between"},
      {"/v1/chat/completions", R"({"model":"tiny","messages":[{"role":"user","content":"x"}],"max_tokens":1e30})",
       400, "max_tokens"},
      {"/v1/chat/completions", R"({"model":"tiny","messages":[{"role":"user","content":"x"}],"n":1000})", 400, "'n'"},
      {"/v1/completions", R"({"model":"tiny","prompt":42})", 400, "'prompt' must be a string"},
      {"/v1/completions", R"({"model":"tiny","prompt":[]})", 400, "'prompt' must be a string"},
      {"/v1/completions", R"({"model":"tiny","prompt":"x","echo":true,"logprobs":6})", 400, "'logprobs'"},
      {"/v1/completions", R"({"model":"tiny","prompt":"x","max_tokens":-1})", 400, "'max_tokens'"},
      {"/v1/chat/completions", R"({"model":"tiny","messages":[{"role":"user","content":"x"}],"max_tokens":0})", 400,
       "'max_tokens'"},
      {"/v1/completions", R"({"model":"gone","prompt":"x"})", 404, "not found"},
  };
  for (const Case& c : cases) {
    auto r = client_->Post(c.path, c.body, "application/json");
    ASSERT_TRUE(r) << c.path << " " << c.body;
    EXPECT_EQ(r->status, c.status) << c.path << " " << c.body << " -> " << r->body;
    const json e = json::parse(r->body, nullptr, false);
    ASSERT_TRUE(e.is_object() && e.contains("error")) << r->body;
    // Each API's error shape.
    const std::string msg = c.path.rfind("/v1/", 0) == 0 ? e["error"]["message"].get<std::string>()
                                                         : e["error"].get<std::string>();
    EXPECT_NE(msg.find(c.needle), std::string::npos) << c.path << " " << c.body << " -> " << msg;
  }
  // A prompt longer than the context is refused, never truncated.
  std::string long_prompt;
  for (int i = 0; i < 400; ++i) long_prompt += "hello world ";
  auto r = post("/api/generate", {{"model", "tiny"}, {"prompt", long_prompt}, {"raw", true}, {"options", {{"num_ctx", 64}}}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("longer than the context"), std::string::npos) << r->body;
  r = post("/v1/completions", {{"model", "tiny"}, {"prompt", long_prompt}, {"echo", true}, {"logprobs", 0},
                               {"max_tokens", 0}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("longer than the context"), std::string::npos) << r->body;
  // Unknown endpoints, and the server still answers afterwards.
  auto u = client_->Get("/api/nothing");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->status, 404);
  EXPECT_NE(u->body.find("no such endpoint"), std::string::npos);
  EXPECT_EQ(get_json("/health")["status"], "ok");
}

TEST_F(ServerApi, HugeBodyIs413) {
  server::ServerOptions o;
  o.max_body_bytes = 1 << 16;
  restart(o);
  const std::string big(1 << 17, 'x');
  auto r = client_->Post("/api/generate", "{\"model\":\"tiny\",\"prompt\":\"" + big + "\"}", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(get_json("/health")["status"], "ok");
}

TEST_F(ServerApi, ApiKeyAndCors) {
  server::ServerOptions o;
  o.api_key = "sekret";
  o.cors_origins = {"http://app.example"};
  restart(o);
  auto r = client_->Get("/api/tags");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  r = client_->Get("/v1/models");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(json::parse(r->body)["error"]["code"], "invalid_api_key");
  EXPECT_EQ(client_->Get("/health")->status, 200);  // health needs no key
  httplib::Headers auth = {{"Authorization", "Bearer sekret"}, {"Origin", "http://app.example"}};
  r = client_->Get("/api/tags", auth);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Access-Control-Allow-Origin"), "http://app.example");
  r = client_->Get("/api/tags", {{"Authorization", "Bearer sekret"}, {"Origin", "http://evil.example"}});
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->has_header("Access-Control-Allow-Origin"));
  r = client_->Options("/v1/chat/completions", {{"Origin", "http://app.example"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204);
  EXPECT_NE(r->get_header_value("Access-Control-Allow-Methods").find("POST"), std::string::npos);
}

TEST_F(ServerApi, ConcurrentRequestsAnswerAsEachAlone) {
  const std::vector<std::string> prompts = {"one", "two two", "three", "four four four", "five", "six"};
  std::vector<std::string> alone;
  for (const std::string& p : prompts) {
    const json j = post_json("/api/generate", {{"model", "tiny"}, {"prompt", p}, {"stream", false}, {"options", kGreedy}});
    alone.push_back(j["response"]);
  }
  std::vector<std::string> together(prompts.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < prompts.size(); ++i) {
    threads.emplace_back([&, i] {
      httplib::Client c("127.0.0.1", server_->port());
      c.set_read_timeout(60, 0);
      auto r = c.Post("/api/generate",
                      json{{"model", "tiny"}, {"prompt", prompts[i]}, {"options", kGreedy}}.dump(), "application/json");
      if (!r || r->status != 200) return;
      for (const json& line : ndjson(r->body)) together[i] += line["response"].get<std::string>();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(together, alone);
  const auto metrics = client_->Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("minnow_generations_total 12"), std::string::npos) << metrics->body;
  EXPECT_NE(metrics->body.find("minnow_generated_tokens_total 120"), std::string::npos) << metrics->body;
}

TEST_F(ServerApi, FullQueueIs503AndDisconnectCancels) {
  server::ServerOptions o;
  o.max_queue = 1;
  restart(o);
  // A long stream holds the only slot; the client goes away after the first lines.
  std::atomic<int> lines{0};
  std::thread holder([&] {
    httplib::Client c("127.0.0.1", server_->port());
    httplib::Request req;
    req.method = "POST";
    req.path = "/api/generate";
    req.set_header("Content-Type", "application/json");
    req.body = json{{"model", "tiny"}, {"prompt", "go"},
                    {"options", {{"temperature", 0}, {"num_predict", 100000}, {"num_ctx", 256}}}}
                   .dump();
    req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) { return ++lines < 3; };
    httplib::Response res;
    httplib::Error err;
    c.send(req, res, err);
  });
  while (lines < 1) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  // Meanwhile another generation request is refused with 503 (unless the holder is done).
  auto busy = post("/v1/completions", {{"model", "tiny"}, {"prompt", "x"}, {"max_tokens", 2}});
  ASSERT_TRUE(busy);
  if (busy->status != 200) {
    EXPECT_EQ(busy->status, 503) << busy->body;
    EXPECT_NE(busy->body.find("busy"), std::string::npos);
  }
  holder.join();
  // The abandoned stream stops (it would run to the 256-token context otherwise) and frees
  // the slot: later requests are served.
  for (int i = 0; i < 200; ++i) {
    auto r = post("/api/generate", {{"model", "tiny"}, {"prompt", "x"}, {"stream", false}, {"options", kGreedy}});
    if (r && r->status == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const auto metrics = client_->Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("minnow_generations_cancelled_total 1"), std::string::npos) << metrics->body;
}

// Log-likelihood scoring against stories260K, whose greedy text is English (its tokens are what
// tokenizing that text gives back).
class ServerScoring : public test::ServerTest {
 protected:
  static void SetUpTestSuite() { root_ = test::fresh_dir("server_scoring"); }
  static void TearDownTestSuite() { fs::remove_all(root_); }
  void SetUp() override {
    if (!fs::exists(test::shared_path(kStories))) return;  // the test skips
    auto store = Store::open((root_ / "models").string());
    ASSERT_TRUE(store.ok());
    if (!store->find("stories")) {
      ASSERT_TRUE(store->add("stories", test::shared_path(kStories), {}, false).ok());
    }
    start_server(root_ / "models");
  }

  // The echoed logprobs of prompt + continuation, one alternative each, as lm-evaluation-harness
  // asks for them.
  json score(const std::string& text) {
    return post_json("/v1/completions", {{"model", "stories"}, {"prompt", text}, {"echo", true}, {"logprobs", 1},
                                         {"max_tokens", 0}})["choices"][0]["logprobs"];
  }

  static constexpr const char* kStories = "models/stories260K.gguf";
  static fs::path root_;
};
fs::path ServerScoring::root_;

// What lm-evaluation-harness takes from a scored continuation (the tokens from offset `from` of
// the text on): their logprobs, their summed logprob, and whether each is the likeliest token.
struct Continuation {
  std::vector<std::string> tokens;
  std::vector<double> logprobs;
  double sum = 0;
  bool greedy = true;
};

Continuation continuation(const json& lp, size_t from) {
  Continuation c;
  for (size_t i = 0; i < lp["tokens"].size(); ++i) {
    if (lp["text_offset"][i].get<size_t>() < from) continue;
    const double l = lp["token_logprobs"][i];
    double best = -INFINITY;
    for (const auto& [piece, v] : lp["top_logprobs"][i].items()) best = std::max(best, v.get<double>());
    c.tokens.push_back(lp["tokens"][i]);
    c.logprobs.push_back(l);
    c.sum += l;
    c.greedy = c.greedy && l == best;
  }
  return c;
}

TEST_F(ServerScoring, EchoedLogprobsAreTheGeneratedOnes) {
  MINNOW_REQUIRE_SHARED(kStories);
  const std::string prompt = "Once upon a time";
  const json gen = post_json("/v1/completions", {{"model", "stories"}, {"prompt", prompt}, {"temperature", 0},
                                                 {"max_tokens", 8}, {"logprobs", 1}});
  const std::string greedy = gen["choices"][0]["text"];
  const json& g = gen["choices"][0]["logprobs"];
  ASSERT_EQ(g["tokens"].size(), 8u) << gen.dump();

  // The prompt and its greedy continuation scored: the continuation's tokens, logprobs and
  // offsets are the generated ones, and each was the likeliest.
  const json lp = score(prompt + greedy);
  EXPECT_EQ(expect_echo_logprobs(lp, 1), prompt + greedy);
  const Continuation a = continuation(lp, prompt.size());
  ASSERT_EQ(a.tokens.size(), 8u) << lp.dump();
  double generated_sum = 0;
  for (size_t i = 0; i < 8; ++i) {
    EXPECT_EQ(a.tokens[i], g["tokens"][i]) << i;
    EXPECT_NEAR(a.logprobs[i], g["token_logprobs"][i].get<double>(), 1e-4) << i;
    generated_sum += g["token_logprobs"][i].get<double>();
  }
  EXPECT_NEAR(a.sum, generated_sum, 1e-3);
  EXPECT_TRUE(a.greedy);

  // Multiple choice as the harness runs it: the same context with another ending scores lower
  // and is not greedy.
  const Continuation b = continuation(score(prompt + " the moon ate a purple chair."), prompt.size());
  ASSERT_FALSE(b.tokens.empty());
  EXPECT_LT(b.sum, a.sum);
  EXPECT_FALSE(b.greedy);
}

}  // namespace
}  // namespace minnow
