// The local model store: models by name ("smollm2:135m", "hf.co/org/repo:Q4_K_M"), each a
// manifest naming content-addressed blobs (the GGUF weights) plus the defaults a Modelfile
// gave it (system message, chat template, sampling parameters).
//
//   ~/.minnow/models/                      ($MINNOW_MODELS moves it)
//     blobs/sha256-<hex>                   GGUF files, named by the SHA-256 of their bytes
//     manifests/<name>/<tag>               JSON: {"model": {"digest", "size"}, "system", ...}
//
//   auto store = minnow::Store::open("");
//   auto m = store->find("smollm2");   // tag "latest" when none is given
//   if (m.ok()) minnow::Model::load(m->model_path, {});
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "minnow/error.h"

namespace minnow {

// "name[:tag]" split and checked: name is lowercase-insensitive ASCII letters, digits, '.',
// '_', '-' in '/'-separated parts (no empty, "." or ".." part); the tag defaults to "latest".
struct ModelName {
  std::string name;
  std::string tag;
  std::string full() const { return name + ":" + tag; }
  static Result<ModelName> parse(std::string_view text);
};

// What a Modelfile says (Ollama's format): FROM plus the model's defaults.
struct Modelfile {
  std::string from;                                      // a GGUF path, a Hugging Face folder or a store name
  std::string system;                                    // SYSTEM: the default system message
  std::string chat_template;                             // TEMPLATE: a Jinja chat template (minnow's, not Go's)
  std::vector<std::pair<std::string, std::string>> parameters;  // PARAMETER name value, in order
  std::vector<std::string> adapters;                     // ADAPTER paths
  std::string license;                                   // LICENSE
  // Parses the text; errors name the line. Paths stay as written (relative to the file's folder).
  static Result<Modelfile> parse(std::string_view text);
};

struct StoredModel {
  std::string name;        // "name:tag"
  std::string model_path;  // the GGUF blob to load
  std::string digest;      // "sha256:<hex>" of the GGUF
  uint64_t size = 0;       // its bytes
  std::string modified;    // ISO 8601 UTC time the manifest was written
  std::string system;
  std::string chat_template;
  std::vector<std::pair<std::string, std::string>> parameters;
};

class Store {
 public:
  // root "" means $MINNOW_MODELS, else $HOME/.minnow/models. Creates the folders.
  static Result<Store> open(const std::string& root);
  const std::string& root() const { return root_; }

  // The model a name refers to; an error says it is not in the store.
  Result<StoredModel> find(std::string_view name) const;
  // Every model, sorted by name.
  std::vector<StoredModel> list() const;

  // Adds the GGUF file at path to the blobs (hashing it; a blob already there is kept) and
  // names it. move: rename the file into the store instead of copying (same file system).
  // The model's defaults come from the other fields of `defaults` (its name/path ignored).
  Result<StoredModel> add(std::string_view name, const std::string& gguf_path, const StoredModel& defaults,
                          bool move);
  // Names a blob already in the store (m.digest, m.size) with the defaults in m's other fields.
  Result<StoredModel> name_blob(std::string_view name, const StoredModel& m);
  Status copy(std::string_view from, std::string_view to);
  // Removes the name, and its blob when no other name uses it.
  Status remove(std::string_view name);

  // A fresh path inside the store for writing a download or conversion before add(..., move).
  std::string temp_path(std::string_view hint) const;

 private:
  std::string root_;
};

// SHA-256 of a file's bytes as lowercase hex.
Result<std::string> sha256_file(const std::string& path);

}  // namespace minnow
