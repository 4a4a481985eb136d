#include "server/state.h"

namespace minnow::server {

std::shared_ptr<Lease> begin_request(State& state, const std::string& model, ApiError* err) {
  auto lease = std::make_shared<Lease>(state);
  if (!lease->slot.admitted()) {
    *err = {503, strfmt("the server is busy: %d requests are in flight; try again later", state.options.max_queue)};
    return nullptr;
  }
  bool not_found = false;
  auto got = state.pool.acquire(model, &not_found);
  if (!got) {
    *err = {not_found ? 404 : 500, got.error().message};
    return nullptr;
  }
  lease->model = got->model;
  lease->load_seconds = got->load_seconds;
  return lease;
}

}  // namespace minnow::server
