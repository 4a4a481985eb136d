// The server decoding concurrent requests together (a BatchGenerator per model), over HTTP
// against stories260K: 16 concurrent streaming requests of both APIs (different prompts,
// temperature 0) answer exactly as each alone, with 16 slots and with 4 (the rest wait their
// turn, never more than 4 decoding); a client that goes away stops its own stream only;
// requests for another num_ctx wait for the model's generator and re-create it (over HTTP, and
// step by step on use_generator); an OpenAI request's n choices stream interleaved and equal the
// unstreamed answer; MINNOW_NUM_PARALLEL.
#include <httplib.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "minnow/store.h"
#include "server/model_pool.h"
#include "server/server.h"
#include "server_fixture.h"
#include "test_util.h"
#include "tiny_model.h"

namespace minnow {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kStories = "models/stories260K.gguf";

enum class Api { kGenerate, kChat, kOpenAiChat, kOpenAiCompletion };

struct Request {
  Api api;
  std::string prompt;
  int n_predict;
  int num_ctx = 0;  // 0: the model's default
};

// What a streamed answer carried: its text, the token count and why it ended.
struct Answer {
  std::string text;
  int tokens = -1;
  std::string reason;
  int status = 0;
  bool operator==(const Answer&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Answer& a) {
  return os << "{status " << a.status << ", " << a.tokens << " tokens, " << a.reason << ", \"" << a.text << "\"}";
}

std::pair<std::string, json> http_request(const Request& r) {
  json options = {{"temperature", 0}, {"num_predict", r.n_predict}};
  if (r.num_ctx > 0) options["num_ctx"] = r.num_ctx;
  switch (r.api) {
    case Api::kGenerate:
      return {"/api/generate", {{"model", "stories"}, {"prompt", r.prompt}, {"raw", true}, {"options", options}}};
    case Api::kChat:
      return {"/api/chat",
              {{"model", "stories"}, {"messages", {{{"role", "user"}, {"content", r.prompt}}}}, {"options", options}}};
    case Api::kOpenAiChat:
      return {"/v1/chat/completions",
              {{"model", "stories"}, {"messages", {{{"role", "user"}, {"content", r.prompt}}}}, {"stream", true},
               {"temperature", 0}, {"max_tokens", r.n_predict}, {"stream_options", {{"include_usage", true}}}}};
    case Api::kOpenAiCompletion:
      return {"/v1/completions", {{"model", "stories"}, {"prompt", r.prompt}, {"stream", true}, {"temperature", 0},
                                  {"max_tokens", r.n_predict}, {"stream_options", {{"include_usage", true}}}}};
  }
  return {};
}

// The lines of an NDJSON body or the data of SSE events, as JSON ("[DONE]" left out).
std::vector<json> events(const std::string& body, bool sse) {
  std::vector<json> out;
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);) {
    if (sse) {
      if (line.rfind("data: ", 0) != 0 || line == "data: [DONE]") continue;
      line = line.substr(6);
    }
    if (!line.empty()) out.push_back(json::parse(line));
  }
  return out;
}

Answer parse(Api api, int status, const std::string& body) {
  Answer a;
  a.status = status;
  if (status != 200) return a;
  const bool openai = api == Api::kOpenAiChat || api == Api::kOpenAiCompletion;
  for (const json& e : events(body, openai)) {
    if (!openai) {
      a.text += api == Api::kGenerate ? e["response"].get<std::string>() : e["message"]["content"].get<std::string>();
      if (e["done"].get<bool>()) {
        a.tokens = e["eval_count"];
        a.reason = e["done_reason"];
      }
      continue;
    }
    if (e.contains("usage") && !e["usage"].is_null()) a.tokens = e["usage"]["completion_tokens"];
    for (const json& c : e["choices"]) {
      if (api == Api::kOpenAiChat && c["delta"].contains("content")) a.text += c["delta"]["content"].get<std::string>();
      if (api == Api::kOpenAiCompletion) a.text += c["text"].get<std::string>();
      if (!c["finish_reason"].is_null()) a.reason = c["finish_reason"];
    }
  }
  return a;
}

// Sends a streaming request; stop_after >= 0: the client goes away after that many chunks.
Answer send(int port, const Request& r, int stop_after = -1) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(120, 0);
  const auto [path, body] = http_request(r);
  httplib::Request req;
  req.method = "POST";
  req.path = path;
  req.set_header("Content-Type", "application/json");
  req.body = body.dump();
  std::string received;
  int chunks = 0;
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    received.append(data, n);
    return stop_after < 0 || ++chunks < stop_after;
  };
  httplib::Response res;
  httplib::Error err;
  if (!c.send(req, res, err)) {
    return stop_after < 0 ? Answer{received, -1, httplib::to_string(err), 0} : Answer{received, -1, "gone", 0};
  }
  return parse(r.api, res.status, received);
}

