// `minnow create NAME [-f Modelfile | --from PATH] [--type f16|bf16|f32]`: a store model from a
// GGUF file, a Hugging Face folder (converted to GGUF) or another store model, with the
// defaults a Modelfile gives (SYSTEM, TEMPLATE, PARAMETER), through create_model (minnow/create.h),
// which checks everything before the name is written.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/commands.h"
#include "minnow/convert.h"
#include "minnow/create.h"
#include "minnow/store.h"

namespace minnow::cli {
namespace {

namespace fs = std::filesystem;

struct CreateArgs {
  std::string name;
  std::string modelfile;
  std::string from;
  std::string type = "f16";
};

Result<Modelfile> read_modelfile(const CreateArgs& a) {
  if (!a.from.empty() && !a.modelfile.empty()) return make_error("give -f Modelfile or --from PATH, not both");
  if (!a.from.empty()) {
    Modelfile mf;
    mf.from = a.from;
    return mf;
  }
  std::string path = a.modelfile;
  if (path.empty()) {
    if (!fs::exists("Modelfile")) return make_error("no Modelfile here: give -f Modelfile or --from PATH");
    path = "Modelfile";
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error("cannot open %s", path.c_str());
  std::stringstream ss;
  ss << in.rdbuf();
  auto mf = Modelfile::parse(ss.str());
  if (!mf) return mf.error().with_context(path);
  // Paths in a Modelfile are relative to its folder, as in Ollama.
  const fs::path dir = fs::path(path).parent_path();
  if (!fs::path(mf->from).is_absolute() && (mf->from.starts_with(".") || fs::exists(dir / mf->from))) {
    mf->from = (dir / mf->from).lexically_normal().string();
  }
  return mf;
}

int create(const CreateArgs& a) {
  auto name = ModelName::parse(a.name);
  if (!name) return fail(name.error().message);
  if (!parse_convert_type(a.type)) return fail("--type must be f16, bf16 or f32, not '" + a.type + "'");
  auto mf = read_modelfile(a);
  if (!mf) return fail(mf.error().message);
  auto store = Store::open("");
  if (!store) return fail(store.error().message);
  CreateOptions o;
  o.convert_type = a.type;
  o.on_status = [](const std::string& status) {
    if (status.starts_with("converting ")) std::fprintf(stderr, "%s...\n", status.c_str());
  };
  auto created = create_model(*store, name->full(), *mf, o);
  if (!created) return fail(created.error().message);
  std::printf("created %s (%s, %.1f MB)\n", created->name.c_str(), created->digest.substr(0, 19).c_str(),
              static_cast<double>(created->size) / 1e6);
  return 0;
}

}  // namespace

void add_create_command(CLI::App& app, int* exit_code) {
  auto a = std::make_shared<CreateArgs>();
  CLI::App* cmd = app.add_subcommand("create", "Create a model in the store from a Modelfile, a GGUF file or a Hugging Face folder");
  cmd->add_option("name", a->name, "The new model's name (name[:tag])")->required();
  cmd->add_option("-f,--file", a->modelfile, "The Modelfile (default: ./Modelfile)");
  cmd->add_option("--from", a->from, "A GGUF file, a Hugging Face model folder or a store model (instead of a Modelfile)");
  cmd->add_option("--type", a->type, "Weight type when converting a Hugging Face folder: f16 (default), bf16 or f32");
  cmd->callback([a, exit_code] { *exit_code = create(*a); });
}

}  // namespace minnow::cli
