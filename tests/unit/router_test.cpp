// Router definitions and upstream calls without a model: definition errors name the field or
// pattern, the rules and privacy decisions, bounded matching of a pattern that backtracks without
// end, and chat_upstream against an httplib server on 127.0.0.1 (answers, HTTP errors with the
// upstream's message, answers that are not chat completions, a missing key, a timeout).
#include "minnow/router.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <stdlib.h>

#include <chrono>
#include <string>
#include <thread>

#include "minnow/upstream.h"

namespace minnow {
namespace {

std::string error_of(std::string_view json_text) {
  auto r = parse_router(json_text, "r.json");
  return r.ok() ? "" : r.error().message;
}

TEST(RouterDef, ParsesAPolicyAndItsSettings) {
  auto r = parse_router(R"({"name": "a", "local": "smollm2", "upstream": "cloud", "policy": "rules",
      "rules": {"max_prompt_chars": 10, "escalate_patterns": ["(?i)lawyer"], "escalate_schema": true},
      "privacy": {"local_patterns": ["\\d{3}-\\d{2}-\\d{4}"]}})",
                        "r.json");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->policy, RoutePolicy::kRules);
  EXPECT_EQ(rules_escalation(*r, "short", false), "");
  EXPECT_NE(rules_escalation(*r, "a prompt over ten characters", false).find("longer than 10"),
            std::string::npos);
  EXPECT_NE(rules_escalation(*r, "LAWYER", false).find("(?i)lawyer"), std::string::npos);
  EXPECT_NE(rules_escalation(*r, "json", true).find("schema"), std::string::npos);
  EXPECT_EQ(privacy_hold(*r, "nothing here", false), "");
  EXPECT_NE(privacy_hold(*r, "SSN 123-45-6789", false).find("privacy pattern"), std::string::npos);
  EXPECT_NE(privacy_hold(*r, "nothing here", true).find("local_only"), std::string::npos);
  auto d = parse_router(R"({"name": "b", "local": "m", "upstream": "u"})", "r.json");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->policy, RoutePolicy::kCascade);
  EXPECT_EQ(d->threshold, -1.0);
}

TEST(RouterDef, ErrorsNameWhatIsWrong) {
  EXPECT_NE(error_of("{").find("not valid JSON"), std::string::npos);
  EXPECT_NE(error_of("[]").find("JSON object"), std::string::npos);
  EXPECT_NE(error_of(R"({"local": "m", "upstream": "u"})").find("'name' is missing"), std::string::npos);
  EXPECT_NE(error_of(R"({"name": "a", "local": "m", "upstream": "u", "policy": "magic"})").find("'magic'"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"name": "a", "local": "m", "upstream": "u", "threshold": 0.5})").find("threshold"),
            std::string::npos);
  EXPECT_NE(
      error_of(
          R"({"name": "a", "local": "m", "upstream": "u", "rules": {"escalate_patterns": ["ok", "(unclosed"]}})")
          .find("escalate_patterns 2 ('(unclosed')"),
      std::string::npos);
  EXPECT_NE(error_of(R"({"name": "a", "local": "m", "upstream": "u", "privacy": {"local_patterns": "x"}})")
                .find("array of strings"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"name": "a", "local": "m", "upstream": "u", "rules": {"max_prompt_chars": -1}})")
                .find("max_prompt_chars"),
            std::string::npos);
}

TEST(RouterDef, APatternThatBacktracksWithoutEndStopsAndKeepsTheRequestLocal) {
  auto r = parse_router(R"({"name": "a", "local": "m", "upstream": "u", "policy": "rules",
      "rules": {"escalate_patterns": ["^(a+)+$"]}, "privacy": {"local_patterns": ["^(a+)+$"]}})",
                        "r.json");
  ASSERT_TRUE(r.ok());
  const std::string evil = std::string(40, 'a') + "b";
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_NE(privacy_hold(*r, evil, false), "");      // a hit limit holds the request local
  EXPECT_EQ(rules_escalation(*r, evil, false), "");  // and escalates nothing
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(20));
  EXPECT_NE(privacy_hold(*r, std::string("\xff\xfe"), false), "");  // invalid UTF-8 too
}

