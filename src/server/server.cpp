#include "server/server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "server/api_common.h"
#include "server/http_util.h"
#include "server/state.h"

namespace minnow::server {

Status options_from_env(ServerOptions* o) {
  if (const char* h = std::getenv("MINNOW_HOST"); h && *h) {
    std::string host = h;
    if (host.rfind("http://", 0) == 0) host = host.substr(7);
    const size_t colon = host.rfind(':');
    if (colon != std::string::npos && host.find(']') == std::string::npos) {
      const std::string port = host.substr(colon + 1);
      char* end = nullptr;
      const long p = std::strtol(port.c_str(), &end, 10);
      if (port.empty() || *end != '\0' || p < 0 || p > 65535)
        return make_error("MINNOW_HOST=%s: '%s' is not a port number", h, port.c_str());
      o->port = static_cast<int>(p);
      host = host.substr(0, colon);
    }
    if (!host.empty()) o->host = host;
  }
  if (const char* m = std::getenv("MINNOW_MODELS"); m && *m) o->models_root = m;
  if (const char* k = std::getenv("MINNOW_API_KEY"); k && *k) o->api_key = k;
  if (const char* origins = std::getenv("MINNOW_ORIGINS"); origins && *origins) {
    std::string s = origins;
    size_t start = 0;
    while (start <= s.size()) {
      const size_t comma = std::min(s.find(',', start), s.size());
      std::string one = s.substr(start, comma - start);
      while (!one.empty() && one.front() == ' ') one.erase(0, 1);
      while (!one.empty() && one.back() == ' ') one.pop_back();
      if (!one.empty()) o->cors_origins.push_back(one);
      start = comma + 1;
    }
  }
  if (const char* n = std::getenv("MINNOW_NUM_PARALLEL"); n && *n) {
    char* end = nullptr;
    const long v = std::strtol(n, &end, 10);
    if (*end != '\0' || v < 1 || v > kMaxParallel)
      return make_error("MINNOW_NUM_PARALLEL=%s: the number of parallel sequences must be 1 to %d", n, kMaxParallel);
    o->n_parallel = static_cast<int>(v);
  }
  if (const char* k = std::getenv("MINNOW_KEEP_ALIVE"); k && *k) {
    auto v = parse_keep_alive(nlohmann::json(std::string(k)));
    if (!v) return make_error("MINNOW_KEEP_ALIVE=%s: %s", k, v.error().message.c_str());
    o->keep_alive_s = *v;
  }
  return Status();
}

namespace {

// The upstreams and routers the options name, checked: a router's upstream must be defined, and
// its name must not be used twice.
struct Routing {
  std::vector<Upstream> upstreams;
  std::vector<RouterDef> routers;
};

Result<Routing> load_routing(const ServerOptions& o) {
  Routing r;
  std::string ups;
  auto u = load_configured_upstreams(o.upstreams_file, &ups);
  if (!u) return u.error();
  r.upstreams = std::move(*u);
  auto dir = load_router_dir(o.router_dir.empty() ? default_router_dir() : o.router_dir);
  if (!dir) return dir.error();
  r.routers = std::move(*dir);
  for (const std::string& f : o.router_files) {
    auto one = load_router(f);
    if (!one) return one.error();
    r.routers.push_back(std::move(*one));
  }
  for (size_t i = 0; i < r.routers.size(); ++i) {
    const RouterDef& d = r.routers[i];
    bool found = false;
    for (const Upstream& u : r.upstreams) found = found || u.name == d.upstream;
    if (!found)
      return make_error("router '%s': upstream '%s' is not defined (upstreams: %s)", d.name.c_str(),
                        d.upstream.c_str(), ups.empty() ? default_upstreams_path().c_str() : ups.c_str());
    for (size_t j = 0; j < i; ++j)
      if (r.routers[j].name == d.name) return make_error("two routers are named '%s'", d.name.c_str());
  }
  return r;
}

}  // namespace

struct Server::Impl {
  Impl(ServerOptions o, Store store) : state(std::move(o), std::move(store)) {}
  State state;
  httplib::Server http;
  int port = 0;
  std::thread listener, reaper;
  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  std::atomic<bool> listening_ended{false};

  bool origin_allowed(const std::string& origin) const {
    for (const std::string& o : state.options.cors_origins)
      if (o == "*" || o == origin) return true;
    return false;
  }

