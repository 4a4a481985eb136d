// `minnow serve`: the Ollama and OpenAI APIs on 127.0.0.1:11434 (MINNOW_HOST moves it) until
// SIGINT or SIGTERM.
#include <signal.h>

#include <cstdio>

#include "cli/commands.h"
#include "server/server.h"

namespace minnow::cli {
namespace {

struct ServeArgs {
  std::string host;
  int port = -1;
  int threads = 0;
  int max_queue = 0;
  int parallel = 0;
  std::string keep_alive;
  std::string api_key;
  std::string upstreams;
  std::string router_dir;
  std::vector<std::string> routers;
};

int serve(const ServeArgs& a) {
  server::ServerOptions o;
  if (Status st = server::options_from_env(&o); !st.ok()) return fail(st.error().message);
  if (!a.host.empty()) o.host = a.host;
  if (a.port >= 0) o.port = a.port;
  o.n_threads = a.threads;
  if (a.max_queue > 0) o.max_queue = a.max_queue;
  if (a.parallel > 0) o.n_parallel = a.parallel;
  if (!a.api_key.empty()) o.api_key = a.api_key;
  o.upstreams_file = a.upstreams;
  o.router_dir = a.router_dir;
  o.router_files = a.routers;
  if (!a.keep_alive.empty()) {
    setenv("MINNOW_KEEP_ALIVE", a.keep_alive.c_str(), 1);
    if (Status st = server::options_from_env(&o); !st.ok()) return fail(st.error().message);
  }
  // SIGINT and SIGTERM are taken by sigwait below: blocked here, before any thread starts, so
  // that every thread inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a client that went away is a failed write, not a dead server

  server::Server s(o);
  if (Status st = s.start(); !st.ok()) return fail(st.error().message);
  std::fprintf(stderr, "minnow: listening on http://%s:%d\n", o.host.c_str(), s.port());
  for (const std::string& r : s.router_names()) std::fprintf(stderr, "minnow: router '%s'\n", r.c_str());
  std::fflush(stderr);
  int sig = 0;
  sigwait(&stop_signals, &sig);
  std::fprintf(stderr, "minnow: stopping (signal %d)\n", sig);
  s.stop();
  return 0;
}

}  // namespace

void add_serve_command(CLI::App& app, int* exit_code) {
  auto a = std::make_shared<ServeArgs>();
  CLI::App* cmd = app.add_subcommand("serve", "Serve the Ollama and OpenAI APIs over HTTP");
  cmd->add_option("--host", a->host, "Address to listen on (default 127.0.0.1, or MINNOW_HOST)");
  cmd->add_option("--port", a->port, "Port (default 11434, or MINNOW_HOST's; 0: any free port)")
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--threads,-t", a->threads, "Compute threads per model (0: all cores)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--max-queue", a->max_queue, "Generation requests in flight before 503 (default 32)")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--parallel", a->parallel,
                  "Requests a model decodes together (default 4, or MINNOW_NUM_PARALLEL); more wait in the queue")
      ->check(CLI::Range(1, server::kMaxParallel));
  cmd->add_option("--keep-alive", a->keep_alive, "How long models stay loaded after a request (default 5m)");
  cmd->add_option("--api-key", a->api_key, "Require this bearer token (or MINNOW_API_KEY)");
  cmd->add_option("--upstreams", a->upstreams,
                  "Upstream LLM endpoints, a JSON file (default MINNOW_UPSTREAMS or ~/.minnow/upstreams.json)");
  cmd->add_option("--router-dir", a->router_dir,
                  "Serve every router definition (*.json) here (default MINNOW_ROUTERS or ~/.minnow/routers)");
  cmd->add_option("--router", a->routers, "Serve this router definition (JSON file); repeatable");
  cmd->callback([a, exit_code] { *exit_code = serve(*a); });
}

}  // namespace minnow::cli
