// `minnow create NAME [-f Modelfile | --from PATH] [--type f16|bf16|f32]`: a store model from a
// GGUF file, a Hugging Face folder (converted to GGUF) or another store model, with the
// defaults a Modelfile gives (SYSTEM, TEMPLATE, PARAMETER). Everything is checked before the
// name is written: the weights load, the parameters parse, the template renders.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/commands.h"
#include "minnow/parameters.h"
#include "minnow/chat_template.h"
#include "minnow/convert.h"
#include "minnow/engine.h"
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
  auto mf = read_modelfile(a);
  if (!mf) return fail(mf.error().message);
  if (!mf->adapters.empty()) return fail("ADAPTER: LoRA adapters are not supported yet");
  RunParameters params;
  if (Status st = set_parameters(mf->parameters, &params); !st.ok()) return fail("PARAMETER: " + st.error().message);
  if (!mf->chat_template.empty()) {
    auto r = render_chat_template(
        mf->chat_template,
        R"({"messages": [{"role": "user", "content": "hi"}], "add_generation_prompt": true, "bos_token": "", "eos_token": ""})");
    if (!r) return fail("TEMPLATE does not render a one-message conversation: " + r.error().message);
  }
  auto store = Store::open("");
  if (!store) return fail(store.error().message);

  StoredModel defaults;
  defaults.system = mf->system;
  defaults.chat_template = mf->chat_template;
  defaults.parameters = mf->parameters;
  std::error_code ec;
  Result<StoredModel> created = Error{"nothing created"};
  if (fs::is_directory(mf->from, ec)) {
    auto type = parse_convert_type(a.type);
    if (!type) return fail("--type must be f16, bf16 or f32, not '" + a.type + "'");
    std::fprintf(stderr, "converting %s to GGUF (%s)...\n", mf->from.c_str(), convert_type_name(*type));
    const std::string tmp = store->temp_path("convert");
    ConvertOptions co;
    co.type = *type;
    auto conv = convert_hf_to_gguf(mf->from, tmp, co);
    if (!conv) return fail(conv.error().message);
    auto check = Model::load(tmp, LoadOptions{.n_threads = 1, .isa = "", .chat_template = "", .repack = false});
    if (!check) {
      fs::remove(tmp, ec);
      return fail("the converted model does not load: " + check.error().message);
    }
    created = store->add(name->full(), tmp, defaults, /*move=*/true);
    if (!created) fs::remove(tmp, ec);
  } else if (fs::is_regular_file(mf->from, ec)) {
    auto check = Model::load(mf->from, LoadOptions{.n_threads = 1, .isa = "", .chat_template = "", .repack = false});
    if (!check) return fail(check.error().message);
    created = store->add(name->full(), mf->from, defaults, /*move=*/false);
  } else {
    // Another store model: its weights and defaults, with this Modelfile's on top.
    auto base = store->find(mf->from);
    if (!base) return fail("FROM " + mf->from + ": no such file or folder, and " + base.error().message);
    StoredModel m = *base;
    if (!mf->system.empty()) m.system = mf->system;
    if (!mf->chat_template.empty()) m.chat_template = mf->chat_template;
    m.parameters.insert(m.parameters.end(), mf->parameters.begin(), mf->parameters.end());
    created = store->name_blob(name->full(), m);
  }
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