const char* const kPrompts[] = {"Once upon a time", "The little dog", "Lily and Ben went", "One day, a girl",
                                "Tom had a big", "The sun was", "A bird sang", "Mom said"};

// 16 requests: every API, different prompts and lengths.
std::vector<Request> sixteen() {
  std::vector<Request> out;
  for (int i = 0; i < 16; ++i) {
    out.push_back({static_cast<Api>(i % 4), std::string(kPrompts[i % 8]) + (i >= 8 ? " and" : ""), 20 + 7 * (i % 5)});
  }
  return out;
}

class ServerBatch : public test::ServerTest {
 protected:
  static void SetUpTestSuite() { root_ = test::fresh_dir("server_batch"); }
  static void TearDownTestSuite() { fs::remove_all(root_); }

  void start(int n_parallel) {
    auto store = Store::open((root_ / "models").string());
    ASSERT_TRUE(store.ok());
    if (!store->find("stories")) {
      ASSERT_TRUE(store->add("stories", test::shared_path(kStories), {}, false).ok());
    }
    server::ServerOptions o;
    o.n_threads = 2;
    o.n_parallel = n_parallel;
    start_server(root_ / "models", o);
  }

  // A /metrics value ("minnow_sequences_running"), -1 when absent.
  double metric(const std::string& name) {
    httplib::Client c("127.0.0.1", port());
    auto r = c.Get("/metrics");
    if (!r) return -1;
    std::istringstream in(r->body);
    for (std::string line; std::getline(in, line);)
      if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
    return -1;
  }

  // Each request alone, one after another.
  std::vector<Answer> alone(const std::vector<Request>& requests) {
    std::vector<Answer> out;
    for (const Request& r : requests) out.push_back(send(port(), r));
    return out;
  }

  // All at once, with /metrics read meanwhile: the most sequences seen decoding and waiting.
  std::vector<Answer> together(const std::vector<Request>& requests, int* most_running = nullptr,
                               int* most_waiting = nullptr) {
    std::vector<Answer> out(requests.size());
    std::atomic<bool> done{false};
    std::thread watcher([&] {
      while (!done) {
        if (most_running) *most_running = std::max(*most_running, static_cast<int>(metric("minnow_sequences_running")));
        if (most_waiting) *most_waiting = std::max(*most_waiting, static_cast<int>(metric("minnow_sequences_waiting")));
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    });
    std::vector<std::thread> threads;
    for (size_t i = 0; i < requests.size(); ++i) threads.emplace_back([&, i] { out[i] = send(port(), requests[i]); });
    for (std::thread& t : threads) t.join();
    done = true;
    watcher.join();
    return out;
  }

  static fs::path root_;
};
fs::path ServerBatch::root_;

TEST_F(ServerBatch, SixteenConcurrentStreamsAnswerAsEachAlone) {
  MINNOW_REQUIRE_SHARED(kStories);
  for (int parallel : {16, 4}) {
    SCOPED_TRACE("parallel " + std::to_string(parallel));
    start(parallel);
    const std::vector<Request> requests = sixteen();
    const std::vector<Answer> want = alone(requests);
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(want[i].status, 200) << i;
      EXPECT_GT(want[i].tokens, 0) << i;
      EXPECT_FALSE(want[i].text.empty()) << i;
    }
    int most_running = 0, most_waiting = 0;
    const std::vector<Answer> got = together(requests, &most_running, &most_waiting);
    for (size_t i = 0; i < requests.size(); ++i) EXPECT_EQ(got[i], want[i]) << "request " << i;
    EXPECT_LE(most_running, parallel);
    RecordProperty("most_running_" + std::to_string(parallel), most_running);
    RecordProperty("most_waiting_" + std::to_string(parallel), most_waiting);
    EXPECT_EQ(metric("minnow_generations_total"), 32);
    EXPECT_EQ(metric("minnow_sequences_running"), 0);
    EXPECT_EQ(metric("minnow_sequences_waiting"), 0);
    server_->stop();
    server_.reset();
  }
}

