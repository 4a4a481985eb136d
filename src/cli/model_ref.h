// What a MODEL argument names: a GGUF file path, or a model in the store (with the defaults
// its Modelfile gave: system message, chat template, parameters).
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

// A path to an existing file wins; otherwise the name is looked up in the store. The error
// says where minnow looked.
Result<ModelRef> resolve_model(const std::string& arg);

}  // namespace minnow::cli
