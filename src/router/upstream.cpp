// Upstream definitions and the OpenAI chat-completions call to one (cpp-httplib's client, built
// by Debian with OpenSSL for https). No streaming: the router and eval need whole answers.
#include "minnow/upstream.h"

#include <httplib.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/url.h"

namespace minnow {
namespace {

using json = nlohmann::json;

constexpr size_t kMaxAnswerBytes = 64 << 20;  // a chat answer is kilobytes; more is not one

Result<Upstream> parse_one(const json& e, const std::string& where) {
  if (!e.is_object()) return make_error("%s: not an object", where.c_str());
  Upstream u;
  auto text = [&](const char* key, std::string* out, bool required) -> Status {
    if (!e.contains(key)) {
      if (required) return make_error("%s: '%s' is missing", where.c_str(), key);
      return {};
    }
    if (!e[key].is_string() || e[key].get<std::string>().empty())
      return make_error("%s: '%s' must be a non-empty string", where.c_str(), key);
    *out = e[key].get<std::string>();
    return {};
  };
  auto number = [&](const char* key, double* out) -> Status {
    if (!e.contains(key)) return {};
    if (!e[key].is_number() || e[key].get<double>() < 0)
      return make_error("%s: '%s' must be a number >= 0", where.c_str(), key);
    *out = e[key].get<double>();
    return {};
  };
  for (Status st :
       {text("name", &u.name, true), text("base_url", &u.base_url, true), text("model", &u.model, true),
        text("api_key_env", &u.api_key_env, false), number("timeout_s", &u.timeout_s),
        number("input_price", &u.input_price), number("output_price", &u.output_price)})
    if (!st.ok()) return st.error();
  if (u.timeout_s <= 0) return make_error("%s: 'timeout_s' must be > 0", where.c_str());
  if (auto url = split_url(u.base_url); !url) return url.error().with_context(where + ": 'base_url'");
  while (u.base_url.ends_with('/')) u.base_url.pop_back();
  return u;
}

std::string transport_message(httplib::Error e, double timeout_s) {
  switch (e) {
    case httplib::Error::Connection:
      return "cannot connect";
    case httplib::Error::ConnectionTimeout:
      return strfmt("no connection within %g s", timeout_s);
    case httplib::Error::Read:
      return strfmt("no answer within %g s, or the connection was lost", timeout_s);
    case httplib::Error::Write:
      return "the connection was lost while sending the request";
    case httplib::Error::SSLConnection:
      return "the TLS connection failed";
    case httplib::Error::SSLServerVerification:
      return "the server's TLS certificate did not verify";
    default:
      return httplib::to_string(e);
  }
}

// The upstream's own words for an error answer: OpenAI's {"error": {"message"}}, else the
// start of the body.
std::string error_detail(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("error")) {
    const json& e = j["error"];
    if (e.is_object() && e.contains("message") && e["message"].is_string()) return e["message"];
    if (e.is_string()) return e;
  }
  return body.substr(0, 200);
}

}  // namespace

Result<std::vector<Upstream>> parse_upstreams(std::string_view json_text, const std::string& origin) {
  json j = json::parse(json_text, nullptr, false);
  if (j.is_discarded()) return make_error("%s: not valid JSON", origin.c_str());
  if (j.is_object() && j.contains("upstreams")) j = j["upstreams"];
  if (!j.is_array())
    return make_error("%s: expected an array of upstreams, or {\"upstreams\": [...]}", origin.c_str());
  std::vector<Upstream> out;
  for (size_t i = 0; i < j.size(); ++i) {
    std::string where = strfmt("%s: upstream %zu", origin.c_str(), i + 1);
    if (j[i].is_object() && j[i].contains("name") && j[i]["name"].is_string())
      where += " ('" + j[i]["name"].get<std::string>() + "')";
    auto u = parse_one(j[i], where);
    if (!u) return u.error();
    for (const Upstream& o : out)
      if (o.name == u->name)
        return make_error("%s: the name '%s' is used twice", origin.c_str(), o.name.c_str());
    out.push_back(std::move(*u));
  }
  return out;
}

Result<std::vector<Upstream>> load_upstreams(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error("%s: cannot read", path.c_str());
  std::ostringstream s;
  s << in.rdbuf();
  return parse_upstreams(s.str(), path);
}

