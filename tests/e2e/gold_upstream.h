// A stand-in for a cloud LLM in eval tests: an OpenAI chat-completions endpoint on 127.0.0.1
// that answers each prompt with its gold label from the dataset (usage included, so costs
// count), and the 100-example classification dataset it knows.
#pragma once

#include <httplib.h>

#include <chrono>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

namespace minnow::test {

// "Is N even or odd? Answer with one word." for N = 1..100, labeled "even" or "odd".
inline std::map<std::string, std::string> parity_dataset() {
  std::map<std::string, std::string> d;
  for (int n = 1; n <= 100; ++n)
    d["Is " + std::to_string(n) + " even or odd? Answer with one word."] = n % 2 == 0 ? "even" : "odd";
  return d;
}

inline void write_jsonl(const std::string& path, const std::map<std::string, std::string>& data,
                        const std::string& extra_lines = "") {
  std::ofstream out(path, std::ios::binary);
  int id = 0;
  for (const auto& [prompt, label] : data)
    out << nlohmann::json{{"id", "q" + std::to_string(++id)}, {"prompt", prompt}, {"label", label}}.dump() << "\n";
  out << extra_lines;
}

class GoldUpstream {
 public:
  explicit GoldUpstream(std::map<std::string, std::string> gold) : gold_(std::move(gold)) {
    server_.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
      auto body = nlohmann::json::parse(req.body, nullptr, false);
      std::string prompt;
      if (body.is_object() && body.contains("messages") && body["messages"].is_array() && !body["messages"].empty())
        prompt = body["messages"].back().value("content", "");
      auto it = gold_.find(prompt);
      {
        std::lock_guard lk(mu_);
        ++requests_;
      }
      nlohmann::json answer = {
          {"id", "chatcmpl-gold"},
          {"object", "chat.completion"},
          {"model", body.is_object() ? body.value("model", "") : ""},
          {"choices", {{{"index", 0},
                        {"message", {{"role", "assistant"}, {"content", it != gold_.end() ? it->second : "unknown"}}},
                        {"finish_reason", "stop"}}}},
          {"usage", {{"prompt_tokens", 20}, {"completion_tokens", 2}, {"total_tokens", 22}}}};
      res.set_content(answer.dump(), "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~GoldUpstream() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }
  int requests() {
    std::lock_guard lk(mu_);
    return requests_;
  }

 private:
  std::map<std::string, std::string> gold_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mu_;
  int requests_ = 0;
};

// An upstreams file naming "gold" at the double's port (and any others given as name -> port).
inline void write_upstreams(const std::string& path, const std::map<std::string, int>& ports) {
  nlohmann::json ups = nlohmann::json::array();
  for (const auto& [name, port] : ports) {
    ups.push_back({{"name", name},
                   {"base_url", "http://127.0.0.1:" + std::to_string(port) + "/v1"},
                   {"model", "gold-model"},
                   {"timeout_s", 5},
                   {"input_price", 1.0},
                   {"output_price", 4.0}});
  }
  std::ofstream(path, std::ios::binary) << ups.dump(2);
}

}  // namespace minnow::test
