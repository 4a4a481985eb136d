#include "models/registry.h"

#include <string_view>

#include "gguf/gguf.h"

namespace minnow::models {
namespace {

struct Entry {
  std::string_view arch;
  Result<std::unique_ptr<Model>> (*load)(const gguf::File&);
};

constexpr Entry kArchitectures[] = {
    {"llama", load_llama},
    {"qwen2", load_qwen2},
    {"phi3", load_phi3},
    {"gemma2", load_gemma2},
    {"gemma3", load_gemma3},
    {"bert", load_bert},
};

}  // namespace

std::vector<std::string> supported_architectures() {
  std::vector<std::string> out;
  for (const Entry& e : kArchitectures) out.emplace_back(e.arch);
  return out;
}

Result<std::unique_ptr<Model>> load_model(const gguf::File& file, const LoadConfig& config) {
  auto arch = file.get_string("general.architecture");
  if (!arch) return arch.error();
  for (const Entry& e : kArchitectures) {
    if (e.arch != *arch) continue;
    auto m = e.load(file);
    if (m && config.pack_for != nullptr)
      MINNOW_CHECK_OK((*m)->pack_weights(file, *config.pack_for, config.pool));
    return m;
  }
  std::string list;
  for (const Entry& e : kArchitectures) list += (list.empty() ? "" : ", ") + std::string(e.arch);
  return make_error("model: unsupported architecture '%.*s' (supported: %s)", static_cast<int>(arch->size()),
                    arch->data(), list.c_str());
}

}  // namespace minnow::models