std::string default_upstreams_path() {
  if (const char* p = std::getenv("MINNOW_UPSTREAMS"); p != nullptr && *p != '\0') return p;
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr ? home : ".") + "/.minnow/upstreams.json";
}

Result<std::vector<Upstream>> load_configured_upstreams(const std::string& path, std::string* used) {
  const std::string file = path.empty() ? default_upstreams_path() : path;
  std::error_code ec;
  used->clear();
  if (path.empty() && !std::filesystem::exists(file, ec)) return std::vector<Upstream>{};
  auto ups = load_upstreams(file);
  if (ups) *used = file;
  return ups;
}

double upstream_cost(const Upstream& up, int prompt_tokens, int completion_tokens) {
  return (prompt_tokens * up.input_price + completion_tokens * up.output_price) / 1e6;
}

Result<UpstreamReply> chat_upstream(const Upstream& up, std::string_view request_json) {
  const std::string who = "upstream '" + up.name + "'";
  json req = json::parse(request_json, nullptr, false);
  if (!req.is_object()) return make_error("%s: the request is not a JSON object", who.c_str());
  req["model"] = up.model;
  req.erase("stream");
  req.erase("stream_options");
  httplib::Headers headers{{"User-Agent", "minnow"}};
  if (!up.api_key_env.empty()) {
    const char* key = std::getenv(up.api_key_env.c_str());
    if (key == nullptr || *key == '\0')
      return make_error("%s: its API key's variable %s is not set", who.c_str(), up.api_key_env.c_str());
    headers.emplace("Authorization", std::string("Bearer ") + key);
  }
  auto url = split_url(up.base_url);
  if (!url) return url.error().with_context(who);
  httplib::Client cli(url->origin);
  if (!cli.is_valid()) return make_error("%s: cannot use %s", who.c_str(), up.base_url.c_str());
  const auto secs = static_cast<time_t>(up.timeout_s);
  const auto usecs = static_cast<time_t>((up.timeout_s - static_cast<double>(secs)) * 1e6);
  cli.set_connection_timeout(secs, usecs);
  cli.set_read_timeout(secs, usecs);
  cli.set_write_timeout(secs, usecs);
  std::string path = url->path;
  if (!path.ends_with('/')) path += '/';
  path += "chat/completions";

  const auto t0 = std::chrono::steady_clock::now();
  auto res = cli.Post(path, headers, req.dump(), "application/json");
  if (!res)
    return make_error("%s (%s): %s", who.c_str(), up.base_url.c_str(),
                      transport_message(res.error(), up.timeout_s).c_str());
  std::string body = std::move(res->body);
  UpstreamReply r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (res->status < 200 || res->status >= 300)
    return make_error("%s: HTTP %d: %s", who.c_str(), res->status, error_detail(body).c_str());
  if (body.size() > kMaxAnswerBytes)
    return make_error("%s: an answer of %zu bytes is not a chat completion", who.c_str(), body.size());
  json j = json::parse(body, nullptr, false);
  const json* msg = nullptr;
  if (j.is_object() && j.contains("choices") && j["choices"].is_array() && !j["choices"].empty() &&
      j["choices"][0].is_object() && j["choices"][0].contains("message") &&
      j["choices"][0]["message"].is_object())
    msg = &j["choices"][0]["message"];
  if (msg == nullptr)
    return make_error("%s: the answer is not a chat completion (no choices[0].message)", who.c_str());
  if (msg->contains("content") && (*msg)["content"].is_string()) r.content = (*msg)["content"];
  if (j["choices"][0].contains("finish_reason") && j["choices"][0]["finish_reason"].is_string())
    r.finish_reason = j["choices"][0]["finish_reason"];
  if (j.contains("usage") && j["usage"].is_object()) {
    const json& u = j["usage"];
    if (u.contains("prompt_tokens") && u["prompt_tokens"].is_number_integer())
      r.prompt_tokens = u["prompt_tokens"];
    if (u.contains("completion_tokens") && u["completion_tokens"].is_number_integer())
      r.completion_tokens = u["completion_tokens"];
  }
  r.cost = upstream_cost(up, r.prompt_tokens, r.completion_tokens);
  r.body = std::move(body);
  return r;
}

}  // namespace minnow
