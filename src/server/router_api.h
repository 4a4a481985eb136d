// Serving routers (minnow/router.h) through the chat endpoints: route_chat decides and answers
// an OpenAI-shaped chat request; the OpenAI and Ollama handlers wrap it in their own shapes.
#pragma once

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <string>

#include "server/state.h"

namespace minnow::server {

// The router a model name names, or null.
const RouterDef* find_router(const State& state, const std::string& name);

struct Routed {
  int status = 500;
  nlohmann::json body;         // an OpenAI chat completion (with a "minnow" field), or an OpenAI error
  std::string answered_by;     // "local:MODEL" or "upstream:NAME"
  std::string upstream_error;  // why the upstream's answer was not had ("" when it was, or not asked)
};

// Answers an OpenAI chat request (body, whose "stream" is ignored) with router r.
Routed route_chat(State& state, const httplib::Request& req, const RouterDef& r, nlohmann::json body);

// The X-Minnow-Answered-By and X-Minnow-Fallback headers.
void set_routed_headers(httplib::Response& res, const Routed& r);

// The OpenAI chat completions handler (openai_api.cpp), which ask_local calls for local answers.
void openai_chat(State& state, const httplib::Request& req, httplib::Response& res);

}  // namespace minnow::server
