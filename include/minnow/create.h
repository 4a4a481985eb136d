// Creating a store model from a Modelfile: the code behind `minnow create` and /api/create.
//
//   auto mf = minnow::Modelfile::parse("FROM smollm2:135m\nSYSTEM You are terse.\n");
//   auto m = minnow::create_model(*store, "terse", *mf, {});
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "minnow/error.h"
#include "minnow/store.h"

namespace minnow {

struct CreateOptions {
  std::string convert_type = "f16";  // weights of a converted Hugging Face folder: f16, bf16, f32
  // Each step as it starts: "parsing modelfile", "converting ...", "loading ...", "writing manifest".
  std::function<void(const std::string& status)> on_status;
};

// Creates the store model `name` from a Modelfile: FROM a GGUF file, a Hugging Face folder
// (converted) or another store model, with its SYSTEM, TEMPLATE and PARAMETER defaults (over a
// store model's own: its system and template stay unless the Modelfile sets them, its
// parameters come first). Everything is checked before the name is written: the weights load,
// the parameters parse, the template renders. Paths are taken as given (callers resolve
// relative ones).
Result<StoredModel> create_model(Store& store, std::string_view name, const Modelfile& mf, const CreateOptions& o);

}  // namespace minnow
