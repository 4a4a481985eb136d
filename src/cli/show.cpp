// `minnow show MODEL` (a file or a store name): what a model is (architecture, size, quantization, context, tokenizer)
// and its metadata, in the spirit of `ollama show`.
#include <algorithm>
#include <cstdio>

#include "cli/commands.h"
#include "cli/model_ref.h"
#include "minnow/engine.h"

namespace minnow::cli {
namespace {

std::string human_count(uint64_t n) {
  if (n >= 1000000000) return strfmt("%.2fB", n / 1e9);
  if (n >= 1000000) return strfmt("%.1fM", n / 1e6);
  if (n >= 1000) return strfmt("%.1fK", n / 1e3);
  return std::to_string(n);
}

int show(const std::string& arg) {
  auto ref = resolve_model(arg);
  if (!ref) return fail(ref.error().message);
  auto model = Model::load(ref->path, LoadOptions{.n_threads = 1, .isa = "", .chat_template = ref->defaults.chat_template, .repack = false});
  if (!model) return fail(model.error().message);
  const ModelInfo& i = (*model)->info();
  auto row = [](const char* k, const std::string& v) { std::printf("    %-20s %s\n", k, v.c_str()); };
  if (ref->stored) {
    std::printf("  Stored as\n");
    row("name", ref->defaults.name);
    row("digest", ref->defaults.digest);
    row("modified", ref->defaults.modified);
    for (const auto& [k, v] : ref->defaults.parameters) row(("parameter " + k).c_str(), v);
    if (!ref->defaults.system.empty()) row("system", ref->defaults.system);
    if (!ref->defaults.chat_template.empty()) row("template", "(set by its Modelfile; see below)");
    std::printf("\n");
  }
  std::printf("  Model\n");
  row("architecture", i.architecture);
  if (!i.name.empty()) row("name", i.name);
  row("parameters", human_count(i.n_params));
  row("quantization", i.quantization);
  row("context length", std::to_string(i.context_length));
  row("embedding length", std::to_string(i.embedding_length));
  row("layers", std::to_string(i.n_layer));
  row("heads / kv heads", std::to_string(i.n_head) + " / " + std::to_string(i.n_head_kv));
  if (i.embedding_only) row("kind", "embedding model (encoder): minnow embed, not run");
  row("embedding pooling", i.pooling);
  row("file size", strfmt("%.2f MiB", i.file_size / 1048576.0));
  std::printf("\n  Tokenizer\n");
  row("model", i.tokenizer.empty() ? "(none)" : i.tokenizer);
  row("vocabulary size", std::to_string(i.n_vocab));
  if (!i.tokenizer_error.empty()) row("note", i.tokenizer_error);
  if (!i.chat_template.empty()) std::printf("\n  Chat template\n%s\n", i.chat_template.c_str());
  std::printf("\n  Metadata\n");
  size_t width = 0;
  for (const auto& kv : i.metadata) width = std::max(width, kv.first.size());
  for (const auto& [key, value] : i.metadata) std::printf("    %-*s  %s\n", static_cast<int>(width), key.c_str(), value.c_str());
  return 0;
}

}  // namespace

void add_show_command(CLI::App& app, int* exit_code) {
  auto path = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("show", "Show a model's architecture, size, quantization and metadata");
  cmd->add_option("model", *path, "A .gguf file or a model name in the store")->required();
  cmd->callback([path, exit_code] { *exit_code = show(*path); });
}

}  // namespace minnow::cli
