// `minnow import-tokenizer TOKENIZER_JSON OUT.gguf [--config FILE]`: converts a Hugging Face
// tokenizer into a vocab-only GGUF that `minnow tokenize` (and llama.cpp) can load.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "minnow/tokenizer_import.h"

namespace minnow::cli {
namespace {

struct ImportArgs {
  std::string tokenizer_json;
  std::string out;
  TokenizerImportOptions options;
};

int import_tokenizer(const ImportArgs& a) {
  auto r = import_hf_tokenizer_to_gguf(a.tokenizer_json, a.out, a.options);
  if (!r) return fail(r.error().message);
  std::printf("wrote %s: %s", a.out.c_str(), r->model.c_str());
  if (!r->pre.empty()) std::printf(" (pre %s)", r->pre.c_str());
  std::printf(", %lld tokens", static_cast<long long>(r->n_tokens));
  if (r->n_merges > 0) std::printf(", %lld merges", static_cast<long long>(r->n_merges));
  std::printf(", bos %lld, eos %lld%s\n", static_cast<long long>(r->bos_id),
              static_cast<long long>(r->eos_id), r->chat_template ? ", chat template" : "");
  return 0;
}

}  // namespace

void add_import_tokenizer_command(CLI::App& app, int* exit_code) {
  auto a = std::make_shared<ImportArgs>();
  CLI::App* cmd =
      app.add_subcommand("import-tokenizer", "Convert a Hugging Face tokenizer.json into a vocab-only GGUF");
  cmd->add_option("tokenizer_json", a->tokenizer_json, "Path to tokenizer.json")->required();
  cmd->add_option("out", a->out, "The .gguf file to write")->required();
  cmd->add_option("--config", a->options.config_path,
                  "tokenizer_config.json (special tokens, chat template) or config.json (special ids)");
  cmd->add_option("--name", a->options.name, "general.name (default: the tokenizer's directory name)");
  cmd->add_option(
      "--pre", a->options.pre,
      "tokenizer.ggml.pre to write when the pre-tokenizer is not recognized (llama-bpe, qwen2, ...)");
  cmd->callback([a, exit_code] { *exit_code = import_tokenizer(*a); });
}

}  // namespace minnow::cli
