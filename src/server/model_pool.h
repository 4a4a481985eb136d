// The models a server holds in memory: loaded on first use by name (a store name or a GGUF
// path), kept for their keep_alive after the last request, then unloaded (Ollama's
// semantics: a negative keep_alive keeps a model until the server stops, 0 unloads it when
// its requests finish). Each loaded model has a BatchGenerator whose slots its requests share
// (they decode together; beyond the slots they wait their turn).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
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
  int n_parallel = 4;  // the generator's slots
  bool takes_tools = false;  // its chat template renders tools (renders_tools), found at load

  // The slots' context size, 0 before the first request.
  int context_length() const;

  // The generator (use_generator below), under gen_mu: created for the num_ctx of the first
  // request, re-created for a request asking another once no request uses it.
  mutable std::mutex gen_mu;
  std::condition_variable gen_cv;  // a user went, or the generator changed
  std::shared_ptr<BatchGenerator> generator;
  int generator_ctx = -1;  // the num_ctx it was asked for
  int generator_users = 0;
  std::map<int, int> waiting_ctx;  // requests waiting in use_generator, by the num_ctx they ask
  int session_waiters = 0;         // requests waiting in with_session

  // A session for work the generator does not do (embeddings), used only while no generation
  // runs: the generator's worker and a session may not share the model's threads at once.
  std::unique_ptr<Session> session;  // under gen_mu's `in_session`
  int session_ctx = -1;
  bool in_session = false;  // a request is using the session; generation waits
};

// Runs fn on the model's session for a context of n_ctx (0: the model's default), once no
// generation is running; generation requests that come meanwhile wait until fn returns.
// Errors: the session cannot be made.
Status with_session(const std::shared_ptr<LoadedModel>& m, int n_ctx, const std::function<void(Session&)>& fn);

// Whether a model's chat template renders the tools it is given (Ollama's "tools" capability):
// a one-message conversation rendered with a probe tool and without.
bool renders_tools(const Model& model);

// A request's hold on its model's generator, given back when destroyed (or moved from).
class GeneratorUse {
 public:
  GeneratorUse() = default;
  GeneratorUse(std::shared_ptr<LoadedModel> m, std::shared_ptr<BatchGenerator> g)
      : m_(std::move(m)), g_(std::move(g)) {}
  GeneratorUse(GeneratorUse&& o) noexcept : m_(std::move(o.m_)), g_(std::move(o.g_)) {}
  GeneratorUse& operator=(GeneratorUse&& o) noexcept;
  ~GeneratorUse() { release(); }
  BatchGenerator* operator->() const { return g_.get(); }

 private:
  void release();
  std::shared_ptr<LoadedModel> m_;
  std::shared_ptr<BatchGenerator> g_;
};

// The model's generator for requests of num_ctx n_ctx (0: the model's default): the current
// one when it has that context, else a new one once every request using the current one has
// ended, which every request waiting for that context then shares (requests for the current
// context that come while others wait for a switch wait too, so the switch is not starved).
// Errors: the generator cannot be made (its KV caches do not fit in memory).
Result<GeneratorUse> use_generator(const std::shared_ptr<LoadedModel>& m, int n_ctx);

struct LoadedInfo {
  std::string name;
  std::shared_ptr<LoadedModel> model;
  std::chrono::system_clock::time_point expires_at;  // max() for "until the server stops"
  int in_use = 0;
};

class ModelPool {
 public:
  // keep_alive_s: the default after a request (Ollama's 5 minutes); n_threads per model;
  // n_parallel: sequences each model decodes together.
  ModelPool(Store store, int n_threads, double keep_alive_s, int n_parallel);
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
  int n_parallel_;
  mutable std::mutex mu_;
  std::condition_variable loaded_cv_;  // a load in progress finished
  std::vector<std::string> loading_;   // names being loaded (others wait rather than load twice)
  std::vector<Entry> entries_;
};

}  // namespace minnow::server
