// `minnow serve`: the Ollama API (/api/...) and the OpenAI API (/v1/...) over HTTP on
// 127.0.0.1:11434 by default, plus /health and Prometheus /metrics. Models come from the store
// by name and stay loaded for their keep_alive.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "minnow/error.h"

namespace minnow::server {

// Parallel sequences per model beyond this are a mistake in the settings (each is a KV cache).
constexpr int kMaxParallel = 256;

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 11434;                  // 0: any free port (see Server::port)
  std::string models_root;           // the store; "" for $MINNOW_MODELS or ~/.minnow/models
  int n_threads = 0;                 // compute threads per model (0: all cores)
  double keep_alive_s = 300;         // how long a model stays loaded after its last request
  int n_parallel = 4;                // sequences a model decodes together; more requests wait
  int max_queue = 32;                // generation requests in flight at once; more get 503
  size_t max_body_bytes = 16 << 20;  // larger request bodies get 413
  std::string api_key;               // when set, requests need "Authorization: Bearer <key>"
  std::vector<std::string> cors_origins;  // origins allowed to call from a browser ("*": any)
  // Upstream definitions (minnow/upstream.h): "" for default_upstreams_path(), which may be absent.
  std::string upstreams_file;
  // Routers (minnow/router.h): every *.json in router_dir ("" for default_router_dir(), which may
  // be absent) and these files. Each names an upstream the upstreams file defines.
  std::string router_dir;
  std::vector<std::string> router_files;
};

// Reads MINNOW_HOST ("host", "host:port" or ":port"), MINNOW_MODELS, MINNOW_API_KEY,
// MINNOW_ORIGINS (comma-separated), MINNOW_KEEP_ALIVE and MINNOW_NUM_PARALLEL into o; errors
// name the variable.
Status options_from_env(ServerOptions* o);

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();
  // Binds the address; the server then answers on a thread of its own until stop().
  Status start();
  int port() const;  // the bound port
  std::vector<std::string> router_names() const;  // the routers served
  void stop();

  struct Impl;

 private:
  ServerOptions options_;
  std::unique_ptr<Impl> impl_;  // from start()
};

}  // namespace minnow::server
