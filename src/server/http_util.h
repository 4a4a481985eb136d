// Response helpers over cpp-httplib for the API handlers.
#pragma once

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <string>

#include "server/state.h"

namespace minnow::server {

inline void send_json(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "application/json");
}

// Ollama's error shape: {"error": "..."}.
inline void ollama_error(httplib::Response& res, int status, const std::string& message) {
  send_json(res, status, {{"error", message}});
}

// OpenAI's error shape: {"error": {"message", "type", "param", "code"}}.
inline void openai_error(httplib::Response& res, int status, const std::string& message,
                         const char* code = nullptr) {
  const char* type = status == 401 ? "authentication_error"
                     : status == 404 ? "invalid_request_error"
                     : status == 503 ? "server_busy"
                     : status >= 500 ? "server_error"
                                     : "invalid_request_error";
  nlohmann::json e = {{"message", message}, {"type", type}, {"param", nullptr}, {"code", nullptr}};
  if (code) e["code"] = code;
  else if (status == 404) e["code"] = "model_not_found";
  send_json(res, status, {{"error", e}});
}

// JSON text for streaming (invalid UTF-8 replaced rather than thrown on).
inline std::string dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// A request the server makes of its own handlers on behalf of `original` (a router's local
// answer, one prompt of a batch): a POST of body to path, carrying the original connection's
// addresses, so that a client that leaves stops the work done for it (ClientWatch).
inline httplib::Request internal_request(const httplib::Request& original, const std::string& path,
                                         std::string body) {
  httplib::Request q;
  q.method = "POST";
  q.path = path;
  q.body = std::move(body);
  q.remote_addr = original.remote_addr, q.remote_port = original.remote_port;
  q.local_addr = original.local_addr, q.local_port = original.local_port;
  return q;
}

void add_ollama_routes(httplib::Server& http, State& state);

// Shared by the Ollama handlers (ollama_api.cpp, embed_api.cpp): the request's keep_alive into the
// lease, and its options over the stored model's parameters; false with err set when malformed.
bool read_keep_alive(const nlohmann::json& body, Lease& lease, ApiError* err);
bool read_parameters(const nlohmann::json& body, const Lease& lease, RunParameters* p, ApiError* err);
void add_openai_routes(httplib::Server& http, State& state);
void add_store_routes(httplib::Server& http, State& state);  // /api/pull, /api/create
void add_embed_routes(httplib::Server& http, State& state);  // both APIs' embeddings (embed_api.cpp)

}  // namespace minnow::server
