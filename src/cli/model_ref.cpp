#include "cli/model_ref.h"

#include <cstdio>
#include <filesystem>

#include "minnow/pull.h"

namespace minnow::cli {

Result<ModelRef> resolve_model(const std::string& arg, bool pull_missing) {
  ModelRef ref;
  std::error_code ec;
  if (std::filesystem::exists(arg, ec) || arg.ends_with(".gguf") || arg.find("./") != std::string::npos) {
    ref.path = arg;  // a path: loading it reports a missing or broken file
    return ref;
  }
  auto store = Store::open("");
  if (!store) return store.error();
  auto found = store->find(arg);
  if (!found && pull_missing && is_pullable_name(arg)) {
    std::fprintf(stderr, "minnow: %s is not in the store; pulling it from %s\n", arg.c_str(),
                 pull_endpoint(PullOptions{}).c_str());
    found = pull_with_progress(*store, arg);
    if (!found) return found.error();
  }
  if (!found) {
    return make_error("%s (no such file, and not in the store at %s; `minnow list` shows the models there, "
                      "`minnow pull` or `minnow create` adds one)",
                      found.error().message.c_str(), store->root().c_str());
  }
  ref.path = found->model_path;
  ref.stored = true;
  ref.defaults = std::move(*found);
  return ref;
}

}  // namespace minnow::cli
