// Requests that name a router (minnow/router.h): the privacy hold, the policy's decision, the
// local answer (through the OpenAI chat handler, as a request of its own) or the upstream's, a
// local answer flagged when the upstream fails, and who answered in a header and a "minnow"
// field. Both APIs' chat endpoints; the answer is whole before it is sent (streamed requests get
// it as one chunk), since a cascade must see the local answer before deciding.
#include "server/router_api.h"

#include <chrono>
#include <cmath>

#include "server/http_util.h"

namespace minnow::server {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// The conversation's text as the rules and privacy patterns see it: every message's content
// (strings, and the text parts of content arrays), one per line.
std::string conversation_text(const json& messages) {
  std::string text;
  if (!messages.is_array()) return text;
  for (const json& m : messages) {
    if (!m.is_object() || !m.contains("content")) continue;
    const json& c = m["content"];
    if (c.is_string()) {
      text += c.get<std::string>() + "\n";
    } else if (c.is_array()) {
      for (const json& part : c)
        if (part.is_object() && part.contains("text") && part["text"].is_string())
          text += part["text"].get<std::string>() + "\n";
    }
  }
  return text;
}

bool truthy(const json& v) {
  return (v.is_boolean() && v.get<bool>()) || (v.is_string() && (v == "true" || v == "1"));
}

// local_only: the request's own field, OpenAI's metadata.local_only, or the X-Minnow-Local-Only header.
bool local_only(const httplib::Request& req, const json& body) {
  const std::string h = req.get_header_value("X-Minnow-Local-Only");
  if (h == "1" || h == "true") return true;
  if (body.contains("local_only") && truthy(body["local_only"])) return true;
  return body.contains("metadata") && body["metadata"].is_object() &&
         body["metadata"].contains("local_only") && truthy(body["metadata"]["local_only"]);
}

struct LocalAnswer {
  int status = 0;
  json body;  // the chat completion, or the error
  std::string content;
  // Of its tokens (when asked for): -infinity for none, so that an empty answer escalates, as
  // `minnow eval`'s curve counts it.
  double mean_logprob = -INFINITY;
  int prompt_tokens = 0, completion_tokens = 0;
};

// The local model's answer to an OpenAI chat request, through the chat handler (watching the
// original client's connection, so that a client that leaves stops it).
LocalAnswer ask_local(State& state, const httplib::Request& original, const std::string& model, json request,
                      bool with_logprobs) {
  request["model"] = model;
  request["stream"] = false;
  request.erase("stream_options");
  request.erase("local_only");
  if (with_logprobs) request["logprobs"] = true;
  httplib::Response s;
  openai_chat(state, internal_request(original, "/v1/chat/completions", request.dump()), s);
  LocalAnswer a;
  a.status = s.status;
  a.body = json::parse(s.body, nullptr, false);
  if (a.status != 200 || !a.body.is_object()) return a;
  const json& choice = a.body["choices"][0];
  if (choice["message"]["content"].is_string()) a.content = choice["message"]["content"];
  if (with_logprobs && choice["logprobs"].is_object() && !choice["logprobs"]["content"].empty()) {
    const json& lp = choice["logprobs"]["content"];
    double sum = 0;
    for (const json& t : lp) sum += t["logprob"].get<double>();
    a.mean_logprob = sum / static_cast<double>(lp.size());
  }
  a.prompt_tokens = a.body["usage"]["prompt_tokens"];
  a.completion_tokens = a.body["usage"]["completion_tokens"];
  return a;
}

bool wants_json(const json& body) {
  if (!body.contains("response_format") || !body["response_format"].is_object()) return false;
  const json& t = body["response_format"]["type"];
  return t == "json_schema" || t == "json_object";
}

// The upstream's answer in the shape the handlers read: its choices' text, tool calls, finish
// reasons and logprobs, the usage chat_upstream read, our ids where its own are not OpenAI's.
// An upstream is untrusted input: fields of an unexpected type are dropped, not passed on to
// trip the API wrappers.
json upstream_answer(const json& raw, const UpstreamReply& reply, const std::string& model) {
  auto str = [](const json& o, const char* key) {
    return o.is_object() && o.contains(key) && o[key].is_string() ? o[key].get<std::string>() : std::string();
  };
  json choices = json::array();
  for (const json& c : raw["choices"]) {  // chat_upstream checked that choices[0] has a message
    if (!c.is_object() || !c.contains("message") || !c["message"].is_object()) continue;
    const json& m = c["message"];
    json msg = {{"role", "assistant"}, {"content", m.contains("content") && m["content"].is_string() ? m["content"] : json()}};
    json calls = json::array();
    for (const json& t : m.contains("tool_calls") && m["tool_calls"].is_array() ? m["tool_calls"] : json::array()) {
      if (!t.is_object() || !t.contains("function") || str(t["function"], "name").empty()) continue;
      const json& f = t["function"];
      const std::string args = f.contains("arguments") && !f["arguments"].is_string() ? f["arguments"].dump()
                               : f.contains("arguments")                                ? str(f, "arguments")
                                                                                        : "{}";
      calls.push_back(
          {{"id", str(t, "id")}, {"type", "function"}, {"function", {{"name", str(f, "name")}, {"arguments", args}}}});
    }
    if (!calls.empty()) msg["tool_calls"] = std::move(calls);
    const std::string finish = str(c, "finish_reason");
    choices.push_back({{"index", choices.size()},
                       {"message", std::move(msg)},
                       {"logprobs", c.contains("logprobs") && c["logprobs"].is_object() ? c["logprobs"] : json()},
                       {"finish_reason", finish.empty() ? "stop" : finish}});
  }
  const std::string id = str(raw, "id");
  return {{"id", id.empty() ? new_id("chatcmpl") : id},
          {"object", "chat.completion"},
          {"created", raw.contains("created") && raw["created"].is_number_integer() ? raw["created"] : json(unix_now())},
          {"model", model},
          {"choices", std::move(choices)},
          {"usage",
           {{"prompt_tokens", reply.prompt_tokens},
            {"completion_tokens", reply.completion_tokens},
            {"total_tokens", reply.prompt_tokens + reply.completion_tokens}}}};
}

const Upstream* find_upstream(const State& state, const std::string& name) {
  for (const Upstream& u : state.upstreams)
    if (u.name == name) return &u;
  return nullptr;
}

}  // namespace

