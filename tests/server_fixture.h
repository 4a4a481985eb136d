// What the server tests share: a temporary folder for a suite's store, a minnow server on a free
// loopback port with a client, JSON requests that check their status, and the streaming
// formats' parsers (NDJSON lines, SSE data).
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "server/server.h"

namespace minnow::test {

// An empty folder "minnow_<tag>_<pid>" under the temporary directory.
inline std::filesystem::path fresh_dir(const std::string& tag) {
  const auto dir = std::filesystem::temp_directory_path() / ("minnow_" + tag + "_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// The objects of an NDJSON body.
inline std::vector<nlohmann::json> ndjson(const std::string& body) {
  std::vector<nlohmann::json> out;
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

// The data of each SSE event, "[DONE]" included as a string.
inline std::vector<std::string> sse_data(const std::string& body) {
  std::vector<std::string> out;
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("data: ", 0) == 0) out.push_back(line.substr(6));
  return out;
}

class ServerTest : public ::testing::Test {
 protected:
  // A server over the store at models_root on 127.0.0.1 and a free port (one compute thread
  // unless o asks for more), and a client with a 60 s read timeout.
  void start_server(const std::filesystem::path& models_root, server::ServerOptions o = {}) {
    o.host = "127.0.0.1";
    o.port = 0;
    o.models_root = models_root.string();
    if (o.n_threads == 0) o.n_threads = 1;
    server_ = std::make_unique<server::Server>(o);
    const Status st = server_->start();
    ASSERT_TRUE(st.ok()) << st.error().message;
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client_->set_read_timeout(60, 0);
  }
  // The client's idle connection closes first, so that stopping does not wait out its keep-alive.
  void stop_server() {
    client_.reset();
    if (server_) server_->stop();
    server_.reset();
  }
  void TearDown() override { stop_server(); }
  int port() const { return server_->port(); }

  httplib::Result post(const std::string& path, const nlohmann::json& body) {
    return client_->Post(path, body.dump(), "application/json");
  }
  // The answer's JSON (discarded when it is not JSON), its status checked.
  nlohmann::json post_raw(const std::string& path, const std::string& body, int want_status = 200) {
    auto r = client_->Post(path, body, "application/json");
    EXPECT_TRUE(r) << path;
    if (!r) return nlohmann::json();
    EXPECT_EQ(r->status, want_status) << path << " " << body << ": " << r->body;
    return nlohmann::json::parse(r->body, nullptr, false);
  }
  nlohmann::json post_json(const std::string& path, const nlohmann::json& body, int want_status = 200) {
    return post_raw(path, body.dump(), want_status);
  }
  nlohmann::json get_json(const std::string& path) {
    auto r = client_->Get(path);
    EXPECT_TRUE(r && r->status == 200) << path;
    return r ? nlohmann::json::parse(r->body, nullptr, false) : nlohmann::json();
  }

  std::unique_ptr<server::Server> server_;
  std::unique_ptr<httplib::Client> client_;
};

}  // namespace minnow::test
