// The server's shared state: its options, the loaded models, counters for /metrics, and the
// bound on generation requests in flight.
#pragma once

#include <atomic>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "minnow/router.h"
#include "minnow/upstream.h"
#include "server/api_common.h"
#include "server/model_pool.h"
#include "server/server.h"

namespace minnow::server {

struct Metrics {
  std::atomic<uint64_t> requests{0};          // every HTTP request
  std::atomic<uint64_t> errors_4xx{0};
  std::atomic<uint64_t> errors_5xx{0};
  std::atomic<uint64_t> rejected_busy{0};     // 503s for a full queue
  std::atomic<uint64_t> generations{0};       // completed generation requests
  std::atomic<uint64_t> cancelled{0};         // generations stopped by a client that went away
  std::atomic<uint64_t> prompt_tokens{0};
  std::atomic<uint64_t> prompt_cached_tokens{0};
  std::atomic<uint64_t> generated_tokens{0};
};

// Requests that named a router: who answered, and the money (micro-USD) involved.
struct RouterMetrics {
  std::atomic<uint64_t> local{0};            // answered by the local model (fallbacks included)
  std::atomic<uint64_t> escalated{0};        // answered by the upstream
  std::atomic<uint64_t> held_local{0};       // kept local by a privacy rule or local_only
  std::atomic<uint64_t> upstream_errors{0};  // escalations whose upstream failed or timed out
  std::atomic<uint64_t> fallbacks{0};        // of those, answered locally instead (flagged)
  std::atomic<uint64_t> upstream_cost_micro_usd{0};
  std::atomic<uint64_t> saved_micro_usd{0};  // what the local answers would have cost upstream
};

struct State {
  State(ServerOptions o, Store store)
      : options(std::move(o)), pool(std::move(store), options.n_threads, options.keep_alive_s, options.n_parallel) {}
  ServerOptions options;
  ModelPool pool;
  Metrics metrics;
  RouterMetrics router_metrics;
  std::vector<Upstream> upstreams;  // set before the server answers, then read-only
  std::vector<RouterDef> routers;
  std::atomic<int> in_flight{0};  // generation requests admitted and not yet finished
};

// Admission of one generation request: admitted() is false when max_queue are in flight.
class FlightSlot {
 public:
  explicit FlightSlot(State& s) : s_(s) {
    admitted_ = s_.in_flight.fetch_add(1) < s_.options.max_queue;
    if (!admitted_) {
      s_.in_flight.fetch_sub(1);
      s_.metrics.rejected_busy++;
    }
  }
  ~FlightSlot() {
    if (admitted_) s_.in_flight.fetch_sub(1);
  }
  FlightSlot(const FlightSlot&) = delete;
  FlightSlot& operator=(const FlightSlot&) = delete;
  bool admitted() const { return admitted_; }

 private:
  State& s_;
  bool admitted_ = false;
};

}  // namespace minnow::server

namespace minnow::server {

// Counts a finished generation in the metrics.
inline void count_generation(Metrics& m, const GenerateStats& st) {
  m.generations++;
  m.prompt_tokens += static_cast<uint64_t>(st.prompt_tokens);
  m.prompt_cached_tokens += static_cast<uint64_t>(st.prompt_cached_tokens);
  m.generated_tokens += static_cast<uint64_t>(st.generated_tokens);
}

// One generation request's hold on the server: its admission, the model (given back to the
// pool with the request's keep_alive when this is destroyed, e.g. with a streaming response
// whose client went away) and the prepared job holding the model's generator.
struct Lease {
  explicit Lease(State& s) : state(s), slot(s) {}
  ~Lease() {
    job.reset();
    if (model) state.pool.release(model, keep_alive_s);
  }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

  State& state;
  FlightSlot slot;
  std::shared_ptr<LoadedModel> model;
  double keep_alive_s = std::nan("");  // NaN: the server's default
  double load_seconds = 0;            // loading the model for this request (0: it was loaded)
  std::optional<Job> job;
};

// Admits a generation request and acquires its model: 503 when the queue is full, 404 for a
// model not in the store, 500 for one that does not load.
std::shared_ptr<Lease> begin_request(State& state, const std::string& model, ApiError* err);

}  // namespace minnow::server
