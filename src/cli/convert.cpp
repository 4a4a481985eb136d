// `minnow convert DIR OUT.gguf [--type f16|bf16|f32] [--name NAME]`: converts a Hugging Face
// model folder (config.json, tokenizer files, *.safetensors) into a GGUF minnow can run.
#include "minnow/convert.h"

#include <cstdio>
#include <memory>
#include <optional>

#include "cli/commands.h"

namespace minnow::cli {
namespace {

struct ConvertArgs {
  std::string dir;
  std::string out;
  std::string type = "f16";
  std::string name;
};

int convert(const ConvertArgs& a) {
  const std::optional<ConvertType> type = parse_convert_type(a.type);
  if (!type) return fail("--type must be f16, bf16 or f32, not '" + a.type + "'");
  ConvertOptions options;
  options.type = *type;
  options.name = a.name;
  auto r = convert_hf_to_gguf(a.dir, a.out, options);
  if (!r) return fail(r.error().message);
  std::printf("wrote %s: %s (from %s), %s, %lld tensors, %.1fM parameters, vocabulary %lld%s, %.1f MB\n",
              a.out.c_str(), r->architecture.c_str(), r->hf_architecture.c_str(), convert_type_name(*type),
              static_cast<long long>(r->n_tensors), static_cast<double>(r->n_params) / 1e6,
              static_cast<long long>(r->n_vocab), r->chat_template ? ", chat template" : "",
              static_cast<double>(r->file_size) / 1e6);
  return 0;
}

}  // namespace

void add_convert_command(CLI::App& app, int* exit_code) {
  auto a = std::make_shared<ConvertArgs>();
  CLI::App* cmd = app.add_subcommand("convert", "Convert a Hugging Face model folder into a GGUF file");
  cmd->add_option("dir", a->dir, "Folder with config.json, tokenizer.json and *.safetensors")->required();
  cmd->add_option("out", a->out, "The .gguf file to write")->required();
  cmd->add_option("--type", a->type, "Type of the weight matrices: f16 (default), bf16 or f32");
  cmd->add_option("--name", a->name, "general.name (default: the folder's name)");
  cmd->callback([a, exit_code] { *exit_code = convert(*a); });
}

}  // namespace minnow::cli
