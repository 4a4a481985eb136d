// What a MODEL argument names: a GGUF file path, or a model in the store (with the defaults
// its Modelfile gave: system message, chat template, parameters), pulled if need be.
#pragma once

#include <string>

#include "minnow/error.h"
#include "minnow/store.h"

namespace minnow::cli {

struct ModelRef {
  std::string path;     // the GGUF file to load
  bool stored = false;  // found in the store (then `defaults` holds its Modelfile settings)
  StoredModel defaults;
};

// A path to an existing file wins; otherwise the name is looked up in the store. With
// pull_missing, a pullable name (hf.co/..., a short name) not in the store is pulled first,
// saying so on stderr. The error says where minnow looked.
Result<ModelRef> resolve_model(const std::string& arg, bool pull_missing = false);

// Pulls a model into the store with a progress bar on stderr (pull.cpp).
Result<StoredModel> pull_with_progress(Store& store, const std::string& name);

}  // namespace minnow::cli
