// The models a server holds in memory: loaded on first use by name (a store name or a GGUF
// path), kept for their keep_alive after the last request, then unloaded (Ollama's
// semantics: a negative keep_alive keeps a model until the server stops, 0 unloads it when
// its requests finish). Each loaded model has one session, used by one request at a time;
// requests for the same model wait their turn.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "minnow/engine.h"
#include "minnow/store.h"

namespace minnow::server {

struct LoadedModel {
  std::string name;  // "name:tag" in the store, or the path it was loaded from
  bool stored = false;
  StoredModel defaults;  // the store's system message, template and parameters (when stored)
  std::shared_ptr<Model> model;
  std::chrono::system_clock::time_point loaded_at;

  // One generation at a time on the session (held for the whole request).
  std::mutex session_mu;
  std::unique_ptr<Session> session;  // created on first use, again when num_ctx changes
  int session_ctx = -1;              // the n_ctx it was asked for
};

struct LoadedInfo {
  std::string name;
  std::shared_ptr<LoadedModel> model;
  std::chrono::system_clock::time_point expires_at;  // max() for "until the server stops"
  int in_use = 0;
};

class ModelPool {
 public:
  // keep_alive_s: the default after a request (Ollama's 5 minutes); n_threads per model.
  ModelPool(Store store, int n_threads, double keep_alive_s);
  ~ModelPool();

  const Store& store() const { return store_; }

  // The model a request names (a name in the store: the server loads no arbitrary paths),
  // loaded if need be; counted in use until release. Errors: a name not in the store (then
  // *not_found is set), a file that does not load.
  struct Acquired {
    std::shared_ptr<LoadedModel> model;
    bool just_loaded = false;
    double load_seconds = 0;
  };
  Result<Acquired> acquire(const std::string& name, bool* not_found);
  // The request is done: the model stays loaded for keep_alive_s (< 0: until the server
  // stops, 0: unloaded now if nobody else uses it; NaN: the default).
  void release(const std::shared_ptr<LoadedModel>& m, double keep_alive_s);
  // Unloads a model now unless in use (then when its last request ends). false: not loaded.
  bool unload(const std::string& name);
  // Unloads models whose time is up; the server calls it now and then.
  void reap();
  std::vector<LoadedInfo> loaded() const;
  double default_keep_alive() const { return keep_alive_s_; }

 private:
  struct Entry {
    std::shared_ptr<LoadedModel> model;
    std::chrono::system_clock::time_point expires_at;
    int in_use = 0;
    bool unload_when_idle = false;
  };
  Store store_;
  int n_threads_;
  double keep_alive_s_;
  mutable std::mutex mu_;
  std::condition_variable loaded_cv_;  // a load in progress finished
  std::vector<std::string> loading_;   // names being loaded (others wait rather than load twice)
  std::vector<Entry> entries_;
};

}  // namespace minnow::server