  // Authentication and CORS before any route; true when the request is answered already.
  bool pre_route(const httplib::Request& req, httplib::Response& res) {
    state.metrics.requests++;
    const std::string origin = req.get_header_value("Origin");
    if (!origin.empty() && origin_allowed(origin)) {
      res.set_header("Access-Control-Allow-Origin", origin);
      res.set_header("Vary", "Origin");
      if (req.method == "OPTIONS") {
        res.set_header("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS, HEAD");
        res.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type, OpenAI-Organization, "
                                                       "OpenAI-Project, X-Stainless-*, *");
        res.set_header("Access-Control-Max-Age", "86400");
        res.status = 204;
        return true;
      }
    }
    if (!state.options.api_key.empty() && req.path != "/health" && req.method != "OPTIONS") {
      const std::string auth = req.get_header_value("Authorization");
      if (auth != "Bearer " + state.options.api_key) {
        const std::string msg = auth.empty() ? "an API key is required (Authorization: Bearer <key>)"
                                             : "the API key is not valid";
        if (req.path.rfind("/v1/", 0) == 0) openai_error(res, 401, msg, "invalid_api_key");
        else ollama_error(res, 401, msg);
        return true;
      }
    }
    return false;
  }
};

Server::Server(ServerOptions options) : options_(std::move(options)) {}

Server::~Server() {
  stop();
}

