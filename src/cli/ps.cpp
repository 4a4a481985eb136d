// `minnow ps` and `minnow stop NAME`: the models a running `minnow serve` holds in memory, and
// unloading one, over its Ollama API at MINNOW_HOST (default 127.0.0.1:11434), as `ollama ps`
// and `ollama stop` do.
#include <httplib.h>

#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "minnow/store.h"
#include "server/server.h"

namespace minnow::cli {
namespace {

using nlohmann::json;

// The server's API at MINNOW_HOST: an address it listens on everywhere is reached on loopback.
class ServerClient {
 public:
  static Result<ServerClient> from_env() {
    server::ServerOptions o;
    if (Status st = server::options_from_env(&o); !st.ok()) return st.error();
    ServerClient c;
    c.host_ = o.host == "0.0.0.0" || o.host.empty() ? "127.0.0.1" : o.host;
    c.port_ = o.port;
    c.api_key_ = o.api_key;
    return c;
  }

  // The answer's JSON body; an error for no server, an HTTP error (its message) or a body that
  // is not JSON.
  Result<json> request(const std::string& method, const std::string& path, const json* body) const {
    httplib::Client cli(host_, port_);
    cli.set_connection_timeout(5, 0);
    cli.set_read_timeout(120, 0);  // unloading waits for the model's running requests
    httplib::Headers h;
    if (!api_key_.empty()) h.emplace("Authorization", "Bearer " + api_key_);
    auto res = method == "GET" ? cli.Get(path, h) : cli.Post(path, h, body->dump(), "application/json");
    if (!res) {
      return make_error("no minnow server answers at %s:%d (%s); start one with `minnow serve`, or point MINNOW_HOST "
                        "at it",
                        host_.c_str(), port_, httplib::to_string(res.error()).c_str());
    }
    const json j = json::parse(res->body, nullptr, false);
    if (res->status != 200) {
      const std::string msg = j.is_object() && j.contains("error") && j["error"].is_string() ? j["error"].get<std::string>()
                                                                                            : res->body.substr(0, 200);
      return make_error("the server at %s:%d answered %d: %s", host_.c_str(), port_, res->status, msg.c_str());
    }
    if (j.is_discarded()) return make_error("the server at %s:%d answered %s with no JSON", host_.c_str(), port_, path.c_str());
    return j;
  }

 private:
  std::string host_;
  int port_ = 0;
  std::string api_key_;
};

// "4 minutes from now", "Forever" or "Stopping..." for /api/ps's expires_at, as `ollama ps`.
std::string until(const std::string& expires_at) {
  if (expires_at.starts_with("0001-")) return "Forever";
  std::tm tm{};
  if (!strptime(expires_at.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return expires_at;
  const double left = std::difftime(timegm(&tm), std::time(nullptr));
  if (left <= 0) return "Stopping...";
  if (left < 90) return strfmt("%d seconds from now", static_cast<int>(left));
  if (left < 90 * 60) return strfmt("%d minutes from now", static_cast<int>(left / 60 + 0.5));
  if (left < 48 * 3600) return strfmt("%d hours from now", static_cast<int>(left / 3600 + 0.5));
  return strfmt("%d days from now", static_cast<int>(left / 86400 + 0.5));
}

int ps() {
  auto client = ServerClient::from_env();
  if (!client) return fail(client.error().message);
  auto j = client->request("GET", "/api/ps", nullptr);
  if (!j) return fail(j.error().message);
  if (!j->contains("models") || !(*j)["models"].is_array()) return fail("the server's /api/ps answer has no models list");
  const json& models = (*j)["models"];
  size_t width = 4;
  for (const json& m : models) width = std::max(width, m.value("name", "").size());
  std::printf("%-*s  %-12s  %10s  %-9s  %7s  %s\n", static_cast<int>(width), "NAME", "ID", "SIZE", "PROCESSOR", "CONTEXT",
              "UNTIL");
  for (const json& m : models) {
    const std::string digest = m.value("digest", "");
    std::printf("%-*s  %-12s  %7.1f MB  %-9s  %7lld  %s\n", static_cast<int>(width), m.value("name", "").c_str(),
                digest.substr(0, 12).c_str(), static_cast<double>(m.value("size", uint64_t{0})) / 1e6, "100% CPU",
                static_cast<long long>(m.value("context_length", int64_t{0})), until(m.value("expires_at", "")).c_str());
  }
  return 0;
}

int stop(const std::string& arg) {
  auto client = ServerClient::from_env();
  if (!client) return fail(client.error().message);
  auto parsed = ModelName::parse(arg);
  if (!parsed) return fail(parsed.error().message);
  const std::string name = parsed->full();
  auto j = client->request("GET", "/api/ps", nullptr);
  if (!j) return fail(j.error().message);
  bool loaded = false;
  if (j->contains("models") && (*j)["models"].is_array()) {
    for (const json& m : (*j)["models"]) loaded = loaded || m.value("name", "") == name;
  }
  if (!loaded) return fail("model '" + name + "' is not loaded (`minnow ps` lists the loaded models)");
  // Ollama's unload: a generate request with no prompt and keep_alive 0.
  const json body = {{"model", name}, {"keep_alive", 0}};
  auto r = client->request("POST", "/api/generate", &body);
  if (!r) return fail(r.error().message);
  return 0;
}

}  // namespace

void add_ps_command(CLI::App& app, int* exit_code) {
  CLI::App* cmd = app.add_subcommand("ps", "List the models a running `minnow serve` has loaded (MINNOW_HOST)");
  cmd->callback([exit_code] { *exit_code = ps(); });
}

void add_stop_command(CLI::App& app, int* exit_code) {
  auto name = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("stop", "Unload a model from a running `minnow serve` (MINNOW_HOST)");
  cmd->add_option("name", *name, "The loaded model (`minnow ps` lists them)")->required();
  cmd->callback([name, exit_code] { *exit_code = stop(*name); });
}

}  // namespace minnow::cli