TEST_F(ServerBatch, ADisconnectStopsOnlyItsOwnStream) {
  MINNOW_REQUIRE_SHARED(kStories);
  start(4);
  std::vector<Request> requests;
  for (int i = 0; i < 4; ++i) requests.push_back({static_cast<Api>(i), kPrompts[i], 200});
  const std::vector<Answer> want = alone(requests);
  std::vector<Answer> got(requests.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < requests.size(); ++i)
    threads.emplace_back([&, i] { got[i] = send(port(), requests[i], i == 1 ? 3 : -1); });
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(got[1].reason, "gone");
  for (size_t i : {0, 2, 3}) EXPECT_EQ(got[i], want[i]) << "request " << i;
  // The abandoned stream is counted as cancelled once the server sees the failed write.
  for (int i = 0; i < 500 && metric("minnow_generations_cancelled_total") < 1; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(metric("minnow_generations_cancelled_total"), 1);
  EXPECT_EQ(send(port(), requests[1]), want[1]);  // the server goes on serving
}

// Answers sent in one piece write nothing until the end: a client that gives up waiting (its
// read timeout) must still stop its generation, in both APIs, while the server goes on serving.
TEST_F(ServerBatch, ANonStreamingClientThatLeavesStopsItsGeneration) {
  MINNOW_REQUIRE_SHARED(kStories);
  start(2);
  const json bodies[] = {
      {{"model", "stories"}, {"prompt", "Once upon a time"}, {"stream", false},
       {"options", {{"num_predict", 1900}, {"num_ctx", 2048}, {"temperature", 0}}}},
      {{"model", "stories"}, {"messages", {{{"role", "user"}, {"content", "Once upon a time"}}}},
       {"max_tokens", 1900}, {"temperature", 0}},
  };
  const char* paths[] = {"/api/generate", "/v1/chat/completions"};
  for (int i = 0; i < 2; ++i) {
    const double before = metric("minnow_generated_tokens_total");
    {
      httplib::Client c("127.0.0.1", port());
      c.set_read_timeout(0, 300000);  // gives up after 0.3 s, closing its connection
      auto r = c.Post(paths[i], bodies[i].dump(), "application/json");
      EXPECT_FALSE(r) << paths[i] << " answered within 0.3 s: " << (r ? r->body : "");
    }
    for (int k = 0; k < 1000 && metric("minnow_generations_cancelled_total") < i + 1; ++k)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ(metric("minnow_generations_cancelled_total"), i + 1) << paths[i];
    // Stopped well before its 1900 tokens (at most a few hundred more while the check ran).
    for (int k = 0; k < 500 && metric("minnow_sequences_running") > 0; ++k)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_LT(metric("minnow_generated_tokens_total") - before, 1900) << paths[i];
  }
  const Request r{Api::kGenerate, kPrompts[0], 10};
  EXPECT_EQ(send(port(), r).status, 200);  // the server goes on serving
}

TEST_F(ServerBatch, AnotherContextSizeWaitsAndRecreatesTheGenerator) {
  MINNOW_REQUIRE_SHARED(kStories);
  start(2);
  std::vector<Request> requests;
  // Ollama requests ask for 256 or 512 positions, OpenAI ones take the default (2048).
  for (int i = 0; i < 12; ++i) requests.push_back({static_cast<Api>(i % 4), kPrompts[i % 8], 30, i % 8 < 4 ? 256 : 512});
  const std::vector<Answer> want = alone(requests);
  const std::vector<Answer> got = together(requests);
  for (size_t i = 0; i < requests.size(); ++i) EXPECT_EQ(got[i], want[i]) << "request " << i;
  // The last request's context is the one /api/ps shows.
  EXPECT_EQ(send(port(), {Api::kGenerate, kPrompts[0], 5, 300}).status, 200);
  httplib::Client c("127.0.0.1", port());
  auto ps = c.Get("/api/ps");
  ASSERT_TRUE(ps && ps->status == 200);
  EXPECT_EQ(json::parse(ps->body)["models"][0]["context_length"], 300) << ps->body;
  // A prompt longer than a slot's context is refused before any answer.
  std::string long_prompt;
  for (int i = 0; i < 40; ++i) long_prompt += "Once upon a time ";
  auto r = c.Post("/api/generate",
                  json{{"model", "stories"}, {"prompt", long_prompt}, {"raw", true},
                       {"options", {{"num_ctx", 64}}}}.dump(),
                  "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("longer than the context of 64"), std::string::npos) << r->body;
}

TEST_F(ServerBatch, SeveralChoicesStreamTogether) {
  MINNOW_REQUIRE_SHARED(kStories);
  start(4);
  const json body = {{"model", "stories"}, {"messages", {{{"role", "user"}, {"content", "Once upon a time"}}}},
                     {"temperature", 1.0}, {"seed", 11}, {"n", 3}, {"max_tokens", 40}};
  httplib::Client c("127.0.0.1", port());
  c.set_read_timeout(60, 0);
  auto whole = c.Post("/v1/chat/completions", body.dump(), "application/json");
  ASSERT_TRUE(whole && whole->status == 200);
  const json w = json::parse(whole->body);
  json streamed = body;
  streamed["stream"] = true;
  auto r = c.Post("/v1/chat/completions", streamed.dump(), "application/json");
  ASSERT_TRUE(r && r->status == 200);
  std::vector<std::string> text(3);
  std::vector<std::string> reason(3);
  for (const json& e : events(r->body, true)) {
    for (const json& ch : e["choices"]) {
      const int i = ch["index"];
      if (ch["delta"].contains("content")) text[i] += ch["delta"]["content"].get<std::string>();
      if (!ch["finish_reason"].is_null()) reason[i] = ch["finish_reason"];
    }
  }
  ASSERT_EQ(w["choices"].size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(text[i], w["choices"][i]["message"]["content"]) << i;
    EXPECT_EQ(reason[i], w["choices"][i]["finish_reason"]) << i;
  }
  EXPECT_NE(text[0], text[1]);  // each choice has its own seed
}

// use_generator directly: requests for another num_ctx wait for the model's requests to end,
// then all of them proceed on one new generator; a request for the current context that comes
// meanwhile waits behind them.
TEST(ServerGenerator, ContextSwitchesWaitForUsersAndLetEveryWaiterIn) {
  const auto bytes = test::make_tiny_llama({});
  const std::string path = (fs::temp_directory_path() / ("minnow_gen_" + std::to_string(getpid()))).string();
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  LoadOptions lo;
  lo.n_threads = 1;
  auto model = Model::load(path, lo);
  fs::remove(path);
  ASSERT_TRUE(model.ok()) << model.error().message;
  auto m = std::make_shared<server::LoadedModel>();
  m->model = *model;
  m->n_parallel = 2;
  auto waiting = [&](int ctx) {
    std::lock_guard lk(m->gen_mu);
    auto it = m->waiting_ctx.find(ctx);
    return it == m->waiting_ctx.end() ? 0 : it->second;
  };
  auto wait_until = [](const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!done() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return done();
  };

  auto first = server::use_generator(m, 64);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(m->context_length(), 64);
  // Three requests for 128 positions wait while the 64-position generator is in use...
  std::vector<std::optional<server::GeneratorUse>> others(4);
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&, i] {
      auto u = server::use_generator(m, 128);
      if (u.ok()) others[i].emplace(std::move(*u));
    });
  }
  ASSERT_TRUE(wait_until([&] { return waiting(128) == 3; }));
  // ... and a request for 64 that comes now waits behind them.
  threads.emplace_back([&] {
    auto u = server::use_generator(m, 64);
    if (u.ok()) others[3].emplace(std::move(*u));
  });
  ASSERT_TRUE(wait_until([&] { return waiting(64) == 1; }));
  EXPECT_EQ(m->context_length(), 64);
  // The last user goes: all three get the new generator together.
  *first = server::GeneratorUse();
  ASSERT_TRUE(wait_until([&] { return waiting(128) == 0; }));
  EXPECT_EQ(m->context_length(), 128);
  EXPECT_EQ(waiting(64), 1);
  for (int i = 0; i < 3; ++i) threads[i].join();
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(others[i].has_value()) << i;
  for (int i = 0; i < 3; ++i) others[i].reset();
  threads[3].join();
  EXPECT_TRUE(others[3].has_value());
  EXPECT_EQ(m->context_length(), 64);
  std::lock_guard lk(m->gen_mu);
  EXPECT_EQ(m->generator_users, 1);
  EXPECT_TRUE(m->waiting_ctx.empty());
}

TEST(ServerOptionsEnv, NumParallel) {
  server::ServerOptions o;
  setenv("MINNOW_NUM_PARALLEL", "6", 1);
  ASSERT_TRUE(server::options_from_env(&o).ok());
  EXPECT_EQ(o.n_parallel, 6);
  for (const char* bad : {"0", "-2", "x", "4x", "100000"}) {
    setenv("MINNOW_NUM_PARALLEL", bad, 1);
    const Status st = server::options_from_env(&o);
    ASSERT_FALSE(st.ok()) << bad;
    EXPECT_NE(st.error().message.find("MINNOW_NUM_PARALLEL"), std::string::npos) << st.error().message;
  }
  unsetenv("MINNOW_NUM_PARALLEL");
}

}  // namespace
}  // namespace minnow
