// Upstreams: OpenAI-compatible chat endpoints (a cloud LLM, or another minnow serve) that the
// router escalates requests to and `minnow eval` compares local models with. Requests go out over
// HTTPS (or HTTP, for a local endpoint) with the key from the environment variable the
// definition names; the key itself is never written in a definition.
//
//   auto ups = minnow::load_upstreams("upstreams.json");
//   auto reply = minnow::chat_upstream((*ups)[0], R"({"messages":[{"role":"user","content":"Hi"}]})");
//   if (reply.ok()) use(reply->content, reply->cost);
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "minnow/error.h"

namespace minnow {

struct Upstream {
  std::string name;         // how router definitions and `minnow eval --model` refer to it
  std::string base_url;     // the API root, up to and including /v1: "https://api.openai.com/v1"
  std::string model;        // the model name sent upstream
  std::string api_key_env;  // the environment variable holding its API key; "" sends none
  double timeout_s = 60;    // the longest wait for the connection, and for the answer's next bytes
  double input_price = 0;   // USD per million prompt tokens
  double output_price = 0;  // USD per million completion tokens
};

// Definitions from JSON text: an array of objects, or {"upstreams": [...]}, each with "name",
// "base_url", "model" and optionally "api_key_env", "timeout_s", "input_price" and "output_price"
// (USD per million tokens). Errors name the entry and the field (origin: the file, for messages).
Result<std::vector<Upstream>> parse_upstreams(std::string_view json_text, const std::string& origin);
// The same from a file.
Result<std::vector<Upstream>> load_upstreams(const std::string& path);
// Where minnow looks for definitions when not told: $MINNOW_UPSTREAMS, else
// ~/.minnow/upstreams.json (which need not exist).
std::string default_upstreams_path();

// The definitions a command or the server uses: from `path` when given (it must exist), else from
// default_upstreams_path() when that file exists, else none. *used: the file read, "" for none.
Result<std::vector<Upstream>> load_configured_upstreams(const std::string& path, std::string* used);

// USD for a request of these sizes at the upstream's prices.
double upstream_cost(const Upstream& up, int prompt_tokens, int completion_tokens);

struct UpstreamReply {
  std::string content;        // choices[0].message.content ("" when it made tool calls)
  std::string body;           // the whole JSON answer, as sent
  std::string finish_reason;  // choices[0].finish_reason
  int prompt_tokens = 0;      // usage, when the upstream reports it
  int completion_tokens = 0;
  double seconds = 0;  // from sending the request to the end of the answer
  double cost = 0;     // upstream_cost of the usage
};

// POSTs a chat completion request to base_url + "/chat/completions": `request_json` is an OpenAI
// chat request body (a JSON object as text) whose "model" is replaced by the upstream's and whose
// "stream" is removed. Errors say which upstream and why: the key's variable is not set, no
// connection, a timeout, an HTTP error status (with the upstream's own message), or an answer
// that is not a chat completion.
Result<UpstreamReply> chat_upstream(const Upstream& up, std::string_view request_json);

}  // namespace minnow
