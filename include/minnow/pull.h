// Pulling GGUF models from Hugging Face into the store (`minnow pull`, /api/pull).
//
// A pullable name is "hf.co/ORG/REPO[:QUANT]", "huggingface.co/ORG/REPO[:QUANT]" or a short
// name from a built-in table ("smollm2:135m", "qwen2.5:0.5b", "llama3.2:1b", ...). The model is
// stored under the name as given. Downloads resume from a partial file in the store and are
// checked against the SHA-256 Hugging Face lists for the file before the name is written.
//
//   auto store = minnow::Store::open("");
//   minnow::PullOptions o;
//   o.progress = [](const minnow::PullProgress& p) { draw(p); return true; };  // false cancels
//   auto m = minnow::pull_model(*store, "hf.co/bartowski/SmolLM2-135M-Instruct-GGUF:Q8_0", o);
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "minnow/error.h"
#include "minnow/store.h"

namespace minnow {

// Where a pullable name points: a repository on Hugging Face and the quantization to take.
struct PullSource {
  std::string repo;   // "ORG/REPO"
  std::string quant;  // "Q4_K_M" (matched case-insensitively); "" for the default (see pull_model)
};

// The source a name pulls from; an error says why the name is not pullable.
Result<PullSource> resolve_pull_name(std::string_view name);
// True for "hf.co/..." and "huggingface.co/..." names and the short names of the table.
bool is_pullable_name(std::string_view name);

// One step of a pull, shaped like Ollama's /api/pull progress: "pulling manifest",
// "pulling <12 hex digits>" (with digest, total and completed bytes), "verifying sha256 digest",
// "writing manifest", "success".
struct PullProgress {
  std::string status;
  std::string digest;  // "sha256:<hex>" while downloading, else ""
  uint64_t total = 0;
  uint64_t completed = 0;
};

struct PullOptions {
  // "" : $MINNOW_HF_ENDPOINT, else $HF_ENDPOINT, else https://huggingface.co (a mirror may
  // have a path: "http://mirror.local/hf").
  std::string endpoint;
  std::string token;       // a Hugging Face token for gated repos ("" : $HF_TOKEN)
  int read_timeout_s = 60;  // a server that sends nothing for this long fails the pull
  // Called at each step and now and then while bytes arrive; returning false cancels the pull
  // (what was downloaded stays for the next pull to resume).
  std::function<bool(const PullProgress&)> progress;
};

// The endpoint pulls use for these options (their endpoint, else the environment's).
std::string pull_endpoint(const PullOptions& o);

// Downloads the model `name` names and stores it under that name. Without a quant, Q4_K_M is
// taken when the repository has it, else its only GGUF file. Errors name what went wrong: a
// repository that does not exist or is gated, a quant not there (listing those that are), a
// split GGUF, a lost connection (pull again to resume), a full disk, a checksum mismatch.
Result<StoredModel> pull_model(Store& store, std::string_view name, const PullOptions& o);

}  // namespace minnow
