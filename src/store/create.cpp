// create_model (minnow/create.h): a Modelfile into a store model. Every check runs before the
// name is written, so a failed create leaves the store as it was.
#include <filesystem>

#include "minnow/chat_template.h"
#include "minnow/convert.h"
#include "minnow/create.h"
#include "minnow/engine.h"
#include "minnow/parameters.h"

namespace minnow {
namespace {

namespace fs = std::filesystem;

// Loading is the check that weights are usable: one thread, no repacking, nothing generated.
Status check_loads(const std::string& path) {
  auto m = Model::load(path, LoadOptions{.n_threads = 1, .isa = "", .chat_template = "", .repack = false});
  if (!m) return m.error();
  return Status();
}

}  // namespace

Result<StoredModel> create_model(Store& store, std::string_view name, const Modelfile& mf, const CreateOptions& o) {
  auto status = [&](const std::string& s) {
    if (o.on_status) o.on_status(s);
  };
  status("parsing modelfile");
  auto parsed = ModelName::parse(name);
  if (!parsed) return parsed.error();
  if (mf.from.empty()) return make_error("Modelfile: no FROM line");
  if (!mf.adapters.empty()) return make_error("ADAPTER: LoRA adapters are not supported yet");
  RunParameters params;
  if (Status st = set_parameters(mf.parameters, &params); !st.ok()) return st.error().with_context("PARAMETER");
  if (!mf.chat_template.empty()) {
    auto r = render_chat_template(
        mf.chat_template,
        R"({"messages": [{"role": "user", "content": "hi"}], "add_generation_prompt": true, "bos_token": "", "eos_token": ""})");
    if (!r) return r.error().with_context("TEMPLATE does not render a one-message conversation");
  }

  StoredModel defaults;
  defaults.system = mf.system;
  defaults.chat_template = mf.chat_template;
  defaults.parameters = mf.parameters;
  std::error_code ec;
  if (fs::is_directory(mf.from, ec)) {
    auto type = parse_convert_type(o.convert_type);
    if (!type) return make_error("the weight type must be f16, bf16 or f32, not '%s'", o.convert_type.c_str());
    status(strfmt("converting %s to GGUF (%s)", mf.from.c_str(), convert_type_name(*type)));
    const std::string tmp = store.temp_path("convert");
    ConvertOptions co;
    co.type = *type;
    auto conv = convert_hf_to_gguf(mf.from, tmp, co);
    if (!conv) {
      fs::remove(tmp, ec);
      return conv.error();
    }
    status("loading the converted model");
    if (Status st = check_loads(tmp); !st.ok()) {
      fs::remove(tmp, ec);
      return st.error().with_context("the converted model does not load");
    }
    status("writing manifest");
    auto created = store.add(parsed->full(), tmp, defaults, /*move=*/true);
    if (!created) fs::remove(tmp, ec);
    return created;
  }
  if (fs::is_regular_file(mf.from, ec)) {
    status("loading " + mf.from);
    MINNOW_CHECK_OK(check_loads(mf.from));
    status("writing manifest");
    return store.add(parsed->full(), mf.from, defaults, /*move=*/false);
  }
  // Another store model: its weights and defaults, with this Modelfile's on top.
  auto base = store.find(mf.from);
  if (!base) return make_error("FROM %s: no such file or folder, and %s", mf.from.c_str(), base.error().message.c_str());
  StoredModel m = *base;
  if (!mf.system.empty()) m.system = mf.system;
  if (!mf.chat_template.empty()) m.chat_template = mf.chat_template;
  m.parameters.insert(m.parameters.end(), mf.parameters.begin(), mf.parameters.end());
  // The combined parameters must hold together too (a stored one may be from an older minnow).
  RunParameters combined;
  if (Status st = set_parameters(m.parameters, &combined); !st.ok()) return st.error().with_context("PARAMETER");
  status("writing manifest");
  return store.name_blob(parsed->full(), m);
}

}  // namespace minnow