Status Server::start() {
  if (impl_) return make_error("the server is already started");
  auto store = Store::open(options_.models_root);
  if (!store) return store.error();
  auto routing = load_routing(options_);
  if (!routing) return routing.error();
  impl_ = std::make_unique<Impl>(options_, std::move(*store));
  Impl& im = *impl_;
  im.state.upstreams = std::move(routing->upstreams);
  im.state.routers = std::move(routing->routers);
  const ServerOptions& o = im.state.options;
  // Threads: every admitted generation may block one while it waits for its model, and the
  // rest (listing, health, metrics) must still be answered.
  const size_t n_http = static_cast<size_t>(o.max_queue) + 8;
  im.http.new_task_queue = [n_http] { return new httplib::ThreadPool(n_http); };
  im.http.set_payload_max_length(o.max_body_bytes);
  im.http.set_read_timeout(30, 0);
  im.http.set_write_timeout(30, 0);
  im.http.set_keep_alive_max_count(1000);
  im.http.set_pre_routing_handler([&im](const httplib::Request& req, httplib::Response& res) {
    return im.pre_route(req, res) ? httplib::Server::HandlerResponse::Handled
                                  : httplib::Server::HandlerResponse::Unhandled;
  });
  im.http.set_post_routing_handler([&im](const httplib::Request&, httplib::Response& res) {
    if (res.status >= 500) im.state.metrics.errors_5xx++;
    else if (res.status >= 400) im.state.metrics.errors_4xx++;
  });
  // Errors that reach no handler (unknown paths, bodies over the limit) get a JSON body too.
  im.http.set_error_handler([&im](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    std::string msg = res.status == 404   ? "no such endpoint: " + req.method + " " + req.path
                      : res.status == 413 ? strfmt("the request body is larger than %zu bytes", im.state.options.max_body_bytes)
                      : res.status == 405 ? "method not allowed"
                                          : strfmt("HTTP %d", res.status);
    if (req.path.rfind("/v1/", 0) == 0) openai_error(res, res.status, msg);
    else ollama_error(res, res.status, msg);
  });
  im.http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string msg = "internal error";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      msg += std::string(": ") + e.what();
    } catch (...) {
    }
    ollama_error(res, 500, msg);
  });

  im.http.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("minnow is running", "text/plain");
  });
  im.http.Get("/health", [](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, {{"status", "ok"}});
  });
  im.http.Get("/metrics", [&im](const httplib::Request&, httplib::Response& res) {
    const Metrics& m = im.state.metrics;
    std::string out;
    auto counter = [&](const char* name, const char* help, uint64_t v) {
      out += strfmt("# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
                    static_cast<unsigned long long>(v));
    };
    auto gauge = [&](const char* name, const char* help, double v) {
      out += strfmt("# HELP %s %s\n# TYPE %s gauge\n%s %g\n", name, help, name, name, v);
    };
    counter("minnow_http_requests_total", "HTTP requests received.", m.requests);
    counter("minnow_http_client_errors_total", "Responses with a 4xx status.", m.errors_4xx);
    counter("minnow_http_server_errors_total", "Responses with a 5xx status.", m.errors_5xx);
    counter("minnow_requests_rejected_busy_total", "Generation requests refused with 503 (queue full).",
            m.rejected_busy);
    counter("minnow_generations_total", "Generation requests completed.", m.generations);
    counter("minnow_generations_cancelled_total", "Generations stopped because the client went away.", m.cancelled);
    counter("minnow_prompt_tokens_total", "Prompt tokens processed or reused.", m.prompt_tokens);
    counter("minnow_prompt_cached_tokens_total", "Prompt tokens reused from a slot's kept tokens.",
            m.prompt_cached_tokens);
    counter("minnow_generated_tokens_total", "Tokens generated.", m.generated_tokens);
    gauge("minnow_requests_in_flight", "Generation requests admitted and not finished.", im.state.in_flight.load());
    const std::vector<LoadedInfo> loaded = im.state.pool.loaded();
    gauge("minnow_models_loaded", "Models in memory.", static_cast<double>(loaded.size()));
    int running = 0, waiting = 0;
    for (const LoadedInfo& l : loaded) {
      std::lock_guard lk(l.model->gen_mu);
      if (!l.model->generator) continue;
      running += l.model->generator->running();
      waiting += l.model->generator->waiting();
    }
    gauge("minnow_sequences_running", "Sequences decoding in the models' batches.", running);
    gauge("minnow_sequences_waiting", "Generations waiting for a free slot.", waiting);
    const RouterMetrics& rm = im.state.router_metrics;
    counter("minnow_router_local_total", "Router requests answered by the local model (fallbacks included).",
            rm.local);
    counter("minnow_router_escalated_total", "Router requests answered by the upstream.", rm.escalated);
    counter("minnow_router_held_local_total", "Router requests kept local by a privacy rule or local_only.",
            rm.held_local);
    counter("minnow_router_upstream_errors_total", "Escalations whose upstream failed or timed out.",
            rm.upstream_errors);
    counter("minnow_router_fallbacks_total", "Failed escalations answered locally instead (flagged).", rm.fallbacks);
    gauge("minnow_router_upstream_cost_usd", "Estimated cost of the upstream answers (USD).",
          static_cast<double>(rm.upstream_cost_micro_usd.load()) / 1e6);
    gauge("minnow_router_cost_saved_usd", "Estimated cost of the local answers had they gone upstream (USD).",
          static_cast<double>(rm.saved_micro_usd.load()) / 1e6);
    res.set_content(out, "text/plain; version=0.0.4");
  });
  add_ollama_routes(im.http, im.state);
  add_openai_routes(im.http, im.state);
  add_store_routes(im.http, im.state);
  add_embed_routes(im.http, im.state);

  // Debian's cpp-httplib listens with a backlog of 5: a burst of more connections (16 clients
  // streaming at once) has some dropped until the kernel's retries, seconds later, after the
  // client gave up. The socket options hook hands us the listening socket, and listen() again
  // after the bind raises its backlog (Linux updates a listening socket's).
  socket_t listen_fd = INVALID_SOCKET;
  im.http.set_socket_options([&listen_fd](socket_t sock) {
    httplib::default_socket_options(sock);
    listen_fd = sock;
  });
  if (o.port == 0) {
    im.port = im.http.bind_to_any_port(o.host);
    if (im.port <= 0) return make_error("cannot listen on %s (any port)", o.host.c_str());
  } else {
    if (!im.http.bind_to_port(o.host, o.port))
      return make_error("cannot listen on %s:%d (in use, or not an address of this machine)", o.host.c_str(), o.port);
    im.port = o.port;
  }
  if (listen_fd != INVALID_SOCKET) ::listen(listen_fd, SOMAXCONN);
  im.listener = std::thread([&im] {
    im.http.listen_after_bind();
    im.listening_ended = true;
  });
  // httplib's stop() does nothing until the listening loop has started: wait for it, so that
  // a stop() right after start() cannot be lost.
  while (!im.http.is_running() && !im.listening_ended) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  im.reaper = std::thread([&im] {
    std::unique_lock lk(im.mu);
    while (!im.stopping) {
      im.cv.wait_for(lk, std::chrono::milliseconds(500));
      lk.unlock();
      im.state.pool.reap();
      lk.lock();
    }
  });
  return Status();
}

std::vector<std::string> Server::router_names() const {
  std::vector<std::string> out;
  if (impl_)
    for (const RouterDef& r : impl_->state.routers) out.push_back(r.name);
  return out;
}

int Server::port() const {
  return impl_ ? impl_->port : 0;
}

void Server::stop() {
  if (!impl_) return;
  Impl& im = *impl_;
  {
    std::lock_guard lk(im.mu);
    im.stopping = true;
  }
  im.cv.notify_all();
  im.http.stop();
  if (im.listener.joinable()) im.listener.join();
  if (im.reaper.joinable()) im.reaper.join();
}

}  // namespace minnow::server