TEST(Upstreams, ParseAndErrors) {
  auto u =
      parse_upstreams(R"({"upstreams": [{"name": "c", "base_url": "https://api.example.com/v1/", "model": "m",
      "api_key_env": "KEY", "input_price": 2.5, "output_price": 10}]})",
                      "u.json");
  ASSERT_TRUE(u.ok()) << u.error().message;
  EXPECT_EQ((*u)[0].base_url, "https://api.example.com/v1");
  EXPECT_DOUBLE_EQ(upstream_cost((*u)[0], 1000, 100), (1000 * 2.5 + 100 * 10) / 1e6);
  auto err = [](std::string_view t) {
    auto r = parse_upstreams(t, "u.json");
    return r.ok() ? std::string() : r.error().message;
  };
  EXPECT_NE(
      err(R"([{"name": "c", "base_url": "ftp://x", "model": "m"}])").find("upstream 1 ('c'): 'base_url'"),
      std::string::npos);
  EXPECT_NE(err(R"([{"name": "c", "base_url": "http://x"}])").find("'model' is missing"), std::string::npos);
  EXPECT_NE(
      err(R"([{"name": "c", "base_url": "http://x", "model": "m", "timeout_s": -1}])").find("timeout_s"),
      std::string::npos);
  EXPECT_NE(
      err(R"([{"name": "c", "base_url": "http://x", "model": "m"}, {"name": "c", "base_url": "http://y", "model": "m"}])")
          .find("used twice"),
      std::string::npos);
  EXPECT_NE(err("{}").find("expected an array"), std::string::npos);
}

// An httplib server on a free loopback port, answering /v1/chat/completions with handler.
class FakeUpstream {
 public:
  explicit FakeUpstream(httplib::Server::Handler handler) {
    http_.Post("/v1/chat/completions", std::move(handler));
    port_ = http_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { http_.listen_after_bind(); });
    while (!http_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~FakeUpstream() {
    http_.stop();
    thread_.join();
  }
  Upstream upstream() const {
    Upstream u;
    u.name = "fake";
    u.base_url = "http://127.0.0.1:" + std::to_string(port_) + "/v1";
    u.model = "big";
    u.input_price = 1;
    u.output_price = 2;
    return u;
  }

 private:
  httplib::Server http_;
  int port_ = 0;
  std::thread thread_;
};

TEST(Upstreams, ChatAnswersErrorsAndTimeouts) {
  std::string seen;
  FakeUpstream ok([&](const httplib::Request& q, httplib::Response& s) {
    seen = q.body + " auth=" + q.get_header_value("Authorization");
    s.set_content(
        R"({"choices": [{"message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
                      "usage": {"prompt_tokens": 1000, "completion_tokens": 500}})",
        "application/json");
  });
  Upstream u = ok.upstream();
  auto r = chat_upstream(
      u, R"({"model": "router", "stream": true, "messages": [{"role": "user", "content": "x"}]})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->content, "hi");
  EXPECT_EQ(r->finish_reason, "stop");
  EXPECT_DOUBLE_EQ(r->cost, (1000 * 1.0 + 500 * 2.0) / 1e6);
  EXPECT_NE(seen.find("\"model\":\"big\""), std::string::npos);  // the upstream's model, not ours
  EXPECT_EQ(seen.find("stream"), std::string::npos);
  EXPECT_NE(seen.find("auth="), std::string::npos);
  EXPECT_EQ(seen.substr(seen.find("auth=")), "auth=");  // no key configured: none sent

  u.api_key_env = "MINNOW_ROUTER_TEST_KEY";
  unsetenv("MINNOW_ROUTER_TEST_KEY");
  auto no_key = chat_upstream(u, R"({"messages": []})");
  ASSERT_FALSE(no_key.ok());
  EXPECT_NE(no_key.error().message.find("MINNOW_ROUTER_TEST_KEY is not set"), std::string::npos);
  setenv("MINNOW_ROUTER_TEST_KEY", "sk-test", 1);
  ASSERT_TRUE(chat_upstream(u, R"({"messages": []})").ok());
  EXPECT_NE(seen.find("auth=Bearer sk-test"), std::string::npos);
  EXPECT_FALSE(chat_upstream(u, "not json").ok());

  FakeUpstream err([](const httplib::Request&, httplib::Response& s) {
    s.status = 429;
    s.set_content(R"({"error": {"message": "rate limit reached"}})", "application/json");
  });
  auto e = chat_upstream(err.upstream(), R"({"messages": []})");
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("HTTP 429: rate limit reached"), std::string::npos);

  FakeUpstream odd(
      [](const httplib::Request&, httplib::Response& s) { s.set_content("[1, 2]", "application/json"); });
  auto o = chat_upstream(odd.upstream(), R"({"messages": []})");
  ASSERT_FALSE(o.ok());
  EXPECT_NE(o.error().message.find("not a chat completion"), std::string::npos);

  FakeUpstream slow([](const httplib::Request&, httplib::Response& s) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    s.set_content("{}", "application/json");
  });
  Upstream su = slow.upstream();
  su.timeout_s = 0.3;
  auto t = chat_upstream(su, R"({"messages": []})");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message.find("within 0.3 s"), std::string::npos);

  Upstream dead = su;
  dead.base_url = "http://127.0.0.1:1/v1";
  auto d = chat_upstream(dead, R"({"messages": []})");
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().message.find("upstream 'fake'"), std::string::npos);
}

}  // namespace
}  // namespace minnow