const RouterDef* find_router(const State& state, const std::string& name) {
  for (const RouterDef& r : state.routers)
    if (r.name == name) return &r;
  return nullptr;
}

Routed route_chat(State& state, const httplib::Request& req, const RouterDef& r, json body) {
  Routed out;
  RouterMetrics& m = state.router_metrics;
  const Upstream* up = find_upstream(state, r.upstream);  // checked when the server started
  const std::string text = conversation_text(body.contains("messages") ? body["messages"] : json());
  const bool client_logprobs = body.contains("logprobs") && truthy(body["logprobs"]);
  json meta = {{"router", r.name}, {"policy", route_policy_name(r.policy)}};
  const std::string hold = privacy_hold(r, text, local_only(req, body));
  body.erase("local_only");

  std::string reason;
  LocalAnswer local;
  bool have_local = false;
  if (!hold.empty()) {
    meta["privacy_hold"] = hold;
    m.held_local++;
  } else if (r.policy == RoutePolicy::kRules) {
    reason = rules_escalation(r, text, wants_json(body));
  } else if (r.policy == RoutePolicy::kClassifier) {
    json ask = {{"messages", json::array({{{"role", "user"}, {"content", classifier_prompt(r, text)}}})},
                {"temperature", 0},
                {"max_tokens", 8},
                {"response_format",
                 {{"type", "json_schema"},
                  {"json_schema", {{"name", "difficulty"}, {"schema", {{"enum", {"easy", "hard"}}}}}}}}};
    LocalAnswer label = ask_local(state, req, r.local, ask, false);
    if (label.status != 200) {
      out.status = label.status, out.body = label.body;
      return out;
    }
    const json l = json::parse(label.content, nullptr, false);
    meta["classifier_label"] = l.is_string() ? l.get<std::string>() : label.content;
    if (l == "hard") reason = "the classifier labelled the request hard";
  } else if (r.policy == RoutePolicy::kCascade) {
    local = ask_local(state, req, r.local, body, true);
    have_local = true;
    if (local.status != 200) {
      out.status = local.status, out.body = local.body;
      return out;
    }
    meta["confidence"] = local.mean_logprob;
    if (local.mean_logprob < r.threshold) {
      reason = strfmt("the local answer's mean token log-probability %.4f is below the threshold %.4f",
                      local.mean_logprob, r.threshold);
    } else if (wants_json(body) && json::parse(local.content, nullptr, false).is_discarded()) {
      reason = "the local answer is not the JSON the request asked for";
    }
  }

  if (!reason.empty()) {
    meta["reason"] = reason;
    auto reply = chat_upstream(*up, body.dump());
    if (reply.ok()) {
      json answer = upstream_answer(json::parse(reply->body, nullptr, false), *reply, r.name);
      m.escalated++;
      m.upstream_cost_micro_usd += static_cast<uint64_t>(reply->cost * 1e6 + 0.5);
      meta["answered_by"] = "upstream";
      meta["upstream"] = up->name;
      meta["cost_usd"] = reply->cost;
      answer["minnow"] = meta;
      out.status = 200, out.body = std::move(answer), out.answered_by = "upstream:" + up->name;
      return out;
    }
    m.upstream_errors++;
    m.fallbacks++;
    meta["fallback"] = true;
    meta["upstream_error"] = reply.error().message;
    out.upstream_error = reply.error().message;
  }
  if (!have_local) local = ask_local(state, req, r.local, body, false);
  if (local.status != 200) {
    out.status = local.status, out.body = local.body;
    return out;
  }
  m.local++;
  m.saved_micro_usd +=
      static_cast<uint64_t>(upstream_cost(*up, local.prompt_tokens, local.completion_tokens) * 1e6 + 0.5);
  if (!client_logprobs)
    for (json& c : local.body["choices"]) c["logprobs"] = nullptr;
  meta["answered_by"] = "local";
  meta["local_model"] = r.local;
  local.body["model"] = r.name;
  local.body["minnow"] = meta;
  out.status = 200, out.body = std::move(local.body), out.answered_by = "local:" + r.local;
  return out;
}

void set_routed_headers(httplib::Response& res, const Routed& r) {
  if (!r.answered_by.empty()) res.set_header("X-Minnow-Answered-By", r.answered_by);
  if (!r.upstream_error.empty()) res.set_header("X-Minnow-Fallback", "upstream-error");
}

}  // namespace minnow::server
