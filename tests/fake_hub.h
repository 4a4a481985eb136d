// A stand-in for Hugging Face on 127.0.0.1, for pull tests: the tree API
// (/api/models/ORG/REPO/tree/main) and /ORG/REPO/resolve/main/PATH on one server, which
// redirects each download to a second one (a "CDN" on another port, /cdn/<sha256>) as
// huggingface.co does. Faults can be ordered for the next download: a connection cut after N
// bytes, a stall, corrupted bytes, a server that ignores Range. Every request is logged.
#pragma once

#include <httplib.h>
#include <openssl/evp.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace minnow::test {

inline std::string sha256_hex(const std::vector<uint8_t>& bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

struct HubFile {
  std::string path;
  std::vector<uint8_t> bytes;
  bool lfs = true;  // listed with lfs: {oid, size}
};

class FakeHub {
 public:
  // prefix: a path the API is served under, as a mirror may have ("/mirror").
  explicit FakeHub(std::string prefix = "") : prefix_(std::move(prefix)) {
    routes();
    api_port_ = api_.bind_to_any_port("127.0.0.1");
    cdn_port_ = cdn_.bind_to_any_port("127.0.0.1");
    api_thread_ = std::thread([this] { api_.listen_after_bind(); });
    cdn_thread_ = std::thread([this] { cdn_.listen_after_bind(); });
    while (!api_.is_running() || !cdn_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~FakeHub() {
    release_stall_ = true;
    api_.stop();
    cdn_.stop();
    api_thread_.join();
    cdn_thread_.join();
  }

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(api_port_) + prefix_; }

  // status 401 or 403: a gated repository (its listing and files refused).
  void add_repo(const std::string& repo, std::vector<HubFile> files, int status = 200) {
    std::lock_guard lk(mu_);
    repos_[repo] = Repo{std::move(files), status};
  }

  // Faults for the next download only.
  struct Faults {
    size_t cut_after = SIZE_MAX;    // drop the connection after this many bytes
    size_t stall_after = SIZE_MAX;  // send nothing more after this many bytes (until the hub stops)
    bool corrupt = false;           // flip a bit in the middle of the file
    bool ignore_range = false;      // answer 200 with the whole file even when a range is asked
  };
  void fault_next(const Faults& f) {
    std::lock_guard lk(mu_);
    next_ = f;
  }

  struct Download {
    std::string range;  // the Range header ("" for none)
    std::string authorization;
    std::atomic<size_t> served{0};  // bytes of the body written
  };
  // The downloads so far, in order.
  std::vector<std::shared_ptr<Download>> downloads() const {
    std::lock_guard lk(mu_);
    return downloads_;
  }
  struct ApiRequest {
    std::string path;
    std::string authorization;
  };
  std::vector<ApiRequest> api_requests() const {
    std::lock_guard lk(mu_);
    return api_requests_;
  }

 private:
  struct Repo {
    std::vector<HubFile> files;
    int status = 200;
  };

  static void error(httplib::Response& res, int status, const std::string& message) {
    res.status = status;
    res.set_content(nlohmann::json{{"error", message}}.dump(), "application/json");
  }

  // The repository a request names, or nullptr with the answer set.
  const Repo* find_repo(const std::string& repo, httplib::Response& res) const {
    auto it = repos_.find(repo);
    if (it == repos_.end()) {
      error(res, 404, "Repository not found");
      return nullptr;
    }
    if (it->second.status != 200) {
      error(res, it->second.status, "Access to model " + repo + " is restricted.");
      return nullptr;
    }
    return &it->second;
  }

  void routes() {
    api_.Get(prefix_ + R"(/api/models/([^/]+)/([^/]+)/tree/main)", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lk(mu_);
      api_requests_.push_back({req.path, req.get_header_value("Authorization")});
      const Repo* repo = find_repo(std::string(req.matches[1]) + "/" + std::string(req.matches[2]), res);
      if (!repo) return;
      nlohmann::json list = nlohmann::json::array();
      for (const HubFile& f : repo->files) {
        if (f.path.find('/') != std::string::npos) {
          list.push_back({{"type", "directory"}, {"oid", "0"}, {"size", 0}, {"path", f.path.substr(0, f.path.find('/'))}});
        }
        nlohmann::json e = {{"type", "file"}, {"oid", "1234"}, {"size", f.bytes.size()}, {"path", f.path}};
        if (f.lfs) e["lfs"] = {{"oid", sha256_hex(f.bytes)}, {"size", f.bytes.size()}, {"pointerSize", 134}};
        list.push_back(e);
      }
      res.set_content(list.dump(), "application/json");
    });
    api_.Get(prefix_ + R"(/([^/]+)/([^/]+)/resolve/main/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lk(mu_);
      api_requests_.push_back({req.path, req.get_header_value("Authorization")});
      const Repo* repo = find_repo(std::string(req.matches[1]) + "/" + std::string(req.matches[2]), res);
      if (!repo) return;
      for (const HubFile& f : repo->files) {
        if (f.path != req.matches[3]) continue;
        const std::string sha = sha256_hex(f.bytes);
        cdn_files_[sha] = f.bytes;
        res.status = 302;
        res.set_header("Location", "http://127.0.0.1:" + std::to_string(cdn_port_) + "/cdn/" + sha);
        return;
      }
      error(res, 404, "Entry not found");
    });
    cdn_.Get(R"(/cdn/([0-9a-f]{64}))", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lk(mu_);
      auto it = cdn_files_.find(req.matches[1]);
      if (it == cdn_files_.end()) return error(res, 404, "no such object");
      const Faults f = next_;
      next_ = Faults{};
      auto d = std::make_shared<Download>();
      d->range = req.get_header_value("Range");
      d->authorization = req.get_header_value("Authorization");
      downloads_.push_back(d);
      auto data = std::make_shared<std::vector<uint8_t>>(it->second);
      if (f.corrupt) (*data)[data->size() / 2] ^= 1;
      // Writes from offset in pieces, counting what is served and applying the faults.
      auto send = [this, data, d, f](size_t offset, size_t length, httplib::DataSink& sink) {
        if (d->served >= f.cut_after) return false;
        if (d->served >= f.stall_after) {
          for (int i = 0; i < 500 && !release_stall_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
          return false;
        }
        size_t n = std::min<size_t>({length, 16384, f.cut_after - d->served, f.stall_after - d->served});
        if (!sink.write(reinterpret_cast<const char*>(data->data()) + offset, n)) return false;
        d->served += n;
        return true;
      };
      if (f.ignore_range) {  // chunked, so that httplib applies no range of its own
        res.status = 200;
        res.set_chunked_content_provider("application/octet-stream", [data, send](size_t offset, httplib::DataSink& sink) {
          if (offset == data->size()) {
            sink.done();
            return true;
          }
          return send(offset, data->size() - offset, sink);
        });
        return;
      }
      // httplib answers a Range itself (206, Content-Range), asking for the range's bytes.
      res.set_content_provider(data->size(), "application/octet-stream", send);
    });
  }

  std::string prefix_;
  httplib::Server api_, cdn_;
  int api_port_ = 0, cdn_port_ = 0;
  std::thread api_thread_, cdn_thread_;
  std::atomic<bool> release_stall_{false};
  mutable std::mutex mu_;
  std::map<std::string, Repo> repos_;
  std::map<std::string, std::vector<uint8_t>> cdn_files_;  // by sha256, once resolved
  Faults next_;
  std::vector<std::shared_ptr<Download>> downloads_;
  std::vector<ApiRequest> api_requests_;
};

}  // namespace minnow::test
